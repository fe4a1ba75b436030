"""The Excel ledger (整改台账) and the bulletin (情况通报) built from the filtered case list."""
import datetime
import io
import shutil
import subprocess
from urllib.parse import quote

import pytest
from django.test import Client
from django.utils import timezone
from openpyxl import load_workbook

from processes.rectification import exports
from processes.rectification.declaration import Rectification
from workflow.web import ledger
from processes.rectification.models import RectificationCase
from tests.factories import drive, make_case, to_submitted
from workflow.models import AuditEvent

EXPORT_URL = "/rectification/export.xlsx"
BULLETIN_URL = "/rectification/bulletin.pdf"


def _client(user):
    client = Client(REMOTE_ADDR="10.0.0.9")
    client.force_login(user)
    return client


def _sheet_rows(response):
    book = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    width = len(Rectification.ledger.columns)  # a write-only sheet has no <dimension>: pad trailing blanks
    return [tuple(row) + (None,) * (width - len(row)) for row in book.active.iter_rows(values_only=True)]


def _pdftotext(pdf_bytes, tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    path = tmp_path / "bulletin.pdf"
    path.write_bytes(pdf_bytes)
    out = subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout
    return "".join(out.split())  # CJK lines wrap anywhere


@pytest.fixture
def cases(world):
    return {
        "a1": make_case(world, title="消防通道堵塞"),
        "a2": make_case(world, title="食品留样不全", source="audit"),
        "b1": make_case(world, unit=world.county_b, title="台账缺失"),
    }


# Ledger ----------------------------------------------------------------------------------------

def test_export__county_handler__gets_only_their_units_cases(world, cases):
    # when
    response = _client(world.handler_a).get(EXPORT_URL)
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == ledger.XLSX_TYPE
    assert response["X-Content-Type-Options"] == "nosniff"
    today = timezone.localdate()
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"filename*=UTF-8''{quote(f'整改台账-{today:%Y%m%d}.xlsx', safe='')}" in response["Content-Disposition"]
    header, *rows = _sheet_rows(response)
    assert header == tuple(column.header for column in Rectification.ledger.columns)
    assert sorted(row[0] for row in rows) == sorted([cases["a1"].number, cases["a2"].number])
    assert {row[2] for row in rows} == {"甲县民政局"}
    row = next(r for r in rows if r[0] == cases["a1"].number)
    number, title, unit, source, state, issued, deadline, overdue, returns, rung, closed = row
    assert (title, source, state, overdue, returns, rung, closed) == ("消防通道堵塞", "督查检查", "已交办", "否", 0, "无", None)
    assert isinstance(issued, datetime.datetime) and issued.date() == today  # a real Excel date
    assert deadline.date() == cases["a1"].deadline


def test_export__filters__are_the_case_lists(world, cases):
    # when: the inspector sees both counties but filters on one, and on the source
    rows = _sheet_rows(_client(world.inspector).get(EXPORT_URL, {"unit": world.county_a.pk, "source": "audit"}))[1:]
    # then
    assert [row[0] for row in rows] == [cases["a2"].number]
    event = AuditEvent.objects.get(action="export_ledger")
    assert (event.actor_id, event.ip) == (world.inspector.pk, "10.0.0.9")
    assert event.data == {"filters": {"unit": world.county_a.pk, "source": "audit"}, "rows": 1}


def test_export__unit_the_user_may_not_see__is_404_and_audited(world, cases):
    # when
    response = _client(world.handler_a).get(EXPORT_URL, {"unit": world.county_b.pk})
    # then
    assert response.status_code == 404
    event = AuditEvent.objects.get(action="access_denied")
    assert event.data == {"target": "unit-filter", "id": str(world.county_b.pk)}
    assert not AuditEvent.objects.filter(action="export_ledger").exists()


def test_write_ledger__3000_rows__opens_with_3001_rows(tmp_path):
    # given
    day = datetime.date(2026, 11, 2)
    rows = ((f"整改〔2026〕{i}号", f"事项{i}", "甲县民政局", "督查检查", "整改中", day, day, "否", 0, "无", None)
            for i in range(3000))
    path = tmp_path / "ledger.xlsx"
    # when
    with open(path, "wb") as fileobj:
        count = ledger.write_ledger(Rectification.ledger, rows, fileobj)
    # then
    assert count == 3000
    book = load_workbook(path, read_only=True)
    sheet_rows = list(book.active.iter_rows(values_only=True))
    assert len(sheet_rows) == 3001
    assert sheet_rows[1][0] == "整改〔2026〕0号" and sheet_rows[-1][1] == "事项2999"


def test_write_ledger__header_frozen_and_bold__user_text_never_a_formula(tmp_path):
    # given
    rows = [("N1", "=HYPERLINK(\"http://x\",\"点我\")", "单位\x07", "督查检查", "整改中", None, None, "否", 0, "无", None)]
    path = tmp_path / "ledger.xlsx"
    # when
    with open(path, "wb") as fileobj:
        ledger.write_ledger(Rectification.ledger, rows, fileobj)
    # then
    sheet = load_workbook(path).active
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].font.b and sheet["A1"].value == "编号"
    assert sheet["B2"].data_type == "s" and sheet["B2"].value.startswith("=HYPERLINK")
    assert sheet["C2"].value == "单位"


# Bulletin --------------------------------------------------------------------------------------

def test_bulletin__leader__is_a_pdf_with_title_and_cases(world, cases, tmp_path):
    # when
    response = _client(world.leader).get(BULLETIN_URL)
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = _pdftotext(response.content, tmp_path)
    for fragment in ("关于整改督办事项办理情况的通报", "市民政局", cases["a1"].number, cases["b1"].number,
                     "共有整改督办事项3件", "序号", "下一步要求", "—1—"):
        assert fragment in text, fragment
    assert AuditEvent.objects.get(action="bulletin").data == {"filters": {}, "rows": 3}


def test_bulletin__handler__is_403(world, cases):
    assert _client(world.handler_a).get(BULLETIN_URL).status_code == 403
    assert _client(world.head_a).get(BULLETIN_URL).status_code == 403


def test_bulletin_context__figures(world):
    # given: one closed on time, one overdue, one open, one draft (never issued: left out)
    closed = to_submitted(world, make_case(world, title="已办结"))
    drive(world, closed, ("inspector", "start_review"), ("inspector", "accept"), ("leader", "sign_off"))
    late = make_case(world, unit=world.county_b, title="逾期事项")
    today = timezone.localdate()
    RectificationCase.objects.filter(pk=late.pk).update(deadline=today - datetime.timedelta(days=3))
    make_case(world, title="正常办理")
    make_case(world, title="草稿", issue=False)
    cases = RectificationCase.objects.visible_to(world.leader).order_by("pk")
    # when
    context = exports.bulletin_context(world.leader, cases, today=today)
    # then
    figures = {k: context[k] for k in ("total", "closed", "open", "overdue", "on_time", "on_time_rate")}
    assert figures == {"total": 3, "closed": 1, "open": 2, "overdue": 1, "on_time": 1, "on_time_rate": "100.0%"}
    assert context["overdue_units"] == [("乙县民政局", 1)]
    assert [row["title"] for row in context["rows"]] == ["已办结", "逾期事项", "正常办理"]
    assert context["rows"][0]["status"] == "已销号"
