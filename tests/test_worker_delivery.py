"""Background work against a real Celery worker and a real Redis (RELIABILITY 5, 6 and 9).

Each test starts its own worker process(es) on a private `redis-server`, both started and
stopped by the fixtures below. The worker reads the same PostgreSQL test database as this
process, so these tests commit for real (transaction=True) and are skipped on SQLite, whose
test database lives in this process's memory.
"""
import shutil
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Q
from django.test import Client
from django.utils import timezone

from processes.rectification.models import RectificationCase, State
from workflow.cases import escalation
from workflow.trail import notify
from workflow.models import AuditEvent, Escalation, Notification, OutboxMessage, Proposal, User
from workflow.tasks import escalation_sweep, relay_outbox
from tests.factories import make_case, make_world, upload
from tests.slow_email import read_log
from tests.worker_support import (
    CeleryWorker, RedisServer, celery_app_on, database_url, wait_published, wait_until, worker_env,
)

VISIBILITY_TIMEOUT = 4  # seconds before Redis hands an unacknowledged message to another worker
SLOW_EMAIL_SECONDS = 0.4
LEASE_SECONDS = 2  # an email being sent is another worker's to retry after this (DUBAN_OUTBOX_LEASE_SECONDS)
REQUEST_BOUND = 5.0  # a hang guard for web requests while the broker is down, not a benchmark

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="a worker process cannot see SQLite's in-memory test database; "
                              "these run in the PostgreSQL pass"),
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary"),
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]
RELAY = relay_outbox.name
SWEEP = escalation_sweep.name


# Fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def broker(redis_server):
    """The private Redis, running and empty."""
    if not redis_server.running:
        redis_server.start()
    redis_server.flush()
    yield redis_server
    if not redis_server.running:  # a test stopped it and failed before starting it again
        redis_server.start()


@pytest.fixture
def on_broker(broker):
    """This process publishes to the private Redis (after commit, from a thread) instead of running eagerly."""
    with celery_app_on(broker.url(), {"visibility_timeout": VISIBILITY_TIMEOUT}) as app:
        yield app


class Workers:
    def __init__(self, broker, log_dir, db_url):
        self.broker, self.log_dir, self.db_url = broker, log_dir, db_url
        self.started: list[CeleryWorker] = []

    def start(self, name, concurrency=2, **env) -> CeleryWorker:
        worker = CeleryWorker(name, self.log_dir / f"worker-{name}-{len(self.started)}.log",
                              worker_env(broker_url=self.broker.url(), database_url=self.db_url,
                                         visibility_timeout=VISIBILITY_TIMEOUT, **env),
                              concurrency=concurrency)
        self.started.append(worker)
        return worker.start()

    def stop_all(self):
        for worker in self.started:
            worker.stop()


@pytest.fixture
def workers(broker, tmp_path, django_db_setup):
    """Starts `celery -A config worker` processes on the private Redis and the test database;
    stops every one of them (and its pool processes) at the end of the test."""
    pool = Workers(broker, tmp_path, database_url(connection.settings_dict))
    yield pool
    pool.stop_all()


# Helpers ---------------------------------------------------------------------------------
def pending():
    return OutboxMessage.objects.filter(sent_at__isnull=True)


def wait_drained(timeout=90):
    wait_until(lambda: not pending().exists(), timeout, interval=0.2,
               message=f"outbox drained ({pending().count()} rows still pending)")


def assert_delivered_once():
    """Every outbox row sent, none failed, one in-app notification per in-app row."""
    assert not OutboxMessage.objects.filter(Q(sent_at__isnull=True) | Q(failed_at__isnull=False)).exists()
    in_app = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.IN_APP)
    assert Notification.objects.count() == in_app.count()
    assert set(Notification.objects.values_list("key", flat=True)) == set(in_app.values_list("key", flat=True))
    for key, user_id in Notification.objects.values_list("key", "user_id"):
        assert key.split(":")[-2] == str(user_id)  # delivered to the row's recipient


