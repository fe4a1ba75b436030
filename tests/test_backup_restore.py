"""Backup and restore (RELIABILITY 22): database and file stores, on SQLite and PostgreSQL.

A round trip restores what was backed up: row counts equal the manifest, evidence files and
archived documents match their hashes, the audit chain verifies, and on PostgreSQL the audit guard is back.
A damaged or mismatched set is refused before anything is touched.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing, contextmanager
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.db.migrations.recorder import MigrationRecorder

from processes.rectification.models import RectificationCase
from workflow.storage.files import sha256_of
from workflow.models import ArchivedDocument, AuditEvent, Evidence
from tests.factories import drive, make_case, make_world, to_submitted

pytestmark = pytest.mark.django_db(transaction=True)  # backup and restore run outside any transaction


# Helpers -------------------------------------------------------------------------------------
def table_counts():
    with connection.cursor() as cursor:
        counts = {}
        for table in connection.introspection.table_names(cursor, include_views=False):
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def store_hashes():
    """{(store, path): sha256} of every file in the evidence and document folders."""
    hashes = {}
    for key, root in (("evidence", django_settings.EVIDENCE_ROOT), ("documents", django_settings.DOCUMENT_ROOT)):
        hashes.update({(key, str(p.relative_to(root))): sha256_of(p) for p in Path(root).rglob("*") if p.is_file()})
    return hashes


def fingerprint():
    """Everything a restore would change."""
    return table_counts(), store_hashes()


def verify_audit():
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, err.getvalue()
    return 0, out.getvalue()


def restore(path, *args):
    call_command("restore", str(path), *args, stdout=StringIO())


@contextmanager
def read_only(path):
    """The set's folders and files without write permission, for the block."""
    for item in (*path.rglob("*"), path):
        item.chmod(0o555 if item.is_dir() else 0o444)
    try:
        yield
    finally:
        for item in (path, *path.rglob("*")):
            item.chmod(0o755 if item.is_dir() else 0o644)


def read_manifest(path):
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(path, manifest):
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture
def seeded(settings, tmp_path):
    """A world with cases in several states, their audit events, evidence files and the
    closing record archived when a case is closed."""
    settings.EVIDENCE_ROOT = str(tmp_path / "evidence")
    settings.DOCUMENT_ROOT = str(tmp_path / "documents")
    world = make_world()
    submitted = [to_submitted(world, make_case(world)) for _ in range(2)]
    closed = drive(world, submitted[0], ("inspector", "start_review"), ("inspector", "accept"), ("leader", "sign_off"))
    issued = make_case(world, unit=world.county_b)
    assert ArchivedDocument.objects.filter(case_id=closed.pk, rendered_at__isnull=False).exists()
    return world, closed, submitted[1], issued


@pytest.fixture
def backup_set(seeded, tmp_path):
    path = tmp_path / "backup-set"
    call_command("backup", str(path), stdout=StringIO())
    return path


# 22. The round trip ----------------------------------------------------------------------------
def test_round_trip__counts_hashes_and_audit_chain(seeded, tmp_path):
    # given: a backup of the seeded world
    world, closed, submitted, issued = seeded
    before = fingerprint()
    path = tmp_path / "set"
    call_command("backup", str(path), stdout=StringIO())
    manifest = read_manifest(path)
    assert manifest["database"]["vendor"] == connection.vendor
    assert manifest["tables"] == before[0]
    assert {(key, f["path"], f["sha256"]) for key in ("evidence", "documents") for f in manifest[key]} == {
        (key, path, sha) for (key, path), sha in before[1].items()}
    assert len(manifest["evidence"]) == Evidence.objects.count() == 2
    assert len(manifest["documents"]) == ArchivedDocument.objects.count() == 1
    latest = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        latest[app] = max(latest.get(app, ""), name)
    assert manifest["migrations"] == latest and "workflow" in latest
    # and then: things change and files are lost or damaged
    drive(world, submitted, ("inspector", "start_review"), ("inspector", "return_case", {"reason": "照片不清晰"}))
    make_case(world, title="备份之后新建的案件")
    root = Path(django_settings.EVIDENCE_ROOT)
    lost, damaged = sorted(path for key, path in before[1] if key == "evidence")
    (root / lost).unlink()
    (root / damaged).write_bytes(b"\x89PNG overwritten")
    for document in Path(django_settings.DOCUMENT_ROOT).rglob("*.pdf"):
        document.unlink()
    assert table_counts() != manifest["tables"]
    # when
    restore(path, "--force")
    # then
    assert table_counts() == manifest["tables"]
    assert store_hashes() == before[1]
    for evidence in Evidence.objects.all():
        assert sha256_of(root / evidence.storage_name) == evidence.sha256
    document = ArchivedDocument.objects.get()
    assert sha256_of(Path(django_settings.DOCUMENT_ROOT) / document.storage_name) == document.sha256
    assert verify_audit()[0] == 0
    assert RectificationCase.objects.get(pk=submitted.pk).status == submitted.status
    assert RectificationCase.objects.get(pk=closed.pk).status == closed.status
    assert not RectificationCase.objects.filter(title="备份之后新建的案件").exists()
    # and the restored database works on: a new state change appends to the restored chain
    drive(world, issued, ("handler_b", "sign"))
    assert verify_audit()[0] == 0


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the audit triggers are PostgreSQL's")
def test_round_trip__postgresql_restores_the_audit_guard(backup_set):
    # given
    count = AuditEvent.objects.count()
    # when
    restore(backup_set, "--force")
    # then
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'workflow_auditevent'::regclass "
                       "AND NOT tgisinternal AND tgenabled = 'O' ORDER BY tgname")
        assert [name for (name,) in cursor.fetchall()] == [
            "workflow_auditevent_append_only", "workflow_auditevent_no_truncate"]
    for statement in ("UPDATE workflow_auditevent SET reason = 'x'", "DELETE FROM workflow_auditevent",
                      "TRUNCATE workflow_auditevent"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.count() == count


def test_restore__into_an_empty_database_needs_no_force(backup_set):
    # given: the database as a fresh install leaves it (no users, cases, events or files)
    manifest = read_manifest(backup_set)
    call_command("flush", interactive=False, verbosity=0)
    for root in (django_settings.EVIDENCE_ROOT, django_settings.DOCUMENT_ROOT):
        for path in Path(root).rglob("*"):
            if path.is_file():
                path.unlink()
    # when
    restore(backup_set)
    # then
    assert table_counts() == manifest["tables"]
    assert verify_audit()[0] == 0


# Refusals: nothing is touched -------------------------------------------------------------------
def flip_evidence_byte(path):
    target = next((path / "evidence").rglob("*/*"))
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))


