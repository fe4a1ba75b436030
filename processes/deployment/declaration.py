"""督办事项, declared: a matter (督办来源 — a work plan, a leader's instruction, a meeting
decision, a hotline ticket or a deputy's suggestion) kept by the supervision office, and the
items it dispatches, one case per receiving unit. A receiving bureau may re-dispatch its item
to the units below it (逐级转办): the children are items again, under it.

The office's unit holds the matter (its inspector registers, dispatches and reports it; its
leader reads the completion report, 阅示). An item is the receiving unit's: its handler signs,
reports progress on the cadence and reports completion; its co-units report their part; the
issuing unit's inspector verifies or returns it."""
from django.db import models
from django.utils.translation import gettext_lazy as _

from workflow.kernel.declaration import (CO_UNITS, SUPERVISOR, UNIT, Action, CaseType, Choice, Column, Condition, Create, Date, Int, Ladder, Ledger, Long, Menu, PageDocument, Parent, Parties, Reason, State, Task, Text, at, children_done, closed_on, overdue)
from workflow.models import Role, Rung

OFFICE, CHIEF = at(Role.INSPECTOR, UNIT), at(Role.LEADER, UNIT)          # a matter sits in the office's own unit
HANDLER, UNIT_HEAD = at(Role.HANDLER, UNIT), at(Role.UNIT_HEAD, UNIT)
CO_HANDLER = at(Role.HANDLER, CO_UNITS)
ISSUER, ISSUER_CHIEF = at(Role.INSPECTOR, SUPERVISOR), at(Role.LEADER, SUPERVISOR)


class SourceKind(models.TextChoices):
    PLAN = "plan", _("Work plan")
    INSTRUCTION = "instruction", _("Leader's instruction")
    MEETING = "meeting", _("Meeting decision")
    HOTLINE = "hotline", _("Hotline ticket")
    SUGGESTION = "suggestion", _("Deputies' suggestion or proposal")


class Urgency(models.TextChoices):
    URGENT = "urgent", _("Extra urgent (特急)")
    EXPEDITED = "expedited", _("Urgent (加急)")
    NORMAL = "normal", _("Ordinary (平件)")


class Cadence(models.TextChoices):
    MONTHLY = "monthly", _("Monthly")
    QUARTERLY = "quarterly", _("Quarterly")
    NONE = "none", _("On completion only")


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("Satisfied")
    BASIC = "basic", _("Basically satisfied")
    UNSATISFIED = "unsatisfied", _("Not satisfied")
    UNREACHED = "unreached", _("Could not be reached")


def _visited(case) -> bool:
    return case.kind != SourceKind.HOTLINE or bool(case.return_visit)


def _is_hotline(case) -> bool:
    return case.kind == SourceKind.HOTLINE


def _has_items(case) -> bool:
    return case.plan_items.exists()


# Matter: 登记 → 分办 → 办结报告 → 阅示 ------------------------------------------------------------
dispatch = Task("dispatch", _("Edit and dispatch the items"), OFFICE)
report = Task("report", _("Follow the items and file the completion report"), OFFICE)
read = Task("read", _("Read the completion report"), CHIEF)

NOTE = Reason(_("Opinion"))


