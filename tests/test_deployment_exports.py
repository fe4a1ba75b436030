"""督办事项's downloads: the task table (Excel and PDF, before and after dispatch), the progress
report (Word and PDF, per week or month; any other period refused), who may download them,
their queries not growing with the items, and the completion report archived on closing."""
import io
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.db import connection
from django.template.loader import get_template
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from docx import Document as WordDocument
from docx.oxml.ns import qn
from openpyxl import load_workbook

from processes.deployment import exports, services
from processes.deployment.models import ItemCase, MatterCase, PlanItem
from processes.deployment.intake.readers import int_to_cn
from tests.deployment_helpers import act, deadline, register_plan
from workflow.documents import archive
from workflow.kernel import unit_settings
from workflow.models import ArchivedDocument, AuditEvent

DOCS = ("task_table_xlsx", "task_table_pdf", "progress_docx", "progress_pdf")


def _client(user):
    client = Client(REMOTE_ADDR="10.0.0.9")
    client.force_login(user)
    return client


def _get(user, name, matter, **query):
    return _client(user).get(reverse(f"matter:{name}", args=[matter.pk]), query)


def _pdftotext(pdf_bytes, tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf_bytes)
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return "".join(out.split())  # CJK lines wrap anywhere


@pytest.fixture
def plan(world):
    return register_plan(world)


def _item(plan, title):
    return plan.plan_items.get(title=title)


@pytest.fixture
def dispatched(world, plan):
    """低保 to both counties; 社区食堂 to 甲县 with 乙县 as co-unit; 甲县 has reported progress."""
    inspector = world.actor("inspector")
    low, canteen = _item(plan, "提高低保标准"), _item(plan, "建设社区食堂")
    services.update_item(plan.pk, low.pk, actor=inspector, title=low.title, text=low.text, deadline=deadline(60),
                         target="5%", cadence="monthly", units=[world.county_a, world.county_b], co_units=[])
    services.update_item(plan.pk, canteen.pk, actor=inspector, title=canteen.title, text=canteen.text,
                         deadline=deadline(90), target="20个", cadence="quarterly", units=[world.county_a],
                         co_units=[world.county_b])
    act(world, "inspector", plan, "dispatch", model=MatterCase)
    cases = ItemCase.objects.filter(parent=plan)
    act(world, "handler_a", cases.get(plan_item=canteen), "sign")
    act(world, "handler_a", cases.get(plan_item=canteen), "report_progress", reason="已完成选址12处", percent=60)
    act(world, "handler_b", cases.get(plan_item=canteen), "contribute", reason="配合选址", percent=40)
    a_low = cases.get(plan_item=low, unit=world.county_a)
    act(world, "handler_a", a_low, "sign")
    act(world, "handler_a", a_low, "submit", reason="全县已提标")
    act(world, "inspector", a_low, "verify")
    plan.refresh_from_db()
    return plan


# Task table ------------------------------------------------------------------------------------