def flip_document_byte(path):
    target = next((path / "documents").rglob("*.pdf"))
    data = bytearray(target.read_bytes())
    data[-10] ^= 0x01
    target.write_bytes(bytes(data))


def remove_evidence_file(path):
    next((path / "evidence").rglob("*/*")).unlink()


def change_dump(path):
    dump = next(p for p in path.iterdir() if p.name.startswith("database."))
    data = bytearray(dump.read_bytes())
    data[-100] ^= 0x01
    dump.write_bytes(bytes(data))


def garble_manifest(path):
    (path / "manifest.json").write_bytes(b'{"format": "duban-backup", "version": 1, "tabl')


def other_vendor(path):
    manifest = read_manifest(path)
    other = "sqlite" if manifest["database"]["vendor"] == "postgresql" else "postgresql"
    manifest["database"].update(vendor=other, file={"sqlite": "database.sqlite3"}.get(other, "database.dump"))
    write_manifest(path, manifest)


def newer_migrations(path):
    manifest = read_manifest(path)
    manifest["migrations"]["workflow"] = "9999_from_a_later_release"
    write_manifest(path, manifest)


@pytest.mark.parametrize("damage, message", [
    (flip_evidence_byte, r"证据文件 \w\w/\w+ 与清单记录的 SHA-256 不符"),
    (flip_document_byte, r"归档文书 \w\w/\w+\.pdf 与清单记录的 SHA-256 不符"),
    (remove_evidence_file, "备份中缺少证据文件"),
    (change_dump, r"数据库文件 database\.\w+ 与清单记录的 SHA-256 不符"),
    (garble_manifest, "无法读取"),
    (other_vendor, "备份来自 .* 数据库，而当前配置的是"),
    (newer_migrations, "比当前程序新（workflow 的迁移 9999_from_a_later_release"),
])
def test_restore__refuses_a_damaged_or_mismatched_set(backup_set, seeded, damage, message):
    # given: a change since the backup, which a restore would undo
    world = seeded[0]
    make_case(world, title="备份之后新建的案件")
    damage(backup_set)
    before = fingerprint()
    # when / then
    with pytest.raises(CommandError, match=message):
        restore(backup_set, "--force")
    assert fingerprint() == before
    assert RectificationCase.objects.filter(title="备份之后新建的案件").exists()


