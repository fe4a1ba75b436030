"""Append-only, hash-chained audit events."""
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditChain(models.Model):
    """The head of one hash chain (one per case, plus a system chain). Locked while appending."""

    key = models.CharField(_("chain"), max_length=40, primary_key=True)
    seq = models.PositiveBigIntegerField(_("events"), default=0)
    last_hash = models.CharField(_("last hash"), max_length=64, default="0" * 64)

    class Meta:
        verbose_name = _("audit chain")
        verbose_name_plural = _("audit chains")


class AuditEvent(models.Model):
    """One recorded action. Snapshots of actor, role and unit are kept as text so that
    later changes to users or units never rewrite history."""

    class Outcome(models.TextChoices):
        OK = "ok", _("done")
        DENIED = "denied", _("denied")
        FAILED = "failed", _("failed")

    chain = models.CharField(_("chain"), max_length=40)
    seq = models.PositiveBigIntegerField(_("sequence number"))
    case = models.ForeignKey(  # indexed by (case, seq) below
        "workflow.Case", null=True, blank=True, on_delete=models.DO_NOTHING,
        db_constraint=False, related_name="audit_events", db_index=False, verbose_name=_("case"),
    )
    actor_id = models.BigIntegerField(_("actor ID"), null=True, blank=True)
    actor_name = models.CharField(_("actor"), max_length=150, blank=True)
    actor_role = models.CharField(_("actor's role"), max_length=20, blank=True)
    unit_id = models.BigIntegerField(_("unit ID"), null=True, blank=True)
    unit_name = models.CharField(_("unit"), max_length=100, blank=True)
    action = models.CharField(_("action"), max_length=50)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, default=Outcome.OK)
    from_state = models.CharField(_("from state"), max_length=50, blank=True)
    to_state = models.CharField(_("to state"), max_length=50, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), default=timezone.now)
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["chain", "seq"]
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_chain_seq")]
        indexes = [models.Index(fields=["case", "seq"])]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")
