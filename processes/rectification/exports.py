"""Downloads built from the case list: the Excel ledger (整改台账) and the bulletin (情况通报).

Both take the case list's own GET filters and read through ``selectors.case_list``, so they
are scoped by the user's unit exactly like the list page.

* The ledger streams: rows come from ``values_list(...).iterator()`` (no model instances), go
  into a write-only openpyxl workbook and a spooled temporary file, and leave as a
  ``FileResponse``; memory stays flat however many rows there are.
* The bulletin is an official document (GB/T 9704 grid) in fixed Chinese wording; its figures
  are computed in one pass over the filtered rows and its table lists at most
  ``BULLETIN_MAX_ROWS`` of them.
"""
import datetime
import tempfile
from collections import Counter

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse
from django.shortcuts import render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from workflow import audit
from workflow.http import as_download, client_ip
from workflow.models import Unit
from workflow.pdf import pdf_response, render_pdf
from workflow.views_leadership import LEADERSHIP_ROLES

from . import selectors
from .models import RectificationCase, Source, State
from .views import BadFilter, list_filters

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 2000
SPOOL_BYTES = 8 * 1024 * 1024  # the finished workbook stays in memory up to this size, then goes to disk

LEDGER_HEADERS = ("编号", "标题", "承办单位", "来源", "状态", "交办日期", "截止日期", "是否逾期",
                  "退回次数", "督办等级", "销号日期")
LEDGER_WIDTHS = (22, 48, 24, 14, 18, 12, 12, 10, 10, 14, 12)
# What the ledger reads from the database, in this order: plain columns, no instances.
LEDGER_FIELDS = ("number", "title", "unit__name", "source", "status", "issued_at", "deadline",
                 "closed_at", "returns", "rung")

BULLETIN_TEMPLATE = "pdf/bulletin.html"
BULLETIN_MAX_ROWS = 500
BULLETIN_FIELDS = ("number", "title", "unit__name", "status", "deadline", "closed_at")
TERMINAL = RectificationCase.TERMINAL_STATES


# Filters -------------------------------------------------------------------------------------

def _refused(request, exc: BadFilter):
    """A filter that cannot be read is a 400 saying why: an export never silently covers more
    than was asked for. (A unit the user may not see is a 404 with a denied-access event.)"""
    message = _("The filter was not understood: %(error)s") % {"error": exc.message}
    return render(request, "workflow/error.html", {"message": message}, status=400)


def _filters_for_audit(filters: dict) -> dict:
    out = {}
    for key, value in filters.items():
        if isinstance(value, Unit):
            value = value.pk
        elif isinstance(value, datetime.date):
            value = value.isoformat()
        out[key] = value
    return out


def _labels(choices) -> dict:
    """Choice labels in the site language (the ledger and the bulletin are Chinese documents)."""
    with translation.override(settings.LANGUAGE_CODE):
        return {value: str(label) for value, label in choices}


def _local_date(value):
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


# Excel ledger --------------------------------------------------------------------------------

def ledger_rows(cases, today=None):
    """Turn a case queryset into ledger tuples (the columns of ``LEDGER_HEADERS``), streaming."""
    today = today or timezone.localdate()
    states, sources = _labels(State.choices), _labels(Source.choices)
    rungs = _labels(RectificationCase._meta.get_field("rung").choices)  # 0 = none reached
    rows = cases.values_list(*LEDGER_FIELDS).iterator(chunk_size=CHUNK)
    for number, title, unit, source, status, issued_at, deadline, closed_at, returns, rung in rows:
        overdue = status not in TERMINAL and deadline is not None and deadline < today
        yield (number, title, unit, sources.get(source, source), states.get(status, status),
               _local_date(issued_at), deadline, "是" if overdue else "否", returns,
               rungs.get(rung, rung), _local_date(closed_at) if status == State.CLOSED else None)


