"""Scenario 6: gunicorn with two workers on loopback, simulated users mixing reads and writes.
Bounded in time and in requests; loopback only."""
import http.cookiejar
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from processes.rectification.models import RectificationCase
from workflow.models import Role

from .measure import percentile
from .seed import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(database_url, port):
    # The bench's settings (base plus the bench app): viewflow can load the baseline flow's rows
    # ("benchmark/...") that the write-path scenario leaves in this database only with it installed.
    env = dict(os.environ, DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="config.settings.bench",
               DUBAN_DEBUG="false", DJANGO_DEBUG="false", DJANGO_ALLOWED_HOSTS="127.0.0.1",
               DUBAN_LOGIN_FAILURE_LIMIT="1000")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
                               f"127.0.0.1:{port}", "--workers", "2", "--threads", "4", "--timeout", "60"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2)
            return server
        except (urllib.error.URLError, ConnectionError, OSError):
            if server.poll() is not None:
                raise RuntimeError(server.stderr.read().decode()[-2000:])
            time.sleep(0.3)
    server.terminate()
    raise RuntimeError("gunicorn did not start in 60 s")


class User:
    """One simulated person with their own session."""

    def __init__(self, base, username, case_id):
        self.base, self.username, self.case_id = base, username, case_id
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def csrf(self):
        return next((c.value for c in self.jar if c.name == "csrftoken"), "")

    def request(self, path, data=None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body, headers={"Referer": self.base + path})
        try:
            with self.opener.open(req, timeout=30) as response:
                response.read()
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def login(self):
        self.request("/accounts/login/")
        return self.request("/accounts/login/", {"username": self.username, "password": PASSWORD,
                                                 "csrfmiddlewaretoken": self.csrf()})


def run(org, database_url, users=20, seconds=60, max_requests=20000) -> dict:
    port = _free_port()
    picks = []
    for leaf in org.leaves:
        case_id = (RectificationCase.objects.filter(unit=leaf, status="rectifying")
                   .order_by("pk").values_list("pk", flat=True).first())
        if case_id:
            picks.append((org.one(Role.HANDLER, leaf).username, case_id))
        if len(picks) == users:
            break
    server = _start_server(database_url, port)
    base = f"http://127.0.0.1:{port}"
    latencies, errors, lock = [], [], threading.Lock()
    counter = {"n": 0}
    stop_at = time.monotonic() + seconds

    def person(username, case_id, seed):
        rng = random.Random(seed)
        user = User(base, username, case_id)
        if user.login() not in (200, 302):
            with lock:
                errors.append(f"login {username}")
            return
        while time.monotonic() < stop_at:
            with lock:
                if counter["n"] >= max_requests:
                    return
                counter["n"] += 1
            roll = rng.random()
            start = time.perf_counter()
            try:
                if roll < 0.4:
                    status, ok = user.request("/inbox/"), (200,)
                elif roll < 0.8:
                    status, ok = user.request(f"/rectification/{case_id}/"), (200,)
                else:
                    status, ok = user.request(f"/rectification/{case_id}/act/report_progress/", {
                        "csrfmiddlewaretoken": user.csrf(), "reason": "进展情况"}), (200, 302)
            except Exception as exc:  # noqa: BLE001 - every failure is counted
                status, ok = repr(exc), ()
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if status not in ok:
                    errors.append(str(status))

    threads = [threading.Thread(target=person, args=(u, c, n)) for n, (u, c) in enumerate(picks)]
    started = time.monotonic()
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 60)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    wall = time.monotonic() - started
    return {"users": len(picks), "seconds": round(wall, 1), "requests": len(latencies),
            "throughput_per_s": round(len(latencies) / wall, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 1), "p95_ms": round(percentile(latencies, 95) * 1000, 1),
            "errors": len(errors), "error_samples": sorted(set(errors))[:5]}


def database_url(settings_dict) -> str:
    """A DATABASE_URL for the database the benchmark runs on (for the server processes)."""
    user = settings_dict.get("USER") or ""
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


