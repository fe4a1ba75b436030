"""Concurrency and crash atomicity (RELIABILITY 1-4 and 7).

The racing tests run on PostgreSQL with real, separate connections: each thread opens its
own connection, a barrier releases them together, and the winner is slowed down inside the
locked region so the loser really collides with it. SQLite cannot run two writers at once,
so each race also has a sequential variant that runs on both databases.
"""
import threading
import time

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils.translation import gettext, override
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from processes.rectification import services
from processes.rectification.models import RectificationCase, State
from workflow.trail import audit
from workflow.cases import engine
from workflow.storage import sql
from workflow.cases.engine import AlreadyHandled
from workflow.models import AuditEvent, Evidence, OutboxMessage
from tests.factories import drive, make_case, make_world, to_submitted, upload

needs_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="real concurrent writers need PostgreSQL"
)
HOLD_SECONDS = 0.4  # how long the first writer keeps the case locked


# Helpers -------------------------------------------------------------------------------
def run_together(*jobs, timeout=60):
    """Run each job in its own thread and connection, all released at once by a barrier.

    Returns one ("ok", value) or ("error", exception) per job, in order.
    """
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def runner(index, job):
        try:
            barrier.wait(timeout=10)
            results[index] = ("ok", job())
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            results[index] = ("error", exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, job), daemon=True) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a racing thread hung (deadlock?)"
    return results


def hold_lock_during(monkeypatch, *actions, seconds=HOLD_SECONDS):
    """Slow down the audit write of `actions`: it runs inside the locked region, after the
    state change, so whoever gets there first keeps the case locked for a while."""
    original = audit.record

    def slow_record(**kwargs):
        if kwargs.get("action") in actions and kwargs.get("outcome", "ok") == "ok":
            time.sleep(seconds)
        return original(**kwargs)

    monkeypatch.setattr(audit, "record", slow_record)


def ok_events(case, *actions):
    return list(AuditEvent.objects.filter(case_id=case.pk, outcome="ok", action__in=actions).order_by("seq"))


def last_ok_event(case):
    return AuditEvent.objects.filter(case_id=case.pk, outcome="ok").exclude(to_state="").order_by("-seq").first()


def outcomes(results):
    return sorted(kind for kind, _ in results)


def errors(results):
    return [value for kind, value in results if kind == "error"]


def act_job(world, name, case, action, **params):
    return lambda: services.case_act(actor=world.actor(name), case_id=case.pk, action=action, **params)


def open_tasks(case):
    return list(Task.objects.filter(process_id=case.pk, status__in=[STATUS.NEW, STATUS.ASSIGNED])
                .values_list("owner_permission", "owner_permission_obj_pk"))


def assert_chain_intact():
    assert audit.verify() == []