class Matter(CaseType):
    key = "matter"
    label = _("Supervised matter")
    initial = "registered"
    number_prefix = "督办登记"
    states = (
        State("registered", _("Registered"), (dispatch,), uploads=True),
        State("dispatched", _("Dispatched"), (report,), uploads=True),
        State("reported", _("Completion report filed"), (read,)),
        State("closed", _("Closed"), end="done"),
        State("withdrawn", _("Withdrawn"), end="cancelled"),
    )
    actions = (
        Action("dispatch", ("registered", "dispatched"), "dispatched", OFFICE, _("Dispatch the items"),
               help=_("Opens one item for each receiving unit of every item not yet dispatched."),
               when=(Condition(_has_items, _("Add at least one item first.")),)),
        Action("record_return_visit", "dispatched", None, OFFICE, _("Record the return visit"),
               (Choice("satisfaction", _("Satisfaction"), Satisfaction.choices),
                Text("return_visit", _("Return visit result"), 500)),
               when=(Condition(_is_hotline, _("Only a hotline ticket has a return visit.")),), style="secondary"),
        Action("report", "dispatched", "reported", OFFICE, _("File the completion report"),
               (Long("completion_report", _("Completion report (办结报告)"), 5000),),
               when=(Condition(children_done, _("Every item must be finished first.")),
                     Condition(_visited, _("Record the return visit first.")))),
        Action("read_report", "reported", "closed", CHIEF, _("Read and close (阅示)"), (NOTE,)),
        Action("return_report", "reported", "dispatched", CHIEF, _("Return the report"),
               (Reason(_("What is missing"), True, _("Please say what the report lacks.")),), style="danger"),
        Action("withdraw", ("registered",), "withdrawn", OFFICE, _("Withdraw the registration"),
               (Reason(_("Reason"), True, _("Please give the reason for withdrawing.")),), style="danger"),
    )
    create = Create(
        role=Role.INSPECTOR, many=False, own_unit=True, service="processes.deployment.services.register",
        fields=(Choice("kind", _("Kind of source"), SourceKind.choices, SourceKind.PLAN),
                Text("title", _("Title"), 200),
                Text("source_ref", _("Document number of the source"), 60, required=False,
                     help=_("e.g. 民发〔2026〕3号, or the meeting's minutes number")),
                Text("origin", _("Leader or meeting"), 100, required=False,
                     help=_("The leader who wrote the instruction, or the meeting that decided it")),
                Date("source_date", _("Date of the source")),
                Choice("urgency", _("Urgency"), Urgency.choices, Urgency.NORMAL),
                Text("hotline_ticket", _("Hotline ticket number"), 40, required=False,
                     help=_("Hotline tickets only: the hotline's own number")),
                Date("hotline_deadline", _("Hotline deadline"), required=False),
                Long("description", _("Full text"), 200_000, required=False)),
        denied=_("Only the supervision office's inspectors register matters."))
    uploader = OFFICE  # the scanned original, and what the completion report rests on
    list_filters = ("kind", "urgency")
    number_field = "doc_number"  # known by its supervision number (示范督办〔2026〕1号) once registered
    list_columns = ("kind", "doc_number")
    detail_fields = ("doc_number", "kind", "urgency", "origin", "source_ref", "source_date", "hotline_ticket",
                     "hotline_deadline", "satisfaction", "return_visit", "completion_report", "read_opinion")
    ledger = Ledger("督办事项台账", (
        Column("督办编号", "doc_number", 22), Column("事项", "title", 48), Column("来源", "kind", 14),
        Column("来文文号", "source_ref", 20), Column("批示领导/会议", "origin", 20), Column("紧急程度", "urgency", 10),
        Column("状态", "status", 16), Column("办理时限", "deadline", 12),
        Column("是否逾期", overdue, 10, reads=("phase", "deadline")),
        Column("办结日期", closed_on, 12, reads=("phase", "closed_at")),
    ))
    # They name every unit's progress: for those who supervise.
    documents = tuple(PageDocument(name, title, roles=(Role.INSPECTOR, Role.LEADER)) for name, title in (
        ("task_table_xlsx", _("Task table (Excel)")), ("task_table_pdf", _("Task table (PDF)")),
        ("progress_docx", _("Monthly progress report (Word)")), ("progress_pdf", _("Monthly progress report (PDF)"))))
    panels = ("deployment/_matter.html",)
    event_labels = {"import_plan": _("Items imported from a work plan"),
                    "import_table": _("Items imported from a task table"), "add_item": _("Item added"),
                    "edit_item": _("Item edited"), "relevel_item": _("Item moved to another level"),
                    "merge_items": _("Items merged"), "split_item": _("Item split"), "delete_item": _("Item removed")}
    menu = Menu(_("Supervised matters"), new=_("Register a matter"), list_title=_("Supervised matters"),
                new_title=_("Register a supervised matter"))


