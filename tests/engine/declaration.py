"""A ticket: a case type declared only for the tests. It uses every engine feature — tasks,
an action with a condition and a field, two side requests (a new deadline, a way out), the
ladder, uploads, bulk dispatch — and has no page, form, serializer or view of its own."""
from django.db import models

from workflow.kernel.declaration import (CO_UNITS, SUPERVISOR, UNIT, Action, CaseType, Choice, Column, Condition, Create, Date, GoTo, Int, Ladder, Ledger, Long, Menu, Named, NewDeadline, Parent, Parties, Reason, SideRequest, State, Task, Text, Verb, at, children_done, closed_on, overdue, parts_done)
from workflow.models import Role, Rung

HANDLER, UNIT_HEAD = at(Role.HANDLER, UNIT), at(Role.UNIT_HEAD, UNIT)
CO_HANDLER = at(Role.HANDLER, CO_UNITS)
INSPECTOR, LEADER = at(Role.INSPECTOR, SUPERVISOR), at(Role.LEADER, SUPERVISOR)


class Priority(models.TextChoices):
    LOW = "low", "Low"
    HIGH = "high", "High"


def has_evidence(case) -> bool:
    return case.evidence.exists()


class Ticket(CaseType):
    key = "ticket"
    label = "Ticket"
    initial = "new"
    number_prefix = "工单"
    states = (
        State("new", "New", (Task("triage", "Triage the ticket", INSPECTOR),), unit_sees=False),
        State("assigned", "Assigned", (Task("work", "Work on the ticket", HANDLER),), ladder=True, uploads=True),
        State("finished", "Finished by the unit", (Task("check", "Check the work", LEADER),)),
        State("resolved", "Resolved", end="done"),
        State("dropped", "Dropped", end="cancelled"),
    )
    actions = (
        Action("assign", "new", "assigned", INSPECTOR, "Assign"),
        Action("drop", "new", "dropped", INSPECTOR, "Drop", style="danger"),
        Action("finish", "assigned", "finished", HANDLER, "Finish", (Reason("What was done", required=True),),
               when=(Condition(has_evidence, "Upload evidence first."),)),
        Action("reopen", "finished", "assigned", LEADER, "Reopen", (Reason("Why", required=True),), style="danger"),
        Action("resolve", "finished", "resolved", LEADER, "Resolve", (Int("score", "Score", 1, 5, default=3),)),
    )
    requests = (
        SideRequest("more_time", "More time", asked_by=HANDLER, chain=(UNIT_HEAD, LEADER),
                    ask=Verb("Ask for more time", (Reason("Why", required=True), Date("new_deadline", "New deadline"))),
                    approve=Verb("Grant more time"), reject=Verb("Refuse more time", (Reason("Why", required=True),)),
                    source=("assigned",), grant=NewDeadline(), unavailable="Only while assigned."),
        SideRequest("withdraw", "Withdrawal", asked_by=INSPECTOR, chain=(LEADER,),
                    ask=Verb("Propose withdrawing", (Reason("Why", required=True),)),
                    approve=Verb("Withdraw"), reject=Verb("Keep", (Reason("Why", required=True),)),
                    grant=GoTo("dropped")),
    )
    ladder = Ladder(told={rung: (HANDLER,) for rung in Rung}, proposals={Rung.ACCOUNTABILITY: "accountability"})
    parent = Parent(types=("plan",))
    uploader = HANDLER
    create = Create(role=Role.INSPECTOR, then="assign", many=True,
                    fields=(Text("title", "Title", 200), Long("description", "Description", 2000),
                            Choice("priority", "Priority", Priority.choices, Priority.LOW),
                            Int("deadline_days", "Working days", 1, 60, default=5)))
    list_filters = ("priority",)
    list_columns = ("priority",)
    detail_fields = ("priority", "score")
    ledger = Ledger("工单台账", (Column("编号", "number", 20), Column("标题", "title", 40), Column("单位", "unit__name", 20),
                             Column("优先级", "priority", 10), Column("状态", "status", 14),
                             Column("是否逾期", overdue, 10, reads=("phase", "deadline")),
                             Column("办结日期", closed_on, 12, reads=("phase", "closed_at"))))
    menu = Menu("Tickets", new="New ticket")


class Plan(CaseType):
    """A parent type: a plan whose items are tickets; it closes once every ticket has ended."""

    key = "plan"
    label = "Plan"
    initial = "drafting"
    number_prefix = "计划"
    states = (
        State("drafting", "Drafting", (Task("launch", "Launch the plan", INSPECTOR),), unit_sees=False),
        State("running", "Running", (Task("follow", "Follow the plan", INSPECTOR),
                                     Task("review", "Review the plan", Named("pending_reviewer_ids"))), ladder=True),
        State("closed", "Closed", end="done"),
    )
    actions = (
        Action("launch", "drafting", "running", INSPECTOR, "Launch"),
        Action("approve_plan", "running", None, Named("pending_reviewer_ids"), "Approve the plan"),
        Action("close", "running", "closed", INSPECTOR, "Close the plan",
               when=(Condition(children_done, "Every ticket under the plan must end first."),)),
    )
    create = Create(role=Role.INSPECTOR, then="launch", many=False,
                    fields=(Text("title", "Title", 200), Long("description", "Description", 2000),
                            Int("deadline_days", "Working days", 1, 120, default=60)))
    menu = Menu("Plans", new="New plan")


class Joint(CaseType):
    """A case with a lead unit and co-units: each co-unit reports its part; the lead unit
    reports the whole once every part is done."""

    key = "joint"
    label = "Joint task"
    initial = "working"
    number_prefix = "协办"
    states = (
        State("working", "Working", (Task("lead", "Lead the task", HANDLER), Task("contribute", "Do our part",
                                                                                  CO_HANDLER)), ladder=True),
        State("reported", "Reported", (Task("accept", "Accept the report", INSPECTOR),)),
        State("accepted", "Accepted", end="done"),
    )
    actions = (
        Action("contribute", "working", None, CO_HANDLER, "Report our part done", (Reason("What we did", required=True),)),
        Action("report", "working", "reported", HANDLER, "Report the task done", (Reason("Summary", required=True),),
               when=(Condition(parts_done, "Every co-unit must report its part first."),)),
        Action("accept", "reported", "accepted", INSPECTOR, "Accept"),
    )
    parties = Parties("Co-units")
    uploader = HANDLER
    create = Create(role=Role.INSPECTOR, many=False,
                    fields=(Text("title", "Title", 200), Long("description", "Description", 2000),
                            Int("deadline_days", "Working days", 1, 60, default=10)))
    menu = Menu("Joint tasks", new="New joint task")
