"""Reading an existing task table (任务分解表, .xlsx) into rows of items.

A hostile file is refused before openpyxl reads it (size, zip central directory, macros), and
while reading (rows, columns, merged ranges). The heading row is found among the first rows
(titles and blank rows come first; headings may span two merged rows) and its columns are
mapped to fields by the bureau's own headings; the guessed mapping is returned and may be
overridden. Units are matched by name against the units the importing user may see, read
once; names not matched are listed for the user to resolve, with candidates when ambiguous.
"""
import calendar
import io
import re
import unicodedata
import xml.etree.ElementTree as ET
from datetime import date, datetime

from django.conf import settings
from django.utils.translation import gettext as _
from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.utils.datetime import from_excel

from workflow.cases.evidence import EvidenceRejected, check_ooxml
from workflow.models import Unit

from .workplan import arabic

FIELDS = ("number", "task", "lead", "co_units", "deadline", "target", "note")
# Headings per field, most specific first. Compared after normalising width and spaces.
HEADINGS = {
    "number": ("序号", "编号", "序"),
    "task": ("任务", "工作任务", "重点任务", "任务内容", "具体任务", "工作内容", "主要任务", "任务名称",
             "工作事项", "重点工作", "工作措施", "具体措施", "主要措施", "任务事项", "事项"),
    "lead": ("牵头单位", "牵头部门", "责任单位", "责任部门", "主责单位", "牵头", "主责部门", "责任处室", "责任科室",
             "牵头处室", "牵头科室", "主办单位", "承办单位", "责任主体"),
    "co_units": ("配合单位", "配合部门", "协办单位", "参与单位", "配合", "协办部门", "配合处室", "配合科室",
                 "协同单位", "协同部门"),
    "deadline": ("完成时限", "时限", "完成时间", "时间节点", "完成期限", "时限要求", "截止时间", "办结时限", "时间要求",
                 "完成时间节点"),
    "target": ("目标", "预期成效", "工作目标", "预期目标", "目标任务", "成效", "预期成果", "目标要求", "量化指标",
               "考核指标"),
    "note": ("备注",),
}
HEADER_SCAN_ROWS = 30
TEXT_MAX = 4000       # a task's text
UNIT_CELL_MAX = 1000  # a unit cell
NAME_MAX = 100        # one unit name
SHORT_MAX = 500       # number, deadline, note
MERGES_MAX = 100_000
SUBTOTAL = re.compile(r"^(合计|小计|总计|共计)")

_SPACE = re.compile(r"\s+")


class TableRefused(Exception):
    """The file or the request cannot be imported; `message` is for the user."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


def norm(text) -> str:
    """Full width to half, no spaces of any kind: how headings and unit names are compared."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", str(text or "")))


# ---- refusing hostile files -------------------------------------------------------------