# 1. Two reviewers accept at once -------------------------------------------------------
@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_race__two_reviewers_accept_once(monkeypatch):
    # given: a submitted case and two inspectors of the supervising unit
    world = make_world()
    case = to_submitted(world, make_case(world))
    hold_lock_during(monkeypatch, "accept")
    # when: both accept at the same moment on their own connections
    results = run_together(act_job(world, "inspector", case, "accept", reason="同意"),
                           act_job(world, "inspector2", case, "accept", reason="同意"))
    # then: one wins; the other waited for the lock and was told the case was already handled,
    # without ever attempting a write of its own
    assert outcomes(results) == ["error", "ok"], results
    [loser] = errors(results)
    assert isinstance(loser, AlreadyHandled)
    with override("zh-hans"):
        assert loser.message in (
            gettext("This case has already been handled; it is now “%(state)s”.") % {"state": State.ACCEPTED.label},
            gettext("Someone else is handling this case right now; please try again."),
        )
    assert len(ok_events(case, "accept")) == 1
    case.refresh_from_db()
    assert case.status == State.ACCEPTED == last_ok_event(case).to_state
    assert open_tasks(case) == [("leader", str(world.city.pk))]
    assert OutboxMessage.objects.filter(case_id=case.pk, recipient=world.leader).count() == 1
    assert_chain_intact()


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_race__both_read_before_either_writes_still_one_wins(monkeypatch):
    # given: the row lock is switched off, so only the audit chain's unique sequence stands;
    # both transactions read the submitted case before either writes
    world = make_world()
    case = to_submitted(world, make_case(world))
    monkeypatch.setattr(engine, "load_locked", lambda model, pk, *related: (
        model.objects.select_related(*related).filter(pk=pk).first()))
    both_read = threading.Barrier(2)
    original_insert = sql.insert

    def write_when_both_have_read(objs):
        if isinstance(objs[0], AuditEvent) and objs[0].action == "accept":  # the transition's first write
            both_read.wait(timeout=10)  # both have loaded the case in state "submitted" and passed the checks
        return original_insert(objs)

    monkeypatch.setattr(sql, "insert", write_when_both_have_read)
    hold_lock_during(monkeypatch, "accept")
    # when
    results = run_together(act_job(world, "inspector", case, "accept"),
                           act_job(world, "inspector2", case, "accept"))
    # then: the second write is detected by the chain's unique sequence (inside the pipelined
    # transaction, at the latest on COMMIT) and reported as already handled
    assert outcomes(results) == ["error", "ok"], results
    assert isinstance(errors(results)[0], AlreadyHandled)
    assert len(ok_events(case, "accept")) == 1
    case.refresh_from_db()
    assert case.status == State.ACCEPTED == last_ok_event(case).to_state
    assert_chain_intact()


def test_sequential__second_reviewer_gets_already_handled(world):
    # given
    case = to_submitted(world, make_case(world))
    services.case_act(actor=world.actor("inspector"), case_id=case.pk, action="accept")
    # when / then
    with override("zh-hans"), pytest.raises(AlreadyHandled) as refused:
        services.case_act(actor=world.actor("inspector2"), case_id=case.pk, action="accept")
    with override("zh-hans"):
        assert refused.value.message == (gettext("This case has already been handled; it is now “%(state)s”.")
                                         % {"state": State.ACCEPTED.label})
    assert len(ok_events(case, "accept")) == 1
    assert RectificationCase.objects.get(pk=case.pk).status == State.ACCEPTED


# 2. Double-submitted form ----------------------------------------------------------------
def _accept_url(case):
    return f"/rectification/{case.pk}/act/accept/"


def test_double_submit__same_token_second_response_shows_the_result(world):
    # given: the inspector's accept form with one token, posted twice
    case = to_submitted(world, make_case(world))
    client = Client()
    client.force_login(world.inspector)
    form = {"form_token": "a" * 32, "reason": "同意验收"}
    # when
    first = client.post(_accept_url(case), form)
    second = client.post(_accept_url(case), form, follow=True)
    # then
    assert first.status_code == 302 and first["Location"] == case.get_absolute_url()
    assert second.redirect_chain == [(case.get_absolute_url(), 302)]
    page = second.content.decode()
    with override("zh-hans"):
        assert gettext("This form was already submitted; the result is shown below.") in page
        assert str(State.ACCEPTED.label) in page
    assert len(ok_events(case, "accept")) == 1
    assert not AuditEvent.objects.filter(case_id=case.pk, outcome="denied").exists()


def test_double_submit__new_token_after_the_change_is_already_handled(world):
    # given
    case = to_submitted(world, make_case(world))
    client = Client()
    client.force_login(world.inspector)
    client.post(_accept_url(case), {"form_token": "b" * 32})
    # when: a stale second tab with a different token
    response = client.post(_accept_url(case), {"form_token": "c" * 32}, follow=True)
    # then
    assert response.status_code == 200
    with override("zh-hans"):
        assert str(State.ACCEPTED.label) in response.content.decode()
    assert len(ok_events(case, "accept")) == 1


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_race__double_submitted_form_in_flight_together_transitions_once(monkeypatch):
    # given: one browser session sends the same form twice before the first answer arrives
    world = make_world()
    case = to_submitted(world, make_case(world))
    first, second = Client(), Client()
    first.force_login(world.inspector)
    second.cookies = first.cookies  # the same session
    hold_lock_during(monkeypatch, "accept")
    form = {"form_token": "d" * 32, "reason": "同意"}
    # when
    results = run_together(lambda: first.post(_accept_url(case), form),
                           lambda: second.post(_accept_url(case), form))
    # then: both answers redirect to the case page; exactly one transition happened
    assert outcomes(results) == ["ok", "ok"], results
    assert [r.status_code for _, r in results] == [302, 302]
    assert {r["Location"] for _, r in results} == {case.get_absolute_url()}
    assert len(ok_events(case, "accept")) == 1
    case.refresh_from_db()
    assert case.status == State.ACCEPTED == last_ok_event(case).to_state
    page = second.get(case.get_absolute_url()).content.decode()
    with override("zh-hans"):
        assert str(State.ACCEPTED.label) in page