def open_transactions_elsewhere() -> int:
    """Transactions open on the test database in other sessions (the workers')."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL")
        return cursor.fetchone()[0]


def make_overdue(cases, deadlines):
    """Backdate each case's deadline and its next rung as seed_demo._make_overdue does."""
    for case, deadline in zip(cases, deadlines):
        case.deadline = deadline
        RectificationCase.objects.filter(pk=case.pk).update(
            deadline=deadline, next_rung_on=escalation.next_rung_on(case))


# 5. Escalation sweep twice, on two worker processes and in-process at once ----------------
def test_sweep__two_workers_and_this_process_at_once_fire_each_rung_once(on_broker, workers):
    # given: a worker with two pool processes, and 30 issued cases whose deadlines lie from
    # tomorrow to 40 days ago, so each needs between one and all five rungs fired
    worker = workers.start("sweep", concurrency=2)
    world = make_world()
    today = timezone.localdate()
    offsets = [-1, 0, 2, 4, 7, 10, 14, 20, 28, 40]
    cases = [make_case(world, title=f"逾期案件{i}") for i in range(30)]
    make_overdue(cases, [today - timedelta(days=offsets[i % len(offsets)]) for i in range(len(cases))])
    wait_drained()  # the issue notifications, relayed by the worker
    policy = escalation.policy_for("rectification")
    expected = {}
    for case in cases:
        dates = escalation.rung_dates(case.deadline, policy)
        expected[case.pk] = [rung for rung in sorted(dates) if dates[rung] <= today]
    total = sum(map(len, expected.values()))
    assert total > len(cases) and any(len(r) == 5 for r in expected.values())
    # when: two sweep tasks go to the worker's two pool processes and, while they run, this
    # process sweeps too
    for _ in range(2):
        escalation_sweep.apply_async()
    wait_until(lambda: worker.received(SWEEP) == 2, 30, interval=0.02, message="the worker took both sweeps")
    assert worker.results(SWEEP) == []  # neither has finished: three sweeps at once
    fired_here = escalation.sweep()
    runs = wait_until(lambda: (r := worker.results(SWEEP)) and len(r) == 2 and r, 60,
                      message="both sweep tasks finished")
    wait_drained()
    # then: each due rung fired exactly once, whoever fired it
    fired_by_worker = [int(value) for value in runs]
    assert fired_here + sum(fired_by_worker) == total, (fired_here, fired_by_worker, total)
    assert Escalation.objects.count() == total
    for case in cases:
        rungs = list(Escalation.objects.filter(case_id=case.pk).order_by("rung").values_list("rung", flat=True))
        assert rungs == expected[case.pk], case.pk
        assert AuditEvent.objects.filter(case_id=case.pk, action="escalate").count() == len(expected[case.pk])
        row = RectificationCase.objects.get(pk=case.pk)
        assert row.rung == max(expected[case.pk])
        assert row.next_rung_on is None or row.next_rung_on > today
        kinds = sorted(Proposal.objects.filter(case_id=case.pk).values_list("kind", flat=True))
        proposals = case.spec.ladder.proposals
        assert kinds == sorted(proposals[r] for r in expected[case.pk] if r in proposals)
    # and one notification per recipient and rung, delivered once
    told = Counter()
    for case in cases:
        for rung in expected[case.pk]:
            for role, unit_id in escalation.told(case, rung):
                for pk in User.objects.filter(role=role, unit_id=unit_id, is_active=True).values_list("pk", flat=True):
                    told[f"esc:{case.pk}:{rung}:{pk}:in_app"] += 1
    got = Counter(Notification.objects.filter(key__startswith="esc:").values_list("key", flat=True))
    assert got == told and set(got.values()) == {1}
    assert_delivered_once()
    assert worker.failures() == []
    print(f"\n{total} rungs fired: {fired_here} here, {fired_by_worker} by the worker's two processes")


