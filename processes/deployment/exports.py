"""督办事项's downloads from a matter's page: the task table (任务分解表, Excel and PDF) and the
progress report (督办周报/月报, Word and PDF).

Both read the matter's tree once: its plan items with their planned units, and the shares
dispatched from them (one item case per receiving unit) with their co-units and latest
report, in a fixed number of queries whatever the number of items. An item dispatched to
many units is one row summing up its shares (12个单位：已完成8，逾期1), naming its first
UNITS_LISTED units (甲、乙……等1000个单位); before dispatch a row shows the units planned.
Reading a matter of 100,000 item cases takes a minute and most of a gigabyte, and setting
2,000 rows in Word half a minute, so a matter larger than DEPLOYMENT_EXPORT_INLINE_MAX (item
cases, plus ROW_WEIGHT per plan item) has its downloads built by the worker, once a day per
document and period, and handed out from the document store (export_files). The wording is
fixed official Chinese, so it lives here and in the templates rather than in the translation
catalogue. Those who supervise and see the matter may download them; anyone else who sees it
gets a 403, anyone who does not the platform's 404.
"""
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Prefetch, Subquery
from django.http import FileResponse, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from workflow.documents.pdf import render_pdf
from workflow.documents.responses import as_download
from workflow.kernel import unit_settings
from workflow.models import CaseParty, Unit
from workflow.web.ledger import XLSX_TYPE, cell_text, local_date

from . import editor, export_files
from .declaration import Cadence, Matter, SourceKind
from .intake.readers import int_to_cn
from .models import ItemCase, ItemReport, Light, MatterCase
from .rollup import Tally, matter_rollup
from .services import document_kind

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TASK_TABLE_TEMPLATE = "pdf/deployment_task_table.html"   # also the numbered document's own (apps.py)
PROGRESS_TEMPLATE = "pdf/deployment_progress.html"
TEXT_MAX = 300        # a task's full text in a cell, beyond its title
REPORT_MAX = 120      # a quoted report, in a cell or a line
REPORTS_LISTED = 100  # the period's reports listed in the progress report (all are counted)
UNITS_LISTED = 10     # units named in a row or a line; more are counted (甲、乙……等1000个单位)
ROW_WEIGHT = 20       # a row set in PDF (50-100 ms) costs about twenty item cases read (0.4-1 ms each)
PENDING_REFRESH = 5   # seconds between the refreshes of the page waiting for a large download
PORTRAIT_TITLE, LANDSCAPE_TITLE = 20, 31   # characters of 2号 (22 pt) in a line of the text block

SOURCE_TEXT = {SourceKind.PLAN: "工作计划", SourceKind.INSTRUCTION: "领导批示", SourceKind.MEETING: "会议决定",
               SourceKind.HOTLINE: "热线工单", SourceKind.SUGGESTION: "建议提案"}
STATE_TEXT = {"new": "未下发", "issued": "待签收", "working": "办理中", "submitted": "已报结待核验",
              "returned": "退回重办", "verified": "已办结", "cancelled": "已撤销"}
LIGHT_TEXT = {Light.GREEN: "绿灯", Light.YELLOW: "黄灯", Light.RED: "红灯"}
PERIOD_TEXT = {"week": "周报", "month": "月报"}
HEADERS = ("序号", "任务", "牵头单位", "配合单位", "完成时限", "进展")


# The table, read once --------------------------------------------------------------------------
@dataclass
class Row:
    """One row of the task table: a plan item (or the items opened by hand under one title),
    with its units, deadline, progress and light as the documents print them."""

    number: str
    level: int
    title: str
    rest: str = ""          # what the full text says beyond the title
    inline: bool = True     # the rest continues the title's sentence (else it goes below)
    leads: list = field(default_factory=list)   # the lead units' names, the first UNITS_LISTED
    cos: list = field(default_factory=list)     # the co-units' names, the first UNITS_LISTED
    lead_count: int = 0     # how many lead units there are (more than are named, for many)
    co_count: int = 0
    deadline: str = ""
    progress: str = ""
    state: str = ""         # where it stands: 办理中, 已办结, 完成8/12 …
    light: str = ""         # 红灯 / 黄灯 / 绿灯, or the count of each for many units
    section: bool = False   # a heading with nothing of its own (一、兜牢民生底线)
    shares: list = field(default_factory=list)   # its item cases, one per receiving unit

    @property
    def lead(self) -> str:
        return "、".join(self.leads) + (f"等{self.lead_count}个单位" if self.more_leads else "")

    @property
    def co(self) -> str:
        return "、".join(self.cos) + (f"等{self.co_count}个单位" if self.more_cos else "")

    @property
    def more_leads(self) -> bool:
        return self.lead_count > len(self.leads)

    @property
    def more_cos(self) -> bool:
        return self.co_count > len(self.cos)

    def name_units(self, leads: list, cos: list):
        """Name the first UNITS_LISTED units of each list and count them all: a row sent to a
        thousand units stays a row."""
        self.leads, self.lead_count = leads[:UNITS_LISTED], len(leads)
        self.cos, self.co_count = cos[:UNITS_LISTED], len(cos)

    @property
    def task(self) -> str:
        if not self.rest:
            return self.title
        return self.title + (self.rest if self.inline else "\n" + self.rest)


