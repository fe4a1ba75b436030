"""The audit trail as evidence (RELIABILITY 20-21).

On PostgreSQL a trigger refuses UPDATE and DELETE. Tampering is then done the way a
database administrator would: switch the trigger off, change rows, switch it back on.
On SQLite there is no trigger and rows are changed directly.
"""
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.http import Http404
from django.core.exceptions import PermissionDenied
from django.test import Client

from processes.rectification import services
from processes.rectification.models import RectificationCase
from workflow.trail import audit
from workflow.models import AuditEvent, Case
from tests.factories import drive, make_case, to_submitted, upload

needs_postgres = pytest.mark.skipif(connection.vendor != "postgresql", reason="the audit trigger is PostgreSQL's")
TABLE = AuditEvent._meta.db_table


# Helpers ------------------------------------------------------------------------------------
@pytest.fixture
def reviewed(world, settings, tmp_path):
    """A case with a handful of events: opened, issued, signed, evidence, submitted, approved, under review."""
    settings.EVIDENCE_ROOT = str(tmp_path)
    return drive(world, to_submitted(world, make_case(world)), ("inspector", "start_review"))


def events_of(case):
    return list(AuditEvent.objects.filter(case_id=case.pk).order_by("seq"))


def as_dba(*statements):
    """Run raw SQL with the append-only trigger switched off (PostgreSQL), then on again."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        for sql, params in statements:
            cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")


def run_verify():
    out, err = StringIO(), StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def first_break(err):
    return err.splitlines()[0]


# 20. The database refuses changes ---------------------------------------------------------------
@needs_postgres
@pytest.mark.postgres
@pytest.mark.parametrize("sql", [
    f"UPDATE {TABLE} SET reason = 'rewritten' WHERE id = %s",
    f"UPDATE {TABLE} SET to_state = 'closed', hash = 'x' WHERE id = %s",
    f"DELETE FROM {TABLE} WHERE id = %s",
])
def test_db_guard__raw_update_and_delete_are_refused(reviewed, sql):
    # given
    event = events_of(reviewed)[2]
    # when / then
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [event.pk])
    fresh = AuditEvent.objects.get(pk=event.pk)
    assert (fresh.reason, fresh.to_state, fresh.hash) == (event.reason, event.to_state, event.hash)


@needs_postgres
@pytest.mark.postgres
def test_db_guard__orm_bulk_update_and_delete_are_refused(reviewed):
    # given
    count = AuditEvent.objects.count()
    # when / then
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(case_id=reviewed.pk).update(reason="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(case_id=reviewed.pk)._raw_delete(connection.alias)
    assert AuditEvent.objects.count() == count
    assert not AuditEvent.objects.filter(reason="rewritten").exists()


def test_db_guard__the_model_refuses_save_and_delete(reviewed):
    # given
    event = events_of(reviewed)[1]
    event.reason = "rewritten"
    # when / then
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    assert AuditEvent.objects.get(pk=event.pk).reason == ""


# 20. verify_audit finds the first broken link ------------------------------------------------------
def test_verify__intact_chain_exits_0(reviewed):
    # when
    code, out, err = run_verify()
    # then
    assert code == 0, err
    assert str(AuditEvent.objects.count()) in out and err == ""


def test_verify__edited_row_is_named(reviewed):
    # given
    target = events_of(reviewed)[2]
    as_dba((f"UPDATE {TABLE} SET reason = %s WHERE id = %s", ["已整改完毕（改写）", target.pk]))
    # when
    code, out, err = run_verify()
    # then
    assert code == 1
    assert f"event #{target.pk} " in first_break(err) and "edited" in first_break(err)


def test_verify__deleted_middle_row_names_the_next_event(reviewed):
    # given
    events = events_of(reviewed)
    as_dba((f"DELETE FROM {TABLE} WHERE id = %s", [events[3].pk]))
    # when
    code, out, err = run_verify()
    # then: the first broken link is the event after the gap
    assert code == 1
    assert f"event #{events[4].pk} " in first_break(err)
    assert f"expected seq {events[3].seq}, found {events[4].seq}" in first_break(err)


def test_verify__deleted_last_row_is_reported(reviewed):
    # given
    last = events_of(reviewed)[-1]
    as_dba((f"DELETE FROM {TABLE} WHERE id = %s", [last.pk]))
    # when
    code, out, err = run_verify()
    # then
    assert code == 1 and f"chain {audit.case_chain(reviewed.pk)}" in first_break(err)


def test_verify__swapped_rows_are_reported_at_the_first_misplaced_event(reviewed):
    # given: two neighbouring events change places
    events = events_of(reviewed)
    a, b = events[2], events[3]
    as_dba(
        (f"UPDATE {TABLE} SET seq = %s WHERE id = %s", [10_000, a.pk]),
        (f"UPDATE {TABLE} SET seq = %s WHERE id = %s", [a.seq, b.pk]),
        (f"UPDATE {TABLE} SET seq = %s WHERE id = %s", [b.seq, a.pk]),
    )
    # when
    code, out, err = run_verify()
    # then: b now sits where a was, and its link back no longer matches
    assert code == 1
    assert f"event #{b.pk} " in first_break(err)


def test_verify__edited_last_row_with_a_recomputed_hash_is_reported(reviewed):
    # given: a careful forger rewrites the newest event and recomputes its hash
    last = events_of(reviewed)[-1]
    last.reason = "领导同意（伪造）"
    forged = audit.compute_hash(last)
    as_dba((f"UPDATE {TABLE} SET reason = %s, hash = %s WHERE id = %s", [last.reason, forged, last.pk]))
    # when
    code, out, err = run_verify()
    # then: the chain head still remembers the real last hash
    assert code == 1
    assert f"chain {audit.case_chain(reviewed.pk)}" in first_break(err)


def test_verify__rewritten_tail_with_recomputed_links_is_reported(reviewed):
    # given: the forger rewrites an event and re-links every later event
    events = events_of(reviewed)
    statements, prev = [], events[2].prev_hash
    for index, event in enumerate(events[2:]):
        if index == 0:
            event.reason = "伪造"
        event.prev_hash = prev
        event.hash = prev = audit.compute_hash(event)
        statements.append((f"UPDATE {TABLE} SET reason = %s, prev_hash = %s, hash = %s WHERE id = %s",
                           [event.reason, event.prev_hash, event.hash, event.pk]))
    as_dba(*statements)
    # when
    code, out, err = run_verify()
    # then
    assert code == 1
    assert f"chain {audit.case_chain(reviewed.pk)}" in first_break(err)


def test_verify__only_the_tampered_chain_is_reported(world, reviewed):
    # given: a second, untouched case
    other = make_case(world, unit=world.county_b)
    target = events_of(reviewed)[1]
    as_dba((f"UPDATE {TABLE} SET actor_name = %s WHERE id = %s", ["别人", target.pk]))
    # when
    code, out, err = run_verify()
    # then
    assert code == 1
    assert audit.case_chain(reviewed.pk) in err and audit.case_chain(other.pk) not in err


def test_verify__tampered_system_chain_event_is_reported(world, reviewed):
    # given: an access refusal recorded on the system chain, then erased from the record
    client = Client()
    client.force_login(world.handler_b)
    client.get(f"/rectification/{reviewed.pk}/")
    refusal = AuditEvent.objects.get(chain=audit.SYSTEM_CHAIN, action="access_denied")
    as_dba((f"UPDATE {TABLE} SET actor_id = NULL, actor_name = '' WHERE id = %s", [refusal.pk]))
    # when
    code, out, err = run_verify()
    # then
    assert code == 1 and f"event #{refusal.pk} " in first_break(err)


# 21. Each event is complete; replaying a case's events rebuilds its state --------------------------------
def replay(case_id) -> str:
    """The state a case's ok events lead to, checking that each transition starts where the last ended."""
    state = None
    for event in AuditEvent.objects.filter(case_id=case_id, outcome="ok").order_by("seq"):
        if event.from_state:
            assert event.from_state == state, f"event #{event.pk} starts from {event.from_state}, not {state}"
        if event.to_state:
            state = event.to_state
    return state


