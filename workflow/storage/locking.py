"""Loading a case under its lock.

The lock covers the case's viewflow Process row, the row that viewflow's
``select_for_update_lock`` (every CaseFlow's ``lock_impl``) locks, so the engine and
viewflow's own machinery exclude each other; and the case's own rows, so that a
transaction that had to wait reads them as the winner left them (PostgreSQL re-reads
only the rows a FOR UPDATE locks). The engine takes the lock in the query that loads
the case, which saves a round trip on every transition. It waits rather than failing
fast: the second of two concurrent actors then sees the first one's result.

Every state change starts here, so the query is compiled once per connection and case
type and then only executed; the rows become model instances exactly as the queryset
would make them.
"""
from django.db import transaction
from django.db.models.query import get_related_populators

from workflow.storage import sql as statements

PLACEHOLDER = 0


def locked_queryset(model, case_id, *related):
    parents = [link.name for link in model._meta.parents.values()]
    return (model.objects.select_related("process", *related)
            .select_for_update(of=("self", *parents, "process")).filter(pk=case_id)[:1])


def load_locked(model, case_id, *related):
    """The case with `related` joined, its rows and its process row locked until the transaction ends."""
    conn = transaction.get_connection()
    compiled = conn.__dict__.setdefault("_duban_locked_queries", {})
    entry = compiled.get((model, related))
    if entry is None:
        compiler = locked_queryset(model, PLACEHOLDER, *related).query.get_compiler(connection=conn)
        sql, params = compiler.as_sql()
        assert list(params) == [PLACEHOLDER], params  # the case's key is the query's only parameter
        entry = compiled[(model, related)] = (sql, compiler, *_row_reader(compiler, conn.alias))
    sql, compiler, converters, start, end, names, populators = entry
    with statements.cursor() as cursor:
        cursor.execute(sql, [case_id])
        rows = cursor.fetchall()
    if not rows:
        return None
    # What the queryset's ModelIterable makes of the row: the model and its select_related.
    row = list(compiler.apply_converters(rows, converters))[0] if converters else rows[0]
    obj = model.from_db(conn.alias, names, row[start:end])
    for populator in populators:
        populator.populate(row, obj)
    return obj


def _row_reader(compiler, alias):
    klass_info, select = compiler.klass_info, compiler.select
    converters = compiler.get_converters([column[0] for column in select[:compiler.col_count]])
    start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
    names = [column[0].target.attname for column in select[start:end]]
    return converters, start, end, names, get_related_populators(klass_info, select, alias)
