"""Evidence files: stored under a UUID name outside the web root, with a SHA-256."""
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workflow.models.cases import Case


class Evidence(models.Model):
    IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")

    id = models.UUIDField(_("identifier"), primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="evidence", verbose_name=_("case"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("uploaded by"))
    display_name = models.CharField(_("file name"), max_length=160)
    content_type = models.CharField(_("file type"), max_length=100)
    extension = models.CharField(_("file extension"), max_length=10)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256 digest"), max_length=64)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")

    def __str__(self):
        return self.display_name

    @property
    def storage_name(self):
        """Relative path under EVIDENCE_ROOT: never derived from the user's file name."""
        hexid = self.id.hex
        return f"{hexid[:2]}/{hexid}"

    @property
    def is_image(self):
        return self.content_type in self.IMAGE_TYPES
