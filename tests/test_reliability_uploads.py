"""Evidence uploads and downloads (RELIABILITY 14-19)."""
import hashlib
import io
import zipfile
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.template.defaultfilters import filesizeformat
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils.translation import gettext, override

from processes.rectification import services
from workflow.cases.evidence import EvidenceRejected
from workflow.models import AuditEvent, Evidence
from tests.factories import PDF_BYTES, PNG_BYTES, drive, make_case, upload

MB = 1024 * 1024


# Fixtures and helpers -------------------------------------------------------------------
@pytest.fixture
def root(settings, tmp_path):
    settings.EVIDENCE_ROOT = str(tmp_path / "evidence")
    return Path(settings.EVIDENCE_ROOT)


@pytest.fixture
def signed(world, root):
    """A case the unit has signed for: its handler may add evidence."""
    return drive(world, make_case(world), ("handler_a", "sign"))


@pytest.fixture
def handler(world) -> Client:
    client = Client()
    client.force_login(world.handler_a)
    return client


def add(world, case, name, data, content_type="application/octet-stream"):
    return services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk,
                                      upload=upload(name, data, content_type))


def raw_upload(name, data):
    """An upload whose name was not cleaned on the way in (Django's parsers strip paths)."""
    file = SimpleUploadedFile("placeholder.bin", data)
    file._name = name
    return file


def files_in(root: Path):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def assert_nothing_stored(root, case):
    assert not Evidence.objects.filter(case_id=case.pk).exists()
    assert files_in(root) == []
    assert not AuditEvent.objects.filter(case_id=case.pk, action="upload_evidence", outcome="ok").exists()


def office(*entries, content_types=True, compress=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compress) as archive:
        if content_types:
            archive.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8"?><Types/>')
        for name, data in entries:
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX = office(("word/document.xml", "<w:document>整改报告</w:document>"))


# 14. One byte over the limit -----------------------------------------------------------------
def test_upload__one_byte_over_the_limit_is_413_and_nothing_stored(world, signed, handler, root, settings):
    # given
    settings.EVIDENCE_MAX_BYTES = MB
    data = PDF_BYTES + b" " * (MB + 1 - len(PDF_BYTES))
    # when
    with override("zh-hans"):
        response = handler.post(f"/rectification/{signed.pk}/evidence/",
                                {"file": upload("整改报告.pdf", data, "application/pdf")})
        expected = gettext("The file is larger than %(limit)s; please compress it or split it.") % {"limit": filesizeformat(MB)}
    # then
    assert response.status_code == 413
    page = response.content.decode()
    assert expected in page and "文件超过" in page
    assert f'href="/rectification/{signed.pk}/"' in page  # back to the case
    assert_nothing_stored(root, signed)


def test_upload__exactly_at_the_limit_is_accepted(world, signed, root, settings):
    # given: the control for the test above
    settings.EVIDENCE_MAX_BYTES = MB
    data = PDF_BYTES + b" " * (MB - len(PDF_BYTES))
    # when
    evidence = add(world, signed, "整改报告.pdf", data)
    # then
    assert evidence.size == MB
    assert files_in(root) == [evidence.storage_name]


# 15/16. Disguised, double-extension and active content ---------------------------------------------
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
       b"<script>alert(document.cookie)</script></svg>")
REJECTED = {
    "exe_renamed_pdf": ("整改报告.pdf", EXE),
    "exe_renamed_png": ("photo.png", EXE),
    "double_extension_php": ("x.jpg.php", PNG_BYTES),
    "php_with_image_bytes": ("shell.php", PNG_BYTES),
    "nul_in_name": ("photo.png\x00.exe", PNG_BYTES),
    "png_html_polyglot": ("photo.png", PNG_BYTES + b"<html><script>alert(1)</script></html>"),
    "pdf_with_javascript": ("report.pdf", PDF_BYTES.replace(
        b"/Type/Catalog", b"/Type/Catalog/OpenAction<</S/JavaScript/JS(app.alert(1))>>")),
    "pdf_with_html": ("report.pdf", PDF_BYTES + b"<script>alert(1)</script>"),
    "svg_with_script": ("drawing.svg", SVG),
    "svg_named_png": ("drawing.png", SVG),
    "html_file": ("page.html", HTML),
    "htm_file": ("page.htm", HTML),
    "html_named_pdf": ("page.pdf", HTML),
    "no_extension": ("README", PDF_BYTES),
    "empty_file": ("empty.pdf", b""),
    "truncated_png": ("photo.png", PNG_BYTES[:40]),
    "docx_with_html_part": ("report.docx", office(("word/document.xml", "<w:document/>"), ("word/evil.html", HTML))),
    "docx_without_word_part": ("report.docx", office(("xl/workbook.xml", "<workbook/>"))),
    "plain_zip_named_docx": ("report.docx", office(("a.txt", "x"), content_types=False)),
}


