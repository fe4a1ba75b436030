"""Importing an existing task table (任务分解表, .xlsx): hostile files refused before reading,
the heading row found below titles and across two merged rows, rows with merged lead cells
and 1.1 sub-rows, units matched among those the user sees (variants, unknown and ambiguous
names listed), deadlines parsed and never dropped, and the command's JSON."""
import io
import json
import re
import zipfile
from datetime import datetime

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import translation
from hypothesis import given, settings as hsettings, strategies as st
from openpyxl import Workbook

from processes.deployment.intake.task_table import (
    SUFFIX_ONLY, TableRefused, UnitMatcher, parse_deadline, read_task_table, split_roles, split_units,
)
from tests.factories import make_unit, make_user, make_world
from workflow.models import Role, UnitKind

TITLE = "2026年度重点工作任务分解表"


def xlsx(build) -> bytes:
    workbook = Workbook()
    build(workbook.active)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def bureau_table(sheet):
    """A table as a bureau sends it: a title, a blank row, a heading over two merged rows
    (责任单位 over 牵头单位 and 配合单位), a lead unit merged down two sub-rows, a subtotal."""
    sheet.title = "任务表"
    sheet.append([TITLE])
    sheet.merge_cells("A1:F1")
    sheet.append([])
    sheet.append(["序号", "重点任务", "责任单位", None, "完成时限", "备注"])
    sheet.append([None, None, "牵头单位", "配合单位", None, None])
    for ref in ("A3:A4", "B3:B4", "C3:D3", "E3:E4", "F3:F4"):
        sheet.merge_cells(ref)
    sheet.append([1, "推进养老服务体系建设", "某某市民政局（牵头）", "甲县、乙县民政局等", "2026年6月底前", None])
    sheet.append(["1.1", "新建老年助餐点5个", "甲县民政局", "市财政局", datetime(2026, 9, 30), None])
    sheet.append(["1.2", "完成特困供养机构消防改造\n确保验收达标100%", None, "县民政局", "长期坚持", "分两批"])
    sheet.merge_cells("C6:C7")
    sheet.append([None, None, None, None, None, None])
    sheet.append([2, "规范低保审核确认", "乙县 民政局；城关镇民政办", None, "每季度", None])
    sheet.append(["合计", None, None, None, None, None])


@pytest.fixture
def world(db):
    world = make_world()
    world.township_a = make_unit("城关镇民政办", UnitKind.TOWNSHIP_OFFICE, parent=world.county_a)
    world.township_b = make_unit("城关镇民政办", UnitKind.TOWNSHIP_OFFICE, parent=world.county_b)
    return world


def flat(rows):
    for row in rows:
        yield row
        yield from flat(row["children"])


def test_bureau_table_reads_as_a_person_would(world):
    result = read_task_table(xlsx(bureau_table), user=world.inspector)
    assert result["header_row"] == 3
    assert {f: m["column"] for f, m in result["mapping"].items()} == {
        "number": "A", "task": "B", "lead": "C", "co_units": "D", "deadline": "E", "note": "F"}
    assert result["mapping"]["co_units"]["heading"] == "责任单位 配合单位"
    assert [c["heading"] for c in result["columns"]][:3] == ["序号", "重点任务", "责任单位 牵头单位"]
    top = result["rows"]
    assert [(r["number"], r["task"]) for r in top] == [("1", "推进养老服务体系建设"), ("2", "规范低保审核确认")]
    first, second = top
    assert [c["number"] for c in first["children"]] == ["1.1", "1.2"]
    sub1, sub2 = first["children"]
    # the lead cell merged over 1.1 and 1.2 applies to each
    assert sub1["lead"]["matched"] == sub2["lead"]["matched"] == [world.county_a.pk]
    assert sub2["task"] == "完成特困供养机构消防改造\n确保验收达标100%"
    # variants: 某某市民政局 is the city bureau, 甲县 and 乙县民政局 (shared suffix, trailing 等)
    assert first["lead"] == {"matched": [world.city.pk], "unmatched": []}
    assert first["co_units"]["matched"] == [world.county_a.pk, world.county_b.pk]
    # unknown and ambiguous names are listed, the ambiguous ones with candidates, never guessed
    assert sub1["co_units"] == {"matched": [], "unmatched": [{"name": "市财政局", "candidates": []}]}
    ambiguous = sub2["co_units"]["unmatched"][0]
    assert ambiguous["name"] == "县民政局"
    assert {c["id"] for c in ambiguous["candidates"]} == {world.county_a.pk, world.county_b.pk}
    assert second["lead"]["matched"] == [world.county_b.pk]  # "乙县 民政局": a space inside the name
    township = second["lead"]["unmatched"][0]
    assert {c["id"] for c in township["candidates"]} == {world.township_a.pk, world.township_b.pk}
    # deadlines: Chinese text, an Excel date, ongoing and recurring, each with its source text
    assert first["deadline"]["date"] == "2026-06-30" and first["deadline"]["text"] == "2026年6月底前"
    assert sub1["deadline"]["date"] == "2026-09-30"
    assert sub2["deadline"]["kind"] == "ongoing" and sub2["deadline"]["text"] == "长期坚持"
    assert second["deadline"]["kind"] == "recurring" and second["deadline"]["cadence"] == "quarterly"
    # the subtotal and blank rows are skipped; the unmatched names are listed once with their rows
    assert len(list(flat(top))) == 4
    listed = {u["name"]: u for u in result["unmatched_units"]}
    assert set(listed) == {"市财政局", "县民政局", "城关镇民政办"}
    assert listed["市财政局"]["rows"] == [6]


