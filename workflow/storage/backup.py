"""Backup and restore of the database and the file stores (evidence, archived documents).

A backup set is a directory::

    manifest.json         format version, time, database vendor, migration state (latest
                          applied migration per app), row count per table, the path, SHA-256
                          and size of every stored file, and the SHA-256 of the dump
    database.dump         PostgreSQL: pg_dump's custom format
    database.sqlite3      SQLite: a copy made with SQLite's online backup API
    evidence/ab/ab…       each evidence file a row of the dumped database points to
    documents/ab/ab….pdf  each archived document likewise

The dump, the row counts and the file lists are read from one snapshot (PostgreSQL: an
exported snapshot that pg_dump joins; SQLite: the copy itself). Stored files are written
once under names of their own and never changed, so copying them afterwards gives exactly
the files the snapshot's rows name, each checked against the SHA-256 on its row.

A restore checks the whole set before it touches anything, then writes the files, replaces
the database in one step (PostgreSQL: one transaction; SQLite: the backup API into the live
file), and counts the rows again.

The stored files are read and written through the evidence and document stores
(`STORAGES`, workflow.files) with nothing but the storage API, so a set taken from the file
system restores into an S3 bucket and the other way round. The set itself is a local folder.
"""
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.storage import storages
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from workflow.storage import files
from workflow.storage.files import sha256_of
from workflow.storage.dbroles import grant_app_role
from workflow.models import ArchivedDocument, AuditEvent, Case, Evidence

FORMAT, VERSION = "duban-backup", 1
MANIFEST = "manifest.json"
DUMP_FILES = {"postgresql": "database.dump", "sqlite": "database.sqlite3"}
VENDOR_NAMES = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}
STORED_PATH = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{32}(\.pdf)?$")  # storage_name: from the row's UUID
TABLE_NAME = re.compile(r"^[A-Za-z0-9_]{1,63}$")
CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Store:
    """Files kept in a storage of STORAGES, one per row, named by the row's storage_name, with
    the row's sha256 and size. `stored` names the field that is set once the file is there."""

    key: str  # the manifest's key, the folder in the set and the STORAGES alias
    model: type
    label: str
    hint: str = ""
    stored: str = ""

    @property
    def storage(self):
        return storages[self.key]


STORES = (
    Store("evidence", Evidence, "证据文件", hint="请先运行 python manage.py check_evidence 查明。"),
    Store("documents", ArchivedDocument, "归档文书", stored="rendered_at"),
)


def _connection():
    conn = connections[DEFAULT_DB_ALIAS]
    if conn.vendor not in DUMP_FILES:
        raise CommandError(f"不支持备份 {conn.vendor} 数据库，只支持 PostgreSQL 和 SQLite。")
    if conn.in_atomic_block:
        raise CommandError("备份和恢复须在事务之外运行。")
    return conn


def _tool(name):
    path = shutil.which(name)
    if path is None:
        raise CommandError(f"找不到 {name}，请安装 PostgreSQL 客户端（Debian：postgresql-client）。")
    return path


def _pg_command(conn, tool, *options):
    """A PostgreSQL client command line for the configured database, and its environment
    (the password goes in the environment, as Django's dbshell does)."""
    from django.db.backends.postgresql.client import DatabaseClient

    args, env = DatabaseClient.settings_to_cmd_args_env(conn.settings_dict, [])
    return [_tool(tool), *options, *args[1:]], {**os.environ, **(env or {})}


def _run(command, env, what):
    result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if result.returncode:
        raise CommandError(f"{what}失败：{result.stderr.strip()[-2000:]}")