def test_task_table_xlsx_lays_out_the_tree_with_units_and_progress(world, dispatched):
    response = _get(world.inspector, "task_table_xlsx", dispatched)
    assert response.status_code == 200
    assert response["Content-Type"] == exports.XLSX_TYPE
    assert "attachment;" in response["Content-Disposition"] and ".xlsx" in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert sheet["A1"].value == "2026年工作要点任务分解表"
    merged = {str(r) for r in sheet.merged_cells.ranges}
    assert {"A1:F1", "A2:F2"} <= merged
    assert dispatched.doc_number in sheet["A2"].value
    assert [sheet.cell(row=3, column=c).value for c in range(1, 7)] == list(exports.HEADERS)
    assert all(sheet.cell(row=3, column=c).font.b and sheet.cell(row=3, column=c).border.left.style == "thin"
               for c in range(1, 7))
    rows = {sheet.cell(row=r, column=2).value: [sheet.cell(row=r, column=c).value for c in range(1, 7)]
            for r in range(4, sheet.max_row + 1)}
    assert rows["兜牢民生底线"][0] == "一、"
    section_row = next(r for r in range(4, sheet.max_row + 1) if sheet.cell(row=r, column=2).value == "兜牢民生底线")
    assert f"B{section_row}:F{section_row}" in merged   # a heading runs across the row
    low = rows["提高低保标准。年底前城乡低保标准提高5%。"]
    assert low[0] == "（一）" and low[2] == "甲县民政局、乙县民政局" and low[4].endswith("日")
    assert low[5].startswith("2个单位：已完成1，办理中1")
    canteen = rows["建设社区食堂。到2026年底建成20个。"]
    assert canteen[2] == "甲县民政局" and canteen[3] == "乙县民政局"
    assert canteen[5].startswith("办理中，进度60%") and "已完成选址12处" in canteen[5]
    assert rows["建立台账"][0] == "一是" and rows["建立台账"][5] == "未分办"   # kept as a point, not dispatched
    assert sheet.cell(row=section_row + 1, column=2).alignment.wrap_text
    assert sheet.freeze_panes == "A4" and sheet.print_title_rows == "$3:$3"
    assert sheet.page_setup.orientation == "landscape" and int(sheet.page_setup.paperSize) == 9
    assert sheet.page_setup.fitToWidth == 1 and sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["A"].width


def test_task_table_before_dispatch_shows_the_planned_units(world, plan):
    low = _item(plan, "提高低保标准")
    services.update_item(plan.pk, low.pk, actor=world.actor("inspector"), title=low.title, text=low.text,
                         deadline=deadline(30), target="", cadence="monthly", units=[world.county_b],
                         co_units=[world.county_a])
    context = exports.table_context(plan)
    row = next(row for row in context["rows"] if row.title == "提高低保标准")
    assert (row.lead, row.co, row.progress, row.shares) == ("乙县民政局", "甲县民政局", "未分办", [])
    assert [r.number for r in context["rows"]][:2] == ["一、", "（一）"]
    assert next(r for r in context["rows"] if r.title == "兜牢民生底线").section


def test_an_empty_matter_and_formula_like_text_download_safely(world):
    (matter,) = services.register(actor=world.actor("inspector"), kind="instruction", title="=HYPERLINK(\"x\")",
                                  origin="王局长", description="")
    for name in DOCS:
        assert _get(world.inspector, name, matter).status_code == 200
    services.add_item(matter.pk, actor=world.actor("inspector"), title="=1+1", text="=1+1")
    sheet = load_workbook(io.BytesIO(_get(world.inspector, "task_table_xlsx", matter).content)).active
    assert sheet["A1"].data_type == "s" and sheet["B4"].value == "=1+1" and sheet["B4"].data_type == "s"


def test_every_item_state_has_its_words():
    from processes.deployment.declaration import Item

    assert set(exports.STATE_TEXT) == {state.name for state in Item.states}


def test_an_item_without_a_number_is_numbered_by_its_place():
    items = [PlanItem(level=1, number=""), PlanItem(level=2, number=""), PlanItem(level=2, number=""),
             PlanItem(level=3, number=""), PlanItem(level=1, number="")]
    assert exports.numbers_of(items) == ["一、", "（一）", "（二）", "1.", "二、"]
    assert int_to_cn(12) == "十二" and int_to_cn(40) == "四十"


def test_task_table_pdf_is_the_numbered_document(world, dispatched, tmp_path):
    response = _get(world.leader, "task_table_pdf", dispatched)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    text = _pdftotext(response.content, tmp_path)
    for words in (dispatched.doc_number, "2026年工作要点任务分解表", "提高低保标准", "建设社区食堂", "甲县民政局",
                  "2个单位：已完成1", "牵头单位", "配合单位"):
        assert words in text
    kind = services.document_kind("plan")
    assert unit_settings.document_template(world.city, kind) == exports.TASK_TABLE_TEMPLATE
    get_template(exports.TASK_TABLE_TEMPLATE)


