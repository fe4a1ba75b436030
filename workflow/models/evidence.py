"""Evidence files: stored under a UUID name outside the web root, with a SHA-256."""
import uuid

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MaxValueValidator, MinValueValidator
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

    class Stage(models.TextChoices):
        BEFORE = "before", _("before the fix")
        AFTER = "after", _("after the fix")
        OTHER = "other", _("other")

    id = models.UUIDField(_("identifier"), primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.PROTECT, related_name="evidence",
                             verbose_name=_("case"))
    # Empty for a file sent by someone with no account (a form served without a login).
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("uploaded by"))
    display_name = models.CharField(_("file name"), max_length=160)
    content_type = models.CharField(_("file type"), max_length=100)
    extension = models.CharField(_("file extension"), max_length=10)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256 digest"), max_length=64)
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now)
    # Photos (workflow.cases.photos): the stage the uploader names, what the camera recorded
    # (EXIF; none when a messaging app stripped it) and a 64-bit perceptual hash, split into
    # indexed bands for the near-duplicate lookup.
    stage = models.CharField(_("photo stage"), max_length=8, choices=Stage.choices, default=Stage.OTHER)
    taken_at = models.DateTimeField(_("taken (camera)"), null=True, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True,
                                   validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True,
                                    validators=[MinValueValidator(-180), MaxValueValidator(180)])
    photo_hash = models.BigIntegerField(_("perceptual hash"), null=True, blank=True)
    photo_band_0 = models.IntegerField(null=True, blank=True, editable=False)
    photo_band_1 = models.IntegerField(null=True, blank=True, editable=False)
    photo_band_2 = models.IntegerField(null=True, blank=True, editable=False)
    photo_band_3 = models.IntegerField(null=True, blank=True, editable=False)
    photo_band_4 = models.IntegerField(null=True, blank=True, editable=False)
    photo_band_5 = models.IntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        constraints = [
            on_case_or_record("evidence_on_case_or_record"),
            models.CheckConstraint(condition=models.Q(stage__in=["before", "after", "other"]),
                                   name="evidence_stage_known"),
            models.CheckConstraint(condition=models.Q(latitude__isnull=True) | models.Q(latitude__gte=-90, latitude__lte=90),
                                   name="evidence_latitude_range"),
            models.CheckConstraint(condition=models.Q(longitude__isnull=True) | models.Q(longitude__gte=-180, longitude__lte=180),
                                   name="evidence_longitude_range"),
        ]
        indexes = [models.Index(fields=["record_type", "record_id"], name="evidence_record_idx",
                                condition=models.Q(record_id__isnull=False)),
                   *(models.Index(fields=[f"photo_band_{i}"], name=f"evidence_photo_band_{i}",
                                  condition=models.Q(**{f"photo_band_{i}__isnull": False})) for i in range(6))]

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
