from django.db import models
from django.utils import timezone

from workflow.calendar import add_working_days
from workflow.errors import Change
from workflow.flows import build_flow
from workflow.models import Case

from .declaration import Priority, Ticket

TicketFlow = build_flow(Ticket, "TicketFlow", __name__)


class TicketCase(Case, case_type=Ticket):
    """A ticket (tests only): what each action does; the declaration says when and who."""

    flow_class = TicketFlow

    priority = models.CharField("priority", max_length=10, choices=Priority.choices, default=Priority.LOW)
    score = models.PositiveSmallIntegerField("score", null=True, blank=True)

    def assign(self, *, actor, **_kw):
        self.issued_at = timezone.now()
        self.deadline = add_working_days(timezone.localdate(self.issued_at), self.deadline_days).date
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