@pytest.fixture
def busy(world, settings, tmp_path):
    """A case that went round once: returned, resubmitted, accepted and signed off, with refusals on the way."""
    settings.EVIDENCE_ROOT = str(tmp_path)
    case = to_submitted(world, make_case(world))
    case = drive(world, case, ("inspector", "start_review"), ("inspector", "return_case", {"reason": "照片不清晰"}))
    with pytest.raises(PermissionDenied):
        services.case_act(actor=world.actor("handler_a"), case_id=case.pk, action="accept")
    with pytest.raises(Http404):
        services.case_act(actor=world.actor("handler_b"), case_id=case.pk, action="submit", reason="x")
    services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload("补拍.png"))
    services.case_comment(actor=world.actor("head_a"), case_id=case.pk, body="已督促")
    client = Client(REMOTE_ADDR="192.0.2.10")
    client.force_login(world.handler_a)
    client.post(f"/rectification/{case.pk}/act/submit/", {"reason": "已重新整改"})
    return drive(world, case, ("head_a", "head_approve"), ("inspector", "accept"), ("leader", "sign_off"))


def test_events__every_event_has_time_actor_role_unit_action_outcome_and_ip(busy):
    # given: the events of the case's life (the fixture's accounts were set up by the system, not in a request)
    events = list(AuditEvent.objects.exclude(action__startswith="account_"))
    # then
    assert {e.outcome for e in events} == {"ok", "denied"}
    for event in events:
        assert event.created_at and event.action and event.outcome, event.pk
        assert event.actor_id and event.actor_name and event.actor_role, event.pk
        assert event.unit_id and event.unit_name, event.pk
        assert event.ip, event.pk
    returned = AuditEvent.objects.get(case_id=busy.pk, action="return_case")
    assert returned.reason == "照片不清晰" and returned.actor_role == "inspector"
    web_submit = AuditEvent.objects.filter(case_id=busy.pk, action="submit").order_by("seq").last()
    assert web_submit.ip == "192.0.2.10"
    denied = AuditEvent.objects.get(case_id=busy.pk, action="accept", outcome="denied")
    assert denied.actor_role == "handler"


def test_events__replay_rebuilds_the_current_state(world, busy, settings, tmp_path):
    # given: besides the closed case, one still in the middle of its life
    middle = drive(world, make_case(world, unit=world.county_b), ("handler_b", "sign"))
    # then
    for case in (busy, middle):
        current = RectificationCase.objects.get(pk=case.pk).status
        assert replay(case.pk) == current
    assert busy.status == "closed"
    assert run_verify()[0] == 0


def test_events__snapshots_do_not_change_when_people_or_units_change(world, busy):
    # given
    before = {e.pk: (e.actor_name, e.unit_name, e.actor_role) for e in AuditEvent.objects.all()}
    # when: the unit is renamed and the handler changes role
    world.county_a.name = "甲县民政局（新）"
    world.county_a.save()
    world.handler_a.role, world.handler_a.full_name = "unit_head", "改名"
    world.handler_a.save()
    # then
    assert {e.pk: (e.actor_name, e.unit_name, e.actor_role) for e in AuditEvent.objects.filter(pk__in=before)} == before
    assert run_verify()[0] == 0
    assert Case.objects.get(pk=busy.pk).audit_seq == len(events_of(busy))