def check_file(data: bytes):
    """Refuse, with a message in Chinese, what must not be opened: too large, not an .xlsx,
    a zip bomb, macros. Reads the zip's central directory only."""
    if len(data) > settings.TASK_TABLE_MAX_BYTES:
        raise TableRefused(_("The task table is larger than %(mb)d MB; please split it.")
                           % {"mb": settings.TASK_TABLE_MAX_BYTES // (1024 * 1024)})
    if not data:
        raise TableRefused(_("The file is empty."))
    if not data.startswith(b"PK\x03\x04"):
        raise TableRefused(_("Only Excel workbooks (.xlsx) can be imported as a task table."))
    try:
        check_ooxml(data, "xl/", refuse_macros=True, max_ratio=settings.OOXML_MAX_RATIO)
    except EvidenceRejected as refused:
        raise TableRefused(refused.message)


# ---- reading the sheet ------------------------------------------------------------------

def _sheet(workbook, name):
    if name:
        if name not in workbook.sheetnames:
            raise TableRefused(_("The workbook has no sheet named “%(name)s”.") % {"name": name[:50]})
        return workbook[name]
    for sheet in workbook.worksheets:
        if getattr(sheet, "sheet_state", "visible") == "visible":
            return sheet
    raise TableRefused(_("The workbook has no visible sheet."))


def _merged_ranges(worksheet):
    """The sheet's merged ranges, read from its XML (openpyxl's read-only mode skips them)."""
    ranges = []
    source = worksheet._get_source()
    try:
        for _event, element in ET.iterparse(source, events=("end",)):
            tag = element.tag.rpartition("}")[2]
            if tag == "mergeCell":
                ref = element.get("ref") or ""
                try:
                    min_col, min_row, max_col, max_row = range_boundaries(ref)
                except (ValueError, TypeError):
                    continue
                if None not in (min_col, min_row, max_col, max_row):
                    ranges.append((min_row, min_col, max_row, max_col))
                if len(ranges) > MERGES_MAX:
                    raise TableRefused(_("The sheet has too many merged cells."))
            if tag in ("row", "c", "v", "mergeCell", "is", "t", "f"):
                element.clear()
    except ET.ParseError:
        raise TableRefused(_("The office document is damaged and cannot be opened."))
    finally:
        source.close()
    return ranges


def read_grid(data: bytes, sheet: str | None = None):
    """The chosen sheet's title and its rows of values (merged ranges filled from their top-left
    cell), with a flag per cell: "down" or "across" when filled from a merge, else False."""
    check_file(data)
    max_rows, max_cols = settings.TASK_TABLE_MAX_ROWS, settings.TASK_TABLE_MAX_COLUMNS
    too_many_rows = _("The task table has more than %(n)d rows; please split it.") % {"n": max_rows}
    too_many_cols = _("The task table has more than %(n)d columns.") % {"n": max_cols}
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True, keep_links=False)
    except TableRefused:
        raise
    except Exception:
        raise TableRefused(_("The office document is damaged and cannot be opened."))
    try:
        worksheet = _sheet(workbook, sheet)
        try:
            declared_rows, declared_cols = worksheet.max_row, worksheet.max_column
        except Exception:
            declared_rows = declared_cols = None
        if declared_rows and declared_rows > max_rows:
            raise TableRefused(too_many_rows)
        if declared_cols and declared_cols > max_cols:
            raise TableRefused(too_many_cols)
        grid = []
        try:
            for values in worksheet.iter_rows(values_only=True, max_col=max_cols + 1):
                if len(grid) >= max_rows:
                    raise TableRefused(too_many_rows)
                values = list(values)
                if len(values) > max_cols:
                    if values[max_cols] not in (None, ""):
                        raise TableRefused(too_many_cols)
                    values = values[:max_cols]
                grid.append(values)
        except TableRefused:
            raise
        except Exception:
            raise TableRefused(_("The office document is damaged and cannot be opened."))
        merges = _merged_ranges(worksheet)
        title = worksheet.title
    finally:
        workbook.close()
    width = max((len(row) for row in grid), default=0)
    for row in grid:
        row.extend([None] * (width - len(row)))
    filled = [[False] * width for _row in grid]
    budget = 2 * len(grid) * max(width, 1)
    for min_row, min_col, max_row, max_col in merges:
        if min_row > len(grid) or min_col > width:
            continue
        value = grid[min_row - 1][min_col - 1]
        for r in range(min_row, min(max_row, len(grid)) + 1):
            for c in range(min_col, min(max_col, width) + 1):
                budget -= 1
                if budget < 0:
                    raise TableRefused(_("The sheet has too many merged cells."))
                if (r, c) != (min_row, min_col):
                    grid[r - 1][c - 1] = value
                    filled[r - 1][c - 1] = "down" if r > min_row else "across"
    return title, grid, filled


# ---- headings ---------------------------------------------------------------------------

def _heading_field(text) -> tuple[str, int] | None:
    """(field, strength) for a heading: 2 for an exact heading, 1 for one containing it."""
    text = norm(text)
    text = re.sub(r"[*＊:：]", "", text)
    if not text or len(text) > 30 or text.endswith(("领导", "責任人", "责任人", "负责人", "联系人", "联系电话")):
        return None  # 牵头领导, 责任人: people, not units
    for field, names in HEADINGS.items():
        if text in names:
            return field, 2
    best = None
    for field, names in HEADINGS.items():
        for name in names:
            if ((len(name) >= 3 and name in text) or (len(name) >= 2 and text.startswith(name))) \
                    and (best is None or len(name) > len(best[1])):
                best = (field, name)
    return (best[0], 1) if best else None


def _row_mapping(cells) -> dict:
    mapping, strength = {}, {}
    for index, value in enumerate(cells):
        found = _heading_field(value) if isinstance(value, str) else None
        if found and (found[0] not in mapping or found[1] > strength[found[0]]):
            mapping[found[0]], strength[found[0]] = index, found[1]
    return mapping


def find_header(grid):
    """(first heading row index, rows it spans, {field: column index}) or None."""
    best = None
    for index, row in enumerate(grid[:HEADER_SCAN_ROWS]):
        mapping = _row_mapping(row)
        if "task" in mapping and len(mapping) >= 2 and (best is None or len(mapping) > len(best[2])):
            best = (index, 1, mapping)
    if best is None:
        return None
    index, _span, mapping = best
    if index > 0:
        above = _row_mapping(grid[index - 1])
        if len(above) >= 2 and _all_headings(grid[index - 1], grid[index]):  # a two-row heading
            return index - 1, 2, _combine(above, mapping)
    if index + 1 < len(grid):
        below = _row_mapping(grid[index + 1])
        if below and _all_headings(grid[index + 1], grid[index]):
            return index, 2, _combine(mapping, below)
        below_cells = grid[index + 1]
        if any(v not in (None, "") for v in below_cells) and _all_merged_or_blank(below_cells, grid[index]):
            return index, 2, mapping
    return best


def _combine(upper: dict, lower: dict) -> dict:
    """A two-row heading's mapping: the lower row is the more specific (责任单位 over 牵头单位 and 配合单位)."""
    combined = dict(upper)
    for field, column in lower.items():
        for other in [f for f, c in combined.items() if c == column and f != field]:
            del combined[other]
        combined[field] = column
    return combined


def _all_headings(row, other):
    """Every filled cell of `row` is a heading or the same as `other`'s (merged across both rows)."""
    return all(value in (None, "") or value == beside or (isinstance(value, str) and _heading_field(value))
               for value, beside in zip(row, other))


def _all_merged_or_blank(row, above):
    return all(v in (None, "") or v == a for v, a in zip(row, above))


def resolve_mapping(override: dict, header_cells, width) -> dict:
    """Apply {field: column letter or heading text} to the guessed mapping's columns."""
    mapping = {}
    for field, spec in (override or {}).items():
        if field not in FIELDS:
            raise TableRefused(_("Unknown field “%(field)s” in the column mapping.") % {"field": str(field)[:30]})
        spec = str(spec or "").strip()
        if not spec:
            continue
        if re.fullmatch(r"[A-Za-z]{1,3}", spec):
            column = column_index_from_string(spec.upper()) - 1
        else:
            wanted = norm(spec)
            matches = [i for i, cell in enumerate(header_cells) if norm(cell) == wanted]
            if not matches:
                raise TableRefused(_("No column is headed “%(heading)s”.") % {"heading": spec[:50]})
            column = matches[0]
        if column >= width:
            raise TableRefused(_("Column %(column)s is beyond the table.") % {"column": spec[:10]})
        mapping[field] = column
    return mapping


# ---- cells ------------------------------------------------------------------------------

def _text(value, limit) -> tuple[str, bool]:
    if value is None:
        return "", False
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    elif isinstance(value, date):
        value = value.isoformat()
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.strip() for line in text.split("\n")).strip()
    text = re.sub(r"\n{3,}", "\n\n", text)
    if len(text) > limit:
        return text[:limit], True
    return text, False


