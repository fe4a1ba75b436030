"""Documents archived for supervised matters: the completion report (办结报告), when the leader
has read it and the matter is closed."""
from django.utils.translation import gettext_lazy as _

from workflow.documents.archive import Document, archive_on
from workflow.models import AuditEvent
from workflow.web.ledger import local_date

from .exports import PORTRAIT_TITLE, SOURCE_TEXT, build_table, document_title
from .models import ItemReport


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _result(case, finals) -> dict:
    """One unit's share as the report states it: its unit, when it was done and what was done."""
    closed = local_date(case.closed_at)
    if case.phase == "cancelled":
        timing = "已撤销"
    elif case.phase != "done":
        timing = "未办结"
    elif case.deadline is not None and closed is not None and closed > case.deadline:
        timing = f"逾期{(closed - case.deadline).days}天办结"
    else:
        timing = "按期办结"
    return {"unit": case.unit.name, "deadline": case.deadline, "closed": closed, "timing": timing,
            "co": "、".join(party.unit.name for party in case.parties.all()), "result": finals.get(case.pk, "")}


def _dispatched(rows) -> list:
    """The rows that went to units, and the headings above them; items never dispatched (the
    office kept them as points of an item above) are left out."""
    kept = []
    for index, row in enumerate(rows):
        if row.shares:
            kept.append(row)
        elif row.section:
            below = []
            for later in rows[index + 1:]:
                if later.level <= row.level:
                    break
                below.append(later)
            if any(later.shares for later in below):
                kept.append(row)
    return kept


def completion_context(matter) -> dict:
    """The matter, its completion report, each task with each unit's result, and the leader's reading."""
    events = {}   # the first dispatch; the last report and reading (a report may be returned and filed again)
    for event in AuditEvent.objects.filter(case_id=matter.pk, outcome=AuditEvent.Outcome.OK,
                                           action__in=("dispatch", "report", "read_report")).order_by("seq"):
        if event.action != "dispatch" or "dispatch" not in events:
            events[event.action] = event
    table = build_table(matter, local_date(matter.closed_at))
    finals = dict(ItemReport.objects.filter(case__parent_id=matter.pk, kind=ItemReport.Kind.FINAL)
                  .order_by("created_at", "pk").values_list("case_id", "body"))
    tasks = [{"row": row, "results": [_result(case, finals) for case in row.shares]} for row in _dispatched(table.rows)]
    title, lines = document_title(matter, "办结报告", PORTRAIT_TITLE)
    done = sum(1 for case in table.shares if case.phase == "done")
    on_time = sum(1 for task in tasks for result in task["results"] if result["timing"] == "按期办结")
    return {
        "matter": matter, "issuer": matter.supervisor_unit, "source": SOURCE_TEXT.get(matter.kind, ""),
        "title": title, "title_lines": lines, "report": _lines(matter.completion_report),
        "dispatched": events.get("dispatch"), "reported": events.get("report"), "read": events.get("read_report"),
        "tasks": tasks, "task_count": sum(1 for task in tasks if task["row"].shares),
        "shares": len(table.shares), "units": table.units, "done": done, "on_time": on_time,
        "cancelled": sum(1 for case in table.shares if case.phase == "cancelled"),
    }


COMPLETION_REPORT = Document(
    name="completion_report", title=_("Completion report (PDF)"), template="pdf/deployment_completion.html",
    context=completion_context, filename=lambda matter: f"办结报告-{matter.doc_number or matter.number}.pdf",
)


def declare(case_type: str):
    archive_on(case_type, "closed", COMPLETION_REPORT)
