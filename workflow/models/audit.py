"""Append-only, hash-chained audit events."""
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditChain(models.Model):
    """The head of one hash chain (one per case, plus a system chain). Locked while appending."""

    key = models.CharField(max_length=40, primary_key=True)
    seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)


class AuditEvent(models.Model):
    """One recorded action. Snapshots of actor, role and unit are kept as text so that
    later changes to users or units never rewrite history."""

    class Outcome(models.TextChoices):
        OK = "ok", _("done")
        DENIED = "denied", _("denied")
        FAILED = "failed", _("failed")

    chain = models.CharField(max_length=40)
    seq = models.PositiveBigIntegerField()
    case = models.ForeignKey(  # indexed by (case, seq) below
        "workflow.Case", null=True, blank=True, on_delete=models.DO_NOTHING,
        db_constraint=False, related_name="audit_events", db_index=False,
    )
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_name = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=20, blank=True)
    unit_id = models.BigIntegerField(null=True, blank=True)
    unit_name = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=50)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.OK)
    from_state = models.CharField(max_length=50, blank=True)
    to_state = models.CharField(max_length=50, blank=True)
    reason = models.TextField(blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["chain", "seq"]
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq")]
        indexes = [models.Index(fields=["case", "seq"])]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")
