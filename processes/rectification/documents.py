"""Documents archived for rectification cases: the closing record, when the case is closed."""
from django.utils.translation import gettext_lazy as _

from workflow.documents.archive import Document, archive_on
from workflow.models import AuditEvent, Rung

from .declaration import Rectification
from .models import State
from .views_pdf import _lines


def closing_context(case) -> dict:
    events = list(AuditEvent.objects.filter(case_id=case.pk, outcome=AuditEvent.Outcome.OK).order_by("seq"))
    for event in events:
        event.label = (Rung(event.data.get("rung", 1)).label if event.action == "escalate"
                       else Rectification.event_label(event.action))
    last = {event.action: event for event in events}
    return {
        "case": case, "unit": case.unit, "supervisor": case.supervisor_unit,
        "problems": _lines(case.description), "requirements": _lines(case.requirement),
        "events": events, "accepted": last.get("accept"), "signed_off": last.get("sign_off"),
        "reports": list(case.reports.select_related("author")),
        "evidence": list(case.evidence.order_by("created_at")),
    }


CLOSING_RECORD = Document(
    name="closing_record", title=_("Closing record (PDF)"), template="pdf/rectification_closing.html",
    context=closing_context, filename=lambda case: f"整改销号记录-{case.number}.pdf",
)


def declare(case_type: str):
    archive_on(case_type, State.CLOSED, CLOSING_RECORD)