def _copy(src, target: Path):
    """Copy an open file to a temporary name beside `target`; returns the SHA-256 and size of
    what was written, and the temporary name, for the caller to move into place or remove."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".copy-")
    try:
        with os.fdopen(fd, "wb") as dst:
            for chunk in iter(lambda: src.read(CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        os.chmod(tmp, 0o640)
        return digest.hexdigest(), size, tmp
    except BaseException:
        os.unlink(tmp)
        raise


# Reading a snapshot ---------------------------------------------------------------------------
def _inventory(cursor, tables, quote):
    """Row counts, latest migration per app and each store's stored files (row, sha256, size),
    through a DB-API cursor."""
    counts = {}
    for table in sorted(tables):
        cursor.execute(f"SELECT count(*) FROM {quote(table)}")
        counts[table] = cursor.fetchone()[0]
    recorder = MigrationRecorder.Migration._meta
    cursor.execute(f"SELECT {quote(recorder.get_field('app').column)}, {quote(recorder.get_field('name').column)} "
                   f"FROM {quote(recorder.db_table)}")
    latest = {}
    for app, name in cursor.fetchall():
        latest[app] = max(latest.get(app, ""), name)  # migration names start with their number
    stored = {}
    for store in STORES:
        meta = store.model._meta
        columns = ", ".join(quote(meta.get_field(name).column) for name in ("id", "sha256", "size"))
        where = f" WHERE {quote(meta.get_field(store.stored).column)} IS NOT NULL" if store.stored else ""
        cursor.execute(f"SELECT {columns} FROM {quote(meta.db_table)}{where}")
        stored[store.key] = [(store.model(id=uuid.UUID(str(pk))), sha, size) for pk, sha, size in cursor.fetchall()]
    return counts, dict(sorted(latest.items())), stored


def _snapshot_postgresql(conn, dump: Path):
    with transaction.atomic(), conn.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        command, env = _pg_command(conn, "pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={dump}")
        _run(command, env, "pg_dump 导出数据库")
        tables = conn.introspection.table_names(cursor, include_views=False)
        return _inventory(cursor, tables, conn.ops.quote_name)


def _snapshot_sqlite(conn, dump: Path):
    conn.ensure_connection()
    with closing(sqlite3.connect(dump)) as copy:
        conn.connection.backup(copy)  # one step: a consistent copy, writers wait meanwhile
        # The copy takes the live file's WAL mode; a set must read as it is, from read-only media too.
        copy.execute("PRAGMA journal_mode=DELETE")
        with closing(copy.cursor()) as cursor:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            tables = [name for (name,) in cursor.fetchall()]
            return _inventory(cursor, tables, conn.ops.quote_name)


def backup(dest) -> dict:
    """Write a backup set into the new directory `dest`; returns its manifest."""
    conn = _connection()
    dest = Path(dest).absolute()
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise CommandError(f"目标 {dest} 已存在且不是空目录；请指定一个新目录。")
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}-"))
    try:
        dump = work / DUMP_FILES[conn.vendor]
        snapshot = _snapshot_postgresql if conn.vendor == "postgresql" else _snapshot_sqlite
        counts, migrations, stored = snapshot(conn, dump)
        copied = {store.key: _copy_store(store, stored[store.key], work / store.key) for store in STORES}
        manifest = {
            "format": FORMAT, "version": VERSION,
            "created_at": timezone.localtime().isoformat(timespec="seconds"),
            "database": {"vendor": conn.vendor, "file": dump.name, "sha256": sha256_of(dump),
                         "size": dump.stat().st_size},
            "migrations": migrations,
            "tables": counts,
            **copied,
        }
        (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        if dest.exists():
            dest.rmdir()
        work.rename(dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _copy_store(store, rows, folder):
    storage, copied = store.storage, []
    for record, sha, size in rows:
        try:
            source = storage.open(record.storage_name, "rb")
        except FileNotFoundError:
            raise CommandError(f"{store.label} {record.storage_name}（记录 {record.pk}）缺失，备份中止。{store.hint}")
        with source:
            copied_sha, copied_size, tmp = _copy(source, folder / record.storage_name)
        if (copied_sha, copied_size) != (sha, size):
            os.unlink(tmp)
            raise CommandError(f"{store.label} {record.storage_name}（记录 {record.pk}）与登记的 SHA-256 不符，"
                               f"备份中止。{store.hint}")
        os.replace(tmp, folder / record.storage_name)
        copied.append({"path": record.storage_name, "sha256": sha, "size": size})
    return sorted(copied, key=lambda f: f["path"])


# Checking a set -------------------------------------------------------------------------------
def _read_manifest(src: Path) -> dict:
    path = src / MANIFEST
    if not path.is_file():
        raise CommandError(f"{src} 中没有 {MANIFEST}，不是完整的备份。")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        raise CommandError(f"备份清单 {MANIFEST} 无法读取（文件已损坏）。")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CommandError(f"{MANIFEST} 不是本系统的备份清单。")
    if manifest.get("version") != VERSION:
        raise CommandError(f"备份格式版本 {manifest.get('version')!r} 不受支持（本程序读取版本 {VERSION}）。")
    database, migrations = manifest.get("database"), manifest.get("migrations")
    tables = manifest.get("tables")

    def is_digest(value):
        return isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) is not None

    def is_size(value):
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    well_formed = (
        isinstance(database, dict) and database.get("vendor") in DUMP_FILES
        and database.get("file") == DUMP_FILES[database["vendor"]]
        and is_digest(database.get("sha256")) and is_size(database.get("size"))
        and isinstance(migrations, dict)
        and all(isinstance(a, str) and isinstance(n, str) for a, n in migrations.items())
        and isinstance(tables, dict) and all(TABLE_NAME.match(t) and is_size(n) for t, n in tables.items())
        and all(isinstance(manifest.get(store.key), list) for store in STORES)
        and all(isinstance(f, dict) and isinstance(f.get("path"), str) and STORED_PATH.match(f["path"])
                and is_digest(f.get("sha256")) and is_size(f.get("size"))
                for store in STORES for f in manifest[store.key])
    )
    if not well_formed:
        raise CommandError(f"备份清单 {MANIFEST} 内容不完整或格式错误。")
    return manifest


def check_set(src) -> dict:
    """Check a backup set against itself and against this installation; returns its manifest.
    Raises CommandError naming the first problem. Reads only."""
    conn = _connection()
    src = Path(src).absolute()
    if not src.is_dir():
        raise CommandError(f"找不到备份目录 {src}。")
    manifest = _read_manifest(src)
    vendor = manifest["database"]["vendor"]
    if vendor != conn.vendor:
        raise CommandError(f"备份来自 {VENDOR_NAMES[vendor]} 数据库，而当前配置的是 {VENDOR_NAMES[conn.vendor]}，"
                           f"不能恢复。")
    known = MigrationLoader(None, ignore_no_migrations=True).disk_migrations
    for app, name in manifest["migrations"].items():
        if (app, name) not in known:
            raise CommandError(f"备份的数据库结构比当前程序新（{app} 的迁移 {name} 本程序中没有）；"
                               f"请用生成该备份的程序版本恢复。")
    dump = src / manifest["database"]["file"]
    if not dump.is_file():
        raise CommandError(f"备份中缺少数据库文件 {dump.name}。")
    if dump.stat().st_size != manifest["database"]["size"] or sha256_of(dump) != manifest["database"]["sha256"]:
        raise CommandError(f"数据库文件 {dump.name} 与清单记录的 SHA-256 不符，备份已损坏。")
    for store in STORES:
        for entry in manifest[store.key]:
            path = src / store.key / entry["path"]
            if not path.is_file():
                raise CommandError(f"备份中缺少{store.label} {entry['path']}。")
            if path.stat().st_size != entry["size"] or sha256_of(path) != entry["sha256"]:
                raise CommandError(f"{store.label} {entry['path']} 与清单记录的 SHA-256 不符，备份已损坏。")
    return manifest


# Restoring ------------------------------------------------------------------------------------
def current_contents(conn) -> list[str]:
    """What the configured database and file stores hold now, for the --force question."""
    tables = set(conn.introspection.table_names())
    held = []
    for model, unit in ((get_user_model(), "个用户"), (Case, "个案件"), (AuditEvent, "条审计事件"),
                        (Evidence, "条证据记录")):
        count = model.objects.count() if model._meta.db_table in tables else 0
        if count:
            held.append(f"{count} {unit}")
    for store in STORES:
        count = sum(1 for _name in files.walk(store.storage))
        if count:
            held.append(f"{store.label}存储中 {count} 个文件")
    return held


def _restore_postgresql(conn, dump: Path, tables):
    """Replace the database with the dump in one transaction: tables the dump lacks are dropped,
    the dump's objects dropped and created again (as the connected owner), rows and triggers
    included.

    pg_restore's script streams into psql, which commits when its input ends. So psql's input
    is closed only once pg_restore has exited 0; otherwise psql is killed before the end of
    its input, and PostgreSQL rolls the transaction back when the connection drops."""
    quote = conn.ops.quote_name
    extra = sorted(set(conn.introspection.table_names()) - set(tables))
    conn.close()  # hold no lock and no prepared statement on the tables being replaced
    restore_cmd = [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--no-acl", "--file=-", str(dump)]
    psql_cmd, env = _pg_command(conn, "psql", "--no-psqlrc", "--quiet", "--single-transaction",
                                "--set=ON_ERROR_STOP=1", "--file=-")
    with tempfile.TemporaryFile() as restore_err, tempfile.TemporaryFile() as psql_err:
        reader = subprocess.Popen(restore_cmd, env=env, stdout=subprocess.PIPE, stderr=restore_err)
        writer = subprocess.Popen(psql_cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=psql_err)
        copied = False
        try:
            writer.stdin.write("".join(f"DROP TABLE IF EXISTS {quote(t)} CASCADE;\n" for t in extra).encode())
            shutil.copyfileobj(reader.stdout, writer.stdin, CHUNK)
            copied = True
        except BrokenPipeError:
            pass  # psql stopped at an error; its message says which
        finally:
            reader.stdout.close()
            if not copied:
                reader.kill()
            reader.wait()
            if not (copied and reader.returncode == 0):
                writer.kill()  # psql never reaches the end of its input, so never commits
                writer.wait()
            try:
                writer.stdin.close()  # otherwise: the end of psql's input, it commits
            except BrokenPipeError:
                pass
            writer.wait()
        if writer.returncode > 0 or not reader.returncode:
            process, err, what = writer, psql_err, "psql"
        else:
            process, err, what = reader, restore_err, "pg_restore"
        if process.returncode:
            err.seek(0)
            message = err.read().decode(errors="replace").strip()[-2000:]
            raise CommandError(f"恢复数据库失败（{what}），数据库未改动：{message}")
    with conn.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics are not part of a dump


def _restore_sqlite(conn, dump: Path):
    conn.ensure_connection()
    # immutable: the set may be on read-only media; SQLite then writes nothing beside it.
    try:
        with closing(sqlite3.connect(f"{dump.as_uri()}?mode=ro&immutable=1", uri=True)) as source:
            source.backup(conn.connection)  # replaces every page of the live database in one step
    except sqlite3.Error as exc:
        raise CommandError(f"恢复数据库失败（SQLite），数据库未改动：{exc}")


def _put(store, entry, source: Path) -> bool:
    """Write one file of the set into its store, unless the store holds it already as backed
    up; a file there under the same name with other content is replaced. True if written."""
    storage, name, wanted = store.storage, entry["path"], (entry["sha256"], entry["size"])
    if storage.exists(name):
        if files.digest(storage, name) == wanted:
            return False
        storage.delete(name)
    with open(source, "rb") as handle:
        saved = storage.save(name, File(handle, name=name))
    if saved != name:
        files.discard(storage, saved)
    if saved != name or files.digest(storage, name) != wanted:
        raise CommandError(f"写入{store.label} {name} 时内容不符，恢复中止，数据库未改动。")
    return True


def restore(src, *, force=False, app_role=None, log=lambda message: None) -> dict:
    """Restore a backup set into the configured database and file stores; returns its manifest.

    `app_role`: the application's PostgreSQL role, granted its privileges again afterwards."""
    conn = _connection()
    src = Path(src).absolute()
    manifest = check_set(src)
    held = current_contents(conn)
    if held and not force:
        raise CommandError(
            f"当前数据库不是空的：{'、'.join(held)}。恢复将删除数据库中的全部数据，换成备份"
            f"（{manifest['created_at']}）中的内容；证据和文书存储中已有的文件保留，备份中的文件写入。"
            f"确认无误请加 --force 重新运行。")
    # Files first: they have names of their own, so writing them changes nothing the database
    # now points to; if the database step then fails, they are only spare files.
    for store in STORES:
        written = sum(_put(store, entry, src / store.key / entry["path"]) for entry in manifest[store.key])
        log(f"{written} {store.key} files written to {files.describe(store.storage)}, "
            f"{len(manifest[store.key]) - written} found there already.")
    dump = src / manifest["database"]["file"]
    if conn.vendor == "postgresql":
        _restore_postgresql(conn, dump, manifest["tables"])
        if app_role:
            grant_app_role(app_role)
    else:
        _restore_sqlite(conn, dump)
    log(f"Database replaced with the backup of {manifest['created_at']}.")
    quote = conn.ops.quote_name
    with conn.cursor() as cursor:
        counts, _, _ = _inventory(cursor, manifest["tables"], quote)
    wrong = [f"{table}（备份 {manifest['tables'][table]} 行，恢复后 {count} 行）"
             for table, count in counts.items() if count != manifest["tables"][table]]
    if wrong:
        raise CommandError(f"恢复后行数与备份清单不符：{'；'.join(wrong)}。")
    log(f"Row counts of {len(counts)} tables match the manifest.")
    behind = [f"{app} {name}" for app, name in MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes()
              if manifest["migrations"].get(app) != name]
    if behind:
        log(f"The code has newer migrations than the backup ({', '.join(behind)}): run python manage.py migrate.")
    return manifest