def test_units_are_matched_only_among_those_the_user_sees(world):
    result = read_task_table(xlsx(bureau_table), user=world.handler_a)
    first = result["rows"][0]
    assert first["co_units"]["matched"] == [world.county_a.pk]
    assert [u["name"] for u in first["co_units"]["unmatched"]] == ["乙县民政局"]
    assert first["lead"]["matched"] == []


def test_heading_in_row_one_and_explicit_mapping(world):
    def build(sheet):
        sheet.append(["编号", "工作内容", "主责单位", "参与单位", "时间节点", "预期成效", "说明"])
        sheet.append(["一", "开展殡葬领域专项整治", "甲县民政局", "", "2026-11-30", "整治率100%", "甲县民政局、乙县"])
    data = xlsx(build)
    result = read_task_table(data, user=world.inspector)
    assert result["header_row"] == 1
    row = result["rows"][0]
    assert (row["task"], row["target"], row["deadline"]["date"]) == ("开展殡葬领域专项整治", "整治率100%", "2026-11-30")
    assert "co_units" in result["mapping"] and result["mapping"]["target"]["column"] == "F"
    # the user's mapping wins: co-units read from column G, by letter or by heading
    for spec in ("G", "说明"):
        row = read_task_table(data, user=world.inspector, mapping={"co_units": spec})["rows"][0]
        assert row["co_units"]["matched"] == [world.county_a.pk, world.county_b.pk]
    with pytest.raises(TableRefused):
        read_task_table(data, mapping={"owner": "B"})
    with pytest.raises(TableRefused):
        read_task_table(data, mapping={"lead": "没有这一列"})


