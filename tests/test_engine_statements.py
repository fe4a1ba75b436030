"""The engine's own statements: what a pipelined state change does when a write fails
late, and the plan PostgreSQL uses to close tasks."""
import pytest
from django.db import IntegrityError, connection
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from processes.rectification import services
from processes.rectification.models import RectificationCase, State
from workflow.cases import engine
from workflow.models import AuditEvent, OutboxMessage
from tests.factories import make_case


def snapshot(case):
    return (RectificationCase.objects.get(pk=case.pk).status,
            list(AuditEvent.objects.filter(case_id=case.pk).values_list("seq", "action").order_by("seq")),
            sorted(Task.objects.filter(process_id=case.pk).values_list("flow_task", "status")),
            OutboxMessage.objects.filter(case_id=case.pk).count())


@pytest.mark.django_db(transaction=True)
def test_transition__a_write_failing_at_commit_undoes_every_write(world, monkeypatch):
    # given: an issued case, and a task row that will break a foreign key; the check is
    # deferred, so it fails at COMMIT, after every other write was sent
    case = make_case(world)
    before = snapshot(case)
    build = engine._new_task

    def broken_task(flow, case, wait, now):
        task = build(flow, case, wait, now)
        task.process_id = 10**12
        return task

    monkeypatch.setattr(engine, "_new_task", broken_task)
    # when
    with pytest.raises(IntegrityError):
        services.case_act(actor=world.actor("handler_a"), case_id=case.pk, action="sign")
    # then: state, audit event, closed task, new task and outbox rows are all gone
    assert snapshot(case) == before
    assert before[0] == State.ISSUED
    # and the connection is usable for the next transition
    monkeypatch.undo()
    services.case_act(actor=world.actor("handler_a"), case_id=case.pk, action="sign")
    assert RectificationCase.objects.get(pk=case.pk).status == State.SIGNED


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
@pytest.mark.django_db
def test_close_tasks__prepared_plan_starts_from_the_process(world):
    # given: the statement as the engine prepares it (generic plan: parameters unknown)
    statement = engine.close_tasks_sql("postgresql", 1)
    numbered = statement
    for n in range(1, statement.count("%s") + 1):
        numbered = numbered.replace("%s", f"${n}", 1)
    with connection.cursor() as cursor:
        cursor.execute(f"PREPARE close_probe (bigint, text, bigint, timestamptz, text, text, text) AS {numbered}")
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("EXPLAIN EXECUTE close_probe (1, %s, NULL, now(), 'x', 'handler', '1')", [STATUS.DONE.value])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE close_probe")
    # then: the open tasks are found by process, and the inbox index is not used
    assert "workflow_task_open_idx" in plan, plan
    assert "workflow_task_inbox_idx" not in plan, plan


AUDIT_COLUMNS = ("chain", "seq", "case_id", "actor_id", "actor_name", "unit_id", "action", "outcome", "reason", "ip",
                 "data", "created_at", "prev_hash", "hash")


def _events(chain, n):
    from django.utils import timezone

    now = timezone.now()
    return [AuditEvent(chain=chain, seq=i + 1, case_id=None if i % 3 else i, actor_id=i if i % 2 else None,
                       actor_name="审核人" if i % 2 else "", unit_id=None, action="sign",
                       outcome=AuditEvent.Outcome.DENIED if i % 4 == 0 else "ok", reason="理由\x7f'\"" * (i % 2),
                       ip="10.0.0.%d" % (i % 250) if i % 5 else None, data={"n": i, "文字": ["a", None]} if i else {},
                       created_at=now.replace(microsecond=i % 1000), prev_hash="0" * 64, hash=str(i).zfill(64))
            for i in range(n)]


@pytest.mark.django_db
def test_sql_insert__many_rows_are_those_django_writes(world):
    from workflow.storage import sql

    # given: the same events, written once by Django and once by the engine's bulk insert
    # (values of every kind: NULLs, text choices, JSON, addresses, aware datetimes)
    AuditEvent.objects.bulk_create(_events("django", 25))
    # when
    sql.insert(_events("engine", 25))
    # then: the rows read back the same, column by column
    def rows(chain):
        return list(AuditEvent.objects.filter(chain=chain).order_by("seq").values_list(*AUDIT_COLUMNS[1:]))

    assert rows("engine") == rows("django") and len(rows("engine")) == 25


@pytest.mark.django_db
@pytest.mark.parametrize("n", [1, 3])
def test_sql_insert__conflict_updates_the_row_already_there(world, n):
    from workflow.models import RungCount, Unit
    from workflow.storage import sql

    # given: counts kept for some units, not for others
    units = list(Unit.objects.order_by("pk")[:n + 1])
    RungCount.objects.filter(unit__in=units).delete()
    RungCount.objects.create(unit=units[0], rung=1, open_cases=5)
    # when: rows for every unit, the first colliding with the kept one
    sql.insert([RungCount(unit=u, rung=1, open_cases=7) for u in units[:n]], conflict=("unit", "rung"),
               update_fields=("open_cases",))
    # then: the kept row is updated in place, the others are added, nothing else changes
    got = dict(RungCount.objects.filter(unit__in=units, rung=1).values_list("unit_id", "open_cases"))
    assert got == {u.pk: 7 for u in units[:n]}
    assert RungCount.objects.filter(unit=units[0], rung=1).count() == 1
