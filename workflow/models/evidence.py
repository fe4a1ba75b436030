"""Evidence files: stored under a UUID name outside the web root, with a SHA-256."""
import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workflow.models.cases import Case


def on_case_or_record(name: str) -> models.CheckConstraint:
    """A file or document belongs to one case, or to one record beside cases, never both."""
    on_case = models.Q(case__isnull=False, record_type__isnull=True, record_id__isnull=True)
    on_record = models.Q(case__isnull=True, record_type__isnull=False, record_id__isnull=False)
    return models.CheckConstraint(condition=on_case | on_record, name=name)


class OnCaseOrRecord(models.Model):
    """What a file or an archived document belongs to: a case, or a record (workflow.models.Record,
    whose concrete models live in the processes, hence a content type and an id)."""

    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("case"))
    record_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("record type"))
    record_id = models.PositiveBigIntegerField(_("record"), null=True, blank=True)
    record = GenericForeignKey("record_type", "record_id")

    class Meta:
        abstract = True

    @property
    def owner(self):
        """The case or the record."""
        return self.case if self.case_id is not None else self.record

    @property
    def owner_key(self) -> str:
        """The case type's key, or the record model's label: what its documents are declared under."""
        return self.case.case_type if self.case_id is not None else self.record_type.model_class()._meta.label_lower

    def seen_by(self, user) -> bool:
        owner = self.owner
        return owner is not None and owner.seen_by(user)


class Evidence(OnCaseOrRecord):
    IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")

    id = models.UUIDField(_("identifier"), primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.PROTECT, related_name="evidence",
                             verbose_name=_("case"))
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
        constraints = [on_case_or_record("evidence_on_case_or_record")]
        indexes = [models.Index(fields=["record_type", "record_id"], name="evidence_record_idx",
                                condition=models.Q(record_id__isnull=False))]

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
