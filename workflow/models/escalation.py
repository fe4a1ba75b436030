"""The escalation ladder (催办 / 督办): rungs fired once per case, and the proposals they open."""
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Rung(models.IntegerChoices):
    REMINDER = 1, _("Reminder")
    YELLOW = 2, _("Yellow light")
    RED = 3, _("Red light")
    INTERVIEW = 4, _("Interview proposal")
    ACCOUNTABILITY = 5, _("Accountability proposal")


class EscalationPolicy(models.Model):
    """Per case type: how many working days before and after the deadline each rung fires."""

    case_type = models.CharField(_("case type"), max_length=32, primary_key=True)
    remind_before = models.PositiveSmallIntegerField(_("reminder: working days before the deadline"), default=2)
    red_after = models.PositiveSmallIntegerField(_("red light: working days overdue (N)"), default=3)
    interview_after = models.PositiveSmallIntegerField(_("interview: working days after red (M)"), default=5)
    accountability_after = models.PositiveSmallIntegerField(
        _("accountability: working days after the interview proposal"), default=5)

    class Meta:
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")

    def __str__(self):
        return self.case_type


class Escalation(models.Model):
    """One rung fired for one case. The unique key makes a second sweep a no-op."""

    case = models.ForeignKey("workflow.Case", on_delete=models.CASCADE, related_name="escalations",
                             verbose_name=_("case"))
    rung = models.PositiveSmallIntegerField(_("rung"), choices=Rung.choices)
    due_on = models.DateField(_("due on"))
    fired_at = models.DateTimeField(_("fired"), default=timezone.now)

    class Meta:
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        ordering = ["case", "rung"]
        constraints = [models.UniqueConstraint(fields=["case", "rung"], name="one_escalation_per_rung")]


class Proposal(models.Model):
    """An interview (约谈) or accountability (问责) proposal opened by the ladder; the sanction
    process takes it up."""

    class Kind(models.TextChoices):
        INTERVIEW = "interview", _("Interview")
        ACCOUNTABILITY = "accountability", _("Accountability")

    class Status(models.TextChoices):
        OPEN = "open", _("Awaiting action")

    case = models.ForeignKey("workflow.Case", on_delete=models.CASCADE, related_name="proposals",
                             verbose_name=_("case"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    unit = models.ForeignKey("workflow.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("unit"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("proposal")
        verbose_name_plural = _("proposals")
        constraints = [models.UniqueConstraint(fields=["case", "kind"], name="one_proposal_per_kind")]

    def __str__(self):  # the case is left out: the administrator lists proposals
        return f"{self.get_kind_display()} · {self.unit}"


class RungCount(models.Model):
    """Open cases at each rung in a unit's whole subtree, kept up to date as rungs fire and
    cases close, so the leaders' dashboard reads a few rows however many cases there are."""

    unit = models.ForeignKey("workflow.Unit", on_delete=models.CASCADE, related_name="rung_counts",
                             verbose_name=_("unit"))
    rung = models.PositiveSmallIntegerField(_("rung"), choices=Rung.choices)
    open_cases = models.IntegerField(_("open cases"), default=0)

    class Meta:
        verbose_name = _("rung count")
        verbose_name_plural = _("rung counts")
        constraints = [models.UniqueConstraint(fields=["unit", "rung"], name="one_count_per_unit_rung")]
