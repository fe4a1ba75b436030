"""The embedded default stays up (RELIABILITY 24): what bin/run starts, run for real.

1. A soak: the real Celery worker and beat on the embedded broker (kombu's SQLAlchemy transport
   on an SQLite file) with the beat ticking every second or two, while two other processes
   write notifications from several threads, ask for relays and relay themselves. The worker
   stays up and every outbox row is delivered exactly once.
2. The supervisor (bin/supervise.py, which bin/run hands over to): a worker killed with SIGKILL
   is started again while the web server keeps answering; SIGINT stops every process it
   started, their children included.
3. With DEBUG off (bin/run's default), the error pages are the project's own, in Chinese.

The processes share an SQLite database file in a temporary DUBAN_VAR_DIR, so this runs in the
SQLite pass (this process's own test database is not used); the PostgreSQL pass skips it.
The file takes about two minutes.
"""
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest
from django.db import connection
from django.test import Client, RequestFactory
from django.views.defaults import server_error

from tests.slow_email import read_log
from tests.worker_support import (
    SOAK_SUBJECT, CeleryBeat, CeleryWorker, _end, _spawn, embedded_env, process_groups, run_python,
    wait_until,
)

embedded = pytest.mark.skipif(connection.vendor != "sqlite",
                              reason="the embedded default is SQLite; the PostgreSQL pass runs test_worker_delivery")
DRIVE_SECONDS = 60  # the soak's load phase; the whole soak takes about 90 s
DRIVERS, THREADS = 2, 3  # processes writing notifications, and threads in each
PORTS = range(8110, 8120)


# Fixtures and helpers ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def template_var(tmp_path_factory):
    """A var dir with a migrated SQLite database and collected static files, copied by each test."""
    var = tmp_path_factory.mktemp("var-template")
    env = embedded_env(var)
    run_python(["manage.py", "migrate", "--noinput"], env)
    run_python(["manage.py", "collectstatic", "--noinput"], env)
    return var


@pytest.fixture
def var_dir(template_var, tmp_path):
    var = tmp_path / "var"
    shutil.copytree(template_var, var)
    return var


def database(var) -> sqlite3.Connection:
    """The var dir's Duban database, read with the standard library (this process's Django
    uses its own test database)."""
    db = sqlite3.connect(var / "duban.sqlite3", timeout=30)
    db.row_factory = sqlite3.Row
    return db


def pending(var) -> int:
    with database(var) as db:
        return db.execute("SELECT count(*) FROM workflow_outboxmessage WHERE sent_at IS NULL").fetchone()[0]


def last_json(text: str) -> dict:
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])


def free_port_in_range() -> int:
    for port in PORTS:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free port in {PORTS}")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")
    except OSError as exc:
        return 0, repr(exc)