# Progress report -------------------------------------------------------------------------------

def test_progress_docx_has_headings_summary_table_and_east_asian_fonts(world, dispatched):
    response = _get(world.inspector, "progress_docx", dispatched)
    assert response.status_code == 200 and response["Content-Type"] == exports.DOCX_TYPE
    assert "%E6%9C%88%E6%8A%A5" in response["Content-Disposition"]  # 月报, the default period
    document = WordDocument(io.BytesIO(response.content))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "2026年工作要点落实情况督办月报"
    assert document.paragraphs[0].style.name == "Title"
    headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
    assert headings == ["一、总体情况", "二、任务推进情况", "三、本期报送情况", "四、进度滞后的单位", "五、下一步工作"]
    summary = next(t for t in texts if t.startswith("本事项"))
    assert "2项工作分办至2个单位，共3项任务，已完成1项（33%）" in summary and "逾期0项" in summary
    assert "红灯" in summary and "黄灯" in summary
    assert any("共收到各单位报送" in t for t in texts) and any("已完成选址12处" in t for t in texts)
    (table,) = document.tables
    assert [c.text for c in table.rows[0].cells] == ["序号", "任务", "牵头单位", "完成时限", "进展", "状态/灯"]
    cells = [[c.text for c in row.cells] for row in table.rows]
    assert any(row[1] == "提高低保标准" and row[2] == "甲县民政局、乙县民政局"
               for row in cells)
    normal = document.styles["Normal"].element.rPr.rFonts
    assert normal.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert document.styles["Title"].element.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋简体"
    assert document.styles["Heading 1"].element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"
    assert document.sections[0].page_width.mm == pytest.approx(210, abs=0.1)


def test_progress_week_counts_only_the_last_seven_days(world, dispatched):
    from processes.deployment.models import ItemReport

    ItemReport.objects.filter(case__root_id=dispatched.pk).update(created_at=timezone.now() - timedelta(days=8))
    context = exports.progress_context(dispatched, "week")
    assert context["report_count"] == 0 and context["kind"] == "周报"
    month = exports.progress_context(dispatched, "month", today=timezone.localdate())
    assert month["kind"] == "月报"
    response = _get(world.inspector, "progress_docx", dispatched, period="week")
    texts = [p.text for p in WordDocument(io.BytesIO(response.content)).paragraphs]
    assert texts[0].endswith("督办周报") and any("未收到进展报告" in t for t in texts)


def test_progress_pdf_says_the_same(world, dispatched, tmp_path):
    response = _get(world.inspector, "progress_pdf", dispatched, period="month")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    text = _pdftotext(response.content, tmp_path)
    for words in ("督办月报", "一、总体情况", "共3项任务，已完成1项（33%）", "提高低保标准", "建设社区食堂", "甲县民政局",
                  "已完成选址12处", "五、下一步工作", "状态/灯"):
        assert words in text


@pytest.mark.parametrize("name", ["progress_docx", "progress_pdf"])
@pytest.mark.parametrize("period", ["year", "x" * 500, "周"])
def test_a_period_other_than_week_or_month_is_refused(world, plan, name, period):
    response = _get(world.inspector, name, plan, period=period)
    assert response.status_code == 400
    assert b"week" in response.content or "周".encode() in response.content


# Who may download ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DOCS)
def test_someone_who_does_not_see_the_matter_gets_404(world, dispatched, name):
    response = _get(world.handler_a, name, dispatched)   # a county sees its items, not the city's matter
    assert response.status_code == 404
    assert AuditEvent.objects.filter(action="access_denied", data__target="case").exists()
    assert _client(world.inspector).get(reverse(f"matter:{name}", args=[dispatched.pk + 10_000])).status_code == 404


# Queries ---------------------------------------------------------------------------------------

