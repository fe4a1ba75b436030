"""Evidence and archived documents through Django's storage API (STORAGES["evidence"],
STORAGES["documents"]; workflow/files.py).

An upload stores its file before the case is locked and deletes it when the action is refused
or rolled back; downloads stream through the application; check_evidence, backup and restore
use only the storage interface. The same path runs on the file system (the default), on
another backend set through STORAGES, and on a real S3 server through django-storages.
"""
import hashlib
import os
import runpy
import time
import uuid
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.test import Client
from django.utils.translation import gettext, override

from processes.rectification import services
from processes.rectification.models import RectificationCase
from workflow.trail import audit
from workflow.cases import evidence as evidence_module
from workflow.cases.engine import AlreadyHandled
from workflow.cases.evidence import EvidenceRejected
from workflow.storage.files import WholeFileStorage, digest, document_storage, evidence_storage, walk
from workflow.models import ArchivedDocument, AuditEvent, Evidence
from tests.factories import PDF_BYTES, PNG_BYTES, drive, make_case, make_world, to_submitted, upload


# Helpers -------------------------------------------------------------------------------------
def stored():
    return list(walk(evidence_storage()))


def run_check(*args):
    out, err = StringIO(), StringIO()
    try:
        call_command("check_evidence", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def disk(settings, tmp_path):
    settings.EVIDENCE_ROOT = str(tmp_path / "evidence")
    settings.DOCUMENT_ROOT = str(tmp_path / "documents")
    return tmp_path


@pytest.fixture
def signed(world, disk):
    return drive(world, make_case(world), ("handler_a", "sign"))


@pytest.fixture
def seen_at_lock(monkeypatch):
    """The names in the evidence store each time attach_evidence takes the case's lock."""
    seen, real = [], evidence_module.locked_case

    @contextmanager
    def watching(*args, **kwargs):
        seen.append(stored())
        with real(*args, **kwargs) as case:
            yield case

    monkeypatch.setattr(evidence_module, "locked_case", watching)
    return seen


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def handler_page(world) -> Client:
    return login(world.handler_a)


# The file system store -------------------------------------------------------------------------
def test_whole_file_storage__never_replaces_a_name_and_leaves_no_temporary_file(tmp_path):
    # given
    storage = WholeFileStorage(location=str(tmp_path))
    first = storage.save("ab/abcd", ContentFile(b"first"))
    # when: a second file is saved under the same name
    second = storage.save("ab/abcd", ContentFile(b"second"))
    # then: the first stands; the second got another name; nothing half-written is left
    assert first == "ab/abcd" and second != first and second.startswith("ab/abcd")
    assert (tmp_path / "ab" / "abcd").read_bytes() == b"first"
    assert sorted(p.name for p in (tmp_path / "ab").iterdir()) == sorted(["abcd", second.split("/")[1]])
    assert oct((tmp_path / "ab" / "abcd").stat().st_mode & 0o777) == "0o640"
    with pytest.raises(ValueError):
        storage.url("ab/abcd")  # never a URL: files are served through the application


def test_whole_file_storage__a_write_that_fails_midway_leaves_nothing(tmp_path):
    # given: content whose reading fails after the first chunk
    storage = WholeFileStorage(location=str(tmp_path))

    class Failing(ContentFile):
        def chunks(self, chunk_size=None):
            yield b"half of a file"
            raise OSError("connection reset")

    # when / then
    with pytest.raises(OSError):
        storage.save("ab/abcd", Failing(b"whatever"))
    assert not storage.exists("ab/abcd")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_whole_file_storage__follows_its_root_setting(settings, tmp_path):
    # given: the default store, rooted at EVIDENCE_ROOT
    settings.EVIDENCE_ROOT = str(tmp_path / "moved")
    # when
    evidence_storage().save("cd/cdef", ContentFile(b"x"))
    # then
    assert (tmp_path / "moved" / "cd" / "cdef").read_bytes() == b"x"


# Upload: stored before the lock, deleted when refused or rolled back --------------------------------
def test_upload__the_file_is_stored_before_the_lock_and_its_row_under_it(world, signed, seen_at_lock):
    # when
    evidence = services.case_add_evidence(actor=world.actor("handler_a"), case_id=signed.pk, upload=upload())
    # then: the file was in the store when the lock was taken; the row and event came with the lock
    assert seen_at_lock == [[evidence.storage_name]]
    assert stored() == [evidence.storage_name]
    assert digest(evidence_storage(), evidence.storage_name) == (hashlib.sha256(PNG_BYTES).hexdigest(), len(PNG_BYTES))
    assert AuditEvent.objects.filter(case_id=signed.pk, action="upload_evidence", outcome="ok",
                                     data__sha256=evidence.sha256).exists()


def test_upload__refused_for_the_role_deletes_the_stored_file(world, signed, seen_at_lock):
    # when: the unit head (who may see the case but not add evidence) uploads
    with pytest.raises(PermissionDenied):
        services.case_add_evidence(actor=world.actor("head_a"), case_id=signed.pk, upload=upload())
    # then: it had been stored before the lock, and is gone; the refusal is on record
    assert len(seen_at_lock) == 1 and len(seen_at_lock[0]) == 1
    assert stored() == []
    assert not Evidence.objects.exists()
    assert AuditEvent.objects.filter(case_id=signed.pk, action="upload_evidence", outcome="denied").exists()


def test_upload__refused_for_the_state_deletes_the_stored_file(world, disk, seen_at_lock):
    # given: a case the unit has submitted (its one piece of evidence stored)
    case = to_submitted(world, make_case(world))
    before = stored()
    seen_at_lock.clear()
    # when
    with pytest.raises(AlreadyHandled):
        services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload("补充.png"))
    # then
    assert len(seen_at_lock[0]) == len(before) + 1
    assert stored() == before and Evidence.objects.filter(case_id=case.pk).count() == 1