def _number(value) -> str:
    text, _cut = _text(value, 20)
    return unicodedata.normalize("NFKC", text).strip().rstrip("、.．,，").strip()


_OPEN, _CLOSE = "（(【[〔", "）)】]〕"
SEPARATORS = set("、，,；;/／\n\t ")
ANNOTATION = re.compile(r"^(牵头|配合|主责|负责|协办|参与|责任|主办|[^)）]*(?:牵头|配合|负责|分工|协办)[^)）]*"
                        r"|[^)）]*排[^)）]*位[^)）]*)$")
SUFFIX_ONLY = frozenset({"民政局", "民政办", "民政所", "民政办公室", "局", "办", "所", "办公室", "中心", "站", "院"})
TRAILING = re.compile(r"(等(相关)?(单位|部门|成员单位)?|及相关(单位|部门))$")


def split_units(text) -> list[str]:
    """The unit names in a lead or co-unit cell, in order: split on 、，,；; / spaces and line
    breaks (never inside brackets: "各县（市、区）民政局" stays whole), with annotations such as
    "（牵头）" and a trailing "等" removed. No name is empty."""
    return [name for name, _role in _split_marked(text)]


LEAD_MARK = re.compile(r"[（(【\[]\s*(?:牵头|主责|主办|牵头单位|牵头部门)\s*[）)】\]]")
CO_MARK = re.compile(r"[（(【\[]\s*(?:配合|协办|参与|协助|配合单位|配合部门)\s*[）)】\]]")


