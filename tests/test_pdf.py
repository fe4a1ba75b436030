"""The 整改通知书 PDF: real rendering through WeasyPrint, checked with poppler-utils."""
import shutil
import subprocess
from urllib.parse import quote

import pytest
from django.http import Http404
from django.test import RequestFactory

from processes.rectification import views_pdf
from tests.factories import make_case
from workflow.models import AuditEvent
from workflow.documents.pdf import pdf_response


def _get(user, pk):
    request = RequestFactory().get(f"/rectification/{pk}/notice.pdf", REMOTE_ADDR="10.0.0.7")
    request.user = user
    return views_pdf.notice_pdf(request, pk)


def _poppler(tool, pdf_bytes, tmp_path, *args):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} (poppler-utils) is not installed")
    path = tmp_path / "notice.pdf"
    path.write_bytes(pdf_bytes)
    return subprocess.run([tool, *args, str(path), "-"] if tool == "pdftotext" else [tool, str(path)],
                          check=True, capture_output=True, text=True).stdout


@pytest.fixture
def issued(world):
    unit = world.county_a
    unit.credit_code, unit.head_name, unit.address = "12330100MB0000000X", "张三", "甲县人民路1号"
    unit.save()
    return make_case(world, basis="《养老机构管理办法》第三十二条",
                     description="二楼消防通道堆放杂物\n部分灭火器已过有效期")


def test_notice_pdf__issued_case__renders_the_notice(world, issued, tmp_path):
    # when
    response = _get(world.handler_a, issued.pk)
    # then
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    expected_name = quote(f"整改通知书-{issued.number}.pdf", safe="")
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"filename*=UTF-8''{expected_name}" in response["Content-Disposition"]
    text = "".join(_poppler("pdftotext", pdf, tmp_path).split())  # CJK lines wrap anywhere
    deadline = f"{issued.deadline.year}年{issued.deadline.month}月{issued.deadline.day}日"
    for fragment in ("市民政局整改通知书", issued.number, "甲县民政局：", "12330100MB0000000X", "张三",
                     "1.二楼消防通道堆放杂物", "2.部分灭火器已过有效期", "立即清理并建立巡查制度",
                     f"请你单位于{deadline}前完成整改", world.inspector.full_name, "约谈", "通报",
                     "送达回证", "—1—"):
        assert fragment in text, fragment


def test_notice_pdf__fonts__embeds_a_cjk_font(world, issued, tmp_path):
    # when
    pdf = _get(world.inspector, issued.pk).content
    # then
    fonts = [line for line in _poppler("pdffonts", pdf, tmp_path).splitlines() if "Noto" in line]
    assert fonts, "no Noto CJK font in the PDF"
    assert all(line.split()[-5:-3] == ["yes", "yes"] for line in fonts)  # embedded and subset


def test_notice_pdf__other_unit__is_404_and_audited(world, issued):
    # when
    with pytest.raises(Http404):
        _get(world.handler_b, issued.pk)
    # then
    event = AuditEvent.objects.get(action="access_denied")
    assert (event.outcome, event.actor_id, event.ip) == ("denied", world.handler_b.pk, "10.0.0.7")
    assert event.data == {"target": "notice", "id": str(issued.pk)}


def test_notice_pdf__unknown_case__is_404_without_audit(world):
    with pytest.raises(Http404):
        _get(world.handler_a, 987654)
    assert not AuditEvent.objects.filter(action="access_denied").exists()


def test_notice_pdf__draft__is_404(world):
    draft = make_case(world, issue=False)
    with pytest.raises(Http404):
        _get(world.inspector, draft.pk)


def test_pdf_response__ascii_fallback_and_utf8_name():
    response = pdf_response(b"%PDF-1.7", "整改通知书-整改〔2026〕3号.pdf", fallback="notice-3.pdf")
    assert response["Content-Disposition"] == (
        "attachment; filename=\"notice-3.pdf\"; filename*=UTF-8''"
        + quote("整改通知书-整改〔2026〕3号.pdf", safe="")
    )
    assert response["Content-Length"] == "8"


def test_render_pdf__network_resources__are_not_fetched():
    from workflow.documents.pdf import _fetcher

    fetcher = _fetcher()
    for url in ("http://example.com/a.png", "https://example.com/a.css", "ftp://example.com/x",
                "file:///etc/passwd"):
        with pytest.raises(ValueError):
            fetcher.fetch(url)