def test_upload__rolled_back_deletes_the_stored_file(world, signed, seen_at_lock, monkeypatch):
    # given: the audit write fails after the row is inserted, so the transaction rolls back
    real = audit.record

    def failing(**kwargs):
        if kwargs.get("action") == "upload_evidence":
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(audit, "record", failing)
    # when
    with pytest.raises(RuntimeError, match="disk full"):
        services.case_add_evidence(actor=world.actor("handler_a"), case_id=signed.pk, upload=upload())
    # then: stored before the lock, then deleted with the rollback
    assert len(seen_at_lock[0]) == 1
    assert stored() == [] and not Evidence.objects.exists()


def test_upload__a_store_that_fails_is_a_clear_refusal_and_nothing_is_recorded(world, signed, handler_page,
                                                                              monkeypatch):
    # given: the evidence store refuses writes
    storage = evidence_storage()

    def full(name, content):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(storage, "_save", full)
    # when
    with override("en"), pytest.raises(EvidenceRejected) as refused:
        services.case_add_evidence(actor=world.actor("handler_a"), case_id=signed.pk, upload=upload())
    with override("zh-hans"):
        page = handler_page.post(f"/rectification/{signed.pk}/evidence/", {"file": upload("现场.png")}, follow=True)
        expected = gettext("%(name)s: %(error)s") % {
            "name": "现场.png", "error": gettext("The file could not be stored just now; please try again later.")}
    # then: a message to try again (503), no row, no event, no file
    assert refused.value.status == 503 and "could not be stored" in refused.value.message
    assert [str(m) for m in page.context["messages"]] == [expected]
    assert stored() == [] and not Evidence.objects.exists()
    assert not AuditEvent.objects.filter(action="upload_evidence").exists()


def test_upload__left_behind_when_the_store_fails_check_evidence_lists_it(world, signed, monkeypatch, caplog):
    # given: a refused upload whose file cannot be deleted (the store is unreachable, as a
    # process killed between storing and recording leaves it)
    storage = evidence_storage()

    def unreachable(name):
        raise OSError("store unreachable")

    monkeypatch.setattr(storage, "delete", unreachable)
    with pytest.raises(PermissionDenied):  # the refusal is what the user sees, not the store's error
        services.case_add_evidence(actor=world.actor("head_a"), case_id=signed.pk, upload=upload())
    [orphan] = stored()
    assert "left as an orphan" in caplog.text
    monkeypatch.undo()
    # when
    code, out, err = run_check()
    young_code, young_out, _ = run_check("--min-age", "3600")
    # then: listed, unless younger than --min-age; --delete-orphans removes it
    assert code == 1 and f"orphan: {orphan}" in err and "1 orphan files" in out
    assert young_code == 0 and "0 orphan files" in young_out
    old = time.time() - 7200
    os.utime(Path(evidence_storage().path(orphan)), (old, old))
    assert run_check("--min-age", "3600")[0] == 1
    assert run_check("--delete-orphans")[0] == 0 and stored() == []


