"""Rectification cases: the state machine is the single truth of a case's status."""
from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from workflow.storage import sql
from workflow.kernel.calendar import add_working_days
from workflow.kernel.errors import ActionError, Change
from workflow.models import Case, Evidence, Unit

from .declaration import ARTICLE_MAX, REGULATION_MAX, Rectification, Source  # noqa: F401 - Source is the model's choices
from .flows import RectificationFlow


# The declared states as choices, for code and queries that name one (State.CLOSED).
State = models.TextChoices("State", [(s.name.upper(), (s.name, s.label)) for s in Rectification.states])


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


class RectificationCase(Case, case_type=Rectification):
    """A rectification task (整改任务) addressed to one unit. Each action's method is named as
    its declaration (declaration.py), which says when it may run and who may take it."""

    State = State
    flow_class = RectificationFlow

    source = models.CharField(_("source"), max_length=20, choices=Source.choices, default=Source.INSPECTION)
    requirement = models.TextField(_("rectification requirements"))
    basis = models.CharField(_("inspection activity"), max_length=200, blank=True)  # the 检查活动 the problem came from
    # The legal basis (依据) the problem breaches, apart from the inspection: a regulation and its article.
    regulation = models.CharField(_("legal basis: regulation"), max_length=REGULATION_MAX, blank=True)
    article = models.CharField(_("legal basis: article"), max_length=ARTICLE_MAX, blank=True)
    long_term = models.BooleanField(_("long-term rectification"), default=False)
    report_every_days = models.PositiveSmallIntegerField(_("progress report every (days)"), default=30)
    returns = models.PositiveSmallIntegerField(_("times returned"), default=0)
    batch = models.ForeignKey(DispatchBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="cases",
                              verbose_name=_("dispatch batch"))

    class Meta:
        verbose_name = _("rectification case")
        verbose_name_plural = _("rectification cases")

    # Issue and address ---------------------------------------------------------------
    def issue(self, *, actor, **_kw):
        self._start_clock()
        return Change(data={"deadline": self.deadline.isoformat()})

    def _start_clock(self):
        self.issued_at = timezone.now()
        deadline = add_working_days(timezone.localdate(self.issued_at), self.deadline_days)
        self.deadline, self.calendar_warning = deadline.date, deadline.warning

    def discard(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def refuse(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def reassign(self, *, actor, unit: Unit, reason="", **_kw):
        below_supervisor = unit.path.startswith(self.supervisor_unit.path) and unit.pk != self.supervisor_unit_id
        if unit.pk == self.unit_id or not below_supervisor:
            raise ActionError(gettext("Choose another unit under your supervision."))
        old = self.unit
        self.unit = unit
        self._start_clock()  # the new unit gets its full time, counted from now
        return Change(reason=reason, data={"from_unit": old.name, "to_unit": unit.name,
                                           "deadline": self.deadline.isoformat()})

    def reject_refusal(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def sign(self, *, actor, **_kw):
        self.signed_at = timezone.now()

    # Rectify and submit ---------------------------------------------------------------
    def report_progress(self, *, actor, reason="", **_kw):
        text = reason
        sql.insert([ProgressReport(case=self, author=actor.user, body=text)])
        return Change(reason=text)

    def submit(self, *, actor, reason="", **_kw):
        text = reason
        if not sql.exists(Evidence, case_id=self.pk):
            raise ActionError(gettext("Upload at least one piece of evidence before submitting."))
        sql.insert([ProgressReport(case=self, author=actor.user, body=text, final=True)])
        return Change(reason=text)

    def head_approve(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def head_reject(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    # Review -----------------------------------------------------------------------------
    def start_review(self, *, actor, **_kw):
        """The reviewer takes the case up; only the state changes."""

    def return_case(self, *, actor, reason="", **_kw):
        text = reason
        self.returns += 1
        return Change(reason=text, data={"round": self.returns})

    def accept(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def accept_long_term(self, *, actor, reason="", report_every_days=30, **_kw):
        self.long_term = True
        self.report_every_days = max(1, int(report_every_days))
        return Change(reason=reason,
                      data={"report_every_days": self.report_every_days})

    # Leader sign-off ----------------------------------------------------------------
    def sign_off(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def reject_sign_off(self, *, actor, reason="", **_kw):
        return Change(reason=reason)