@pytest.mark.parametrize("case_name", sorted(REJECTED))
def test_upload__disguised_or_active_content_is_rejected(world, signed, root, case_name):
    # given
    name, data = REJECTED[case_name]
    # when / then
    with pytest.raises(EvidenceRejected) as refused:
        services.case_add_evidence(actor=world.actor("handler_a"), case_id=signed.pk, upload=raw_upload(name, data))
    assert refused.value.message and refused.value.status == 400
    assert_nothing_stored(root, signed)


@pytest.mark.parametrize("case_name", ["exe_renamed_pdf", "png_html_polyglot", "svg_with_script", "html_file"])
def test_upload__web_form_shows_the_refusal_and_stores_nothing(world, signed, handler, root, case_name):
    # given
    name, data = REJECTED[case_name]
    # when
    response = handler.post(f"/rectification/{signed.pk}/evidence/", {"file": upload(name, data)}, follow=True)
    # then
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert len(messages) == 1 and name in messages[0]
    assert_nothing_stored(root, signed)


@pytest.mark.parametrize("name,data", [("photo.png", PNG_BYTES), ("整改报告.pdf", PDF_BYTES), ("report.docx", DOCX),
                                       ("x.php.png", PNG_BYTES)])
def test_upload__genuine_files_are_stored_under_uuid_names(world, signed, root, name, data):
    # given: the control for the rejections above
    # when
    evidence = add(world, signed, name, data)
    # then: the stored name is the record's UUID, never the user's name
    assert files_in(root) == [f"{evidence.pk.hex[:2]}/{evidence.pk.hex}"]
    stored = root / evidence.storage_name
    assert stored.read_bytes() == data
    assert evidence.sha256 == hashlib.sha256(data).hexdigest()
    assert name not in str(stored) and Path(name).suffix not in stored.name


# 17. Zip bombs ------------------------------------------------------------------------------
def forbid_extraction(monkeypatch):
    """Fail the test if anything opens an archive member: checks must use the directory only."""
    def refuse(*args, **kwargs):
        raise AssertionError("an archive member was extracted")

    for method in ("open", "read", "extract", "extractall"):
        monkeypatch.setattr(zipfile.ZipFile, method, refuse)


def test_upload__docx_expanding_past_the_limit_is_rejected_before_extraction(world, signed, root, settings,
                                                                            monkeypatch):
    # given: a small file whose document part expands to 2 MB, against a 1 MB limit
    settings.EVIDENCE_MAX_UNZIPPED_BYTES = MB
    bomb = office(("word/document.xml", b"<w:document>" + b"0" * (2 * MB) + b"</w:document>"))
    assert len(bomb) < 50_000
    forbid_extraction(monkeypatch)
    # when / then
    with override("en"), pytest.raises(EvidenceRejected) as refused:
        add(world, signed, "整改报告.docx", bomb)
    assert "expands to more than 1 MB" in refused.value.message
    assert_nothing_stored(root, signed)


def test_upload__docx_with_too_many_parts_is_rejected_before_extraction(world, signed, root, settings,
                                                                       monkeypatch):
    # given
    settings.EVIDENCE_MAX_ZIP_ENTRIES = 10
    crowded = office(("word/document.xml", "<w:document/>"), *[(f"word/media/image{i}.png", b"x") for i in range(20)])
    forbid_extraction(monkeypatch)
    # when / then
    with override("en"), pytest.raises(EvidenceRejected) as refused:
        add(world, signed, "整改报告.docx", crowded)
    assert "too many parts (more than 10)" in refused.value.message
    assert_nothing_stored(root, signed)


def test_upload__small_docx_within_the_limits_is_accepted(world, signed, root, settings, monkeypatch):
    # given: the control — the same limits, a well-formed document
    settings.EVIDENCE_MAX_UNZIPPED_BYTES = MB
    settings.EVIDENCE_MAX_ZIP_ENTRIES = 10
    forbid_extraction(monkeypatch)
    # when
    evidence = add(world, signed, "整改报告.docx", DOCX)
    # then
    assert evidence.extension == "docx" and files_in(root) == [evidence.storage_name]


