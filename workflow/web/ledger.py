"""The Excel ledger (台账) of any case type, from its declared columns, over the case list's
own filters (so it is scoped by the user's unit exactly like the list page).

The ledger streams: rows come from ``values_list(...).iterator()`` (no model instances), go
into a write-only openpyxl workbook and a spooled temporary file, and leave as a
``FileResponse``; memory stays flat however many rows there are.
"""
import datetime
import tempfile

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import models
from django.http import FileResponse, Http404
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from workflow.trail import audit
from workflow.cases import selectors
from workflow.kernel.declaration import Ledger
from workflow.documents.responses import as_download
from workflow.web.http import client_ip
from workflow.web.views import BadFilter, list_filters, model_of, refused_filter

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK = 2000
SPOOL_BYTES = 8 * 1024 * 1024  # the finished workbook stays in memory up to this size, then goes to disk


def filters_for_audit(filters: dict) -> dict:
    """The list's filters as the audit event records them."""
    out = {}
    for key, value in filters.items():
        if isinstance(value, models.Model):  # a unit, or the case the list is narrowed to
            value = value.pk
        elif isinstance(value, datetime.date):
            value = value.isoformat()
        out[key] = value
    return out


def local_date(value):
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def site_labels(choices) -> dict:
    """Choice labels in the site language (ledgers and bulletins are Chinese documents)."""
    with translation.override(settings.LANGUAGE_CODE):
        return {value: str(label) for value, label in choices}


def _cell_makers(model, ledger: Ledger):
    """For each column: (what it reads, how a row's values become its cell)."""
    spec = model.spec
    makers = []
    for column in ledger.columns:
        if callable(column.value):
            makers.append((column.reads, column.value))
            continue
        path = column.value
        field = _field_at(model, path)
        if path == "status":
            labels = site_labels(spec.state_choices())
        elif field is not None and field.choices:
            labels = site_labels(field.choices)
        else:
            labels = None
        makers.append(((path,), _plain(path, labels)))
    return makers


def _plain(path, labels):
    def cell(row, today):
        value = row[path]
        if labels is not None:
            return labels.get(value, value)
        return local_date(value) if isinstance(value, datetime.datetime) else value

    return cell


def _field_at(model, path: str):
    """The model field a ``unit__name`` style path ends at, or None."""
    opts, field = model._meta, None
    for part in path.split("__"):
        try:
            field = opts.get_field(part)
        except Exception:  # noqa: BLE001 - an annotation or a path the ledger computes
            return None
        if field.is_relation and field.related_model is not None:
            opts = field.related_model._meta
    return field


def ledger_rows(model, cases, today=None):
    """Turn a case queryset into ledger tuples (the declared columns), streaming."""
    today = today or timezone.localdate()
    makers = _cell_makers(model, model.spec.ledger)
    reads = list(dict.fromkeys(name for needed, _cell in makers for name in needed))
    for values in cases.values_list(*reads).iterator(chunk_size=CHUNK):
        row = dict(zip(reads, values))
        yield tuple(cell(row, today) for _needed, cell in makers)


def cell_text(value: str) -> tuple[str, bool]:
    """User text as a workbook may hold it: the characters XML forbids dropped, and whether it
    must be stored as text because it starts like a formula (= or #)."""
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    return value, value[:1] in ("=", "#")


def _text_cell(ws, value: str):
    """A string that must stay a string: openpyxl would store "=..." as a formula."""
    cell = WriteOnlyCell(ws, value)
    cell.data_type = "s"
    return cell


def write_ledger(ledger: Ledger, rows, fileobj) -> int:
    """Write ledger rows (tuples in the declared column order) as an .xlsx into ``fileobj``.

    Streams: a write-only workbook holds no rows in memory. Returns the number of data rows.
    User text that looks like a formula stays text, and characters XML forbids are dropped.
    """
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(ledger.title)
    for index, column in enumerate(ledger.columns, 1):
        ws.column_dimensions[get_column_letter(index)].width = column.width
    ws.freeze_panes = "A2"
    bold, fill, centre = Font(bold=True), PatternFill("solid", fgColor="DDE4EE"), Alignment(horizontal="center")
    header = []
    for column in ledger.columns:
        cell = WriteOnlyCell(ws, column.header)
        cell.font, cell.fill, cell.alignment = bold, fill, centre
        header.append(cell)
    ws.append(header)
    count = 0
    for row in rows:
        out = []
        for value in row:
            if isinstance(value, str):
                value, formula_like = cell_text(value)
                if formula_like:
                    value = _text_cell(ws, value)
            out.append(value)
        ws.append(out)
        count += 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(ledger.columns))}{count + 1}"
    wb.save(fileobj)
    return count


@login_required
def export_xlsx(request, case_type):
    """The filtered case list as an Excel ledger, for anyone who may see the list."""
    model = model_of(case_type)
    ledger = model.spec.ledger
    if ledger is None:
        raise Http404(_("No such page."))
    try:
        filters = list_filters(request, model)[1]
    except BadFilter as exc:
        return refused_filter(request, exc)
    cases = selectors.case_list(model, request.user, **filters)
    today = timezone.localdate()
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, suffix=".xlsx")
    try:
        count = write_ledger(ledger, ledger_rows(model, cases, today), spool)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    audit.record(action="export_ledger", user=request.user, ip=client_ip(request),
                 data={"filters": filters_for_audit(filters), "rows": count})
    response = FileResponse(spool, content_type=XLSX_TYPE)
    name = ledger.filename or ledger.title
    return as_download(response, f"{name}-{today:%Y%m%d}.xlsx", f"ledger-{today:%Y%m%d}.xlsx")