def test_named_sheet_and_first_visible_sheet(world):
    workbook = Workbook()
    hidden = workbook.active
    hidden.title = "说明"
    hidden.sheet_state = "hidden"
    hidden.append(["任务", "牵头单位"])
    hidden.append(["隐藏表里的任务", "甲县民政局"])
    visible = workbook.create_sheet("分解表")
    visible.append(["序号", "任务", "牵头单位"])
    visible.append([1, "可见表里的任务", "甲县民政局"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    data = buffer.getvalue()
    assert read_task_table(data)["rows"][0]["task"] == "可见表里的任务"
    assert read_task_table(data, sheet="说明")["rows"][0]["task"] == "隐藏表里的任务"
    with pytest.raises(TableRefused):
        read_task_table(data, sheet="不存在")


def test_text_is_bounded_and_nothing_is_dropped(world):
    def build(sheet):
        sheet.append(["序号", "任务", "牵头单位", "完成时限"])
        sheet.append([1, "很长的任务" * 2000, "甲县民政局", "按省厅统一部署推进"])
    row = read_task_table(xlsx(build))["rows"][0]
    assert len(row["task"]) == 4000 and row["truncated"] == ["task"]
    assert row["deadline"] == {"text": "按省厅统一部署推进", "kind": "text", "date": None, "dates": [], "cadence": None}


def test_no_heading_row_is_refused_in_chinese(db):
    data = xlsx(lambda sheet: sheet.append(["甲", "乙"]))
    with translation.override("en"), pytest.raises(TableRefused) as refused:
        read_task_table(data)
    assert "task" in refused.value.message


@pytest.mark.parametrize("text, date, kind", [
    ("2026年6月底前", "2026-06-30", "date"), ("2026-06-30", "2026-06-30", "date"),
    ("2026.5.1", "2026-05-01", "date"), ("2026年第三季度", "2026-09-30", "date"),
    ("2026年上半年", "2026-06-30", "date"), ("2026年底前", "2026-12-31", "date"),
    ("2026年9月中旬", "2026-09-20", "date"), ("6月15日前", "2026-06-15", "date"),
    ("2026年6月30日前", "2026-06-30", "date"),
    ("6月底前完成初稿，12月底前全面完成", "2026-12-31", "date"),
    ("长期坚持", None, "ongoing"), ("每季度", None, "recurring"), ("按要求推进", None, "text"),
])
def test_deadline_text(text, date, kind):
    parsed = parse_deadline(text, default_year=2026)
    assert (parsed["date"], parsed["kind"], parsed["text"]) == (date, kind, text)


def test_deadline_excel_serial_and_year_from_title():
    assert parse_deadline(46203)["date"] == "2026-06-30"
    assert parse_deadline("6月底前")["kind"] == "text"  # no year known: kept as text
    assert parse_deadline(None) is None


# ---- unit cells ----

@pytest.mark.parametrize("cell, names", [
    ("市民政局（牵头）、市财政局(配合)", ["市民政局", "市财政局"]),
    ("各县（市、区）民政局", ["各县(市、区)民政局"]),
    ("甲县、乙县民政局等", ["甲县", "乙县民政局"]),
    ("市民政局\n市卫健委 等相关单位", ["市民政局", "市卫健委"]),
    ("乙县 民政局；丙县民政局", ["乙县民政局", "丙县民政局"]),
    ("甲县民政局/乙县民政局,丙县民政局;丁县民政局", ["甲县民政局", "乙县民政局", "丙县民政局", "丁县民政局"]),
    ("", []), (" 、，; ", []),
    ("市民政局、市财政局（按职责分工负责）", ["市民政局", "市财政局"]),
    ("—", []), ("无", []), ("暂无", []), ("——", []), ("无锡市民政局", ["无锡市民政局"]),  # a dash or 无 is no unit
])
def test_split_units(cell, names):
    assert split_units(cell) == names


NAME_CHARS = "市县区镇乡街道民政局办养老院福利中心甲乙丙丁东西南北城关救助站殡仪馆社工"
names = st.text(alphabet=NAME_CHARS, min_size=1, max_size=12).filter(lambda n: n not in SUFFIX_ONLY)
separators = st.text(alphabet="、，,；;/／\n \u3000\t", min_size=1, max_size=3)


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(names, separators), min_size=1, max_size=8), st.sampled_from(["", "（牵头）", "(配合)"]))
def test_splitter_never_loses_a_name(parts, annotation):
    cell = "".join(name + annotation + sep for name, sep in parts)
    assert split_units(cell) == [name for name, _sep in parts]


@hsettings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_splitter_never_returns_empty_names(text):
    for name in split_units(text):
        assert name and name == name.strip() and len(name) <= 100


# ---- one read of the units ----

def _table(rows):
    def build(sheet):
        sheet.append([TITLE])
        sheet.append(["序号", "任务", "牵头单位", "配合单位", "完成时限"])
        for i in range(rows):
            sheet.append([i + 1, f"任务{i}", "甲县民政局", f"乙县、市财政局、第{i}单位", "2026年底前"])
    return xlsx(build)


def test_unit_matching_takes_a_constant_number_of_queries(world):
    counts = []
    for rows in (3, 300):
        data = _table(rows)
        with CaptureQueriesContext(connection) as queries:
            result = read_task_table(data, user=world.inspector)
        assert len(result["rows"]) == rows
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 2


def test_matcher_reads_units_once(world):
    with CaptureQueriesContext(connection) as queries:
        matcher = UnitMatcher(world.inspector)
        for _ in range(50):
            matcher.match_cell("甲县、乙县民政局、城关镇民政办、市财政局")
    assert len(queries) <= 2


