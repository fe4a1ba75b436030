#!/usr/bin/env python3
"""Run Duban's three processes and keep the background ones up (started by bin/run).

The web server (gunicorn), the Celery worker and celery beat each run in a process group of
their own, logging to var/web.log, var/worker.log and var/beat.log. A worker or beat that
exits is started again after a short backoff (1, 2, 4 ... 30 s; back to 1 s once it has run a
minute), and each restart is logged here and in var/supervisor.log; the web server is never
touched by that. If the web server itself exits, Duban stops, saying so. Ctrl+C or SIGTERM
stops all three, with their own children (gunicorn's and the worker's pool processes).

Environment: DUBAN_HOST, DUBAN_PORT, DUBAN_VAR_DIR as bin/run sets them, and DUBAN_BANNER,
printed once the web server answers.
"""
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STOP_SECONDS = 15  # how long a process may take to stop before it is killed
STARTUP_SECONDS = 60  # how long the web server may take to answer
log = logging.getLogger("duban.supervise")


class Stop(Exception):
    """Ctrl+C or SIGTERM."""


def _die_with_parent():
    """In the child, before exec: get SIGTERM if the supervisor dies without cleaning up."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the supervisor's own shutdown still stops its children


class Child:
    def __init__(self, name: str, args: list[str], log_path: Path):
        self.name, self.args, self.log_path = name, args, log_path
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0
        self.failures = 0
        self.restart_at: float | None = None

    def start(self):
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(self.args, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True,
                                            preexec_fn=_die_with_parent)
        self.started_at = time.monotonic()
        self.restart_at = None
        log.info("started %s (pid %d)", self.name, self.process.pid)

    def exit_code(self):
        return None if self.process is None else self.process.poll()

    def stop(self, sig=signal.SIGTERM):
        """Ask the process to stop; stop() then reap() leaves nothing of its group behind."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.kill(self.process.pid, sig)
            except ProcessLookupError:
                pass

    def reap(self, deadline: float):
        """Wait for the process until `deadline`, then kill whatever is left of its group."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s did not stop within %d s: killing it", self.name, STOP_SECONDS)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # its children, and itself if still there
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()


def describe(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def web_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


def main():
    banner = os.environ.pop("DUBAN_BANNER", "")
    host = os.environ.get("DUBAN_HOST", "127.0.0.1")
    port = os.environ.get("DUBAN_PORT", "8000")
    var = Path(os.environ.get("DUBAN_VAR_DIR", ROOT / "var")).resolve()
    var.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                        handlers=[logging.StreamHandler(sys.stdout), logging.FileHandler(var / "supervisor.log")])

    def on_signal(signum, frame):
        raise Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    python = sys.executable
    web = Child("web server", [python, "-m", "gunicorn", "config.wsgi:application", "--bind", f"{host}:{port}",
                               "--workers", "2", "--threads", "4", "--graceful-timeout", "10",
                               "--access-logfile", str(var / "access.log"), "--error-logfile", str(var / "web.log")],
                var / "web.log")
    worker = Child("worker", [python, "-m", "celery", "-A", "config", "worker", "--concurrency", "2",
                              "--loglevel", "INFO"], var / "worker.log")
    beat = Child("beat", [python, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO"], var / "beat.log")
    children = [web, worker, beat]
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/accounts/login/"
    try:
        # The embedded broker's tables exist before the three processes share it.
        subprocess.run([python, "-c", "from config.celery import prepare_broker; prepare_broker()"],
                       cwd=ROOT, check=True)
        for child in children:
            child.start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not web_answers(url):
            if web.exit_code() is not None or time.monotonic() > deadline:
                log.error("!! the web server did not start: see %s", var / "web.log")
                return 1
            time.sleep(0.5)
        if banner:
            print(banner, flush=True)
        while True:
            time.sleep(0.5)
            code = web.exit_code()
            if code is not None:
                log.error("!! the web server %s: see %s. Stopping Duban.", describe(code), var / "web.log")
                return 1
            for child in (worker, beat):
                code = child.exit_code()
                if code is not None and child.restart_at is None:
                    child.reap(time.monotonic())  # its pool processes, if any were left
                    ran = time.monotonic() - child.started_at
                    child.failures = 1 if ran > 60 else child.failures + 1
                    delay = min(30, 2 ** (child.failures - 1))
                    child.restart_at = time.monotonic() + delay
                    log.warning("!! the %s %s after %.0f s (see %s); restarting it in %d s",
                                child.name, describe(code), ran, child.log_path, delay)
                elif child.restart_at is not None and time.monotonic() >= child.restart_at:
                    child.start()
    except Stop as stop:
        log.info("%s: stopping Duban", stop)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C must not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in children:
            child.stop()
        deadline = time.monotonic() + STOP_SECONDS
        for child in children:
            child.reap(deadline)
        log.info("stopped")


if __name__ == "__main__":
    sys.exit(main())
