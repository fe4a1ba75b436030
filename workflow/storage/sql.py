"""The statements of a state change: built once per model, sent without waiting.

A transition writes a handful of rows (the case, its audit event, its tasks, its outbox
rows) and reads none of them back. On PostgreSQL the engine runs the transaction in
psycopg's pipeline mode (``pipelined``): each write goes to the server the moment it is
known, the server works on it while Python prepares the next, and the client waits for
them once, when the block ends, and then for COMMIT. A failing write (say, a duplicate in
an audit chain) still raises inside the transaction, when the block ends at the latest,
and rolls everything back.

The writes here never depend on a row count or a returned key, which pipeline mode
cannot give without waiting. The ORM still works inside: a read waits for its own result,
and a write whose row count Django checks (``save()``) waits for its own (see
``CountingCursor``). The SQL text is built from the models' metadata once and kept, and
prepared on the server; values go through each field's own conversion, so the rows are
what ``Model.save`` would write.
"""
import datetime
from contextlib import contextmanager
from functools import lru_cache

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models import Model
from django.db.models.sql import InsertQuery


@contextmanager
def pipelined(using=None):
    """Run the block in pipeline mode where the database driver has it (psycopg 3 on
    PostgreSQL); elsewhere, as it is. Enter it inside the transaction
    (``with transaction.atomic(), pipelined():``): leaving it waits for every write, raises
    the first that failed, and leaves COMMIT as the one further round trip."""
    conn = connections[using or DEFAULT_DB_ALIAS]
    raw = _psycopg3(conn)
    if raw is None:
        yield
        return
    from psycopg import Pipeline

    if raw.cursor_factory is _django_cursor():
        raw.cursor_factory = _counting_cursor()
    if raw.cursor_factory is not _counting_cursor() or not Pipeline.is_supported():
        yield  # a cursor configured otherwise might not wait for its row counts
        return
    # A write that failed shows when the pipeline is synced on leaving the block: raise it
    # as Django's exception, as if the statement had raised it.
    with conn.wrap_database_errors, raw.pipeline():
        yield


def _psycopg3(conn):
    """The open psycopg 3 connection behind a Django connection, or None (SQLite, psycopg2)."""
    if conn.vendor != "postgresql":
        return None
    conn.ensure_connection()
    raw = conn.connection
    return raw if hasattr(raw, "pipeline") else None


@lru_cache(maxsize=None)
def _django_cursor():
    from django.db.backends.postgresql.base import Cursor

    return Cursor


@lru_cache(maxsize=None)
def _counting_cursor():
    class CountingCursor(_django_cursor()):
        """Django's cursor, which in pipeline mode waits for its statement's result when
        asked for the row count: the ORM's save() and update() rely on it."""

        @property
        def rowcount(self):
            count = super().rowcount
            if count < 0 and self.connection.pgconn.pipeline_status:
                with self.connection.pipeline():  # a nested block syncs: the results arrive
                    pass
                count = super().rowcount
            return count

    return CountingCursor


def cursor():
    """A cursor for statements whose text repeats (the engine's, built here).

    On PostgreSQL with psycopg 3 its parameters are bound on the server and each statement
    is prepared once per connection, so the server plans it once rather than on every
    transition. (Django's own cursors inline the values and are never prepared.) Queries
    are logged and wrapped as Django's own are."""
    conn = transaction.get_connection()
    raw = _psycopg3(conn)
    if raw is None:
        return conn.cursor()
    from psycopg import Cursor

    if raw.prepare_threshold is None:
        raw.prepare_threshold = 0  # applies to server-bound cursors only, i.e. these
    conn.validate_thread_sharing()
    server_bound = Cursor(raw)
    return conn.make_debug_cursor(server_bound) if conn.queries_logged else conn.make_cursor(server_bound)


def execute(sql: str, params=()):
    """Run one statement in the current transaction without reading anything back."""
    with cursor() as c:
        c.execute(sql, params)


def quote(name: str) -> str:
    return transaction.get_connection().ops.quote_name(name)


# Parameters per statement: below both PostgreSQL's limit (65,535) and SQLite's (32,766).
MAX_PARAMS = 30_000


@lru_cache(maxsize=None)
def _insert_one(model, vendor: str) -> tuple[str, tuple]:
    fields = tuple(f for f in model._meta.local_concrete_fields if f is not model._meta.auto_field)
    ops = connections[DEFAULT_DB_ALIAS].ops
    columns = ", ".join(ops.quote_name(f.column) for f in fields)
    values = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({values})", fields