def _matter_with(world, n: int) -> MatterCase:
    """A matter of `n` items, each dispatched to a county, with co-units and reports."""
    inspector = world.actor("inspector")
    (matter,) = services.register(actor=inspector, kind="plan", title=f"{n}项任务", description="")
    PlanItem.objects.bulk_create([PlanItem(matter=matter, position=i, level=1, number="", title=f"任务{i}",
                                           text=f"任务{i}。具体要求{i}。", deadline=deadline(30 + i))
                                  for i in range(1, n + 1)])
    for i, item in enumerate(matter.plan_items.all()):
        item.units.set([world.county_a] if i % 2 else [world.county_a, world.county_b])
        item.co_units.set([world.county_b] if i % 2 else [])
    act(world, "inspector", matter, "dispatch", model=MatterCase)
    for case in ItemCase.objects.filter(parent=matter, unit=world.county_a)[:3]:
        act(world, "handler_a", case, "sign")
        act(world, "handler_a", case, "report_progress", reason="推进中", percent=30)
    return matter


def test_queries_do_not_grow_with_the_items(world):
    small, large = _matter_with(world, 5), _matter_with(world, 50)
    client = _client(world.inspector)
    for name in DOCS:
        client.get(reverse(f"matter:{name}", args=[small.pk]))   # the unit settings' cache filled
        counts = []
        for matter in (small, large):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(reverse(f"matter:{name}", args=[matter.pk]))
            assert response.status_code == 200
            counts.append(len(queries))
        assert counts[0] == counts[1], (name, counts)
    rows = exports.table_context(large)["rows"]
    assert len(rows) == 50 and rows[0].number == "一、" and rows[-1].number == "五十、"


# Completion report -----------------------------------------------------------------------------

def test_completion_report_is_archived_when_the_matter_closes(world, plan, tmp_path):
    from processes.deployment.documents import completion_context

    low = _item(plan, "提高低保标准")
    services.update_item(plan.pk, low.pk, actor=world.actor("inspector"), title=low.title, text=low.text,
                         deadline=deadline(20), target="5%", cadence="monthly", units=[world.county_a], co_units=[])
    act(world, "inspector", plan, "dispatch", model=MatterCase)
    case = ItemCase.objects.get(parent=plan)
    act(world, "handler_a", case, "sign")
    act(world, "handler_a", case, "submit", reason="全县低保标准已提高5%")
    act(world, "inspector", case, "verify")
    act(world, "inspector", plan, "report", model=MatterCase, completion_report="各项任务均已完成。\n群众满意度明显提升。")
    act(world, "leader", plan, "read_report", model=MatterCase, reason="阅。请总结经验。")
    assert archive.archive_pending() == 1
    document = ArchivedDocument.objects.get(case_id=plan.pk, name="completion_report")
    assert document.rendered_at is not None and len(document.sha256) == 64 and document.size > 0
    closed = MatterCase.objects.select_related("unit", "supervisor_unit", "created_by").get(pk=plan.pk)
    context = completion_context(closed)
    assert [t["row"].title for t in context["tasks"]] == ["兜牢民生底线", "提高低保标准"]
    assert context["tasks"][1]["results"][0]["result"] == "全县低保标准已提高5%"
    from workflow.documents.pdf import render_pdf

    text = _pdftotext(render_pdf("pdf/deployment_completion.html", context), tmp_path)
    for words in ("2026年工作要点办结报告", plan.doc_number, "工作计划", "各项任务均已完成。", "群众满意度明显提升。",
                  "甲县民政局", "全县低保标准", "按期办结", "三、领导阅示", "阅。请总结经验。"):
        assert words in text


def test_a_user_of_the_office_who_does_not_supervise_may_not_download(world, client):
    """The downloads name every unit's progress: a handler of the office's own unit sees the
    matter, but not its tables and reports."""
    from tests.factories import make_user
    from workflow.models import Role

    (matter,) = services.register(actor=world.actor("inspector"), kind="plan", title="计划", description="一、甲")
    clerk = make_user(Role.HANDLER, world.city)
    client.force_login(clerk)
    assert client.get(reverse("matter:detail", args=[matter.pk])).status_code == 200
    for name in ("task_table_xlsx", "task_table_pdf", "progress_docx", "progress_pdf"):
        assert client.get(reverse(f"matter:{name}", args=[matter.pk])).status_code == 403, name