# ---- hostile files ----

def _zip(entries, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return buffer.getvalue()


def refused(data, **kwargs) -> str:
    with translation.override("en"), pytest.raises(TableRefused) as caught:
        read_task_table(data, **kwargs)
    return caught.value.message


def test_not_a_zip_is_refused(db):
    assert "xlsx" in refused(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1old excel")
    assert "empty" in refused(b"")


def test_oversize_is_refused(db):
    data = _table(50)
    with override_settings(TASK_TABLE_MAX_BYTES=len(data) - 1):
        assert "larger" in refused(data)


def test_zip_bomb_is_refused(db):
    bomb = _zip([("[Content_Types].xml", "<Types/>"), ("xl/workbook.xml", "<workbook/>"),
                 ("xl/worksheets/sheet1.xml", b"0" * (40 * 1024 * 1024))])
    assert len(bomb) < 200_000
    assert "zip bomb" in refused(bomb)
    with override_settings(EVIDENCE_MAX_UNZIPPED_BYTES=10 * 1024 * 1024):
        assert "expands" in refused(bomb)
    many = _zip([("[Content_Types].xml", "<Types/>")] + [(f"xl/p{i}.xml", "") for i in range(2001)])
    assert "too many parts" in refused(many)


def test_macro_workbook_is_refused(db):
    data = _table(3)
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0macro")
    assert "macros" in refused(buffer.getvalue())


def test_damaged_workbook_is_refused(db):
    assert "damaged" in refused(_zip([("[Content_Types].xml", "<Types/>"), ("xl/workbook.xml", "<not xml")]))


def test_too_many_rows_and_columns_are_refused(db):
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(["序号", "任务", "牵头单位"])
    for i in range(100_000):
        sheet.append([i])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert "rows" in refused(buffer.getvalue())
    wide = xlsx(lambda s: s.append(["序号", "任务"] + ["x"] * 100))
    assert "columns" in refused(wide)


def test_rows_are_counted_while_reading_when_the_sheet_declares_no_size(db):
    """A sheet without its <dimension> (or with a false one) is still stopped at the bound."""
    data = _table(30)
    source, target = io.BytesIO(data), io.BytesIO()
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            content = old.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                content = re.sub(rb"<dimension[^>]*/>", b"", content)
            new.writestr(info.filename, content)
    with override_settings(TASK_TABLE_MAX_ROWS=20):
        assert "rows" in refused(target.getvalue())
    assert len(read_task_table(target.getvalue())["rows"]) == 30


# ---- the command ----

def test_command_prints_json(world, tmp_path):
    path = tmp_path / "table.xlsx"
    path.write_bytes(xlsx(bureau_table))
    out = io.StringIO()
    call_command("import_tasktable", str(path), "--json", "--user", world.inspector.username,
                 "--map", "note=F", stdout=out)
    text = out.getvalue()
    assert "任务" in text or "养老" in text  # ensure_ascii=False: Chinese printed as is
    result = json.loads(text)
    assert set(result) >= {"mapping", "rows", "unmatched_units"}
    row = result["rows"][0]
    assert set(row) >= {"number", "task", "lead", "co_units", "deadline", "children"}
    assert set(row["lead"]) == {"matched", "unmatched"}
    assert row["children"][0]["number"] == "1.1"


def test_command_refuses_a_hostile_file_on_stderr(db, tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"MZ not a workbook")
    err = io.StringIO()
    with translation.override("en"), pytest.raises(SystemExit) as exit_info:
        call_command("import_tasktable", str(path), "--json", stderr=err)
    assert exit_info.value.code != 0
    assert err.getvalue().strip()


def test_command_user_must_exist(db, tmp_path):
    from django.core.management.base import CommandError

    path = tmp_path / "table.xlsx"
    path.write_bytes(_table(1))
    with pytest.raises(CommandError):
        call_command("import_tasktable", str(path), "--json", "--user", "nobody")
    make_user(Role.INSPECTOR, make_unit("市民政局", UnitKind.CITY_BUREAU), username="someone")
    out = io.StringIO()
    call_command("import_tasktable", str(path), "--json", "--user", "someone", stdout=out)
    assert json.loads(out.getvalue())["rows"][0]["lead"]["matched"] == []


def test_sections_and_headings_repeated_on_each_page(world):
    def build(sheet):
        sheet.append(["序号", "工作任务", "牵头单位", "完成时限"])
        sheet.append(["一、养老服务", None, None, None])
        sheet.merge_cells("A2:D2")
        sheet.append([1, "推进居家养老上门服务", "甲县民政局", "2026年底前"])
        sheet.append(["1.1", "完成适老化改造220户", "甲县民政局", "2026年9月底前"])
        sheet.append(["序号", "工作任务", "牵头单位", "完成时限"])
        sheet.append(["二、社会救助", None, None, None])
        sheet.append([1, "开展低保专项治理", "乙县民政局", "2026年第二季度"])
    result = read_task_table(xlsx(build), user=world.inspector)
    sections = result["rows"]
    assert [(s["number"], s["task"], s["section"]) for s in sections] == [("一", "养老服务", True), ("二", "社会救助", True)]
    assert [r["task"] for r in sections[0]["children"]] == ["推进居家养老上门服务"]
    assert [r["number"] for r in sections[0]["children"][0]["children"]] == ["1.1"]
    assert [(r["number"], r["lead"]["matched"]) for r in sections[1]["children"]] == [("1", [world.county_b.pk])]
    assert sections[0]["lead"] == {"matched": [], "unmatched": []} and result["unmatched_units"] == []
    assert result["sheet"] == "Sheet"


# ---- the lead and the co-units in one cell ----

@pytest.mark.parametrize("cell, roles", [
    ("市民政局牵头，市财政局、市卫健委配合", ("市民政局", "市财政局、市卫健委")),
    ("由市民政局牵头，各县（市、区）民政局配合落实", ("市民政局", "各县(市、区)民政局")),
    ("牵头单位：市民政局；配合单位：市财政局、市人社局", ("市民政局", "市财政局、市人社局")),
    ("牵头单位：市民政局\n配合单位：市财政局", ("市民政局", "市财政局")),
    ("主责单位：市民政局 协办单位：市财政局", ("市民政局", "市财政局")),
    ("市民政局为牵头单位，市财政局为配合单位", ("市民政局", "市财政局")),
    ("市民政局牵头负责，市财政局、市审计局按职责分工负责", ("市民政局", "市财政局、市审计局")),
    ("市委组织部、市民政局牵头，各区配合", ("市委组织部、市民政局", "各区")),
    ("甲县民政局（牵头）、乙县民政局、市财政局", ("甲县民政局", "乙县民政局、市财政局")),
    ("市民政局牵头", ("市民政局", "")),
    ("市民政局、市财政局", None), ("某某市民政局（牵头）", None), ("各县（市、区）政府（牵头）", None), ("", None),
])
def test_split_roles(cell, roles):
    assert split_roles(cell) == roles


@hsettings(max_examples=200, deadline=None)
@given(st.lists(names, min_size=1, max_size=3), st.lists(names, min_size=0, max_size=4),
       st.sampled_from(["{l}牵头，{c}配合", "由{l}牵头，{c}参与", "牵头单位：{l}；配合单位：{c}",
                        "牵头单位：{l}\n配合单位：{c}", "{l}为牵头单位，{c}为配合单位"]))
def test_a_lead_and_co_units_cell_loses_no_name(leads, cos, shape):
    cell = shape.format(l="、".join(leads), c="、".join(cos))
    lead, co = split_roles(cell)
    assert split_units(lead) == leads
    assert split_units(co) == cos


def test_one_cell_for_the_lead_and_co_units_is_split_in_the_preview(world):
    def build(sheet):
        sheet.append(["序号", "工作任务", "责任单位", "完成时限"])
        sheet.append([1, "推进养老服务", "市民政局牵头，甲县民政局、市卫健委配合", "十二月底前"])
        sheet.append([2, "规范低保", "牵头单位：乙县民政局；配合单位：甲县民政局", "二〇二六年三季度末"])
        sheet.append([3, "殡葬整治", "甲县民政局、乙县民政局", "2026年底前"])  # no note: all lead
    result = read_task_table(xlsx(build), user=world.inspector)
    first, second, third = result["rows"]
    assert first["lead"]["matched"] == [world.city.pk] and first["lead_text"] == "市民政局"
    assert first["co_units"]["matched"] == [world.county_a.pk]
    assert first["co_units"]["unmatched"] == [{"name": "市卫健委", "candidates": []}]  # still listed to resolve
    assert first["units_cell"] == "市民政局牵头，甲县民政局、市卫健委配合"
    assert [u["name"] for u in result["unmatched_units"]] == ["市卫健委"]
    assert (second["lead"]["matched"], second["co_units"]["matched"]) == ([world.county_b.pk], [world.county_a.pk])
    assert third["lead"]["matched"] == [world.county_a.pk, world.county_b.pk] and third["co_units"]["matched"] == []
    assert third["units_cell"] == ""
    assert second["deadline"]["date"] == "2026-09-30"


@pytest.mark.parametrize("where", ["heading", "title", "note"])
def test_the_first_unit_leads_only_when_the_table_says_so(world, where):
    heading = "责任单位（排在第一位的为牵头单位）" if where == "heading" else "责任单位"

    def build(sheet):
        sheet.append(["2026年重点任务分解表" + ("（责任单位中排名第一的为牵头单位）" if where == "title" else "")])
        sheet.append(["序号", "工作任务", heading, "完成时限"])
        sheet.append([1, "推进养老服务", "乙县民政局、市民政局、甲县民政局", "2026年6月底前"])
        if where == "note":
            sheet.append(["注：责任单位有多个的，排在第一位的为牵头单位。"])
    result = read_task_table(xlsx(build), user=world.inspector)
    assert len(result["rows"]) == 1  # the note is not a task
    row = result["rows"][0]
    assert row["lead"]["matched"] == [world.county_b.pk]
    assert row["co_units"]["matched"] == [world.city.pk, world.county_a.pk]


def test_the_first_unit_rule_never_applies_beside_a_co_unit_column(world):
    def build(sheet):
        sheet.append(["序号", "工作任务", "牵头单位", "配合单位"])
        sheet.append([1, "推进养老服务", "乙县民政局、市民政局", "甲县民政局"])
        sheet.append(["注：排在第一位的为牵头单位。"])
    row = read_task_table(xlsx(build), user=world.inspector)["rows"][0]
    assert row["lead"]["matched"] == [world.county_b.pk, world.city.pk]
    assert row["co_units"]["matched"] == [world.county_a.pk]


def test_rows_numbered_in_chinese_hold_the_rows_numbered_in_arabic_below_them(world):
    def build(sheet):
        sheet.append(["序号", "工作任务", "牵头单位", "完成时限"])
        sheet.append(["一", "养老服务", None, None])
        sheet.append([1, "推进居家养老", "甲县民政局", "2026年6月底前"])
        sheet.append(["（1）", "新建助餐点", "甲县民政局", "2026年3月底前"])
        sheet.append([2, "强化机构养老", "乙县民政局", "2026年底前"])
        sheet.append(["二", "社会救助", "市民政局", None])
        sheet.append([1, "规范低保", "乙县民政局", "三季度末"])
    rows = read_task_table(xlsx(build), user=world.inspector)["rows"]

    def outline(rows):
        return [(r["number"], r["task"], outline(r["children"])) for r in rows]

    assert outline(rows) == [
        ("一", "养老服务", [("1", "推进居家养老", [("(1)", "新建助餐点", [])]), ("2", "强化机构养老", [])]),
        ("二", "社会救助", [("1", "规范低保", [])])]


def test_other_bureaus_headings_and_people_columns(world):
    def build(sheet):
        sheet.append(["序号", "工作措施", "牵头领导", "责任处室", "配合处室", "截止时间", "预期成果"])
        sheet.append([1, "推进居家养老", "张三", "甲县民政局", "乙县民政局", "二〇二六年六月底前", "建成助餐点五个"])
    result = read_task_table(xlsx(build), user=world.inspector)
    assert {f: m["column"] for f, m in result["mapping"].items()} == {
        "number": "A", "task": "B", "lead": "D", "co_units": "E", "deadline": "F", "target": "G"}
    row = result["rows"][0]
    assert (row["lead"]["matched"], row["co_units"]["matched"]) == ([world.county_a.pk], [world.county_b.pk])
    assert row["deadline"]["date"] == "2026-06-30"