# 1. Soak -----------------------------------------------------------------------------------
@embedded
def test_soak__worker_and_beat_on_the_sqlite_broker_deliver_every_row_once(var_dir, tmp_path):
    # given: the embedded default in a var dir, users with email addresses, 8 overdue cases for
    # the sweeps, and the real worker and beat with the beat relaying every second and
    # sweeping every two; every email sent is logged (tests/slow_email.py, without the delay)
    mail_log = tmp_path / "mail.jsonl"
    env = embedded_env(var_dir, DUBAN_RELAY_SECONDS=1, DUBAN_SWEEP_SECONDS=2,
                       DJANGO_EMAIL_BACKEND="tests.slow_email.SlowEmailBackend", DUBAN_SLOW_EMAIL_SECONDS=0,
                       DUBAN_SLOW_EMAIL_LOG=mail_log)
    started = time.monotonic()
    run_python(["-m", "tests.worker_support", "seed", "8"], env)
    run_python(["-c", "from config.celery import prepare_broker; prepare_broker()"], env)
    worker = CeleryWorker("soak", tmp_path / "worker.log", env, concurrency=2).start()
    beat = CeleryBeat(tmp_path / "beat.log", env, var_dir / "beat-schedule").start()
    try:
        # when: for a minute, two processes with three threads each write notifications (a
        # new case now and then), ask the worker for relays and relay themselves, racing the
        # worker's two pool processes and the beat's relays
        drivers = [_spawn([sys.executable, "-m", "tests.worker_support", "drive", str(DRIVE_SECONDS), str(THREADS),
                           f"p{n}"], tmp_path / f"driver-{n}.log", env=env) for n in range(DRIVERS)]
        for driver in drivers:
            driver.wait(timeout=DRIVE_SECONDS + 120)
        done = [last_json((tmp_path / f"driver-{n}.log").read_text()) for n in range(DRIVERS)]
        assert [driver.returncode for driver in drivers] == [0] * DRIVERS, done
        drained_from = time.monotonic()
        wait_until(lambda: pending(var_dir) == 0, 90, interval=0.5,
                   message=f"the outbox drained ({pending(var_dir)} rows pending)")
        drained_in = time.monotonic() - drained_from
        # then: the worker and beat are still up, nothing failed, and the beat ticked throughout
        assert worker.running and beat.running
        assert worker.failures() == [], worker.failures()[:5]
        assert "JSONDecodeError" not in worker.log() + beat.log()
        assert beat.sent("relay-outbox") >= DRIVE_SECONDS * 0.8
        assert beat.sent("escalation-sweep") >= DRIVE_SECONDS / 2 * 0.8
        relays_by_worker = [int(value) for value in worker.results("workflow.tasks.relay_outbox")]
        assert len(relays_by_worker) >= DRIVE_SECONDS and sum(relays_by_worker) > 0
    finally:
        beat.stop()
        worker.stop()
    # and every outbox row was delivered exactly once: sent, one attempt, never failed
    with database(var_dir) as db:
        rows = db.execute("SELECT o.key, o.channel, o.subject, o.attempts, o.sent_at, o.failed_at, u.email, u.id "
                          "FROM workflow_outboxmessage o JOIN workflow_user u ON u.id = o.recipient_id").fetchall()
        notifications = Counter((r["key"], r["user_id"]) for r in
                                db.execute("SELECT key, user_id FROM workflow_notification").fetchall())
        rungs = db.execute("SELECT count(*) FROM workflow_escalation").fetchone()[0]
    events = sum(d.get("events", 0) for d in done)
    delivered_by_drivers = sum(d.get("delivered_here", 0) for d in done)
    assert events > 500 and all(d["threads_alive"] == 0 for d in done), done
    assert all(r["sent_at"] is not None and r["failed_at"] is None and r["attempts"] == 1 for r in rows)
    assert sum(relays_by_worker) + delivered_by_drivers == len(rows)
    # in the app: one notification per in-app row, for its recipient
    in_app = Counter((r["key"], r["id"]) for r in rows if r["channel"] == "in_app")
    assert notifications == in_app
    # by email: each row's message went out once, neither lost nor doubled
    sent = Counter((tuple(m["to"]), m["subject"]) for m in read_log(mail_log))
    wanted = Counter(((r["email"],), r["subject"]) for r in rows if r["channel"] == "email")
    assert sent == wanted
    # the load was what it claims: soak events, new cases and escalation rungs, relayed by the
    # worker's pool processes and the drivers alike
    assert sum(1 for r in rows if r["subject"].startswith(SOAK_SUBJECT)) == events * 4  # 2 users x 2 channels
    assert rungs > 8 and sum(1 for r in rows if r["key"].startswith("esc:")) > 0
    assert delivered_by_drivers > 0 and len({m["pid"] for m in read_log(mail_log)}) >= DRIVERS + 1
    # the broker hands out each message once and keeps none it handed out after pruning
    pruned = int(run_python(["-c", "from config.celery import prune_broker; print(prune_broker())"], env))
    with sqlite3.connect(var_dir / "broker.sqlite3") as broker:
        left = broker.execute("SELECT count(*) FROM kombu_message WHERE NOT visible").fetchone()[0]
    assert pruned >= len(relays_by_worker) and left == 0
    print(f"\nsoak: {time.monotonic() - started:.0f} s in all; {events} events, "
          f"{sum(d.get('cases', 0) for d in done)} new cases, {rungs} rungs -> {len(rows)} outbox rows, "
          f"delivered {sum(relays_by_worker)} by the worker and {delivered_by_drivers} by the drivers' own relays; "
          f"{len(relays_by_worker)} relay tasks, {beat.sent('relay-outbox')} beat relays, "
          f"{sum(d.get('relays_asked', 0) for d in done)} asked for; drained {drained_in:.1f} s after the load")


# 2. Supervisor -----------------------------------------------------------------------------
def supervisor_starts(var) -> list[tuple[str, int]]:
    """(name, pid) of every process the supervisor has started, in order."""
    try:
        text = (var / "supervisor.log").read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [(name, int(pid)) for name, pid in re.findall(r"started (web server|worker|beat) \(pid (\d+)\)", text)]