def _text_cell(ws, value: str):
    """A string that must stay a string: openpyxl would store "=..." as a formula."""
    cell = WriteOnlyCell(ws, value)
    cell.data_type = "s"
    return cell


def write_ledger(rows, fileobj, title="整改台账") -> int:
    """Write ledger rows (tuples in ``LEDGER_HEADERS`` order) as an .xlsx into ``fileobj``.

    Streams: a write-only workbook holds no rows in memory. Returns the number of data rows.
    User text that looks like a formula stays text, and characters XML forbids are dropped.
    """
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title)
    for index, width in enumerate(LEDGER_WIDTHS, 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    ws.freeze_panes = "A2"
    bold, fill, centre = Font(bold=True), PatternFill("solid", fgColor="DDE4EE"), Alignment(horizontal="center")
    header = []
    for text in LEDGER_HEADERS:
        cell = WriteOnlyCell(ws, text)
        cell.font, cell.fill, cell.alignment = bold, fill, centre
        header.append(cell)
    ws.append(header)
    count = 0
    for row in rows:
        out = []
        for value in row:
            if isinstance(value, str):
                if ILLEGAL_CHARACTERS_RE.search(value):
                    value = ILLEGAL_CHARACTERS_RE.sub("", value)
                if value[:1] == "=" or value[:1] == "#":
                    value = _text_cell(ws, value)
            out.append(value)
        ws.append(out)
        count += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(LEDGER_HEADERS))}{count + 1}"
    wb.save(fileobj)
    return count


@login_required
def export_xlsx(request):
    """The filtered case list as an Excel ledger, for anyone who may see the list."""
    try:
        filters = list_filters(request)[1]
    except BadFilter as exc:
        return _refused(request, exc)
    cases = selectors.case_list(request.user, **filters)
    today = timezone.localdate()
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, suffix=".xlsx")
    try:
        count = write_ledger(ledger_rows(cases, today), spool)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    audit.record(action="export_ledger", user=request.user, ip=client_ip(request),
                 data={"filters": _filters_for_audit(filters), "rows": count})
    response = FileResponse(spool, content_type=XLSX_TYPE)
    return as_download(response, f"整改台账-{today:%Y%m%d}.xlsx", f"ledger-{today:%Y%m%d}.xlsx")


# Bulletin (情况通报) -------------------------------------------------------------------------

def _scope_text(filters: dict) -> str:
    """The filters in words, for the bulletin's first paragraph; empty when unfiltered."""
    if not filters:
        return ""
    parts = []
    if filters.get("unit"):
        parts.append(f"承办单位为{filters['unit'].name}")
    if filters.get("source"):
        parts.append(f"来源为{_labels(Source.choices).get(filters['source'], filters['source'])}")
    if filters.get("status"):
        parts.append(f"状态为{_labels(State.choices).get(filters['status'], filters['status'])}")
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
    states = _labels(State.choices)
    total = closed = on_time = cancelled = open_ = overdue = 0
    overdue_by_unit = Counter()
    table = []
    for number, title, unit, status, deadline, closed_at in _bulletin_rows(cases):
        if status == State.DRAFT:
            continue
        total += 1
        if status == State.CLOSED:
            closed += 1
            closed_on = _local_date(closed_at)
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
    if request.user.role not in LEADERSHIP_ROLES:
        raise PermissionDenied(_("Your role may not do this."))
    try:
        filters = list_filters(request)[1]
    except BadFilter as exc:
        return _refused(request, exc)
    cases = selectors.case_list(request.user, **filters)
    context = bulletin_context(request.user, cases, filters=filters)
    pdf = render_pdf(BULLETIN_TEMPLATE, context, request=request)
    audit.record(action="bulletin", user=request.user, ip=client_ip(request),
                 data={"filters": _filters_for_audit(filters), "rows": context["total"]})
    today = context["today"]
    return pdf_response(pdf, f"整改督办情况通报-{today:%Y%m%d}.pdf", fallback=f"bulletin-{today:%Y%m%d}.pdf")