def _split_marked(text) -> list[tuple[str, str | None]]:
    """split_units, with each name's role when it is annotated: "lead" for （牵头）, "co" for （配合）."""
    text = unicodedata.normalize("NFKC", str(text or ""))[:UNIT_CELL_MAX]
    parts, current, depth = [], [], 0
    for ch in text:
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
        if depth == 0 and (ch in SEPARATORS or ch.isspace()):
            parts.append(("".join(current), ch.isspace()))
            current = []
        else:
            current.append(ch)
    parts.append(("".join(current), False))
    names, after_space = [], False
    for part, spaced in parts:
        name = _strip_annotations(part)
        role = "lead" if LEAD_MARK.search(part) else "co" if CO_MARK.search(part) else None
        if name and after_space and names and name in SUFFIX_ONLY:
            names[-1] = ((names[-1][0] + name)[:NAME_MAX], names[-1][1] or role)  # "乙县 民政局"
        elif name:
            names.append((name[:NAME_MAX], role))
        if name or not spaced:
            after_space = spaced
    return names


# ---- one cell naming the lead unit and the co-units ----------------------------------------

_ROLE_LABEL = re.compile(r"(?P<lead>(?:牵头|主责|主办)(?:单位|部门)?)\s*[:：]"
                         r"|(?P<co>(?:配合|协办|参与|协助|协同)(?:单位|部门)?)\s*[:：]")
_LEAD_VERB = re.compile(r"(?:为|是|作为)?(?:牵头(?:单位|部门)?|主责)(?:负责|实施|推进|落实)?")
_CO_TAIL = re.compile(r"(?:为|是)?(?:按职责分工|按照职责分工|按职责|分别)?(?:共同|协同|积极)?"
                      r"(?:配合(?:单位|部门)?|协办|参与|协助|负责|推进|落实|实施)+[。.;；]?$")
FIRST_IS_LEAD = re.compile(r"(?:第一|首位|首个|第1|最前)[^，。；,;\n]{0,8}?(?:为|是)[^，。；,;\n]{0,3}牵头")


def split_roles(text) -> tuple[str, str] | None:
    """(lead, co-units) when one cell names both: "市民政局牵头，市财政局、市卫健委配合", "牵头单位：A；
    配合单位：B、C", "A（牵头）、B、C". None when the cell does not say which unit leads."""
    plain = unicodedata.normalize("NFKC", str(text or ""))[:UNIT_CELL_MAX].strip()
    if not plain:
        return None
    labels = [m for m in _ROLE_LABEL.finditer(plain) if _depth_at(plain, m.start()) == 0]
    if any(m["lead"] for m in labels):
        lead, co = [], []
        head = plain[:labels[0].start()].strip(" ;；,，。")
        if head:
            lead.append(head)
        for k, m in enumerate(labels):
            end = labels[k + 1].start() if k + 1 < len(labels) else len(plain)
            (lead if m["lead"] else co).append(plain[m.end():end].strip(" ;；,，。\n"))
        return "、".join(x for x in lead if x), "、".join(x for x in co if x)
    verb = next((m for m in _LEAD_VERB.finditer(plain) if _depth_at(plain, m.start()) == 0), None)
    if verb and verb.start() > 0:
        lead = re.sub(r"^(?:由)", "", plain[:verb.start()]).strip(" ;；,，。")
        co = _CO_TAIL.sub("", plain[verb.end():].strip(" ;；,，。\n")).strip(" ;；,，。")
        co = re.sub(r"^(?:单位|部门)", "", co).strip(" ;；,，。")
        if lead and not re.search(r"[，,；;。]", lead):
            return lead, co
        return None
    marked = _split_marked(plain)
    if any(role == "lead" for _n, role in marked) and any(role != "lead" for _n, role in marked):
        return ("、".join(n for n, role in marked if role == "lead"),
                "、".join(n for n, role in marked if role != "lead"))
    return None