# 18. Hostile names; download headers ------------------------------------------------------------------
@pytest.mark.parametrize("name,shown", [
    ("../../etc/passwd.png", "passwd.png"),
    ("..\\..\\windows\\win.ini.png", "win.ini.png"),
    ("/etc/../../tmp/x.png", "x.png"),
    ("整改照片\u202egpj.png", "整改照片gpj.png"),
    ("\u2066photo\u2069\u200f.png", "photo.png"),
    ("line\r\nbreak.png", "linebreak.png"),
    ("...hidden.png", "hidden.png"),
])
def test_upload__hostile_names_are_stored_safely_and_cleaned(world, signed, root, name, shown):
    # when
    evidence = services.case_add_evidence(actor=world.actor("handler_a"), case_id=signed.pk,
                                          upload=raw_upload(name, PNG_BYTES))
    # then
    stored = (root / evidence.storage_name).resolve()
    assert stored.is_relative_to(root.resolve())
    assert stored.name == evidence.pk.hex
    assert files_in(root) == [evidence.storage_name]
    assert evidence.display_name == shown


def test_upload__path_in_a_web_upload_never_leaves_the_evidence_root(world, signed, handler, root, tmp_path):
    # given: a hand-made multipart body whose file name climbs out of the folder
    boundary = "XyZ"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../../passwd.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + PNG_BYTES + f"\r\n--{boundary}--\r\n".encode()
    # when
    response = handler.generic("POST", f"/rectification/{signed.pk}/evidence/", body,
                               content_type=f"multipart/form-data; boundary={boundary}")
    # then
    assert response.status_code == 302
    [evidence] = Evidence.objects.filter(case_id=signed.pk)
    assert evidence.display_name == "passwd.png"
    assert files_in(root) == [evidence.storage_name]
    assert [p.name for p in tmp_path.iterdir()] == ["evidence"]


@pytest.mark.parametrize("name", ["整改照片\u202egpj.pdf", "消防通道 整改后.pdf", "report.pdf"])
def test_download__name_is_rfc5987_encoded_and_nosniff(world, signed, handler, root, name):
    # given
    evidence = services.case_add_evidence(actor=world.actor("handler_a"), case_id=signed.pk,
                                          upload=raw_upload(name, PDF_BYTES))
    # when
    response = handler.get(f"/evidence/{evidence.pk}/")
    # then
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF_BYTES
    disposition = response["Content-Disposition"]
    shown = evidence.display_name
    assert "\u202e" not in shown
    if shown.isascii():
        assert disposition == f'attachment; filename="{shown}"'
    else:
        assert disposition == f"attachment; filename*=utf-8''{quote(shown)}"
        disposition.encode("ascii")  # nothing raw in the header
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/pdf"
    assert "sandbox" in response["Content-Security-Policy"]


def test_download__images_inline_only_as_images_and_still_nosniff(world, signed, handler, root):
    # given
    image = add(world, signed, "现场.png", PNG_BYTES)
    document = add(world, signed, "报告.pdf", PDF_BYTES)
    # when
    inline_image = handler.get(f"/evidence/{image.pk}/?inline=1")
    inline_document = handler.get(f"/evidence/{document.pk}/?inline=1")
    # then
    assert inline_image["Content-Disposition"].startswith("inline")
    assert inline_image["Content-Type"] == "image/png"
    assert inline_document["Content-Disposition"].startswith("attachment")
    assert all(r["X-Content-Type-Options"] == "nosniff" for r in (inline_image, inline_document))


# 19. Stored files match their records; orphans are found ------------------------------------------------
def run_check(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("check_evidence", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def stored(world, signed, root):
    return [add(world, signed, "a.png", PNG_BYTES), add(world, signed, "b.pdf", PDF_BYTES)]


def test_check_evidence__clean_store_exits_0(stored):
    # when
    code, out, err = run_check()
    # then
    assert code == 0, err
    assert err == ""


def test_check_evidence__altered_file_exits_nonzero_and_names_it(stored, root):
    # given: one byte of a stored file changed behind the application's back
    path = root / stored[1].storage_name
    path.write_bytes(path.read_bytes().replace(b"%%EOF", b"%%EOX"))
    # when
    code, out, err = run_check()
    # then
    assert code not in (0, None)
    assert str(stored[1].pk) in err and str(stored[0].pk) not in err


def test_check_evidence__missing_file_exits_nonzero(stored, root):
    # given
    (root / stored[0].storage_name).unlink()
    # when
    code, out, err = run_check()
    # then
    assert code not in (0, None) and str(stored[0].pk) in err


def test_check_evidence__orphan_file_exits_nonzero_and_can_be_removed(stored, root):
    # given: a file no record points to (e.g. written before a rolled-back transaction)
    orphan = root / "ab" / ("ab" + "0" * 30)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"left behind")
    # when
    code, out, err = run_check()
    removed_code, _, _ = run_check("--delete-orphans")
    # then
    assert code not in (0, None) and orphan.name in err
    assert removed_code == 0 and not orphan.exists()
    assert run_check()[0] == 0