def test_check_evidence__a_record_committed_after_the_listing_is_no_orphan(world, signed, monkeypatch):
    # given: a file whose record commits while check_evidence reads the records
    evidence = services.case_add_evidence(actor=world.actor("handler_a"), case_id=signed.pk, upload=upload())
    real = Evidence.objects.only

    def rows_before_the_upload(*fields):
        return real(*fields).exclude(pk=evidence.pk)

    monkeypatch.setattr(Evidence.objects, "only", rows_before_the_upload)
    # when
    code, out, err = run_check("--delete-orphans")
    # then
    assert code == 0 and "orphan" not in err
    assert stored() == [evidence.storage_name]


# Another backend through STORAGES ----------------------------------------------------------------
@pytest.fixture
def in_memory(settings, disk):
    settings.STORAGES = {**settings.STORAGES,
                         "evidence": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
                         "documents": {"BACKEND": "django.core.files.storage.InMemoryStorage"}}
    return disk


def test_swapped_store__upload_download_check_and_archive(world, in_memory):
    # given: both stores in memory
    case = drive(world, make_case(world), ("handler_a", "sign"))
    handler = login(world.handler_a)
    # when: a file is uploaded through the web form
    response = handler.post(f"/rectification/{case.pk}/evidence/", {"file": upload("现场.pdf", PDF_BYTES)})
    # then: it is in the swapped store, nowhere on disk
    assert response.status_code == 302
    [evidence] = Evidence.objects.filter(case_id=case.pk)
    assert stored() == [evidence.storage_name]
    assert [p for p in in_memory.rglob("*") if p.is_file()] == []
    # and it downloads through the application, with the usual headers
    download = handler.get(f"/evidence/{evidence.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF_BYTES
    assert download["X-Content-Type-Options"] == "nosniff" and "sandbox" in download["Content-Security-Policy"]
    assert download["Content-Length"] == str(len(PDF_BYTES))
    # and a refused upload leaves nothing there
    with pytest.raises(PermissionDenied):
        services.case_add_evidence(actor=world.actor("head_a"), case_id=case.pk, upload=upload())
    assert stored() == [evidence.storage_name]
    # and check_evidence reads that store: clean, then a changed file and an orphan
    assert run_check()[0] == 0
    storage = evidence_storage()
    storage.delete(evidence.storage_name)
    storage.save(evidence.storage_name, ContentFile(PDF_BYTES.replace(b"%%EOF", b"%%EOX")))
    orphan = storage.save(f"ab/ab{'0' * 30}", ContentFile(b"left behind"))
    code, out, err = run_check()
    assert code == 1 and f"hash mismatch: {evidence.pk}" in err and f"orphan: {orphan}" in err
    # and a closed case's record is archived in the swapped document store and downloaded from it
    closed = drive(world, case, ("handler_a", "submit", {"reason": "已整改"}), ("head_a", "head_approve"),
                   ("inspector", "accept"), ("leader", "sign_off"))
    doc = ArchivedDocument.objects.get(case_id=closed.pk)
    from workflow.documents import archive as documents

    assert documents.archive(doc.pk) == 1
    doc.refresh_from_db()
    assert list(walk(document_storage())) == [doc.storage_name]
    record = login(world.leader).get(f"/documents/{doc.pk}/")
    assert record.status_code == 200
    assert hashlib.sha256(b"".join(record.streaming_content)).hexdigest() == doc.sha256
    assert record["X-Content-Type-Options"] == "nosniff" and "sandbox" in record["Content-Security-Policy"]


def test_swapped_store__a_missing_file_is_a_404_that_says_so(world, in_memory):
    # given
    case = drive(world, make_case(world), ("handler_a", "sign"))
    evidence = services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload())
    evidence_storage().delete(evidence.storage_name)
    # when
    response = login(world.handler_a).get(f"/evidence/{evidence.pk}/")
    # then
    assert response.status_code == 404