def _depth_at(text: str, position: int) -> int:
    depth = 0
    for ch in text[:position]:
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
    return depth


def _strip_annotations(part: str) -> str:
    name = part.strip()
    # bracketed annotations: （牵头）, (排第一位的为牵头单位); keep brackets that are part of a name
    name = re.sub(r"[（(【\[]([^（()）【】\[\]]*)[）)】\]]",
                  lambda m: "" if ANNOTATION.match(norm(m.group(1))) else m.group(0), name)
    previous = None
    while previous != name:
        previous = name
        name = TRAILING.sub("", name).strip()
    name = name.strip("：:。.·")
    if PLACEHOLDER.fullmatch(name):
        return ""  # 无, —, 暂无: no unit
    return name


PLACEHOLDER = re.compile(r"[-—－–_~～…]+|无|無|暂无|暫無|待定|空白?|null|none", re.IGNORECASE)


# ---- deadlines --------------------------------------------------------------------------

_DATE = re.compile(r"(\d{4})\s*[年.\-/]\s*(\d{1,2})\s*[月.\-/]\s*(\d{1,2})\s*日?")
_MONTH_DAY = re.compile(r"(?<![\d年.\-/])(\d{1,2})\s*月\s*(\d{1,2})\s*日")
_MONTH = re.compile(r"(?:(\d{4})\s*年)?\s*(\d{1,2})\s*月\s*(底|末|份|上旬|中旬|下旬)?")
_YEAR_END = re.compile(r"(\d{4})\s*年\s*(底|末|内|年底|年内|全年)")
_HALF = re.compile(r"(\d{4})\s*年\s*(上半年|下半年)")
_QUARTER = re.compile(r"(?:(\d{4})\s*年\s*)?(?<!每)(?:第)?([一二三四1-4])\s*季度\s*(末|底)?")
ONGOING = ("长期坚持", "长期", "持续推进", "持续开展", "常态化", "持续")
CADENCES = (("每季度", "quarterly"), ("每月", "monthly"), ("每半年", "half_yearly"), ("每年", "yearly"),
            ("每周", "weekly"), ("按季度", "quarterly"), ("按月", "monthly"))
_QUARTERS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}


def _month_end(year, month):
    return date(year, month, calendar.monthrange(year, month)[1])


def parse_deadline(value, default_year: int | None = None) -> dict | None:
    """A deadline cell as {"text", "kind", "date", "dates", "cadence"}: kind is "date" (the
    last date named, e.g. "2026年6月底前" → 2026-06-30), "ongoing" (长期坚持), "recurring"
    (每季度, with its cadence) or "text" (kept as written, never dropped)."""
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 20000 < value < 80000:
        try:
            value = from_excel(value)
        except (ValueError, OverflowError):
            pass
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        iso = value.isoformat()
        return {"text": iso, "kind": "date", "date": iso, "dates": [iso], "cadence": None}
    text, _cut = _text(value, SHORT_MAX)
    plain = arabic(unicodedata.normalize("NFKC", text))[0]  # 二〇二五年十月底 → 2025年10月底
    found = []  # (position, date)
    for m in _DATE.finditer(plain):
        _add(found, m.start(), int(m.group(1)), int(m.group(2)), int(m.group(3)))
    taken = [m.span() for m in _DATE.finditer(plain)]
    for m in _QUARTER.finditer(plain):
        year, quarter = int(m.group(1)) if m.group(1) else default_year, _QUARTERS[m.group(2)]
        if year:
            _add_end(found, m.start(), year, quarter * 3)
            taken.append(m.span())
    for m in _HALF.finditer(plain):
        _add_end(found, m.start(), int(m.group(1)), 6 if m.group(2) == "上半年" else 12)
        taken.append(m.span())
    year_context = default_year
    for m in _MONTH_DAY.finditer(plain):
        if year_context and not any(a <= m.start() < b for a, b in taken):
            _add(found, m.start(), year_context, int(m.group(1)), int(m.group(2)))
            taken.append(m.span())
    for m in _MONTH.finditer(plain):
        if any(a <= m.start() < b for a, b in taken):
            continue
        year = int(m.group(1)) if m.group(1) else year_context
        if m.group(1):
            year_context = year
        month = int(m.group(2))
        if year is None or not 1 <= month <= 12:
            continue
        part = m.group(3)
        if part == "上旬":
            _add(found, m.start(), year, month, 10)
        elif part == "中旬":
            _add(found, m.start(), year, month, 20)
        else:
            _add_end(found, m.start(), year, month)
        taken.append(m.span())
    for m in _YEAR_END.finditer(plain):
        if not any(a <= m.start() < b for a, b in taken):
            _add(found, m.start(), int(m.group(1)), 12, 31)
    if not found and default_year and re.search(r"年底|年末|年内", plain):
        _add(found, 0, default_year, 12, 31)
    cadence = next((key for word, key in CADENCES if word in plain), None)
    dates = [d.isoformat() for _pos, d in sorted(found)]
    if dates:
        return {"text": text, "kind": "date", "date": max(dates), "dates": dates, "cadence": cadence}
    if cadence:
        return {"text": text, "kind": "recurring", "date": None, "dates": [], "cadence": cadence}
    if any(word in plain for word in ONGOING):
        return {"text": text, "kind": "ongoing", "date": None, "dates": [], "cadence": None}
    return {"text": text, "kind": "text", "date": None, "dates": [], "cadence": None}