# 6. A worker killed mid-relay: redelivered to a fresh worker, each row delivered once -------
def test_relay__worker_killed_before_ack_is_redelivered_and_each_row_delivered_once(on_broker, broker, workers,
                                                                                    tmp_path):
    # given: every user has an email address and two events for everyone are in the outbox; the
    # relay messages wait in Redis for a worker whose email backend takes 0.4 s per message
    mail_log = tmp_path / "mail.jsonl"
    world = make_world()
    for user in User.objects.all():
        user.email = f"{user.username}@mz.example.gov.cn"
        user.save(update_fields=["email"])
    case = make_case(world)
    with transaction.atomic():  # two events told to everyone, on both channels, as notify.queue writes them
        now = timezone.now()
        OutboxMessage.objects.bulk_create(
            OutboxMessage(key=f"kill-test:{n}:{user.pk}:{channel}", channel=channel, recipient=user, case_id=case.pk,
                          subject=f"督办提醒 第{n + 1}批", created_at=now, next_attempt_at=now)
            for n in range(2) for user in User.objects.all()
            for channel in (OutboxMessage.Channel.IN_APP, OutboxMessage.Channel.EMAIL))
        transaction.on_commit(notify.enqueue_relay)
    assert wait_published(15)
    rows = OutboxMessage.objects.count()
    emails = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.EMAIL).count()
    assert emails >= 18 and broker.queue_length() >= 1
    slow = {"DJANGO_EMAIL_BACKEND": "tests.slow_email.SlowEmailBackend",
            "DUBAN_SLOW_EMAIL_SECONDS": SLOW_EMAIL_SECONDS, "DUBAN_SLOW_EMAIL_LOG": mail_log,
            "DUBAN_OUTBOX_LEASE_SECONDS": LEASE_SECONDS}
    first = workers.start("doomed", **slow)
    sent_emails = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.EMAIL, sent_at__isnull=False)
    wait_until(lambda: sent_emails.count() >= 3, 60, interval=0.05, message="the first worker sent 3 emails")
    # when: the worker is killed (SIGKILL, pool included) in the middle of the relay
    first.kill()
    wait_until(lambda: open_transactions_elsewhere() == 0, 15,
               message="PostgreSQL rolled back the dead worker's open transaction")
    sent_before = OutboxMessage.objects.filter(sent_at__isnull=False).count()
    assert 3 <= sent_before < rows
    # every relay message was delivered to the dead worker and none acknowledged: only Redis's
    # visibility timeout can bring one back
    assert broker.unacked() >= 1 and broker.queue_length() == 0
    assert first.received(RELAY) >= 1
    # then: after the visibility timeout Redis hands the message to a fresh worker, which
    # finishes the job; nothing is sent twice
    killed_at = time.monotonic()
    second = workers.start("fresh", **slow)
    # the email in flight at the kill stays leased to the dead worker until the lease runs out;
    # then the beat's periodic relay (played here) takes it up
    relay_outbox.apply_async(countdown=LEASE_SECONDS + 1)
    wait_drained(timeout=120)
    drained_after = time.monotonic() - killed_at
    wait_until(lambda: broker.unacked() == 0 and broker.queue_length() == 0, 60,
               message="every relay message acknowledged")
    assert second.received(RELAY) >= 1
    assert sent_before + sum(int(v) for v in second.results(RELAY)) == rows
    assert_delivered_once()
    # every row took one attempt, but an email whose send the kill cut off (at most one in each
    # of the worker's two pool processes): its attempt was counted when it was leased, so it
    # took two (an in-app delivery cut off rolled back, counting none)
    attempts = Counter(OutboxMessage.objects.values_list("attempts", flat=True))
    assert set(attempts) <= {1, 2} and attempts[2] <= 2, attempts
    assert all(m.channel == OutboxMessage.Channel.EMAIL for m in OutboxMessage.objects.filter(attempts=2))
    # email leaves the system, so it is at-least-once: only the message in flight at the kill
    # could go out twice; in practice the kill lands in the backend's sleep and none does
    sent_mail = Counter((tuple(m["to"]), m["subject"]) for m in read_log(mail_log))
    wanted = {((m.recipient.email,), m.subject)
              for m in OutboxMessage.objects.filter(channel=OutboxMessage.Channel.EMAIL).select_related("recipient")}
    assert set(sent_mail) == set(wanted)
    assert sum(sent_mail.values()) - len(wanted) <= 1, sent_mail.most_common(3)
    assert second.failures() == []
    print(f"\nkilled after {sent_before}/{rows} rows; drained {drained_after:.1f} s after the kill")