# 3. Return and accept race -------------------------------------------------------------
@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("slow", ["accept", "return_case"])
def test_race__return_and_accept_one_wins(monkeypatch, slow):
    # given: a case under review; one inspector accepts while the other returns it
    world = make_world()
    case = drive(world, to_submitted(world, make_case(world)), ("inspector", "start_review"))
    hold_lock_during(monkeypatch, slow)
    # when
    results = run_together(act_job(world, "inspector", case, "accept", reason="同意"),
                           act_job(world, "inspector2", case, "return_case", reason="照片不清晰"))
    # then
    assert outcomes(results) == ["error", "ok"], results
    assert isinstance(errors(results)[0], AlreadyHandled)
    decided = ok_events(case, "accept", "return_case")
    assert len(decided) == 1
    case.refresh_from_db()
    assert case.status == decided[0].to_state == last_ok_event(case).to_state
    assert case.returns == (1 if decided[0].action == "return_case" else 0)
    assert_chain_intact()


def test_sequential__return_after_accept_is_already_handled(world):
    # given
    case = drive(world, to_submitted(world, make_case(world)), ("inspector", "start_review"),
                 ("inspector", "accept"))
    # when / then
    with pytest.raises(AlreadyHandled):
        services.case_act(actor=world.actor("inspector2"), case_id=case.pk, action="return_case", reason="不行")
    case.refresh_from_db()
    assert case.status == State.ACCEPTED == last_ok_event(case).to_state
    assert case.returns == 0


# 4. Evidence upload racing acceptance -----------------------------------------------------
def _slow_may_upload(monkeypatch, seconds=HOLD_SECONDS):
    original = RectificationCase.may_upload

    def slow(self, user, any_state=False):
        time.sleep(seconds)
        return original(self, user, any_state=any_state)

    monkeypatch.setattr(RectificationCase, "may_upload", slow)


def _files_under(root):
    return sorted(p.name for p in root.rglob("*") if p.is_file())


@needs_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["accept", "upload"])
def test_race__evidence_upload_during_acceptance_attaches_nothing(monkeypatch, settings, tmp_path, first):
    # given: a case under review with one piece of evidence
    settings.EVIDENCE_ROOT = str(tmp_path)
    world = make_world()
    case = drive(world, to_submitted(world, make_case(world)), ("inspector", "start_review"))
    before = set(Evidence.objects.filter(case_id=case.pk).values_list("pk", flat=True))
    if first == "accept":
        hold_lock_during(monkeypatch, "accept")
    else:
        _slow_may_upload(monkeypatch)
    # when: the inspector accepts while the unit's handler uploads one more photo
    results = run_together(
        act_job(world, "inspector", case, "accept", reason="同意"),
        lambda: services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk,
                                           upload=upload("补充照片.png")),
    )
    # then: acceptance went through; the upload got a clear refusal and nothing was attached
    (accept_kind, _), (upload_kind, refusal) = results
    assert accept_kind == "ok" and upload_kind == "error", results
    assert isinstance(refusal, AlreadyHandled)
    with override("zh-hans"):
        assert refusal.message in (gettext("Evidence can no longer be added in the case's current state."),
                                   gettext("Someone else is handling this case right now; please try again."))
    assert set(Evidence.objects.filter(case_id=case.pk).values_list("pk", flat=True)) == before
    accepted = ok_events(case, "accept")[0]
    assert not AuditEvent.objects.filter(case_id=case.pk, action="upload_evidence", seq__gt=accepted.seq).exists()
    assert _files_under(tmp_path) == sorted(pk.hex for pk in before)
    case.refresh_from_db()
    assert case.status == State.ACCEPTED == last_ok_event(case).to_state