def _add(found, position, year, month, day):
    try:
        found.append((position, date(year, month, day)))
    except ValueError:
        pass


def _add_end(found, position, year, month):
    try:
        found.append((position, _month_end(year, month)))
    except ValueError:
        pass


# ---- units ------------------------------------------------------------------------------

UNIT_SUFFIXES = ("民政局", "民政办", "民政所", "民政办公室")


def _stem(name: str) -> str:
    for suffix in UNIT_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


class UnitMatcher:
    """Matches unit names against the units `user` may see, read in one query. Exact name
    first; then the same place with or without 民政局 (甲县 / 甲县民政局); then a name that
    the unit's ends with or that ends with the unit's (市民政局 / 某市民政局). A rule that
    finds more than one unit gives candidates, never a guess."""

    def __init__(self, user=None):
        units = list(Unit.objects.visible_to(user).values_list("pk", "name", "path")) if user else []
        self.units = [(pk, name, norm(name)) for pk, name, _path in units]
        self.by_name, self.by_stem = {}, {}
        for unit in self.units:
            self.by_name.setdefault(unit[2], []).append(unit)
            self.by_stem.setdefault(_stem(unit[2]), []).append(unit)
        self._cache = {}

    def match(self, name: str) -> dict:
        """{"name", "id"} for a unique match, else {"name", "candidates": [{"id", "name"}]}."""
        key = norm(name)
        if key not in self._cache:
            self._cache[key] = self._match(key)
        found = self._cache[key]
        if len(found) == 1:
            return {"name": name, "id": found[0][0], "unit": found[0][1]}
        return {"name": name, "candidates": [{"id": pk, "name": unit_name} for pk, unit_name, _n in found]}

    def _match(self, key: str):
        if not key:
            return []
        for rule in (lambda: self.by_name.get(key, []),
                     lambda: self.by_stem.get(_stem(key), []) if len(_stem(key)) >= 2 else [],
                     lambda: [u for u in self.units if len(key) >= 3 and (u[2].endswith(key) or key.endswith(u[2]))
                              and len(u[2]) >= 3]):
            found = rule()
            if found:
                return sorted(set(found))
        return []

    def match_cell(self, text) -> dict:
        matched, unmatched = [], []
        for name in split_units(text):
            result = self.match(name)
            if "id" in result:
                if result["id"] not in matched:
                    matched.append(result["id"])
            else:
                unmatched.append(result)
        return {"matched": matched, "unmatched": unmatched}


# ---- the whole table --------------------------------------------------------------------

def _title_year(grid, header_index) -> int | None:
    for row in grid[: header_index + 1]:
        for value in row:
            if isinstance(value, str):
                m = re.search(r"(20\d{2})\s*年", unicodedata.normalize("NFKC", value))
                if m:
                    return int(m.group(1))
    return None