# Settings --------------------------------------------------------------------------------------
def settings_module(monkeypatch, name, **environ):
    """The settings module `name` run afresh with `environ` added (its imports are not)."""
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    if name == "config.settings.base":  # imported already: run its file
        return runpy.run_path(str(Path(django_settings.BASE_DIR) / "config" / "settings" / "base.py"), run_name=name)
    return runpy.run_module(name)


def test_settings__s3_switch_gives_both_stores_one_bucket_and_two_prefixes(monkeypatch):
    # when
    values = settings_module(monkeypatch, "config.settings.base", DUBAN_STORAGE="s3", DUBAN_S3_BUCKET="duban-files",
                             DUBAN_S3_ENDPOINT_URL="https://s3.example.cn", DUBAN_S3_REGION="cn-north-1")
    # then
    evidence, documents = values["STORAGES"]["evidence"], values["STORAGES"]["documents"]
    assert evidence["BACKEND"] == documents["BACKEND"] == "storages.backends.s3.S3Storage"
    assert (evidence["OPTIONS"]["location"], documents["OPTIONS"]["location"]) == ("evidence", "documents")
    assert evidence["OPTIONS"]["bucket_name"] == "duban-files" and evidence["OPTIONS"]["file_overwrite"] is False
    assert evidence["OPTIONS"]["endpoint_url"] == "https://s3.example.cn"


@pytest.mark.parametrize("environ, message", [
    ({"DUBAN_STORAGE": "ftp"}, "DUBAN_STORAGE must be"),
    ({"DUBAN_STORAGE": "s3", "DUBAN_S3_BUCKET": "b", "DUBAN_S3_DOCUMENT_PREFIX": "evidence/documents"},
     "two separate prefixes"),
    ({"DUBAN_STORAGE": "s3"}, "DUBAN_S3_BUCKET"),
])
def test_settings__a_wrong_store_setting_is_refused(monkeypatch, environ, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        settings_module(monkeypatch, "config.settings.base", **environ)


def test_settings__production_keeps_the_file_stores(monkeypatch):
    values = settings_module(monkeypatch, "config.settings.production", DJANGO_SECRET_KEY="x" * 50,
                             DJANGO_ALLOWED_HOSTS="duban.example.cn")
    assert {"evidence", "documents"} <= set(values["STORAGES"])
    assert values["STORAGES"]["staticfiles"]["BACKEND"].startswith("whitenoise.")


# A real S3 server ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def s3_server():
    """moto's S3-compatible server on the loopback interface, in this process."""
    threaded = pytest.importorskip("moto.moto_server.threaded_moto_server",
                                   reason="the S3 tier needs moto[server] (pip install 'moto[server]')")
    server = threaded.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server, settings, disk):
    """Both stores in a fresh bucket of the S3 server, through django-storages' S3 backend,
    configured as DUBAN_STORAGE=s3 configures them."""
    import boto3

    credentials = dict(endpoint_url=s3_server, region_name="us-east-1", aws_access_key_id="duban",
                       aws_secret_access_key="duban-secret")
    client = boto3.client("s3", **credentials)
    bucket = f"duban-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    options = {"bucket_name": bucket, "endpoint_url": s3_server, "region_name": "us-east-1",
               "access_key": "duban", "secret_key": "duban-secret", "addressing_style": "path",
               "file_overwrite": False, "default_acl": None, "max_memory_size": 2 * 1024 * 1024}
    settings.STORAGES = {**settings.STORAGES, **{
        alias: {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {**options, "location": alias}}
        for alias in ("evidence", "documents")}}

    class Bucket:
        name = bucket

        def keys(self, prefix=""):
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))

        def get(self, key):
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()

        def put(self, key, data):
            client.put_object(Bucket=bucket, Key=key, Body=data)

        def delete(self, key):
            client.delete_object(Bucket=bucket, Key=key)

    return Bucket()


