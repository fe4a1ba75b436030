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