def test_restore__a_dump_that_does_not_read_changes_nothing(backup_set, seeded):
    # given: a set whose database file is not a dump, its manifest written to match
    make_case(seeded[0], title="备份之后新建的案件")
    dump = next(p for p in backup_set.iterdir() if p.name.startswith("database."))
    dump.write_bytes(b"not a database " * 300)
    manifest = read_manifest(backup_set)
    manifest["database"].update(sha256=sha256_of(dump), size=dump.stat().st_size)
    write_manifest(backup_set, manifest)
    before = fingerprint()
    # when / then: a message, not a traceback
    with pytest.raises(CommandError, match=r"恢复数据库失败（(SQLite|pg_restore)），数据库未改动："):
        restore(backup_set, "--force")
    assert fingerprint() == before
    assert RectificationCase.objects.filter(title="备份之后新建的案件").exists()


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_restore and psql are PostgreSQL's")
def test_restore__pg_restore_failing_after_the_schema_changes_nothing(backup_set, seeded, tmp_path, monkeypatch):
    # given: a pg_restore that writes the schema part of its script (DROP and CREATE of every
    # table) and then fails, as one reading a truncated dump does
    make_case(seeded[0], title="备份之后新建的案件")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stand_in = bin_dir / "pg_restore"
    stand_in.write_text(f'#!/bin/sh\n"{shutil.which("pg_restore")}" "$@" | awk \'/^COPY /{{exit}} {{print}}\'\n'
                        'echo "pg_restore: error: could not read from input file: end of file" >&2\n'
                        'exit 1\n')
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    before = fingerprint()
    assert before[0]["workflow_auditevent"] > 0
    # when / then
    with pytest.raises(CommandError, match=r"恢复数据库失败（pg_restore），数据库未改动：.*end of file"):
        restore(backup_set, "--force")
    assert fingerprint() == before
    assert RectificationCase.objects.filter(title="备份之后新建的案件").exists()
    assert verify_audit()[0] == 0


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the set's SQLite file")
def test_restore__sqlite_set_on_read_only_media(tmp_path):
    # given: a backup of a live SQLite file in WAL mode (as the settings open it), made by another process
    path = tmp_path / "set"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'live.sqlite3'}", "DJANGO_SUPERUSER_PASSWORD": "Backup-2026"}
    for command in (["migrate"], ["createsuperuser", "--noinput", "--username", "backup_admin", "--email", "a@b.cn"],
                    ["backup", str(path)]):
        subprocess.run([sys.executable, "manage.py", *command], env=env, cwd=django_settings.BASE_DIR,
                       check=True, capture_output=True, timeout=300)
    with closing(sqlite3.connect(tmp_path / "live.sqlite3")) as live:
        assert live.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    scratch = tmp_path / "scratch.sqlite3"
    shutil.copy(path / "database.sqlite3", scratch)
    with closing(sqlite3.connect(scratch)) as copy:
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    manifest = read_manifest(path)
    listing = sorted(p.name for p in path.iterdir())
    # when: restored from the set made read-only
    with read_only(path):
        restore(path, "--force")
    # then: root (as in CI) may write all the same, so the set's listing shows it was not written to
    assert table_counts() == manifest["tables"]
    assert get_user_model().objects.filter(username="backup_admin").exists()
    assert sorted(p.name for p in path.iterdir()) == listing == ["database.sqlite3", "manifest.json"]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the set's SQLite file")
def test_restore__sqlite_set_in_wal_mode_from_an_earlier_release(backup_set):
    # given: a set whose copy is still in WAL mode, as sets were made before, on read-only media
    dump = backup_set / "database.sqlite3"
    with closing(sqlite3.connect(dump)) as copy:
        assert copy.execute("PRAGMA journal_mode=WAL").fetchone() == ("wal",)
    manifest = read_manifest(backup_set)
    manifest["database"].update(sha256=sha256_of(dump), size=dump.stat().st_size)
    write_manifest(backup_set, manifest)
    listing = sorted(p.name for p in backup_set.iterdir())
    # when
    with read_only(backup_set):
        restore(backup_set, "--force")
    # then
    assert table_counts() == manifest["tables"]
    assert sorted(p.name for p in backup_set.iterdir()) == listing
    assert verify_audit()[0] == 0


def test_restore__a_database_with_data_needs_force(backup_set):
    # given
    before = fingerprint()
    # when / then
    with pytest.raises(CommandError, match=r"当前数据库不是空的：\d+ 个用户、\d+ 个案件、\d+ 条审计事件.*--force"):
        restore(backup_set)
    assert fingerprint() == before


def test_restore__exits_non_zero_with_the_message(tmp_path):
    # given
    (tmp_path / "manifest.json").write_text("not json", encoding="utf-8")
    # when
    result = subprocess.run([sys.executable, "manage.py", "restore", str(tmp_path)], capture_output=True,
                            text=True, timeout=120, cwd=django_settings.BASE_DIR,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"})
    # then
    assert result.returncode == 1
    assert "备份清单 manifest.json 无法读取" in result.stderr


# Backup refusals -------------------------------------------------------------------------------
def test_backup__refuses_a_damaged_evidence_store_and_leaves_no_set(seeded, tmp_path):
    # given
    evidence = Evidence.objects.first()
    (Path(django_settings.EVIDENCE_ROOT) / evidence.storage_name).write_bytes(b"changed on disk")
    # when / then
    with pytest.raises(CommandError, match="与登记的 SHA-256 不符，备份中止"):
        call_command("backup", str(tmp_path / "set"), stdout=StringIO())
    assert not (tmp_path / "set").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".set")] == []


def test_backup__refuses_a_non_empty_destination(seeded, tmp_path):
    # given
    (tmp_path / "set").mkdir()
    (tmp_path / "set" / "keep.txt").write_text("x")
    # when / then
    with pytest.raises(CommandError, match="已存在且不是空目录"):
        call_command("backup", str(tmp_path / "set"), stdout=StringIO())
    assert [p.name for p in (tmp_path / "set").iterdir()] == ["keep.txt"]
