"""The benchmark is a tool, not a process: the base settings (bin/run, the worker, the web
server) and the production settings never install it; bin/bench and `manage.py bench` run it
under config.settings.bench. Each settings module is loaded in a fresh process, as its command
loads it, with no DJANGO_* variable inherited from the test run."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIST_APPS = ("import django, json; django.setup(); from django.apps import apps; "
             "print(json.dumps([[a.name, a.label] for a in apps.get_app_configs()]))")


@pytest.fixture
def clean_env(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DUBAN_", "CELERY_"))}
    env.update({"DUBAN_VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"})
    return env


def installed_apps(env, settings_module):
    done = subprocess.run([sys.executable, "-c", LIST_APPS], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**env, "DJANGO_SETTINGS_MODULE": settings_module})
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def is_bench(name, label):
    return name.startswith("tools.") or name == "processes.benchmark" or label == "benchmark"


@pytest.mark.parametrize("settings_module", ["config.settings.base", "config.settings.production"])
def test_settings__base_and_production_install_no_bench(clean_env, settings_module):
    # given
    env = {**clean_env, "DJANGO_SECRET_KEY": "settings-apps-test-" + "s" * 40, "DJANGO_ALLOWED_HOSTS": "127.0.0.1"}
    # when
    apps = installed_apps(env, settings_module)
    # then
    assert ["processes.rectification", "rectification"] in apps  # the list was read, not empty
    assert [app for app in apps if is_bench(*app)] == []


def test_settings__bench_and_test_install_the_bench_under_its_old_label(clean_env):
    # when
    bench, test = installed_apps(clean_env, "config.settings.bench"), installed_apps(clean_env, "config.settings.test")
    # then: the label viewflow stores in its flow references ("benchmark/flows.BaselineFlow")
    assert ["tools.bench", "benchmark"] in bench
    assert ["tools.bench", "benchmark"] in test


def test_manage__default_settings_have_no_bench_command(clean_env):
    # when: manage.py as bin/run calls it, with no settings module named
    done = subprocess.run([sys.executable, "manage.py", "help", "--commands"], cwd=ROOT, env=clean_env,
                          capture_output=True, text=True, timeout=120)
    # then
    assert done.returncode == 0, done.stderr[-2000:]
    commands = done.stdout.split()
    assert "migrate" in commands and "seed_demo" in commands
    assert "bench" not in commands


@pytest.mark.parametrize("command, settings_module", [
    (["bin/bench", "--help"], "config.settings.base"),  # bin/bench chooses the bench's settings whatever is set
    ([sys.executable, "manage.py", "bench", "--help"], None),
], ids=["bin-bench", "manage-py-bench"])
def test_bench__help_runs_under_the_bench_settings(clean_env, command, settings_module):
    # given
    env = {**clean_env, **({"DJANGO_SETTINGS_MODULE": settings_module} if settings_module else {})}
    # when
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    # then
    assert done.returncode == 0, done.stderr[-2000:]
    assert "--scale" in done.stdout and "--in-place" in done.stdout