@pytest.mark.django_db(transaction=True)  # backup and restore run outside any transaction
def test_s3__upload_download_check_archive_backup_and_restore(s3, disk, tmp_path):
    # given
    world = make_world()
    case = drive(world, make_case(world), ("handler_a", "sign"))
    handler = login(world.handler_a)
    # when: a photo is uploaded through the web form
    assert handler.post(f"/rectification/{case.pk}/evidence/", {"file": upload("现场.png")}).status_code == 302
    # then: it is an object under the evidence prefix, and nothing is on disk
    [evidence] = Evidence.objects.filter(case_id=case.pk)
    assert s3.keys() == [f"evidence/{evidence.storage_name}"]
    assert s3.get(f"evidence/{evidence.storage_name}") == PNG_BYTES
    assert [p for p in disk.rglob("*") if p.is_file()] == []
    # and it is streamed by the application, never redirected to the store
    download = handler.get(f"/evidence/{evidence.pk}/?inline=1")
    assert download.status_code == 200 and b"".join(download.streaming_content) == PNG_BYTES
    assert download["X-Content-Type-Options"] == "nosniff" and "sandbox" in download["Content-Security-Policy"]
    assert download["Content-Disposition"].startswith("inline") and "Location" not in download
    # and a refused upload leaves no object
    with pytest.raises(PermissionDenied):
        services.case_add_evidence(actor=world.actor("head_a"), case_id=case.pk, upload=upload())
    assert len(s3.keys("evidence/")) == 1
    # and check_evidence reads the bucket: clean; a changed object and an orphan are found
    assert run_check()[0] == 0
    s3.put(f"evidence/{evidence.storage_name}", PNG_BYTES + b"\x00")
    s3.put(f"evidence/ab/ab{'0' * 30}", b"left behind")
    code, out, err = run_check()
    assert code == 1 and f"hash mismatch: {evidence.pk}" in err and f"orphan: ab/ab{'0' * 30}" in err
    s3.put(f"evidence/{evidence.storage_name}", PNG_BYTES)
    assert run_check("--delete-orphans")[0] == 0 and run_check()[0] == 0
    # when: the case is closed, its record is archived after commit into the document prefix
    services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload("报告.pdf", PDF_BYTES))
    drive(world, case, ("handler_a", "submit", {"reason": "已整改"}), ("head_a", "head_approve"),
          ("inspector", "accept"), ("leader", "sign_off"))
    doc = ArchivedDocument.objects.get(case_id=case.pk, rendered_at__isnull=False)
    assert s3.keys("documents/") == [f"documents/{doc.storage_name}"]
    record = login(world.inspector).get(f"/documents/{doc.pk}/")
    assert hashlib.sha256(b"".join(record.streaming_content)).hexdigest() == doc.sha256
    # when: backed up, the bucket emptied and one object changed, and restored
    call_command("backup", str(tmp_path / "set"), stdout=StringIO())
    files_in_set = sorted(str(p.relative_to(tmp_path / "set")) for p in (tmp_path / "set").rglob("*") if p.is_file())
    objects = {key: s3.get(key) for key in s3.keys()}
    assert len(objects) == 3 and files_in_set == sorted(["manifest.json", next(
        p.name for p in (tmp_path / "set").iterdir() if p.name.startswith("database.")), *objects])
    changed, *lost = sorted(objects)
    s3.put(changed, b"changed in the bucket")
    for key in lost:
        s3.delete(key)
    log = StringIO()
    call_command("restore", str(tmp_path / "set"), "--force", stdout=log)
    # then: every object is back as it was, from the set, and the records match it
    assert {key: s3.get(key) for key in s3.keys()} == objects
    assert "s3://" in log.getvalue()
    assert run_check()[0] == 0
    assert RectificationCase.objects.get(pk=case.pk).status == "closed"
    for row in Evidence.objects.all():
        assert hashlib.sha256(s3.get(f"evidence/{row.storage_name}")).hexdigest() == row.sha256


@pytest.mark.django_db(transaction=True)
def test_s3__a_backup_refuses_a_missing_object(s3, tmp_path):
    # given
    world = make_world()
    case = drive(world, make_case(world), ("handler_a", "sign"))
    evidence = services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload())
    s3.delete(f"evidence/{evidence.storage_name}")
    # when / then
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="缺失，备份中止"):
        call_command("backup", str(tmp_path / "set"), stdout=StringIO())
    assert not (tmp_path / "set").exists()