def test_sequential__upload_after_acceptance_is_refused(world, settings, tmp_path):
    # given
    settings.EVIDENCE_ROOT = str(tmp_path)
    case = drive(world, to_submitted(world, make_case(world)), ("inspector", "accept"))
    count = Evidence.objects.filter(case_id=case.pk).count()
    # when / then
    with override("zh-hans"), pytest.raises(AlreadyHandled) as refused:
        services.case_add_evidence(actor=world.actor("handler_a"), case_id=case.pk, upload=upload())
    with override("zh-hans"):
        assert refused.value.message == gettext("Evidence can no longer be added in the case's current state.")
    assert Evidence.objects.filter(case_id=case.pk).count() == count
    assert len(_files_under(tmp_path)) == count


# 7. A crash between the state change and the audit write -------------------------------------
def _snapshot(case):
    return {
        "status": RectificationCase.objects.get(pk=case.pk).status,
        "tasks": sorted(Task.objects.filter(process_id=case.pk).values_list("pk", "status", "owner_id")),
        "outbox": OutboxMessage.objects.count(),
        "events": AuditEvent.objects.count(),
    }


@pytest.fixture
def after_commit(monkeypatch):
    """Record every after-commit callback (the outbox relay) that actually runs."""
    ran = []
    original = transaction.on_commit

    def recording(func, using=None, robust=False):
        def run():
            ran.append(getattr(func, "__name__", repr(func)))
            return func()

        return original(run, using=using, robust=robust)

    monkeypatch.setattr(transaction, "on_commit", recording)
    return ran


def _fail_audit_for(monkeypatch, action):
    original = audit.record

    def failing(**kwargs):
        if kwargs.get("action") == action:
            raise RuntimeError("disk full while writing the audit event")
        return original(**kwargs)

    monkeypatch.setattr(audit, "record", failing)


def _fail_after_queueing(monkeypatch):
    """Crash right after the transition queued its after-commit work (outbox rows written)."""
    registering = transaction.on_commit

    def failing(func, using=None, robust=False):
        registering(func, using=using, robust=robust)
        raise RuntimeError("crash after the outbox write")

    monkeypatch.setattr(transaction, "on_commit", failing)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fault", ["audit_write", "after_outbox"])
def test_crash__between_state_change_and_audit_rolls_everything_back(monkeypatch, after_commit, fault):
    # given: a submitted case; accepting it would create a sign-off task and notify the leader
    world = make_world()
    case = to_submitted(world, make_case(world))
    after_commit.clear()
    before = _snapshot(case)
    if fault == "audit_write":
        _fail_audit_for(monkeypatch, "accept")
    else:
        _fail_after_queueing(monkeypatch)
    # when
    with pytest.raises(RuntimeError):
        services.case_act(actor=world.actor("inspector"), case_id=case.pk, action="accept")
    # then: state, tasks, outbox and audit are as before, and nothing was queued
    assert _snapshot(case) == before
    assert after_commit == []
    assert not ok_events(case, "accept")
    assert_chain_intact()


@pytest.mark.django_db(transaction=True)
def test_crash__control_without_fault_commits_and_queues_the_relay(after_commit):
    # given
    world = make_world()
    case = to_submitted(world, make_case(world))
    after_commit.clear()
    before = _snapshot(case)
    # when
    services.case_act(actor=world.actor("inspector"), case_id=case.pk, action="accept")
    # then: the same observations do see a committed change
    after = _snapshot(case)
    assert after["status"] == State.ACCEPTED and after["outbox"] > before["outbox"]
    assert after["events"] == before["events"] + 1 and after["tasks"] != before["tasks"]
    assert after_commit  # the relay was queued and ran after commit
