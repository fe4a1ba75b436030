"""The benchmark's second case type: inspection items (see tools/bench/declaration.py). What
each action does; the declaration says when and who."""
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from workflow.kernel.calendar import add_working_days
from workflow.kernel.errors import Change
from workflow.cases.flows import build_flow
from workflow.models import Case

from .declaration import InspectionItem, Severity

InspectionItemFlow = build_flow(InspectionItem, "InspectionItemFlow", __name__)


class InspectionItemCase(Case, case_type=InspectionItem):
    """A problem found on an inspection; the unit starts fixing it as soon as it is opened."""

    flow_class = InspectionItemFlow

    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.MINOR)

    class Meta:
        verbose_name = _("inspection item")
        verbose_name_plural = _("inspection items")

    def save(self, *args, **kwargs):
        if self.deadline is None:  # opened straight into a working state: the clock starts now
            self.issued_at = self.issued_at or timezone.now()
            self.deadline = add_working_days(timezone.localdate(self.issued_at), self.deadline_days).date
        super().save(*args, **kwargs)

    def report(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def confirm(self, *, actor, **_kw):
        return Change()

    def send_back(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def verify(self, *, actor, **_kw):
        return Change()

    def reopen(self, *, actor, reason="", **_kw):
        return Change(reason=reason)
