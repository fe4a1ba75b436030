"""The hazard case's documents as PDFs on the official format: the 隐患整改通知书 of a general
hazard set a deadline, the 挂牌督办通知书 of a listed major hazard (its 限期整改指令), and the
two public notices (公告) of the listing and of the de-listing that the notice clocks count.

Each is served to whoever sees the case once the case has it; a case the user may not see is a
404 with a denied-access event, and a document the case does not have yet is a 404 as well.
The documents are fixed-language legal texts: their Chinese wording lives in the templates."""
import re

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _

from workflow.documents.pdf import pdf_response, render_pdf
from workflow.kernel import unit_settings
from workflow.web.http import not_found

from .declaration import Grade, Source
from .models import LISTING_DOCUMENT, HazardCase, InspectionKind

NUMERALS = "零一二三四五六七八九"

# How each way of finding a hazard reads in the notice's opening sentence.
FOUND_BY = {
    Source.INSPECTION: "监督检查",
    Source.UNANNOUNCED: "“四不两直”暗查暗访",
    Source.SELF: "你单位自查",
    Source.GRID: "网格员报告核查",
    Source.PUBLIC: "群众举报核查",
    Source.OTHER: "监督检查",
}
INSPECTION_KIND = {
    InspectionKind.SCHEDULED: "监督检查",
    InspectionKind.UNANNOUNCED: "“四不两直”暗查暗访",
    InspectionKind.SELF: "自查",
}
ARTICLE = re.compile(r"^\s*(\d{1,2})\s*[(（]\s*([一二三四五六七八九十]{1,3})\s*[)）]\s*$")


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 14 → 十四, 20 → 二十, 23 → 二十三 (articles run well below 100)."""
    if n < 10:
        return NUMERALS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else NUMERALS[tens]) + "十" + (NUMERALS[ones] if ones else "")


def article_name(code: str) -> str:
    """A criterion as cited in an official text: 4(三) → 第四条第（三）项; a code of another shape
    is printed as recorded, never reinterpreted."""
    found = ARTICLE.match(code or "")
    if found is None:
        return (code or "").strip()
    return f"第{chinese_number(int(found.group(1)))}条第（{found.group(2)}）项"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _day(moment):
    return timezone.localdate(moment) if moment is not None else None


def basis(case: HazardCase) -> dict | None:
    """The criterion the case was judged under, from its recorded criteria version: the
    document's title, the article as cited and its wording as written in that version. None
    when the case cites no article; a citation with no recorded wording keeps its code only."""
    if not case.criterion:
        return None
    version = case.criteria_version
    return {
        "document": version.title if version is not None else "",
        "version": version.version if version is not None else "",
        "article": article_name(case.criterion),
        "code": case.criterion,
        "text": case.criterion_text.strip(),
    }


def described(case: HazardCase, answers) -> list[str]:
    """The description's lines, less those that repeat a checklist item the document already
    cites (a hazard from an inspection starts with its item's wording and what it checks)."""
    shown = set()
    for a in answers:
        if case.checklist_version is not None:
            shown.add(f"{case.checklist_version.title}（{case.checklist_version.version}）第 {a.code} 项：{a.title}")
        shown.add(a.checks.strip())
    return [line for line in _lines(case.description) if line not in shown]


def context(case: HazardCase) -> dict:
    unit = case.unit
    answers = case.answers
    inspection = answers[0].inspection if answers else None
    if inspection is not None:
        found_by = INSPECTION_KIND.get(inspection.kind, "监督检查")
        found_on = inspection.inspected_on
    else:
        found_by = FOUND_BY.get(case.source, "监督检查")
        found_on = _day(case.created_at)
    return {
        "case": case, "unit": unit, "supervisor": case.supervisor_unit, "contact": case.created_by,
        "inspection": inspection, "answers": answers, "found_by": found_by, "found_on": found_on,
        "self_found": (inspection.kind == InspectionKind.SELF) if inspection else case.source == Source.SELF,
        "checklist": case.checklist_version, "basis": basis(case),
        "description": described(case, answers), "requirements": _lines(case.requirement),
        "issued_on": _day(case.issued_at), "listed_on": _day(case.listed_at),
        "delisted_on": _day(case.delisted_at),
        "plan_filed": bool(case.plan_measures.strip()),
        "plan_funds": f"{case.plan_funds:,.2f}" if case.plan_funds is not None else "",
        "plan_measures": _lines(case.plan_measures), "plan_emergency": _lines(case.plan_emergency),
    }


def _case(request, pk, target: str) -> HazardCase:
    """The case if the user sees it; else a 404, with a denied-access event when it exists."""
    case = (HazardCase.objects.visible_to(request.user)
            .select_related("unit", "supervisor_unit", "created_by", "criteria_version", "checklist_version")
            .filter(pk=pk).first())
    if case is None:
        if HazardCase.objects.filter(pk=pk).exists():
            not_found(request, target, pk)
        raise Http404(_("No such case, or you may not see it."))
    return case


def _not_ready():
    raise Http404(_("This document does not exist yet for this case."))


# What each document needs of the case (the case page offers it only then).
def notice_ready(case) -> bool:
    return case.grade == Grade.GENERAL and case.issued_at is not None and case.deadline is not None


def listing_ready(case) -> bool:
    return case.listed_at is not None and bool(case.listing_number)


def delisting_ready(case) -> bool:
    return case.delisted_at is not None and case.listed_at is not None


@login_required
def notice_pdf(request, pk):
    """隐患整改通知书 of a general hazard set a deadline."""
    case = _case(request, pk, "hazard_notice")
    if not notice_ready(case):
        _not_ready()
    pdf = render_pdf("pdf/hazard_notice.html", context(case), request=request)
    return pdf_response(pdf, f"隐患整改通知书-{case.number}.pdf", fallback=f"hazard-notice-{case.pk}.pdf")


@login_required
def listing_notice_pdf(request, pk):
    """挂牌督办通知书 of a listed major hazard, in the template the issuing unit's settings name."""
    case = _case(request, pk, "hazard_listing_notice")
    if not listing_ready(case):
        _not_ready()
    template = unit_settings.document_template(case.supervisor_unit, LISTING_DOCUMENT, _day(case.listed_at))
    pdf = render_pdf(template, context(case), request=request)
    return pdf_response(pdf, f"挂牌督办通知书-{case.listing_number}.pdf", fallback=f"hazard-listing-{case.pk}.pdf")


def _public_notice(request, case, which: str):
    published_on = case.listing_published_on if which == "listing" else case.delisting_published_on
    data = {**context(case), "which": which,
            # The notice is dated the day it was recorded published, else the day it is drawn up.
            "notice_on": published_on or timezone.localdate()}
    pdf = render_pdf("pdf/hazard_public_notice.html", data, request=request)
    what = "挂牌督办公告" if which == "listing" else "摘牌公告"
    return pdf_response(pdf, f"{what}-{case.listing_number or case.number}.pdf",
                        fallback=f"hazard-{which}-public-notice-{case.pk}.pdf")


@login_required
def listing_public_notice_pdf(request, pk):
    """挂牌督办公告: the public text of a listing, for publication within the listing clock."""
    case = _case(request, pk, "hazard_listing_public_notice")
    if not listing_ready(case):
        _not_ready()
    return _public_notice(request, case, "listing")


@login_required
def delisting_public_notice_pdf(request, pk):
    """摘牌公告: the public text of a de-listing, for publication within the de-listing clock."""
    case = _case(request, pk, "hazard_delisting_public_notice")
    if not delisting_ready(case):
        _not_ready()
    return _public_notice(request, case, "delisting")


urls: dict = {"hazard": [
    path("<int:pk>/notice.pdf", notice_pdf, name="notice"),
    path("<int:pk>/listing-notice.pdf", listing_notice_pdf, name="listing_notice"),
    path("<int:pk>/listing-public-notice.pdf", listing_public_notice_pdf, name="listing_public_notice"),
    path("<int:pk>/delisting-public-notice.pdf", delisting_public_notice_pdf, name="delisting_public_notice"),
]}