def insert(objs: list[Model], model=None, *, conflict: tuple = (), update_fields: tuple = ()):
    """INSERT unsaved instances into `model`'s own table (by default their model's). Keys
    are not read back: an instance of a model with an automatic key keeps ``pk = None``.
    For a model with parents, insert into each parent and then the model itself.

    With `conflict` (attribute names of a unique constraint), a row that collides updates
    `update_fields` of the row already there instead (the later write wins).

    One row uses a statement built once. Many rows on PostgreSQL go as one array per column
    (``INSERT ... SELECT FROM UNNEST``, cheap to plan) of up to ``UNNEST_ROWS`` rows, the
    values that are already what the column takes (ints, text, dates, aware datetimes) passed
    as they are and the others through the field's own conversion; elsewhere, Django's own
    bulk statement."""
    if not objs:
        return
    model = model or type(objs[0])
    conn = transaction.get_connection()
    sql, fields = _insert_one(model, conn.vendor)
    if conflict:
        sql += _on_conflict(model, conflict, update_fields)
    if len(objs) == 1:
        execute(sql, [f.get_db_prep_save(f.pre_save(objs[0], True), conn) for f in fields])
        return
    if conn.vendor == "postgresql" and _unnest_sql(model, conn.vendor) is not None:
        statement = _unnest_sql(model, conn.vendor) + (_on_conflict(model, conflict, update_fields) if conflict else "")
        for start in range(0, len(objs), UNNEST_ROWS):
            chunk = objs[start:start + UNNEST_ROWS]
            execute(statement, [_column(f, chunk, conn) for f in fields])
        return
    if conflict:
        model._default_manager.bulk_create(objs, update_conflicts=True, unique_fields=list(conflict),
                                           update_fields=list(update_fields))
        return
    per_statement = max(1, min(conn.ops.bulk_batch_size(fields, objs), MAX_PARAMS // len(fields)))
    for start in range(0, len(objs), per_statement):
        query = InsertQuery(model)
        query.insert_values(fields, objs[start:start + per_statement])
        for statement, params in query.get_compiler(connection=conn).as_sql():
            execute(statement, params)


# Rows per INSERT ... SELECT FROM UNNEST: each column is one array parameter, so the rows per
# statement are bounded by memory, not by the parameter limit.
UNNEST_ROWS = 10_000


@lru_cache(maxsize=None)
def _unnest_sql(model, vendor: str) -> str | None:
    """The INSERT of many rows from one array per column, or None when a column cannot go as
    an array (a field that builds its own placeholder, or a type outside the backend's)."""
    fields = _insert_one(model, vendor)[1]
    conn = connections[DEFAULT_DB_ALIAS]
    if any(hasattr(f, "get_placeholder") or (f.target_field if f.is_relation else f).get_internal_type()
           not in conn.data_types for f in fields):
        return None
    # The array types without their modifiers (varchar[], not varchar(50)[]), as Django does.
    arrays = ", ".join(f"(%s)::{f.db_type(conn).split('(')[0]}[]" for f in fields)
    columns = ", ".join(conn.ops.quote_name(f.column) for f in fields)
    return f"INSERT INTO {conn.ops.quote_name(model._meta.db_table)} ({columns}) SELECT * FROM UNNEST({arrays})"


@lru_cache(maxsize=None)
def _on_conflict(model, conflict: tuple, update_fields: tuple) -> str:
    ops = connections[DEFAULT_DB_ALIAS].ops
    keys = ", ".join(ops.quote_name(model._meta.get_field(n).column) for n in conflict)
    columns = [ops.quote_name(model._meta.get_field(n).column) for n in update_fields]
    if not columns:
        return f" ON CONFLICT ({keys}) DO NOTHING"
    return f" ON CONFLICT ({keys}) DO UPDATE SET " + ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)


def _ready_types(field) -> tuple:
    """The Python types whose values `field` would send unchanged (its conversion is the
    identity for them), so a column of them needs no per-value call."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return ()
    target = field.target_field if field.is_relation else field
    if isinstance(target, (models.IntegerField, models.AutoField)):
        return (int,)
    if isinstance(target, (models.CharField, models.TextField)) and not target.is_relation:
        return (str,)
    if isinstance(target, models.BooleanField):
        return (bool,)
    return ()


def _column(field, objs, conn) -> list:
    """One column's values for `objs`, as the field's own conversion would give them."""
    attname = field.attname
    values = [getattr(obj, attname) for obj in objs]
    ready = _ready_types(field)
    if isinstance(field, models.DateTimeField) and not (field.auto_now or field.auto_now_add):
        if all(v is None or (type(v) is datetime.datetime and v.tzinfo is not None) for v in values):
            return values
    elif isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField) and not (
            field.auto_now or field.auto_now_add):
        if all(v is None or type(v) is datetime.date for v in values):
            return values
    elif ready and all(v is None or type(v) in ready for v in values):
        return values
    return [field.get_db_prep_save(field.pre_save(obj, True), conn) for obj in objs]


def update(obj: Model, attnames) -> None:
    """UPDATE the given columns of a saved instance, table by table for a model with
    parents (only the tables that hold one of the columns)."""
    conn = transaction.get_connection()
    by_table: dict = {}
    for name in attnames:
        field = obj._meta.get_field(name)
        by_table.setdefault(field.model._meta.concrete_model, []).append(field)
    for owner, fields in by_table.items():
        key = owner._meta.pk
        sql = _update_sql(owner, tuple(f.column for f in fields), key.column, conn.vendor)
        execute(sql, [f.get_db_prep_save(getattr(obj, f.attname), conn) for f in fields] + [obj.pk])


@lru_cache(maxsize=None)
def _update_sql(model, columns: tuple, key: str, vendor: str) -> str:
    ops = connections[DEFAULT_DB_ALIAS].ops
    assignments = ", ".join(f"{ops.quote_name(c)} = %s" for c in columns)
    return f"UPDATE {ops.quote_name(model._meta.db_table)} SET {assignments} WHERE {ops.quote_name(key)} = %s"


def exists(model, **equals) -> bool:
    """Whether a row of `model` has these column values (attribute names), as one prepared
    statement per model and set of columns."""
    names = tuple(sorted(equals))
    with cursor() as c:
        c.execute(_exists_sql(model, names, transaction.get_connection().vendor), [equals[n] for n in names])
        return c.fetchone() is not None


@lru_cache(maxsize=None)
def _exists_sql(model, names: tuple, vendor: str) -> str:
    ops = connections[DEFAULT_DB_ALIAS].ops
    where = " AND ".join(f"{ops.quote_name(model._meta.get_field(n).column)} = %s" for n in names)
    return f"SELECT 1 FROM {ops.quote_name(model._meta.db_table)} WHERE {where} LIMIT 1"
