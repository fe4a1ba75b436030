"""Rectification cases: the state machine is the single truth of a case's status."""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import transition

from workflow import sql
from workflow.calendar import add_working_days
from workflow.engine import ActionError, Change
from workflow.models import Case, Evidence, Role, Unit
from workflow.permissions import all_of, did_not, not_opener, role_at
from workflow.requests import SideRequestsMixin

from .flows import RectificationFlow


class State(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ISSUED = "issued", _("Issued")
    REFUSED = "refused", _("Refused, awaiting reassignment")
    SIGNED = "signed", _("Signed")
    RECTIFYING = "rectifying", _("Rectifying")
    PENDING_HEAD = "pending_head", _("Awaiting unit-head approval")
    SUBMITTED = "submitted", _("Submitted by the unit")
    UNDER_REVIEW = "under_review", _("Under review")
    RETURNED = "returned", _("Returned")
    ACCEPTED = "accepted", _("Accepted")
    LONG_TERM = "long_term", _("Long-term rectification")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


class Source(models.TextChoices):
    INSPECTION = "inspection", _("Inspection")
    AUDIT = "audit", _("Audit")
    HOTLINE = "hotline", _("Hotline or complaint")
    LEADER = "leader", _("Leader's instruction")


WORKING = (State.SIGNED, State.RECTIFYING, State.RETURNED, State.LONG_TERM)
REVIEWABLE = (State.SUBMITTED, State.UNDER_REVIEW)
HANDLER = role_at(Role.HANDLER, "unit")
UNIT_HEAD = role_at(Role.UNIT_HEAD, "unit")
INSPECTOR = role_at(Role.INSPECTOR, "supervisor")
LEADER = role_at(Role.LEADER, "supervisor")
RECTIFIERS = ("submit", "report_progress", "head_approve")


class DispatchBatch(models.Model):
    """One problem sent to many units at once; each unit gets its own case."""

    title = models.CharField(_("title"), max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   verbose_name=_("opened by"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("dispatch batch")
        verbose_name_plural = _("dispatch batches")


class ProgressReport(models.Model):
    """A progress or completion report written by the unit."""

    case = models.ForeignKey("rectification.RectificationCase", on_delete=models.PROTECT, related_name="reports",
                             verbose_name=_("case"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                               verbose_name=_("author"))
    body = models.TextField(_("report"))
    final = models.BooleanField(_("completion report"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("progress report")
        verbose_name_plural = _("progress reports")
        ordering = ["created_at"]


def _required(text, message):
    if not (text or "").strip():
        raise ActionError(message)
    return text.strip()


class RectificationCase(SideRequestsMixin, Case):
    """A rectification task (整改任务) addressed to one unit."""

    State = State
    flow_class = RectificationFlow
    EXTENSION_SOURCES = WORKING
    UPLOAD_STATES = WORKING
    LADDER_STATES = (State.ISSUED, State.SIGNED, State.RECTIFYING, State.RETURNED, State.PENDING_HEAD)

    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.INSPECTION)
    requirement = models.TextField(_("rectification requirements"))
    basis = models.CharField(_("basis"), max_length=200, blank=True)
    long_term = models.BooleanField(_("long-term rectification"), default=False)
    report_every_days = models.PositiveSmallIntegerField(_("progress report every (days)"), default=30)
    returns = models.PositiveSmallIntegerField(_("times returned"), default=0)
    batch = models.ForeignKey(DispatchBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="cases",
                              verbose_name=_("dispatch batch"))

    class Meta:
        verbose_name = _("rectification case")
        verbose_name_plural = _("rectification cases")

    # Issue and address ---------------------------------------------------------------
    @transition(field="status", source=State.DRAFT, target=State.ISSUED, permission=INSPECTOR)
    def issue(self, *, actor, **_kw):
        self._start_clock()
        return Change(data={"deadline": self.deadline.isoformat()})

    def _start_clock(self):
        self.issued_at = timezone.now()
        deadline = add_working_days(timezone.localdate(self.issued_at), self.deadline_days)
        self.deadline, self.calendar_warning = deadline.date, deadline.warning

    @transition(field="status", source=State.DRAFT, target=State.CANCELLED, permission=INSPECTOR)
    def discard(self, *, actor, reason="", **_kw):
        self.closed_at = timezone.now()
        return Change(reason=reason)

    @transition(field="status", source=State.ISSUED, target=State.REFUSED, permission=HANDLER)
    def refuse(self, *, actor, reason="", **_kw):
        return Change(reason=_required(reason, gettext("Please explain why the case is wrongly addressed.")))

    @transition(field="status", source=State.REFUSED, target=State.ISSUED, permission=INSPECTOR)
    def reassign(self, *, actor, unit: Unit, reason="", **_kw):
        below_supervisor = unit.path.startswith(self.supervisor_unit.path) and unit.pk != self.supervisor_unit_id
        if unit.pk == self.unit_id or not below_supervisor:
            raise ActionError(gettext("Choose another unit under your supervision."))
        old = self.unit
        self.unit = unit
        self._start_clock()  # the new unit gets its full time, counted from now
        return Change(reason=reason, data={"from_unit": old.name, "to_unit": unit.name,
                                           "deadline": self.deadline.isoformat()})

    @transition(field="status", source=State.REFUSED, target=State.ISSUED, permission=INSPECTOR)
    def reject_refusal(self, *, actor, reason="", **_kw):
        return Change(reason=_required(reason, gettext("Please explain why the unit must handle the case.")))

    @transition(field="status", source=State.ISSUED, target=State.SIGNED, permission=HANDLER)
    def sign(self, *, actor, **_kw):
        self.signed_at = timezone.now()

    # Rectify and submit ---------------------------------------------------------------
    @transition(field="status", source=[State.SIGNED, State.RECTIFYING, State.RETURNED],
                target=State.RECTIFYING, permission=HANDLER)
    @transition(field="status", source=State.LONG_TERM, target=State.LONG_TERM, permission=HANDLER)
    def report_progress(self, *, actor, reason="", **_kw):
        text = _required(reason, gettext("Please write the progress report."))
        sql.insert([ProgressReport(case=self, author=actor.user, body=text)])
        return Change(reason=text)

    @transition(field="status", source=list(WORKING), target=State.PENDING_HEAD, permission=HANDLER)
    def submit(self, *, actor, reason="", **_kw):
        text = _required(reason, gettext("Please describe what was rectified."))
        if not sql.exists(Evidence, case_id=self.pk):
            raise ActionError(gettext("Upload at least one piece of evidence before submitting."))
        sql.insert([ProgressReport(case=self, author=actor.user, body=text, final=True)])
        return Change(reason=text)

    @transition(field="status", source=State.PENDING_HEAD, target=State.SUBMITTED, permission=UNIT_HEAD)
    def head_approve(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    @transition(field="status", source=State.PENDING_HEAD, target=State.RECTIFYING, permission=UNIT_HEAD)
    def head_reject(self, *, actor, reason="", **_kw):
        return Change(reason=_required(reason, gettext("Please give the reason for sending it back.")))

    # Review -----------------------------------------------------------------------------
    @transition(field="status", source=State.SUBMITTED, target=State.UNDER_REVIEW,
                permission=all_of(INSPECTOR, did_not(*RECTIFIERS)))
    def start_review(self, *, actor, **_kw):
        pass

    @transition(field="status", source=list(REVIEWABLE), target=State.RETURNED,
                permission=all_of(INSPECTOR, did_not(*RECTIFIERS)))
    def return_case(self, *, actor, reason="", **_kw):
        text = _required(reason, gettext("Please list the reasons for returning the case."))
        self.returns += 1
        return Change(reason=text, data={"round": self.returns})

    @transition(field="status", source=list(REVIEWABLE), target=State.ACCEPTED,
                permission=all_of(INSPECTOR, did_not(*RECTIFIERS)))
    def accept(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    @transition(field="status", source=list(REVIEWABLE), target=State.LONG_TERM,
                permission=all_of(INSPECTOR, did_not(*RECTIFIERS)))
    def accept_long_term(self, *, actor, reason="", report_every_days=30, **_kw):
        self.long_term = True
        self.report_every_days = max(1, int(report_every_days))
        return Change(reason=_required(reason, gettext("Please explain why rectification must continue.")),
                      data={"report_every_days": self.report_every_days})

    # Leader sign-off ----------------------------------------------------------------
    @transition(field="status", source=State.ACCEPTED, target=State.CLOSED,
                permission=all_of(LEADER, not_opener))
    def sign_off(self, *, actor, reason="", **_kw):
        self.closed_at = timezone.now()
        self._close_pending_requests()
        return Change(reason=reason)

    @transition(field="status", source=State.ACCEPTED, target=State.UNDER_REVIEW,
                permission=all_of(LEADER, not_opener))
    def reject_sign_off(self, *, actor, reason="", **_kw):
        return Change(reason=_required(reason, gettext("Please give the reason for not signing off.")))


