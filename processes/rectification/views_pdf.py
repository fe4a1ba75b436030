"""The 整改通知书 (rectification notice) as a PDF download."""
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.utils.translation import gettext as _

from workflow.web.http import not_found
from workflow.documents.pdf import pdf_response, render_pdf

from .declaration import legal_basis
from .models import RectificationCase, Source, State

# The notice is a fixed-language legal document: how each source reads in its body text when
# the case names no inspection (检查活动) of its own.
SOURCE_TEXT = {
    Source.INSPECTION: "监督检查",
    Source.AUDIT: "审计检查",
    Source.HOTLINE: "投诉举报核查",
    Source.LEADER: "专项督查",
}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def notice_context(case: RectificationCase) -> dict:
    return {
        "case": case,
        "unit": case.unit,
        "supervisor": case.supervisor_unit,
        "contact": case.created_by,
        "source_text": SOURCE_TEXT.get(case.source, "监督检查"),
        # The inspection the problem was found in and the rule it breaches are apart: the
        # notice cites a rule only when the case names one, and never invents one.
        "inspection": (case.basis or "").strip(),
        "legal_basis": legal_basis(case.regulation, case.article),
        "problems": _lines(case.description),
        "requirements": _lines(case.requirement),
    }


@login_required
def notice_pdf(request, pk):
    """Download the notice of an issued case the user may see; anything else is a 404."""
    case = (RectificationCase.objects.visible_to(request.user)
            .select_related("unit", "supervisor_unit", "created_by").filter(pk=pk).first())
    if case is None:
        if RectificationCase.objects.filter(pk=pk).exists():
            not_found(request, "notice", pk)
        raise Http404(_("No such case, or you may not see it."))
    if case.status == State.DRAFT or case.issued_at is None or case.deadline is None:
        raise Http404(_("No such case, or you may not see it."))
    pdf = render_pdf("pdf/rectification_notice.html", notice_context(case), request=request)
    return pdf_response(pdf, f"整改通知书-{case.number}.pdf", fallback=f"notice-{case.pk}.pdf")