# 9. Broker down: the web keeps working; the outbox catches up when the broker is back -------
def _post(client, path, data, timings):
    """POST in a thread of its own, so that a request hanging on the broker fails the test
    instead of hanging it."""
    result = {}

    def run():
        try:
            result["response"] = client.post(path, data)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            result["error"] = exc
        finally:
            connection.close()

    started = time.monotonic()
    thread = threading.Thread(target=run, name="web-request", daemon=True)
    thread.start()
    thread.join(REQUEST_BOUND * 6)
    timings.append(time.monotonic() - started)
    assert not thread.is_alive(), f"{path} still running after {timings[-1]:.0f} s"
    if "error" in result:
        raise result["error"]
    response = result["response"]
    assert response.status_code == 302, (path, response.status_code)
    assert timings[-1] < REQUEST_BOUND, (path, timings[-1])
    return response


def _act(client, case, action, timings, **data):
    return _post(client, f"/rectification/{case.pk}/act/{action}/", {"form_token": uuid.uuid4().hex, **data}, timings)


def test_broker_down__requests_succeed_and_the_outbox_drains_when_it_returns(on_broker, broker, workers, caplog):
    # given: a running worker, three issued cases whose notifications went out normally
    worker = workers.start("outage")
    world = make_world()
    cases = [make_case(world, title=f"断网案件{i}") for i in range(3)]
    wait_drained()
    delivered_before = set(OutboxMessage.objects.values_list("pk", flat=True))
    clients = {}
    for name in ("handler_a", "head_a", "inspector"):
        clients[name] = Client()
        clients[name].force_login(getattr(world, name))
    # when: Redis goes away, and the unit signs, uploads, submits, the head approves and the
    # inspector accepts, all through the web
    broker.stop()
    timings = []
    for case in cases:
        _act(clients["handler_a"], case, "sign", timings)
        _post(clients["handler_a"], f"/rectification/{case.pk}/evidence/", {"file": upload()}, timings)
        _act(clients["handler_a"], case, "submit", timings, reason="已按要求整改")
        _act(clients["head_a"], case, "head_approve", timings, reason="同意报送")
    for case in cases[:-1]:
        _act(clients["inspector"], case, "accept", timings, reason="整改到位")
    # then: every change was made and its notifications written to the outbox, unsent
    states = dict(RectificationCase.objects.filter(pk__in=[c.pk for c in cases]).values_list("pk", "status"))
    assert [states[c.pk] for c in cases] == [State.ACCEPTED, State.ACCEPTED, State.SUBMITTED]
    written = OutboxMessage.objects.exclude(pk__in=delivered_before)
    assert written.count() >= len(cases) * 2
    assert not written.filter(sent_at__isnull=False).exists()
    assert wait_published(15)  # publishing gave up quickly; nothing hangs
    assert "broker unavailable; outbox relay deferred" in caplog.text
    # when: Redis comes back (empty, on the same port); the worker reconnects and declares its
    # queue again; the next action's after-commit relay reaches it
    broker.start()
    wait_until(broker.has_binding, 60, interval=0.2, message="the worker reconnected to the broker")
    _act(clients["inspector"], cases[-1], "accept", timings, reason="整改到位")
    # then: the whole backlog is delivered, each message once
    wait_drained()
    assert_delivered_once()
    assert RectificationCase.objects.get(pk=cases[-1].pk).status == State.ACCEPTED
    assert worker.failures() == []
    print(f"\n{len(timings)} requests with the broker down: slowest {max(timings):.2f} s")
