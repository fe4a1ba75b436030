"""Numbered documents (a counter per issuing unit, kind and year) and documents archived
when a case reaches a state (rendered after commit by the worker)."""
import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workflow.models.cases import Case
from workflow.models.evidence import OnCaseOrRecord, on_case_or_record
from workflow.models.units import Unit


class DocumentCounter(models.Model):
    """The last number a unit gave to one kind of document in one year (督办函〔2026〕7号).
    Incremented in one statement, in the transaction that records the document."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=40)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["unit", "kind", "year"], name="document_counter_unique")]

    def __str__(self):
        return f"{self.unit_id} {self.kind} {self.year}: {self.last}"


class ArchivedDocument(OnCaseOrRecord):
    """A document a process archives when a case reaches a state (a closing record on
    closure, say), or when a record is written. The row is written in the state change's
    transaction, pending; the worker renders it after commit and stores the file with its
    SHA-256. A failed rendering leaves the row pending, retried with backoff. One row per
    case, or record, and document."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.PROTECT, related_name="documents")
    name = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    rendered_at = models.DateTimeField(_("archived"), null=True, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)

    class Meta:
        verbose_name = _("archived document")
        verbose_name_plural = _("archived documents")
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["case", "name"], name="archived_document_unique"),
            models.UniqueConstraint(fields=["record_type", "record_id", "name"], name="archived_record_document_unique",
                                    condition=models.Q(record_id__isnull=False)),
            on_case_or_record("archived_document_on_case_or_record"),
        ]
        indexes = [models.Index(fields=["next_attempt_at"], name="document_pending_idx",
                                condition=models.Q(rendered_at__isnull=True))]

    def __str__(self):
        return f"{self.case_id or self.record_id} {self.name}"

    @property
    def storage_name(self) -> str:
        """Relative path under DOCUMENT_ROOT, from the row's id (rendering twice writes one file)."""
        hexid = self.id.hex
        return f"{hexid[:2]}/{hexid}.pdf"

    @property
    def declaration(self):
        from workflow.kernel.registry import document

        return document(self.owner_key, self.name)
