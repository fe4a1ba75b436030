"""Real Celery worker and beat processes for the tests in test_worker_delivery.py (on a private
Redis) and test_run_embedded.py (on the embedded default: SQLite database and broker files).

Every process started here is stopped by the fixture that started it (and, as a last resort,
at interpreter exit). Every wait has a timeout.
"""
import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
QUEUE = "celery"  # Celery's default queue, as the Redis transport names its list
UNACKED = "unacked"  # the Redis hash of delivered, not yet acknowledged messages
_started: dict[int, subprocess.Popen] = {}  # pid -> process, for the exit-time safety net


def _reap_all():
    for pid, process in list(_started.items()):
        if process.poll() is None:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


atexit.register(_reap_all)


def _spawn(args, log_path: Path, env=None) -> subprocess.Popen:
    """Start a process in its own process group (so the whole group can be killed), output to a
    file. Where util-linux's setpriv exists, the process also dies with this one, even if this
    one is killed outright (no fixture teardown, no atexit)."""
    setpriv = shutil.which("setpriv")
    if setpriv:
        args = [setpriv, "--pdeathsig", "KILL", "--", *args]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    _started[process.pid] = process
    return process


def _end(process: subprocess.Popen, sig=signal.SIGTERM, timeout=15.0):
    """Send `sig` to the process, wait, then SIGKILL its whole group (children included)."""
    if process.poll() is None:
        try:
            os.kill(process.pid, sig)
            process.wait(timeout=timeout)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # stray children (prefork pool processes)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - a process that survives SIGKILL
        pass
    _started.pop(process.pid, None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float, interval: float = 0.1, message: str = ""):
    """Poll `predicate` until it returns something truthy (returned), or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s: {message or predicate}")
        time.sleep(interval)


class RedisServer:
    """`redis-server` on a free loopback port, without persistence. Can be stopped and started
    again on the same port (a broker outage)."""

    def __init__(self, workdir: Path, port: int | None = None):
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self):
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def ping(self) -> bool:
        try:
            with self.client() as client:
                return bool(client.ping())
        except Exception:  # noqa: BLE001 - not up (yet)
            return False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 15):
        assert not self.running, "redis-server is already running"
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.workdir), "--daemonize", "no"]
        self.process = _spawn(args, self.workdir / "redis.log")
        wait_until(lambda: self.ping() or self.process.poll() is not None, timeout,
                   message=f"redis-server on port {self.port} answers PING")
        if self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited: {(self.workdir / 'redis.log').read_text()[-2000:]}")
        self._check_ours()
        return self

    def _check_ours(self):
        """Never flush or use a Redis someone else started on this port in the meantime."""
        with self.client() as client:
            pid = int(client.info("server")["process_id"])
        if pid != self.process.pid:
            raise RuntimeError(f"port {self.port} is served by another redis-server (pid {pid})")

    def stop(self):
        if self.process is not None:
            _end(self.process, signal.SIGTERM, timeout=10)
            self.process = None
        wait_until(lambda: not self.ping(), 10, message=f"redis on port {self.port} is down")

    def flush(self):
        self._check_ours()
        with self.client() as client:
            client.flushall()

    def queue_length(self, queue: str = QUEUE) -> int:
        with self.client() as client:
            return client.llen(queue)

    def unacked(self) -> int:
        with self.client() as client:
            return client.hlen(UNACKED)

    def has_binding(self, queue: str = QUEUE) -> bool:
        """True once a consumer has declared `queue` (the transport keeps bindings in a set)."""
        with self.client() as client:
            return bool(client.exists(f"_kombu.binding.{queue}"))


def database_url(settings_dict) -> str:
    """A DATABASE_URL for the database described by a Django settings dict (the test database)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{quote(settings_dict['NAME'], safe='')}"


class CeleryProcess:
    """A `celery -A config ...` process in its own process group, logging to a file."""

    label = "celery"
    ready_line = ""

    def __init__(self, log_path: Path, env: dict, args: list[str]):
        self.log_path, self.env, self.args = Path(log_path), env, args
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60):
        self.process = _spawn([sys.executable, "-m", "celery", "-A", "config", *self.args], self.log_path,
                              env=self.env)
        wait_until(lambda: self.ready_line in self.log() or self.process.poll() is not None, timeout,
                   message=f"{self.label} ready")
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.label} exited with {self.process.returncode}:\n{self.log()[-4000:]}")
        return self

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 15):
        """Warm shutdown (SIGTERM to the main process), then SIGKILL whatever is left."""
        if self.process is not None:
            _end(self.process, signal.SIGTERM, timeout=timeout)


