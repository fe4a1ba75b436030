"""The bulletin (情况通报) on the filtered case list: an official document (GB/T 9704 grid) in
fixed Chinese wording. It takes the case list's own GET filters and reads through the
platform's ``case_list``, so it is scoped by the user's unit exactly like the list page. Its
figures are computed in one pass over the filtered rows and its table lists at most
``BULLETIN_MAX_ROWS`` of them. (The Excel ledger is the platform's, from the declared columns.)
"""
from collections import Counter

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from workflow.trail import audit
from workflow.cases import selectors
from workflow.web.http import client_ip
from workflow.documents.pdf import pdf_response, render_pdf
from workflow.web.ledger import CHUNK, filters_for_audit, local_date, site_labels
from workflow.web.views import BadFilter, list_filters, refused_filter

from .declaration import Rectification
from .models import RectificationCase, Source, State

BULLETIN_TEMPLATE = "pdf/bulletin.html"
BULLETIN_MAX_ROWS = 500
BULLETIN_FIELDS = ("number", "title", "unit__name", "status", "deadline", "closed_at")


# Bulletin (情况通报) -------------------------------------------------------------------------

def _scope_text(filters: dict) -> str:
    """The filters in words, for the bulletin's first paragraph; empty when unfiltered."""
    if not filters:
        return ""
    parts = []
    if filters.get("unit"):
        parts.append(f"承办单位为{filters['unit'].name}")
    if filters.get("source"):
        parts.append(f"来源为{site_labels(Source.choices).get(filters['source'], filters['source'])}")
    if filters.get("status"):
        parts.append(f"状态为{site_labels(State.choices).get(filters['status'], filters['status'])}")
    date_from, date_to = filters.get("date_from"), filters.get("date_to")
    fmt = "{0.year}年{0.month}月{0.day}日".format
    if date_from and date_to:
        parts.append(f"立项时间在{fmt(date_from)}至{fmt(date_to)}之间")
    elif date_from:
        parts.append(f"立项时间在{fmt(date_from)}以后")
    elif date_to:
        parts.append(f"立项时间在{fmt(date_to)}以前")
    if filters.get("overdue"):
        parts.append("已逾期")
    if filters.get("q"):
        parts.append(f"编号或标题含“{filters['q']}”")
    return "、".join(parts)


def _bulletin_rows(cases):
    if isinstance(cases, QuerySet):
        return cases.values_list(*BULLETIN_FIELDS).iterator(chunk_size=CHUNK)
    return ((c.number, c.title, c.unit.name, c.status, c.deadline, c.closed_at) for c in cases)


def _percent(part, whole) -> str:
    return f"{part * 100 / whole:.1f}%" if whole else ""


def bulletin_context(user, cases, *, filters=None, today=None) -> dict:
    """Everything ``BULLETIN_TEMPLATE`` needs, as plain strings and numbers.

    ``cases`` is a filtered queryset (``selectors.case_list``) or any iterable of cases. Drafts
    were never issued and are left out. The figures cover every remaining case; the table
    lists the first ``BULLETIN_MAX_ROWS`` of them in the list's order.
    """
    today = today or timezone.localdate()
    states = site_labels(State.choices)
    total = closed = on_time = cancelled = open_ = overdue = 0
    overdue_by_unit = Counter()
    table = []
    for number, title, unit, status, deadline, closed_at in _bulletin_rows(cases):
        if status == State.DRAFT:
            continue
        total += 1
        if status == State.CLOSED:
            closed += 1
            closed_on = local_date(closed_at)
            if deadline is None or closed_on is None or closed_on <= deadline:
                on_time += 1
        elif status == State.CANCELLED:
            cancelled += 1
        else:
            open_ += 1
            if deadline is not None and deadline < today:
                overdue += 1
                overdue_by_unit[unit] += 1
        if len(table) < BULLETIN_MAX_ROWS:
            table.append({"number": number, "title": title, "unit": unit,
                          "deadline": deadline, "status": states.get(status, status)})
    return {
        "issuer": user.unit,
        "today": today,
        "scope": _scope_text(filters or {}),
        "total": total, "closed": closed, "open": open_, "overdue": overdue, "cancelled": cancelled,
        "on_time": on_time, "late": closed - on_time,
        "closed_rate": _percent(closed, total),
        "on_time_rate": _percent(on_time, closed),
        "overdue_units": overdue_by_unit.most_common(5),
        "more_overdue_units": max(0, len(overdue_by_unit) - 5),
        "rows": table,
        "truncated": total > len(table),
        "max_rows": BULLETIN_MAX_ROWS,
    }


@login_required
def bulletin_pdf(request):
    """A 情况通报 on the filtered cases; leaders and inspectors only."""
    if not Rectification.list_documents[0].allows(request.user):
        raise PermissionDenied(_("Your role may not do this."))
    try:
        filters = list_filters(request, RectificationCase)[1]
    except BadFilter as exc:
        return refused_filter(request, exc)
    cases = selectors.case_list(RectificationCase, request.user, **filters)
    context = bulletin_context(request.user, cases, filters=filters)
    pdf = render_pdf(BULLETIN_TEMPLATE, context, request=request)
    audit.record(action="bulletin", user=request.user, ip=client_ip(request),
                 data={"filters": filters_for_audit(filters), "rows": context["total"]})
    today = context["today"]
    return pdf_response(pdf, f"整改督办情况通报-{today:%Y%m%d}.pdf", fallback=f"bulletin-{today:%Y%m%d}.pdf")