# Many units in a row ---------------------------------------------------------------------------

def test_a_row_names_its_first_units_and_counts_the_rest(world, plan, tmp_path):
    """An item sent to many units stays one row: its first UNITS_LISTED units named, then 等N个单位,
    in every format; the units that did not report are counted the same way."""
    from tests.factories import make_unit

    many = [make_unit(f"第{i:02d}街道办事处", parent=world.county_a) for i in range(exports.UNITS_LISTED + 5)]
    low = _item(plan, "提高低保标准")
    services.update_item(plan.pk, low.pk, actor=world.actor("inspector"), title=low.title, text=low.text,
                         deadline=deadline(60), target="5%", cadence="monthly", units=many, co_units=[world.county_b])
    (row,) = [row for row in exports.build_table(plan).rows if row.title == "提高低保标准"]
    assert len(row.leads) == exports.UNITS_LISTED and row.lead_count == len(many)
    assert row.lead.endswith(f"第{exports.UNITS_LISTED - 1:02d}街道办事处等{len(many)}个单位")
    assert row.co == "乙县民政局" and not row.more_cos   # one: named
    act(world, "inspector", plan, "dispatch", model=MatterCase)
    (row,) = [row for row in exports.build_table(plan).rows if row.title == "提高低保标准"]
    assert row.lead_count == len(many) and len(row.leads) == exports.UNITS_LISTED and row.more_leads
    assert row.progress.startswith(f"{len(many)}个单位")
    sheet = load_workbook(io.BytesIO(_get(world.inspector, "task_table_xlsx", plan).content)).active
    leads = [sheet.cell(r, 3).value for r in range(4, sheet.max_row + 1)]
    assert f"第{exports.UNITS_LISTED:02d}街道办事处" not in "".join(v or "" for v in leads)
    assert any((v or "").endswith(f"等{len(many)}个单位") for v in leads)
    text = _pdftotext(_get(world.inspector, "task_table_pdf", plan).content, tmp_path)
    assert f"等{len(many)}个单位" in text and f"第{exports.UNITS_LISTED:02d}街道办事处" not in text
    context = exports.progress_context(plan, "month")
    assert context["silent"] == ""   # issued, not yet signed: owes no report
    ItemCase.objects.filter(parent=plan).update(status="working")
    silent = exports.progress_context(plan, "month")["silent"]
    assert silent.endswith(f"等{len(many)}个单位") and silent.count("、") == exports.UNITS_LISTED - 1
    text = _pdftotext(_get(world.inspector, "progress_pdf", plan).content, tmp_path)
    assert f"等{len(many)}个单位" in text


# A large matter: built by the worker -----------------------------------------------------------

def _large(settings):
    """Every matter counts as large: its downloads are built by the worker (eager in tests)."""
    settings.DEPLOYMENT_EXPORT_INLINE_MAX = 0