def read_task_table(data: bytes, *, sheet: str | None = None, mapping: dict | None = None, user=None) -> dict:
    """Parse an .xlsx task table. Returns {"sheet", "header_row", "mapping": {field: {"column",
    "heading"}}, "rows": [...], "unmatched_units": [...]}; raises TableRefused."""
    sheet_title, grid, filled = read_grid(data, sheet)
    width = max((len(row) for row in grid), default=0)
    header = find_header(grid)
    if header is None and not mapping:
        raise TableRefused(_("No heading row with a task column (任务) was found; map the columns by hand."))
    if header:
        start, span, guessed = header
    else:
        start, span, guessed = 0, 0, {}
    header_cells = [" ".join(str(grid[r][c]) for r in range(start, start + span)
                             if grid[r][c] not in (None, "") and (r == start or grid[r][c] != grid[start][c]))
                    for c in range(width)]
    columns = dict(guessed)
    override = resolve_mapping(mapping or {}, header_cells, width)
    for field, column in override.items():
        for other in [f for f, c in columns.items() if c == column]:
            del columns[other]
        columns[field] = column
    if "task" not in columns:
        raise TableRefused(_("No column is mapped to the task (任务)."))
    year = _title_year(grid, start)
    matcher = UnitMatcher(user)
    # 责任单位 "A、B、C" with a note that the first named leads: the first is the lead, the others co-units.
    first_leads = ("lead" in columns and "co_units" not in columns
                   and not norm(header_cells[columns["lead"]]).startswith("牵头")
                   and _says_first_leads(grid, start + span))
    rows, by_number, unmatched = [], {}, {}
    ranks, stack = {}, []  # numbering styles in order of appearance (一 → 1 → (1)), and the open rows
    previous = section = None
    task_heading = norm(header_cells[columns["task"]]) if header else None
    for index in range(start + span, len(grid)):
        cells, flags = grid[index], filled[index]
        if _note_row(cells):
            continue  # 注：排在第一位的为牵头单位 under the table
        title = _section_title(cells, flags)
        if title:  # "一、养老服务" across the row: the items below belong to it
            number, text = _section_parts(title)
            section = {"row": index + 1, "number": number, "task": text, "section": True,
                       "lead": {"matched": [], "unmatched": []}, "co_units": {"matched": [], "unmatched": []},
                       "lead_text": "", "co_units_text": "", "units_cell": "", "deadline": None, "target": "",
                       "note": "", "truncated": [], "children": []}
            rows.append(section)
            by_number, previous = {}, None
            ranks, stack = {}, []
            continue

        def cell(field, limit=SHORT_MAX):
            column = columns.get(field)
            return _text(cells[column], limit) if column is not None else ("", False)

        task, task_cut = cell("task", TEXT_MAX)
        number = _number(cells[columns["number"]]) if "number" in columns else ""
        task_column = columns["task"]
        if not task and not number:
            continue
        if SUBTOTAL.match(norm(number)) or SUBTOTAL.match(norm(task)) or (task_heading and norm(task) == task_heading):
            continue  # subtotals, and the heading repeated on each printed page
        lead, lead_cut = cell("lead", UNIT_CELL_MAX)
        co, co_cut = cell("co_units", UNIT_CELL_MAX)
        target, target_cut = cell("target", TEXT_MAX)
        note, note_cut = cell("note")
        deadline_column = columns.get("deadline")
        lead_cell = lead
        roles = split_roles(lead)
        if roles is None and first_leads:
            names = split_units(lead)
            roles = ("、".join(names[:1]), "、".join(names[1:])) if len(names) > 1 else None
        if roles is not None:  # one cell names the lead and the co-units: the preview shows them apart
            lead, co = roles[0], "、".join(x for x in (roles[1], co) if x)
        row = {
            "row": index + 1, "number": number, "task": task,
            "lead": matcher.match_cell(lead), "co_units": matcher.match_cell(co),
            "lead_text": lead, "co_units_text": co, "units_cell": lead_cell if roles is not None else "",
            "deadline": parse_deadline(cells[deadline_column], year) if deadline_column is not None else None,
            "target": target, "note": note,
            "truncated": [f for f, cut in (("task", task_cut), ("lead", lead_cut), ("co_units", co_cut),
                                           ("target", target_cut), ("note", note_cut)) if cut],
            "children": [],
        }
        if not task:  # a number with nothing to do (a blank numbered row)
            continue
        for part in ("lead", "co_units"):
            for name in row[part]["unmatched"]:
                entry = unmatched.setdefault(norm(name["name"]), {**name, "rows": []})
                if row["row"] not in entry["rows"]:
                    entry["rows"].append(row["row"])
        if flags[task_column] == "down" and previous is not None:
            _extend(previous, row)  # one task merged down over rows, a unit per row
            continue
        parent = _parent(number, by_number)
        style = _number_style(number) if parent is None else None
        if style:  # 一 over 1 over (1): a row numbered in a higher style holds the rows below it
            rank = ranks.setdefault(style, len(ranks))
            while stack and stack[-1][0] >= rank:
                stack.pop()
            parent = stack[-1][1] if stack else None
            stack.append((rank, row))
        parent = parent or section
        (parent["children"] if parent else rows).append(row)
        if number:
            by_number[number] = row
        previous = row
    return {
        "sheet": sheet_title,
        "header_row": start + 1 if header else None,
        "mapping": {field: {"column": get_column_letter(column + 1), "heading": header_cells[column]}
                    for field, column in sorted(columns.items(), key=lambda item: FIELDS.index(item[0]))},
        "columns": [{"column": get_column_letter(c + 1), "heading": header_cells[c]} for c in range(width)
                    if header_cells[c]],
        "rows": rows,
        "unmatched_units": list(unmatched.values()),
    }