@dataclass
class Table:
    rows: list
    shares: list   # every item case dispatched from the matter (its direct children)

    @property
    def tasks(self) -> int:
        """Rows that went to units (dispatched) — the matter's tasks as the report counts them."""
        return sum(1 for row in self.rows if row.shares)

    @property
    def units(self) -> int:
        return len({case.unit_id for case in self.shares})


def level_number(level: int, n: int) -> str:
    """The number official documents give the n-th item of a level: 一、 （一） 1. （1）."""
    if level <= 1:
        return f"{int_to_cn(n)}、"
    if level == 2:
        return f"（{int_to_cn(n)}）"
    if level == 3:
        return f"{n}."
    return f"（{n}）"


def numbers_of(items) -> list[str]:
    """Each item's own number as the source wrote it, or, where it has none, the number its
    place in the tree gives it."""
    counters, out = {}, []
    for item in items:
        level = max(1, item.level)
        counters[level] = counters.get(level, 0) + 1
        for deeper in [key for key in counters if key > level]:
            del counters[deeper]
        out.append(item.number.strip() or level_number(level, counters[level]))
    return out


def _clip(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _split_text(number: str, title: str, text: str) -> tuple[str, bool]:
    """What the full text adds to the title, and whether it continues the title's sentence."""
    text = (text or "").strip()
    if number and text.startswith(number):
        text = text[len(number):].strip()
    if text.startswith(title):
        rest = text[len(title):].strip()
        return ("" if rest.strip("。；;，,.：: ") == "" else _clip(rest, TEXT_MAX)), True
    if not text or text.rstrip("。；;") == title:
        return "", True
    return _clip(text, TEXT_MAX), False


def _day(value) -> str:
    value = local_date(value)
    return f"{value.year}年{value.month}月{value.day}日" if value else ""


def _short_day(value) -> str:
    value = local_date(value)
    return f"{value.month}月{value.day}日" if value else ""


def tally_of(cases, today) -> Tally:
    """The shares' counts by the roll-up's rules (rollup._counts), from cases in memory."""
    tally, percents = Tally(total=len(cases)), []
    for case in cases:
        if case.phase == "cancelled":
            tally.cancelled += 1
            continue
        percents.append(case.percent)
        if case.phase == "done":
            tally.done += 1
            tally.green += 1
        elif case.phase == "open":
            if case.deadline is not None and case.deadline < today:
                tally.overdue += 1
            if case.period_light == Light.RED:
                tally.red += 1
            elif case.period_light == Light.YELLOW:
                tally.yellow += 1
            else:
                tally.green += 1
    tally.average = sum(percents) / len(percents) if percents else 0.0
    return tally


def _one_share(row: Row, case, today):
    """A row dispatched to one unit: its state, percent, lateness and latest report."""
    state = STATE_TEXT.get(case.status, case.status)
    if case.phase == "done":
        progress = f"已办结（{_short_day(case.closed_at)}）" if case.closed_at else "已办结"
        row.light = "—"
    elif case.phase == "cancelled":
        progress, row.light = "已撤销", "—"
    else:
        progress = f"{state}，进度{case.percent}%"
        if case.deadline is not None and case.deadline < today:
            progress += f"，已逾期{(today - case.deadline).days}天"
        row.light = LIGHT_TEXT.get(case.period_light, "") if case.phase == "open" else "—"
    if case.last_body:
        progress += f"。{_short_day(case.last_at)}报送：{_clip(case.last_body, REPORT_MAX)}"
    row.progress, row.state = progress, state


def _many_shares(row: Row, cases, today):
    """A row dispatched to several units: one summary of their shares."""
    tally = tally_of(cases, today)
    parts = [f"{tally.live}个单位：已完成{tally.done}"]
    if tally.live - tally.done:
        parts.append(f"办理中{tally.live - tally.done}")
    if tally.overdue:
        parts.append(f"逾期{tally.overdue}")
    if tally.cancelled:
        parts.append(f"撤销{tally.cancelled}")
    if tally.done < tally.live:
        parts.append(f"平均进度{round(tally.average)}%")
    row.progress = "，".join(parts)
    row.state = f"完成{tally.done}/{tally.live}"
    lights = [(LIGHT_TEXT[light], count) for light, count in
              ((Light.RED, tally.red), (Light.YELLOW, tally.yellow), (Light.GREEN, tally.green)) if count]
    row.light = "、".join(f"{label}{count}" for label, count in lights) or "—"


def _fill(row: Row, cases, today):
    row.shares = cases
    co = {}
    for case in cases:
        for party in case.parties.all():
            co.setdefault(party.unit_id, party.unit.name)
    row.name_units([case.unit.name for case in cases], list(co.values()))
    if len(cases) == 1:
        _one_share(row, cases[0], today)
    else:
        _many_shares(row, cases, today)


def shares_of(matter) -> list:
    """The item cases dispatched from the matter, each with its latest own report (progress or
    completion) and its co-units: three queries."""
    latest = (ItemReport.objects.filter(case_id=OuterRef("pk"),
                                        kind__in=(ItemReport.Kind.PROGRESS, ItemReport.Kind.FINAL))
              .order_by("-created_at", "-pk"))
    parties = CaseParty.objects.select_related("unit").order_by("unit__path")
    return list(ItemCase.objects.filter(parent_id=matter.pk).select_related("unit")
                .annotate(last_body=Subquery(latest.values("body")[:1]),
                          last_at=Subquery(latest.values("created_at")[:1]))
                .prefetch_related(Prefetch("parties", queryset=parties))
                .order_by("unit__path", "pk"))


def build_table(matter, today=None) -> Table:
    """The matter's task table: its plan items in order, and the items opened by hand (no plan
    item) grouped by title and deadline under a heading of their own at the end."""
    today = today or timezone.localdate()
    units = Unit.objects.order_by("path").only("name", "path")
    items = list(matter.plan_items.order_by("position")
                 .prefetch_related(Prefetch("units", queryset=units), Prefetch("co_units", queryset=units)))
    shares = shares_of(matter)
    by_item = defaultdict(list)
    for case in shares:
        by_item[case.plan_item_id].append(case)
    parents = {item.parent_id for item in items}
    rows = []
    for item, number in zip(items, numbers_of(items)):
        rest, inline = _split_text(number, item.title, item.text)
        row = Row(number=number, level=item.level, title=item.title, rest=rest, inline=inline,
                  deadline=_day(item.deadline) or item.deadline_text)
        cases = by_item.pop(item.pk, [])
        if cases:
            _fill(row, cases, today)
            if not row.deadline:
                row.deadline = _day(min((c.deadline for c in cases if c.deadline), default=None))
        else:
            planned, co = list(item.units.all()), list(item.co_units.all())
            row.name_units([unit.name for unit in planned], [unit.name for unit in co])
            row.section = (item.pk in parents and not planned and not co and not row.deadline)
            if not row.section:
                row.progress, row.state, row.light = "未分办", "未分办", "—"
        rows.append(row)
    by_hand = by_item.pop(None, [])
    if by_hand:
        rows.extend(_by_hand_rows(by_hand, items, today))
    return Table(rows=rows, shares=shares)


def _by_hand_rows(cases, items, today) -> list:
    """Items opened by hand under the matter, one row per title and deadline, under a heading
    numbered after the plan's last top-level item."""
    groups = defaultdict(list)
    for case in cases:
        groups[(case.title, case.deadline)].append(case)
    top = sum(1 for item in items if item.level <= 1)
    rows = [Row(number=level_number(1, top + 1), level=1, title="其他交办任务", section=True)]
    for n, ((title, deadline), group) in enumerate(sorted(groups.items(), key=lambda kv: kv[1][0].pk), start=1):
        first = group[0]
        rest, inline = _split_text("", title, first.description)
        row = Row(number=level_number(2, n), level=2, title=title, rest=rest, inline=inline, deadline=_day(deadline))
        _fill(row, group, today)
        rows.append(row)
    return rows


def document_title(matter, suffix: str, width: int) -> tuple[str, list[str]]:
    """The document's title: the matter's title, then `suffix` less any words the title ends
    with (重点工作任务 + 任务分解表 → 重点工作任务分解表); and its lines, the suffix on a line
    of its own when the whole is longer than `width` characters of 2号 (one line of the page)."""
    title = matter.title.strip()
    overlap = next((k for k in range(len(suffix), 0, -1) if title.endswith(suffix[:k])), 0)
    tail = suffix[overlap:]
    full = title + tail
    return full, ([full] if len(full) <= width or not tail else [title, tail])


def _titled(matter, suffix: str, width: int) -> dict:
    title, lines = document_title(matter, suffix, width)
    return {"title": title, "title_lines": lines}


def table_context(matter, today=None) -> dict:
    """What the task table's templates need (TASK_TABLE_TEMPLATE, or a unit's own)."""
    today = today or timezone.localdate()
    return {"matter": matter, "issuer": matter.supervisor_unit, "today": today,
            **_titled(matter, "任务分解表", LANDSCAPE_TITLE), "source": SOURCE_TEXT.get(matter.kind, ""),
            "headers": HEADERS, "rows": build_table(matter, today).rows}


# Progress report -------------------------------------------------------------------------------
def first_day(period: str, today):
    """The first day of the report's period: the last seven days, or this month."""
    return today - timedelta(days=6) if period == "week" else today.replace(day=1)


def progress_context(matter, period: str, today=None) -> dict:
    """Everything the progress report says, as plain strings and numbers, for its PDF template
    and its Word document alike."""
    today = today or timezone.localdate()
    start = first_day(period, today)
    since = timezone.make_aware(datetime.combine(start, time.min))
    table = build_table(matter, today)
    roll = matter_rollup(matter, today) if table.shares else None
    whole, behind = (roll.whole, roll.behind) if roll else (Tally(), [])
    reports = ItemReport.objects.filter(case__root_id=matter.pk, created_at__gte=since)
    listed = list(reports.select_related("unit", "case").order_by("-created_at", "-pk")[:REPORTS_LISTED])
    count = reports.count() if len(listed) == REPORTS_LISTED else len(listed)
    silent = [case.unit.name for case in table.shares
              if case.phase == "open" and case.cadence != Cadence.NONE and case.status != "issued"
              and (case.last_at is None or case.last_at < since)]
    issuer_name = unit_settings.letterhead(matter.supervisor_unit, today)
    return {
        "matter": matter, "issuer": matter.supervisor_unit, "issuer_name": issuer_name, "today": today,
        "period": period, "kind": PERIOD_TEXT[period],
        **_titled(matter, f"落实情况督办{PERIOD_TEXT[period]}", PORTRAIT_TITLE),
        "span": f"{_day(start)}—{_day(today)}", "source": SOURCE_TEXT.get(matter.kind, ""),
        "rows": table.rows, "summary": summary_text(table, whole),
        "reports": [{"unit": r.unit.name, "task": r.case.title, "day": _short_day(r.created_at),
                     "percent": r.percent, "kind": "完成报告" if r.kind == ItemReport.Kind.FINAL else
                     ("配合情况" if r.kind == ItemReport.Kind.PART else "进展报告"),
                     "body": _clip(r.body, REPORT_MAX)} for r in listed],
        "report_count": count, "reports_cut": count > len(listed), "silent": _units_text(list(dict.fromkeys(silent))),
        "behind": "、".join(f"{name}（{_behind_text(overdue, red)}）" for _pk, name, overdue, red in behind),
        "next_steps": (f"请各承办单位对照任务清单加快推进，按时报送进展；逾期和红灯任务的承办单位要于5个工作日内"
                       f"书面说明原因和整改措施。{issuer_name}将持续跟踪督办。"),
    }


def _units_text(names: list) -> str:
    """Units in a line: the first UNITS_LISTED named, the rest counted."""
    text = "、".join(names[:UNITS_LISTED])
    return text + f"等{len(names)}个单位" if len(names) > UNITS_LISTED else text


def _behind_text(overdue: int, red: int) -> str:
    return "、".join(part for part in (f"逾期{overdue}项" if overdue else "", f"红灯{red}项" if red else "") if part)


def summary_text(table: Table, whole: Tally) -> str:
    """N项任务，已完成X项（Y%），逾期Z项；红灯…黄灯…: the counts are the units' shares."""
    if not table.shares:
        planned = sum(1 for row in table.rows if not row.section)
        return f"本事项尚未分办，列有任务{planned}项。"
    text = (f"本事项{table.tasks}项工作分办至{table.units}个单位，共{whole.live}项任务，"
            f"已完成{whole.done}项（{whole.percent_done}%），正在办理{whole.live - whole.done}项，"
            f"逾期{whole.overdue}项；红灯{whole.red}项、黄灯{whole.yellow}项、绿灯{whole.green}项")
    if whole.done < whole.live:
        text += f"，平均进度{round(whole.average)}%"
    return text + "。"


# Excel -----------------------------------------------------------------------------------------
def task_table_xlsx_bytes(context: dict) -> bytes:
    """The task table as a workbook laid out as bureaus print it: a title over the columns, a
    bold ruled heading frozen and repeated on every printed page, wrapped text, landscape A4
    fitted to the page width; a heading item runs across the row."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.page import PageMargins

    widths = (9, 54, 22, 22, 16, 46)
    last = get_column_letter(len(HEADERS))
    wb = Workbook()
    ws = wb.active
    ws.title = "任务分解表"
    for index, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    thin = Side(style="thin", color="000000")
    ruled = Border(left=thin, right=thin, top=thin, bottom=thin)
    body = Font(name="仿宋_GB2312", size=11)
    wrap = Alignment(wrap_text=True, vertical="center")
    centred = Alignment(wrap_text=True, vertical="center", horizontal="center")

    def put(row, col, value, font=body, alignment=wrap, border=ruled):
        value, formula_like = cell_text(value) if isinstance(value, str) else (value, False)
        cell = ws.cell(row=row, column=col, value=value)
        if formula_like:
            cell.data_type = "s"  # user text stays text, never a formula
        cell.font, cell.alignment = font, alignment
        if border is not None:
            cell.border = border
        return cell

    matter = context["matter"]
    put(1, 1, context["title"], Font(name="方正小标宋简体", size=18),
        Alignment(horizontal="center", vertical="center", wrap_text=True), None)
    ws.merge_cells(f"A1:{last}1")
    ws.row_dimensions[1].height = 36
    line = "　　".join(part for part in (f"督办编号：{matter.doc_number}" if matter.doc_number else "",
                                        f"来源：{context['source']}", f"截至{_day(context['today'])}") if part)
    put(2, 1, line, body, Alignment(horizontal="right", vertical="center"), None)
    ws.merge_cells(f"A2:{last}2")
    heading = Font(name="黑体", size=12, bold=True)
    fill = PatternFill("solid", fgColor="D9D9D9")
    for col, header in enumerate(HEADERS, 1):
        put(3, col, header, heading, centred).fill = fill
    ws.row_dimensions[3].height = 24
    section = Font(name="黑体", size=11, bold=True)
    r = 3
    for row in context["rows"]:
        r += 1
        put(r, 1, row.number, body, centred)
        if row.section:
            put(r, 2, row.task, section, wrap)
            for col in range(3, len(HEADERS) + 1):
                put(r, col, None)
            ws.merge_cells(f"B{r}:{last}{r}")
            continue
        put(r, 2, row.task, body, Alignment(wrap_text=True, vertical="center", indent=min(row.level - 1, 3)))
        put(r, 3, row.lead)
        put(r, 4, row.co)
        put(r, 5, row.deadline, body, centred)
        put(r, 6, row.progress)
    ws.freeze_panes = "A4"
    ws.print_title_rows = "3:3"
    ws.print_area = f"A1:{last}{max(r, 3)}"
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins = PageMargins(left=0.6, right=0.6, top=0.7, bottom=0.7, header=0.3, footer=0.3)
    ws.oddFooter.center.text = "第 &P 页，共 &N 页"
    wb.properties.title = context["title"]
    wb.properties.creator = unit_settings.letterhead(context["issuer"], context["today"])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


# Word ------------------------------------------------------------------------------------------
# Word takes one font name per script: the commercial names official documents use, each with
# the name of a similar font Word may substitute when it is missing (the font table's altName).
FANGSONG, BIAOSONG, HEI, KAI, SONG = "仿宋_GB2312", "方正小标宋简体", "黑体", "楷体_GB2312", "宋体"
ALT_NAMES = {FANGSONG: "仿宋", BIAOSONG: "宋体", KAI: "楷体", HEI: "SimHei", SONG: "SimSun"}
LATIN = "Times New Roman"
LINE_PT = 28.95   # 22 lines in the 225 mm text block (GB/T 9704)
ZI_PT = 15.79     # one character of 3号 in the 28-character line


def _fonts(owner, east: str, size=None, bold=None, latin: str = LATIN):
    """Set the fonts of a style or a run: the East Asian one (w:eastAsia) and the Latin one
    beside it, dropping theme fonts that would override them; and its size and weight."""
    from docx.oxml.ns import qn
    from docx.shared import Pt

    fonts = owner.element.get_or_add_rPr().get_or_add_rFonts()
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east)
    if size is not None:
        owner.font.size = Pt(size)
    if bold is not None:
        owner.font.bold = bold


def _font_table(document):
    """Declare the fonts used, with GB2312 charset and a substitute name, in the font table."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml.ns import qn

    part = next((rel.target_part for rel in document.part.rels.values() if rel.reltype == RT.FONT_TABLE), None)
    if part is None:
        return
    from lxml import etree

    root = etree.fromstring(part.blob)
    known = {node.get(qn("w:name")) for node in root.findall(qn("w:font"))}
    for name, alt in ALT_NAMES.items():
        if name in known:
            continue
        font = etree.SubElement(root, qn("w:font"), {qn("w:name"): name})
        etree.SubElement(font, qn("w:altName"), {qn("w:val"): alt})
        etree.SubElement(font, qn("w:charset"), {qn("w:val"): "86"})
        etree.SubElement(font, qn("w:family"), {qn("w:val"): "modern" if name == HEI else "roman"})
        etree.SubElement(font, qn("w:pitch"), {qn("w:val"): "variable"})
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def _styles(document):
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    def grid(fmt, indent=True):
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(LINE_PT)
        fmt.space_before = fmt.space_after = Pt(0)
        fmt.first_line_indent = Pt(2 * ZI_PT) if indent else Pt(0)

    styles = document.styles
    normal = styles["Normal"]
    _fonts(normal, FANGSONG, 16)
    grid(normal.paragraph_format)
    normal.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    title = styles["Title"]
    ppr = title.element.get_or_add_pPr()
    for border in ppr.findall(qn("w:pBdr")):
        ppr.remove(border)
    _fonts(title, BIAOSONG, 22, bold=False)
    title.font.color.rgb = RGBColor(0, 0, 0)
    title.font.all_caps = False
    fmt = title.paragraph_format
    fmt.alignment = WD_ALIGN_PARAGRAPH.CENTER
    fmt.line_spacing_rule, fmt.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(32)
    fmt.space_before, fmt.space_after, fmt.first_line_indent = Pt(0), Pt(LINE_PT * 2 - 32), Pt(0)
    title.element.get_or_add_rPr()
    for spacing in title.element.rPr.findall(qn("w:spacing")) + title.element.rPr.findall(qn("w:kern")):
        title.element.rPr.remove(spacing)
    for name, east in (("Heading 1", HEI), ("Heading 2", KAI)):
        style = styles[name]
        _fonts(style, east, 16, bold=False)
        style.font.color.rgb = RGBColor(0, 0, 0)
        style.font.italic = False
        grid(style.paragraph_format)
        style.paragraph_format.keep_with_next = True


def _page(document, title: str, author: str):
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(22)
    document.settings.odd_and_even_pages_header_footer = True
    # 页码: 4号 宋体 "— 1 —", odd pages one character from the right, even pages from the left.
    for footer, align in ((section.footer, WD_ALIGN_PARAGRAPH.RIGHT), (section.even_page_footer,
                                                                       WD_ALIGN_PARAGRAPH.LEFT)):
        paragraph = footer.paragraphs[0]
        paragraph.alignment = align
        fmt = paragraph.paragraph_format
        fmt.first_line_indent = Pt(0)
        fmt.left_indent = fmt.right_indent = Pt(14)
        fmt.line_spacing = 1
        for text in ("— ", None, " —"):
            run = paragraph.add_run(text or "")
            _fonts(run, SONG, 14, latin=SONG)   # 4号半角宋体
            if text is None:
                for kind, instr in (("begin", None), (None, " PAGE "), ("end", None)):
                    if kind:
                        node = OxmlElement("w:fldChar")
                        node.set(qn("w:fldCharType"), kind)
                    else:
                        node = OxmlElement("w:instrText")
                        node.set(qn("xml:space"), "preserve")
                        node.text = instr
                    run._element.append(node)
    document.core_properties.title = title
    document.core_properties.author = author
    document.core_properties.comments = ""


def _table(document, headers, rows, widths_mm):
    """A ruled table in 小四, 156 mm wide, its heading in 黑体 repeated on every page."""
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    table = document.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False

    def write(cell, value, east=FANGSONG, bold=False, centre=False):
        paragraph = cell.paragraphs[0]
        fmt = paragraph.paragraph_format
        fmt.first_line_indent, fmt.line_spacing = Pt(0), 1.15
        if centre:
            paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        lines = str(value or "").split("\n")
        for index, line in enumerate(lines):
            run = paragraph.add_run(line)
            _fonts(run, east, 12, bold=bold)
            if index < len(lines) - 1:
                run.add_break()

    head = table.rows[0]
    head_pr = head._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")
    repeat.set(qn("w:val"), "true")
    head_pr.append(repeat)
    for cell, header in zip(head.cells, headers):
        write(cell, header, HEI, centre=True)
    for cell, width in zip(head.cells, widths_mm):
        cell.width = Mm(width)
    for values, merged, centred in rows:
        cells = table.add_row().cells
        for cell, width in zip(cells, widths_mm):
            cell.width = Mm(width)     # before merging: a merged cell takes the sum
        if merged:
            first = cells[1].merge(cells[-1])
            write(cells[0], values[0], centre=True)
            write(first, values[1], HEI)
            continue
        for index, (cell, value) in enumerate(zip(cells, values)):
            write(cell, value, centre=index in centred)
    for column, width in zip(table.columns, widths_mm):
        column.width = Mm(width)       # the grid Word lays a fixed table out on
    return table


def progress_docx_bytes(context: dict) -> bytes:
    """The progress report as an editable Word document on the official grid: a title, real
    headings (一、 in 黑体), the summary, the items' table, the period's reports, the units
    behind and the next steps, signed by the issuing body."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    document = Document()
    _styles(document)
    _font_table(document)
    _page(document, context["title"], context["issuer_name"])

    def para(text, indent=True, align=None, east=None):
        paragraph = document.add_paragraph()
        if not indent:
            paragraph.paragraph_format.first_line_indent = Pt(0)
        if align is not None:
            paragraph.alignment = align
        run = paragraph.add_run(text)
        if east:
            _fonts(run, east)
        return paragraph

    document.add_paragraph(context["title"], style="Title")
    matter = context["matter"]
    head = "　".join(part for part in (matter.doc_number, f"（{context['span']}）") if part)
    para(head, indent=False, align=WD_ALIGN_PARAGRAPH.CENTER, east=KAI)
    document.add_heading("一、总体情况", level=1)
    para(context["summary"])
    document.add_heading("二、任务推进情况", level=1)
    rows = []
    for row in context["rows"]:
        if row.section:
            rows.append(((row.number, row.task), True, ()))
        else:
            state = "\n".join(part for part in (row.state, row.light) if part and part != "—") or "—"
            rows.append(((row.number, row.title, row.lead or "—", row.deadline, row.progress, state), False, (0, 3, 5)))
    _table(document, ("序号", "任务", "牵头单位", "完成时限", "进展", "状态/灯"), rows, (12, 48, 26, 22, 30, 18))
    document.add_heading("三、本期报送情况", level=1)
    if context["report_count"]:
        note = f"（以下列出最近{len(context['reports'])}份）" if context["reports_cut"] else ""
        para(f"{context['span']}，共收到各单位报送{context['report_count']}份{note}：")
        for n, report in enumerate(context["reports"], 1):
            para(f"{n}. {report['unit']}（{report['task']}，{report['day']}，{report['kind']}，进度{report['percent']}%）："
                 f"{report['body']}")
    else:
        para(f"{context['span']}，未收到进展报告。")
    if context["silent"]:
        para(f"本期未报送进展的单位：{context['silent']}。")
    document.add_heading("四、进度滞后的单位", level=1)
    if context["behind"]:
        para(f"{context['behind']}。")
    else:
        para("暂无逾期或红灯任务。")
    document.add_heading("五、下一步工作", level=1)
    para(context["next_steps"])
    for text in ("", context["issuer_name"], _day(context["today"])):
        paragraph = para(text, indent=False, align=WD_ALIGN_PARAGRAPH.RIGHT)
        paragraph.paragraph_format.right_indent = Pt(4 * ZI_PT) if text else Pt(0)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# Views -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Download:
    """One of the matter's downloads: the task table or the progress report (for a week or a
    month), in one format."""

    report: bool
    ext: str
    content_type: str

    def what(self, period: str) -> str:
        return f"督办{PERIOD_TEXT[period]}" if self.report else "任务分解表"


DOWNLOADS = {
    "task_table_xlsx": Download(False, "xlsx", XLSX_TYPE),
    "task_table_pdf": Download(False, "pdf", "application/pdf"),
    "progress_docx": Download(True, "docx", DOCX_TYPE),
    "progress_pdf": Download(True, "pdf", "application/pdf"),
}


def build(name: str, matter, period: str, today, request=None) -> bytes:
    """The download `name` of the matter as of `today`: in the request for a small matter,
    in the worker (export_files) for a large one. The task table's PDF is set in the template
    the office's unit settings name for the matter's kind of numbered document (its own by
    default)."""
    if name == "task_table_xlsx":
        return task_table_xlsx_bytes(table_context(matter, today))
    if name == "task_table_pdf":
        template = unit_settings.document_template(matter.supervisor_unit, document_kind(matter.kind),
                                                   local_date(matter.created_at))
        return render_pdf(template, table_context(matter, today), request=request)
    context = progress_context(matter, period, today)
    if name == "progress_docx":
        return progress_docx_bytes(context)
    return render_pdf(PROGRESS_TEMPLATE, context, request=request)


def size_of(matter) -> int:
    """What a download costs, in item cases read: the item cases dispatched from the matter,
    and ROW_WEIGHT for each plan item (a row set in Word or PDF costs about that many)."""
    return ROW_WEIGHT * matter.plan_items.count() + ItemCase.objects.filter(parent_id=matter.pk).count()


class ReadyForm(forms.Form):
    # Set by the waiting page's refresh: once the file is there, a page offers it.
    ready = forms.BooleanField(required=False)


class PeriodForm(ReadyForm):
    period = forms.ChoiceField(choices=[("week", "week"), ("month", "month")], required=False, error_messages={
        "invalid_choice": gettext_lazy("The period must be week or month.")})

    def clean_period(self):
        return self.cleaned_data["period"] or "month"


def _matter(request, pk) -> MatterCase:
    """The matter if the user sees it (else a 404 with a denied-access event) and may download
    its tables and reports, which name every unit's progress: those who supervise (else a 403)."""
    matter = editor._matter(request, pk)
    if not all(document.allows(request.user) for document in Matter.documents):
        raise PermissionDenied(_("Only inspectors and leaders download the matter's tables and reports."))
    return matter