class CeleryWorker(CeleryProcess):
    """`celery -A config worker`."""

    ready_line = " ready."

    def __init__(self, name: str, log_path: Path, env: dict, pool: str = "prefork", concurrency: int = 2):
        self.name = f"{name}-{uuid.uuid4().hex[:6]}"
        self.label = f"worker {self.name}"
        super().__init__(log_path, env, ["worker", "--pool", pool, "--concurrency", str(concurrency),
                                         "--loglevel", "INFO", "-n", f"{self.name}@%h", "--without-mingle",
                                         "--without-gossip", "--without-heartbeat"])

    def kill(self):
        """SIGKILL the worker and its pool processes at once: nothing is acknowledged or cleaned up."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            _end(self.process)

    def results(self, task: str) -> list[str]:
        """Return values logged for each successful run of `task`, in order."""
        pattern = re.compile(rf"Task {re.escape(task)}\[[^\]]+\] succeeded in [0-9.e-]+s: (.*)$", re.M)
        return pattern.findall(self.log())

    def received(self, task: str) -> int:
        return len(re.findall(rf"Task {re.escape(task)}\[[^\]]+\] received", self.log()))

    def failures(self) -> list[str]:
        """Tasks that raised, and crashes. (Losing the broker is logged as an error too, but by
        the consumer in the main process, and is not a failure here.)"""
        return [line for line in self.log().splitlines()
                if re.search(r"\] raised |Traceback|Unrecoverable error|ERROR/ForkPoolWorker|CRITICAL/", line)]


def worker_env(*, broker_url: str, database_url: str, visibility_timeout: int, **extra) -> dict:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "CELERY_BROKER_URL": broker_url,
        "CELERY_VISIBILITY_TIMEOUT": str(visibility_timeout),
        "DATABASE_URL": database_url,
        "PYTHONUNBUFFERED": "1",
    })
    env.update({key: str(value) for key, value in extra.items()})
    return env


def wait_published(timeout: float) -> bool:
    """Wait until this process has nothing left to publish after commit (notify.enqueue_relay
    hands the publishing to a background thread). False if still busy after `timeout` s."""
    from workflow.trail import notify

    deadline = time.monotonic() + timeout
    waiter = getattr(notify, "wait_for_publisher", None)
    if waiter is not None and not waiter(timeout):
        return False
    for thread in threading.enumerate():  # one thread per commit, in earlier versions of notify
        if thread.name == "outbox-relay":
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return False
    return True


def _reset_broker_pools(app):
    from kombu import pools

    pools.reset()  # close every pooled broker connection and forget the pools
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


@contextmanager
def celery_app_on(broker_url: str, transport_options: dict):
    """Point this process's Celery app (and enqueue_relay) at `broker_url`, not eager; restore after."""
    from django.test import override_settings

    from config import celery_app as app

    keys = ("broker_url", "broker_transport_options", "task_always_eager")
    saved = {key: app.conf[key] for key in keys}
    # Celery reads these variables before its configuration, so they must go too.
    variables = ("CELERY_BROKER_URL", "CELERY_BROKER_READ_URL", "CELERY_BROKER_WRITE_URL")
    saved_env = {name: os.environ.pop(name) for name in variables if name in os.environ}
    _reset_broker_pools(app)
    try:
        app.conf.update(broker_url=broker_url, broker_transport_options=transport_options, task_always_eager=False)
        with app.connection_for_write() as conn:  # never publish to anyone else's broker
            assert conn.as_uri().endswith(broker_url.split("@")[-1].split("//")[-1]), conn.as_uri()
        with override_settings(CELERY_TASK_ALWAYS_EAGER=False):
            yield app
    finally:
        wait_published(15)  # nothing still on its way to this broker
        _reset_broker_pools(app)
        app.conf.update(saved)
        os.environ.update(saved_env)


# The embedded default: SQLite database and broker files in a var dir -----------------------
SERVER_VARIABLES = ("DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL", "CELERY_BROKER_READ_URL",
                    "CELERY_BROKER_WRITE_URL", "CELERY_TASK_ALWAYS_EAGER")


def embedded_env(var_dir: Path, settings: str = "config.settings.test", **extra) -> dict:
    """Environment for a process on the embedded default kept in `var_dir` (DUBAN_VAR_DIR): its
    SQLite database and SQLite broker, never a server named in this process's environment."""
    env = {key: value for key, value in os.environ.items() if key not in SERVER_VARIABLES}
    env.update({"DJANGO_SETTINGS_MODULE": settings, "DUBAN_VAR_DIR": str(var_dir),
                "CELERY_TASK_ALWAYS_EAGER": "false", "PYTHONUNBUFFERED": "1"})
    env.update({key: str(value) for key, value in extra.items()})
    return env