# Item: 签收 → 推进（按期报送）→ 报结 → 核验 -----------------------------------------------------------
sign = Task("sign", _("Sign for the item"), HANDLER)
work = Task("work", _("Carry out the item and report"), HANDLER)
contribute = Task("contribute", _("Report our part as co-unit"), CO_HANDLER)
verify = Task("verify", _("Verify the item"), ISSUER)

PROGRESS = Reason(_("Progress"), True, _("Please write the progress."))
PERCENT = Int("percent", _("Percent complete"), 0, 100, default=0)
WORKING = ("working", "returned")


class Item(CaseType):
    key = "item"
    label = _("Supervised item")
    initial = "new"
    number_prefix = "督办件"
    states = (
        State("new", _("Draft"), (), unit_sees=False),
        State("issued", _("Issued"), (sign,), ladder=True),
        State("working", _("In progress"), (work, contribute), ladder=True, uploads=True),
        State("submitted", _("Reported done"), (verify,)),
        State("returned", _("Returned"), (work, contribute), ladder=True, uploads=True),
        State("verified", _("Verified done"), end="done"),
        State("cancelled", _("Cancelled"), end="cancelled"),
    )
    actions = (
        Action("issue", "new", "issued", ISSUER, _("Issue to the unit")),
        Action("sign", "issued", "working", HANDLER, _("Sign for the item")),
        Action("report_progress", WORKING, None, HANDLER, _("Report progress"), (PROGRESS, PERCENT)),
        Action("contribute", WORKING, None, CO_HANDLER, _("Report our part"), (PROGRESS, PERCENT)),
        Action("submit", WORKING, "submitted", HANDLER, _("Report the item done"),
               (Reason(_("What was done"), True, _("Please describe what was done.")),),
               when=(Condition(children_done, _("Every unit it was passed down to must finish first.")),)),
        Action("verify", "submitted", "verified", ISSUER, _("Verify as done"), (NOTE,)),
        Action("return_item", "submitted", "returned", ISSUER, _("Return the item"),
               (Reason(_("Reasons for returning"), True, _("Please list the reasons for returning.")),),
               style="danger"),
        Action("cancel", ("new", "issued", "working", "returned"), "cancelled", ISSUER, _("Cancel the item"),
               (Reason(_("Reason"), True, _("Please give the reason for cancelling.")),), style="secondary"),
    )
    ladder = Ladder(told={Rung.REMINDER: (HANDLER,), Rung.YELLOW: (UNIT_HEAD, HANDLER),
                          Rung.RED: (ISSUER_CHIEF, UNIT_HEAD), Rung.INTERVIEW: (ISSUER_CHIEF, ISSUER, UNIT_HEAD),
                          Rung.ACCOUNTABILITY: (ISSUER_CHIEF,)},
                    proposals={Rung.INTERVIEW: "interview", Rung.ACCOUNTABILITY: "accountability"})
    parent = Parent(types=("matter", "item"), required=True, by_its_unit=True)  # 逐级转办
    parties = Parties(_("Co-units"))
    uploader = HANDLER
    create = Create(
        role=Role.INSPECTOR, then="issue", many=True, service="processes.deployment.services.open_items",
        fields=(Text("title", _("Task of the item"), 200), Long("description", _("Full text of the item")),
                Text("target", _("Target"), 500, required=False), Date("deadline", _("Deadline")),
                Choice("cadence", _("Progress reports"), Cadence.choices, Cadence.MONTHLY)),
        denied=_("Only inspectors dispatch items."))
    list_filters = ("cadence",)
    list_columns = ("percent",)
    detail_fields = ("target", "cadence", "percent", "last_report_on")
    ledger = Ledger("督办任务台账", (
        Column("编号", "number", 20), Column("任务", "title", 48), Column("牵头单位", "unit__name", 24),
        Column("完成时限", "deadline", 12), Column("进度(%)", "percent", 10), Column("状态", "status", 14),
        Column("是否逾期", overdue, 10, reads=("phase", "deadline")),
        Column("办结日期", closed_on, 12, reads=("phase", "closed_at")),
    ))
    panels = ("deployment/_item.html",)
    menu = Menu(_("Supervised tasks"), new=_("New item"), list_title=_("Supervised tasks"),
                new_title=_("New supervised item"))
