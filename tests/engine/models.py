from django.db import models
from django.utils import timezone

from workflow.kernel.calendar import add_working_days
from workflow.kernel.errors import Change
from workflow.cases.flows import build_flow
from workflow.models import Case, Record

from .declaration import Joint, Plan, Priority, Ticket

TicketFlow = build_flow(Ticket, "TicketFlow", __name__)
PlanFlow = build_flow(Plan, "PlanFlow", __name__)
JointFlow = build_flow(Joint, "JointFlow", __name__)


def _start_clock(case):
    case.issued_at = timezone.now()
    case.deadline = add_working_days(timezone.localdate(case.issued_at), case.deadline_days).date


class TicketCase(Case, case_type=Ticket):
    """A ticket (tests only): what each action does; the declaration says when and who."""

    flow_class = TicketFlow

    priority = models.CharField("priority", max_length=10, choices=Priority.choices, default=Priority.LOW)
    score = models.PositiveSmallIntegerField("score", null=True, blank=True)

    def assign(self, *, actor, **_kw):
        _start_clock(self)
        return Change(data={"deadline": self.deadline.isoformat()})

    def drop(self, *, actor, **_kw):
        return Change()

    def finish(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def reopen(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def resolve(self, *, actor, score=3, **_kw):
        self.score = score
        return Change(data={"score": score})


class PlanCase(Case, case_type=Plan):
    """A plan (tests only) whose items are tickets."""

    flow_class = PlanFlow

    # The people named to review the plan who have not approved it yet (a named wait).
    reviewers = models.ManyToManyField("workflow.User", blank=True, related_name="+")

    def pending_reviewer_ids(self) -> list[int]:
        return [user.pk for user in self.reviewers.all()] if self.pk else []

    def approve_plan(self, *, actor, **_kw):
        self.reviewers.remove(actor.user)
        return Change()

    def launch(self, *, actor, **_kw):
        _start_clock(self)
        return Change(data={"deadline": self.deadline.isoformat()})

    def close(self, *, actor, **_kw):
        return Change(data={"children": self.children.count()})


class JointCase(Case, case_type=Joint):
    """A joint task (tests only): a lead unit and co-units. It starts working at once."""

    flow_class = JointFlow

    def save(self, *args, **kwargs):
        if self.deadline is None:
            _start_clock(self)
        super().save(*args, **kwargs)

    def contribute(self, *, actor, reason="", **_kw):
        self.finish_part(actor.user.unit_id)
        return Change(reason=reason, data={"unit": actor.user.unit_id})

    def report(self, *, actor, reason="", **_kw):
        return Change(reason=reason)

    def accept(self, *, actor, **_kw):
        return Change()


class Checklist(Record):
    """A record beside cases (tests only): an inspection checklist, not a case."""

    title = models.CharField("title", max_length=200)
    items = models.JSONField("items", default=list)
    passed = models.PositiveSmallIntegerField("items passed", default=0)