@pytest.mark.parametrize("name", DOCS)
def test_a_large_matter_is_built_once_in_the_background_then_handed_out(world, dispatched, settings, name,
                                                                         django_capture_on_commit_callbacks):
    from processes.deployment.export_files import ExportFile

    _large(settings)
    client = _client(world.inspector)
    url = reverse(f"matter:{name}", args=[dispatched.pk])
    query = {"period": "week"} if name.startswith("progress") else {}
    with django_capture_on_commit_callbacks() as queued:
        waiting = client.get(url, query)
    assert waiting.status_code == 202 and len(queued) == 1
    assert "attachment" not in waiting.get("Content-Disposition", "")
    assert waiting["Refresh"].startswith(f"{exports.PENDING_REFRESH}; url={url}?") and "ready=1" in waiting["Refresh"]
    with django_capture_on_commit_callbacks() as again:
        assert client.get(url, {**query, "ready": "1"}).status_code == 202   # still rendering
        assert client.get(url, query).status_code == 202
    assert again == []   # the same request while it renders queues nothing more
    export = ExportFile.objects.get()
    assert (export.kind, export.period, export.day) == (name, query.get("period", ""), timezone.localdate())
    assert export.rendered_at is None
    for callback in queued:
        callback()   # the queued task, run by Celery (eager in tests)
    export.refresh_from_db()
    assert export.rendered_at is not None and export.size > 0 and export.stored_name.endswith(DOWNLOADS_EXT[name])
    offered = client.get(url, {**query, "ready": "1"})
    assert offered.status_code == 200 and "Refresh" not in offered
    download = f'href="{url}?period=week"' if query else f'href="{url}"'
    assert download in offered.content.decode()
    with django_capture_on_commit_callbacks() as after:
        response = client.get(url, query)
    assert after == [] and response.status_code == 200
    data = b"".join(response.streaming_content)
    assert len(data) == export.size and response["Content-Type"] == exports.DOWNLOADS[name].content_type
    inline = _client(world.inspector)
    settings.DEPLOYMENT_EXPORT_INLINE_MAX = 10_000
    small = inline.get(url, query)
    assert small["Content-Disposition"] == response["Content-Disposition"]   # the same file name
    assert ExportFile.objects.count() == 1


DOWNLOADS_EXT = {name: "." + exports.DOWNLOADS[name].ext for name in DOCS}


