"""Records beside cases: data that is not a case (a checklist, a finding, a score) but is
scoped, audited and documented like one."""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workflow.models.units import Unit, can_see_unit, unit_scope


class RecordQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Records of the units the user may see: the rule is unit_scope's, as for cases."""
        scope = unit_scope(user, via="unit__")
        return self.none() if scope is None else self.filter(scope)


class Record(models.Model):
    """The base of a process's records. A record belongs to a unit (which scopes it), may
    stand beside a case, and has an audit chain of its own (``audit_chain``), written by
    workflow.records in the transaction that changes it."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    case = models.ForeignKey("workflow.Case", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("case"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    objects = RecordQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def audit_chain(self) -> str:
        """The key of this record's chain (in AuditChain, checked by verify_audit)."""
        return f"r:{self._meta.label_lower}:{self.pk}"

    def seen_by(self, user) -> bool:
        return can_see_unit(user, self.unit)

    def may_upload(self, user) -> bool:
        """Who may add files to the record (workflow.evidence): whoever sees it, unless the
        process says otherwise."""
        return self.seen_by(user)