@embedded
def test_supervisor__a_killed_worker_is_restarted_while_the_web_answers_and_sigint_stops_all(var_dir, tmp_path):
    # given: bin/supervise.py as bin/run starts it (base settings, DEBUG off) on a free port
    port = free_port_in_range()
    base = f"http://127.0.0.1:{port}"
    env = embedded_env(var_dir, settings="config.settings.base", DUBAN_HOST="127.0.0.1", DUBAN_PORT=port,
                       DUBAN_RELAY_SECONDS=1, DUBAN_BANNER="== supervisor banner ==")
    env.pop("DUBAN_DEBUG", None)
    env.pop("DJANGO_DEBUG", None)
    out = tmp_path / "supervise.out"
    supervisor = _spawn([sys.executable, "bin/supervise.py"], out, env=env)
    try:
        wait_until(lambda: "== supervisor banner ==" in out.read_text() or supervisor.poll() is not None, 90,
                   message="the supervisor printed the banner")
        assert supervisor.poll() is None, out.read_text()
        first = dict(supervisor_starts(var_dir))
        worker_log = var_dir / "worker.log"
        wait_until(lambda: worker_log.read_text().count(" ready.") == 1, 60, message="the worker is ready")
        # the pages are served with DEBUG off: static files through whitenoise, the project's 404
        status, css = get(f"{base}/static/css/duban.css")
        assert status == 200 and ".topbar" in css
        status, page = get(f"{base}/no-such-page/")
        assert status == 404 and "页面不存在" in page and "Resolver404" not in page and "Traceback" not in page
        # the web server is asked for the login page five times a second throughout
        answers, stop_polling = [], threading.Event()

        def poll():
            while not stop_polling.is_set():
                answers.append(get(f"{base}/accounts/login/")[0])
                time.sleep(0.2)

        poller = threading.Thread(target=poll, name="poll-web", daemon=True)
        poller.start()
        time.sleep(1)
        old_pool = [pid for pid in process_groups().get(first["worker"], []) if pid != first["worker"]]
        assert old_pool, "the worker has pool processes"
        # when: the worker is killed outright
        received_before = worker_log.read_text().count("relay_outbox[")
        os.kill(first["worker"], signal.SIGKILL)
        # then: the supervisor says so, starts a new worker, which takes the beat's relays
        restarted = wait_until(lambda: [pid for name, pid in supervisor_starts(var_dir)
                                        if name == "worker" and pid != first["worker"]], 30,
                               message="a new worker was started")
        assert "the worker was killed by SIGKILL" in out.read_text()
        assert "the worker was killed by SIGKILL" in (var_dir / "supervisor.log").read_text()
        wait_until(lambda: worker_log.read_text().count(" ready.") == 2, 60, message="the new worker is ready")
        wait_until(lambda: worker_log.read_text().count("relay_outbox[") > received_before + 2, 30,
                   message="the new worker runs the beat's relays")
        assert not set(old_pool) & {pid for pids in process_groups().values() for pid in pids}, \
            "the killed worker's pool processes were stopped"
        wait_until(lambda: len(answers) >= 20, 30, message="20 answers from the web server")
        stop_polling.set()
        poller.join(10)
        # the web server answered every time and was never restarted
        assert len(answers) >= 20 and set(answers) == {200}, Counter(answers)
        assert [name for name, _ in supervisor_starts(var_dir)].count("web server") == 1
        assert supervisor.poll() is None
        # when: Ctrl+C
        groups = {first["web server"], first["beat"], restarted[-1]}
        assert all(process_groups().get(group) for group in groups)
        supervisor.send_signal(signal.SIGINT)
        supervisor.wait(timeout=40)
        # then: it stopped cleanly, and nothing it started (nor their children) is left
        assert supervisor.returncode == 0, out.read_text()[-2000:]
        assert "SIGINT: stopping Duban" in out.read_text() and out.read_text().rstrip().endswith("stopped")
        left = process_groups()
        assert not [group for group in groups if left.get(group)], {group: left.get(group) for group in groups}
        status, _ = get(f"{base}/accounts/login/")
        assert status == 0  # nothing listens any more
    finally:
        _end(supervisor, signal.SIGINT, timeout=30)


# 3. Error pages with DEBUG off -------------------------------------------------------------
@pytest.mark.django_db
def test_error_pages__the_projects_own_in_chinese_without_debug(settings):
    settings.DEBUG = False
    # 404 for an unknown address: no exception class name, no URL list
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "页面不存在，或您无权查看。" in page and "Resolver404" not in page and "urlpatterns" not in page
    # 400 for a host that is not allowed
    response = Client().get("/accounts/login/", HTTP_HOST="evil.example.com")
    assert response.status_code == 400 and "请求有误" in response.content.decode()
    # 403 for a form without its CSRF token
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403
    assert "表单已过期或并非来自本系统" in response.content.decode()
    # 500: rendered with no context at all, styled by the stylesheet only
    response = server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500 and "系统内部错误" in page and "您已保存的内容不会丢失" in page
    assert "/static/css/duban.css" in page and "style=" not in page and "<style" not in page
    assert "<script" not in page and "Traceback" not in page