NOTE_ROW = re.compile(r"^(?:注|备注|说明|附注|填表说明)\s*\d*\s*[:：]")


def _note_row(cells) -> bool:
    """A row holding only a note (注：…) under or above the table."""
    values = {str(v).strip() for v in cells if v not in (None, "")}
    return len(values) == 1 and bool(NOTE_ROW.match(unicodedata.normalize("NFKC", next(iter(values)))))


def _says_first_leads(grid, body_start) -> bool:
    """The title, the headings or a note row says that the first unit named leads (排在第一位的为牵头单位)."""
    for index, row in enumerate(grid):
        if index >= body_start and not _note_row(row):
            continue
        for value in row:
            if isinstance(value, str) and len(value) <= 300 and FIRST_IS_LEAD.search(norm(value)):
                return True
    return False


SECTION_NUMBER = re.compile(r"^\s*(第?[一二三四五六七八九十百]+[、.．部分]|[（(][一二三四五六七八九十]+[）)])\s*")


def _section_title(cells, flags) -> str | None:
    """The text of a section row: one value merged across the row, or a lone heading numbered
    as one ("一、养老服务", "（二）社会救助"); None for an item's row."""
    values = {str(v).strip() for v in cells if v not in (None, "")}
    if len(values) != 1:
        return None
    title = values.pop()
    if "across" in flags or SECTION_NUMBER.match(unicodedata.normalize("NFKC", title)):
        return title
    return None


def _section_parts(title: str) -> tuple[str, str]:
    text, _cut = _text(title, TEXT_MAX)
    m = SECTION_NUMBER.match(text)
    if m:
        return m.group(1).rstrip("、.．"), text[m.end():].strip() or text
    return "", text


def _extend(first: dict, more: dict):
    """Add the units of a row whose task cell is merged into the row above to that row."""
    for part in ("lead", "co_units"):
        for pk in more[part]["matched"]:
            if pk not in first[part]["matched"]:
                first[part]["matched"].append(pk)
        known = {entry["name"] for entry in first[part]["unmatched"]}
        first[part]["unmatched"].extend(e for e in more[part]["unmatched"] if e["name"] not in known)
        text = more[f"{part}_text"]
        if text and text != first[f"{part}_text"]:
            first[f"{part}_text"] = f"{first[f'{part}_text']}\n{text}".strip()


NUMBER_STYLES = (("cn", re.compile(r"第?[一二三四五六七八九十百]+")), ("pcn", re.compile(r"\([一二三四五六七八九十百]+\)")),
                 ("num", re.compile(r"\d{1,3}")), ("pnum", re.compile(r"\(\d{1,3}\)")))


def _number_style(number: str) -> str | None:
    """The numbering style of a row's number (after NFKC: brackets are half width): 一, (一), 1 or (1)."""
    return next((style for style, pattern in NUMBER_STYLES if pattern.fullmatch(number)), None)


def _parent(number: str, by_number: dict):
    """1.1 and 1.2 belong to 1 (and 1.1.1 to 1.1), when that row was read."""
    if "." not in number:
        return None
    head = number.rpartition(".")[0]
    while head:
        if head in by_number:
            return by_number[head]
        head = head.rpartition(".")[0]
    return None