def test_a_large_download_is_kept_per_period_and_its_content_is_the_document(world, dispatched, settings, tmp_path,
                                                                             django_capture_on_commit_callbacks):
    from processes.deployment.export_files import ExportFile

    _large(settings)
    client = _client(world.inspector)
    url = reverse("matter:progress_pdf", args=[dispatched.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client.get(url, {"period": "week"})
        client.get(url)   # the month, the default
    assert sorted(ExportFile.objects.values_list("period", flat=True)) == ["month", "week"]
    text = _pdftotext(b"".join(client.get(url, {"period": "week"}).streaming_content), tmp_path)
    assert "督办周报" in text and "甲县民政局" in text and "已完成选址12处" in text
    assert client.get(url, {"period": "year"}).status_code == 400
    table = client.get(reverse("matter:task_table_xlsx", args=[dispatched.pk]), {"period": "year"})
    assert table.status_code == 202   # the task table has no period: ignored, as in the request
    assert ExportFile.objects.count() == 3


def test_a_large_download_that_failed_or_was_lost_is_queued_again(world, dispatched, settings, monkeypatch,
                                                                   django_capture_on_commit_callbacks):
    from processes.deployment import export_files
    from processes.deployment.export_files import ExportFile

    _large(settings)
    client = _client(world.inspector)
    url = reverse("matter:task_table_pdf", args=[dispatched.pk])

    def broken(*args, **kwargs):
        raise RuntimeError("fonts missing")

    monkeypatch.setattr(exports, "build", broken)
    for attempt in range(1, export_files.MAX_ATTEMPTS + 1):
        with django_capture_on_commit_callbacks(execute=True) as queued:
            assert client.get(url).status_code == 202
        assert len(queued) == 1
        export = ExportFile.objects.get()
        assert export.attempts == attempt and "fonts missing" in export.last_error and export.queued_at is None
    with django_capture_on_commit_callbacks() as queued:
        failed = client.get(url)
    assert queued == [] and failed.status_code == 200 and "Refresh" not in failed
    assert 'role="alert"' in failed.content.decode()
    monkeypatch.undo()
    # A message the broker lost: the row waits, queued long ago; the next request queues it once.
    ExportFile.objects.all().delete()
    with django_capture_on_commit_callbacks():
        client.get(url)
    ExportFile.objects.update(queued_at=timezone.now() - export_files.STALE_AFTER - timedelta(seconds=1))
    with django_capture_on_commit_callbacks() as queued:
        client.get(url)
        client.get(url)
    assert len(queued) == 1
    queued[0]()
    assert ExportFile.objects.get().rendered_at is not None


def test_a_large_download_is_for_those_who_supervise(world, dispatched, settings):
    from processes.deployment.export_files import ExportFile
    from tests.factories import make_user
    from workflow.models import Role

    _large(settings)
    clerk = make_user(Role.HANDLER, world.city)
    for name in DOCS:
        assert _get(clerk, name, dispatched).status_code == 403
        assert _get(world.handler_a, name, dispatched).status_code == 404
    assert not ExportFile.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")
def test_a_large_download_is_built_by_a_real_worker(world, dispatched, settings, tmp_path):
    """The path as deployed: the request publishes to a broker, a `celery worker` process builds
    the file into the shared document store, and the next requests hand it out."""
    if connection.vendor != "postgresql":
        pytest.skip("a worker process cannot see SQLite's in-memory test database")
    from processes.deployment.export_files import ExportFile
    from processes.deployment.tasks import render_export
    from tests.worker_support import CeleryWorker, RedisServer, celery_app_on, database_url, wait_until, worker_env

    _large(settings)
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis").start()
    worker = None
    try:
        with celery_app_on(redis.url(), {"visibility_timeout": 60}):
            worker = CeleryWorker("exports", tmp_path / "worker.log", worker_env(
                broker_url=redis.url(), database_url=database_url(connection.settings_dict), visibility_timeout=60,
                DUBAN_DOCUMENT_ROOT=settings.DOCUMENT_ROOT), concurrency=1).start()
            client = _client(world.inspector)
            url = reverse("matter:progress_docx", args=[dispatched.pk])
            assert client.get(url, {"period": "week"}).status_code == 202
            assert client.get(url, {"period": "week", "ready": "1"}).status_code in (200, 202)
            wait_until(lambda: ExportFile.objects.filter(rendered_at__isnull=False).exists(), 120,
                       message=f"the worker built the file:\n{worker.log()[-3000:]}")
            response = client.get(url, {"period": "week"})
            assert response.status_code == 200
            document = WordDocument(io.BytesIO(b"".join(response.streaming_content)))
            assert any("督办周报" in p.text for p in document.paragraphs)
            assert worker.received(render_export.name) == 1 and worker.failures() == []
    finally:
        if worker is not None:
            worker.stop()
        redis.stop()


def test_a_large_download_gone_from_the_store_is_built_again_and_older_days_are_dropped(
        world, dispatched, settings, django_capture_on_commit_callbacks):
    from processes.deployment.export_files import ExportFile
    from workflow.storage.files import document_storage

    _large(settings)
    client = _client(world.inspector)
    url = reverse("matter:task_table_xlsx", args=[dispatched.pk])
    with django_capture_on_commit_callbacks(execute=True):
        client.get(url)
    export = ExportFile.objects.get()
    storage = document_storage()
    storage.delete(export.stored_name)   # a backup restored: the row is there, the file is not
    with django_capture_on_commit_callbacks() as queued:
        again = client.get(url)
    assert again.status_code == 202 and len(queued) == 1
    export.refresh_from_db()
    assert export.rendered_at is None and export.stored_name == ""
    queued[0]()
    export.refresh_from_db()
    assert storage.exists(export.stored_name)
    assert load_workbook(io.BytesIO(b"".join(client.get(url).streaming_content))).active["A1"].value
    # Yesterday's file of the same download goes once today's is built; other periods stay.
    ExportFile.objects.filter(pk=export.pk).update(day=timezone.localdate() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        client.get(url)
        client.get(reverse("matter:progress_docx", args=[dispatched.pk]))
    assert not storage.exists(export.stored_name) and not ExportFile.objects.filter(pk=export.pk).exists()
    assert sorted(ExportFile.objects.values_list("kind", flat=True)) == ["progress_docx", "task_table_xlsx"]