def run_python(args: list[str], env: dict, timeout: float = 240) -> str:
    """Run `python <args>` in the project directory; its output, or fail with it."""
    result = subprocess.run([sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"python {' '.join(args)} exited with {result.returncode}:\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout


class CeleryBeat(CeleryProcess):
    """`celery -A config beat`."""

    label = "beat"
    ready_line = "beat: Starting..."

    def __init__(self, log_path: Path, env: dict, schedule_path: Path):
        super().__init__(log_path, env, ["beat", "--loglevel", "INFO", "--schedule", str(schedule_path)])

    def sent(self, entry: str) -> int:
        """How many times the schedule entry `entry` (e.g. "relay-outbox") has been sent."""
        return len(re.findall(rf"Sending due task {re.escape(entry)} ", self.log()))


def process_groups() -> dict[int, list[int]]:
    """Every live process on this machine by process group: {pgid: [pid, ...]} (Linux /proc)."""
    groups: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        if fields[0] != "Z":  # a zombie is dead, only not yet reaped by its parent
            groups.setdefault(int(fields[2]), []).append(int(entry.name))
    return groups


# Load on the embedded default, run in processes of their own by tests/test_run_embedded.py --
SOAK_SUBJECT = "督办提醒"


def seed_soak(overdue: int) -> dict:
    """A unit tree with one user per role, every user with an email address, and `overdue`
    issued cases whose deadlines have passed, so the beat's sweeps fire rungs."""
    from datetime import timedelta

    from django.utils import timezone

    from processes.rectification.models import RectificationCase
    from tests.factories import make_case, make_world
    from workflow.cases import escalation
    from workflow.models import User

    world = make_world()
    for user in User.objects.all():
        user.email = f"{user.username}@mz.example.gov.cn"
        user.save(update_fields=["email"])
    today = timezone.localdate()
    for i in range(overdue):
        case = make_case(world, title=f"逾期案件{i}")
        case.deadline = today - timedelta(days=2 + 4 * i)
        RectificationCase.objects.filter(pk=case.pk).update(deadline=case.deadline,
                                                            next_rung_on=escalation.next_rung_on(case))
    return {"users": User.objects.count(), "overdue": overdue}


def drive_outbox(seconds: float, threads: int, tag: str) -> dict:
    """For `seconds`, from `threads` threads: write notifications (outbox rows) in transactions
    whose commit asks the worker to relay; issue a new case now and then; ask for a relay
    directly; and relay in this process too, racing the worker. Returns what was done."""
    import random

    from django.db import connection, transaction

    from processes.rectification import services
    from workflow.trail import notify
    from workflow.cases.engine import Actor
    from workflow.models import Case, Role, User
    from workflow.tasks import relay_outbox

    inspector = User.objects.filter(role=Role.INSPECTOR).order_by("pk").first()
    unit = User.objects.filter(role=Role.HANDLER).order_by("pk").first().unit  # the world's county A
    who = [(Role.HANDLER, unit.pk), (Role.UNIT_HEAD, unit.pk)]
    done = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run(n: int):
        count = Counter()
        try:
            cases = list(Case.objects.order_by("pk")[:20])
            i = 0
            while time.monotonic() < deadline:
                i += 1
                if i % 10 == 0:
                    services.case_create(actor=Actor(user=inspector, ip="127.0.0.1"), unit=unit, issue=True,
                                         title=f"压力测试{tag}-{n}-{i}", description="通道堆物", requirement="立即清理")
                    count["cases"] += 1
                else:
                    key = f"soak:{tag}:{n}:{i}"
                    with transaction.atomic():
                        notify.queue(case=random.choice(cases), who=who, subject=f"{SOAK_SUBJECT} {key}", key=key)
                    count["events"] += 1
                if i % 4 == 0:
                    relay_outbox.apply_async()
                    count["relays_asked"] += 1
                if i % 6 == 0:
                    count["delivered_here"] += notify.relay()
                    count["relays_here"] += 1
                time.sleep(random.uniform(0.05, 0.2))
        finally:
            connection.close()
            with lock:
                done.update(count)

    workers = [threading.Thread(target=run, args=(n,), name=f"drive-{n}") for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(seconds + 120)
    notify.wait_for_publisher(15)
    return dict(done, threads_alive=sum(thread.is_alive() for thread in workers))


if __name__ == "__main__":
    # python -m tests.worker_support seed OVERDUE | drive SECONDS THREADS TAG  (prints JSON)
    import json

    import django

    django.setup()
    command, *arguments = sys.argv[1:]
    if command == "seed":
        print(json.dumps(seed_soak(int(arguments[0]))))
    elif command == "drive":
        print(json.dumps(drive_outbox(float(arguments[0]), int(arguments[1]), arguments[2])))
    else:
        sys.exit(f"unknown command {command!r}")