def _name(matter, what: str, ext: str, today) -> tuple[str, str]:
    """The download's file name (the matter's number and the document's name), and an ASCII one."""
    label = matter.doc_number or matter.number
    return f"{label}-{what}-{today:%Y%m%d}.{ext}", f"matter-{matter.pk}-{today:%Y%m%d}.{ext}"


def _download(request, pk, name: str):
    """The downloads' one view. Who may download it, and for the progress report the period
    (?period=week|month; any other a 400 page), are checked first. A matter of up to
    DEPLOYMENT_EXPORT_INLINE_MAX (size_of) is built in the request; a larger
    one by the worker, once per matter, document, period and day (export_files): until it is
    there, a page that refreshes itself, then a page offering it; the file itself to a plain
    request."""
    kind = DOWNLOADS[name]
    matter = _matter(request, pk)
    form = (PeriodForm if kind.report else ReadyForm)(request.GET)
    if not form.is_valid():
        message = "；".join(str(error) for errors in form.errors.values() for error in errors)
        return render(request, "workflow/error.html", {"message": message}, status=400)
    period, today = form.cleaned_data.get("period", ""), timezone.localdate()
    filename = _name(matter, kind.what(period), kind.ext, today)
    if size_of(matter) <= settings.DEPLOYMENT_EXPORT_INLINE_MAX:
        data = build(name, matter, period, today, request=request)
        response = HttpResponse(data, content_type=kind.content_type)
        response["Content-Length"] = str(len(data))
        return as_download(response, *filename)
    export = export_files.ask(matter, name, period, today)
    if export.rendered_at is not None and not form.cleaned_data["ready"]:
        stored = export_files.open_file(export)   # None if the file is gone: built again
        if stored is not None:
            return as_download(FileResponse(stored, content_type=kind.content_type), *filename)
    query = {"period": period} if kind.report else {}
    download = f"{request.path}?{urlencode(query)}" if query else request.path
    refresh = f"{request.path}?{urlencode({**query, 'ready': '1'})}"
    response = render(request, "deployment/export_pending.html", {
        "matter": matter, "filename": filename[0], "ready": export.rendered_at is not None,
        "failed": export.failed, "download": download, "refresh": refresh,
    }, status=202 if export.rendered_at is None and not export.failed else 200)
    if response.status_code == 202:
        response["Refresh"] = f"{PENDING_REFRESH}; url={refresh}"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def task_table_xlsx(request, pk):
    return _download(request, pk, "task_table_xlsx")


@login_required
def task_table_pdf(request, pk):
    return _download(request, pk, "task_table_pdf")


@login_required
def progress_docx(request, pk):
    return _download(request, pk, "progress_docx")


@login_required
def progress_pdf(request, pk):
    return _download(request, pk, "progress_pdf")


urls = {"matter": [
    path("<int:pk>/task-table.xlsx", task_table_xlsx, name="task_table_xlsx"),
    path("<int:pk>/task-table.pdf", task_table_pdf, name="task_table_pdf"),
    path("<int:pk>/progress.docx", progress_docx, name="progress_docx"),
    path("<int:pk>/progress.pdf", progress_pdf, name="progress_pdf"),
]}
