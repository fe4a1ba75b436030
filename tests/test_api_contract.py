"""The API keeps its contract: schemathesis, with all its checks, against the live server.

Every operation of the OpenAPI schema (every case type's, the test-only ones too) is sent
generated requests, valid and invalid (the coverage, fuzzing and stateful phases), as an
inspector and as a unit handler (two runs at once) of a seeded world with cases in several states. No answer may
be a 5xx, and none may differ from the schema: a status it does not list, a body or header
that does not match, a valid request refused or an invalid one accepted.

The run is bounded (a few examples per operation, deterministic generation) so that it takes
about three minutes on two cores. It runs on PostgreSQL (marker ``postgres``), in CI's
PostgreSQL run: the schema there is the one deployed.
"""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from tests.factories import drive, make_case, make_world, to_submitted

ST = Path(sys.executable).with_name("st")
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")  # the files an upload's media types are
MAX_EXAMPLES = 2  # per operation and phase
PHASES = {"inspector": "coverage,fuzzing,stateful", "handler_a": "fuzzing,stateful"}


def seeded_world():
    """Users of every role and a case in each of several states (draft, issued, signed, under review)."""
    world = make_world()
    make_case(world, issue=False)
    make_case(world)
    drive(world, make_case(world, unit=world.county_b), ("handler_b", "sign"))
    to_submitted(world, make_case(world))
    return world


def schemathesis(url: str, schema: Path, token: str, report: Path, phases: str) -> subprocess.Popen:
    """A run of the CLI as the token's user, writing its JSON report to `report`."""
    command = [str(ST), "run", str(schema), "--url", url, "--header", f"Authorization: Token {token}",
               "--checks", "all", "--phases", phases, "--max-examples", str(MAX_EXAMPLES),
               "--generation-deterministic", "--workers", "2", "--no-color", "--report", "json",
               "--report-json-path", str(report), "--request-timeout", "30"]
    # In a folder of its own: the CLI keeps its examples in ./.schemathesis
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=report.parent,
                            env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)})


def result_of(run: subprocess.Popen, report: Path) -> dict:
    output, _ = run.communicate(timeout=900)
    assert report.exists(), output[-5000:]
    return {**json.loads(report.read_text()), "output": output}


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="runs in CI's PostgreSQL run")
@pytest.mark.skipif(not ST.exists() and shutil.which("st") is None, reason="schemathesis is not installed")
def test_api_contract__schemathesis_with_all_checks_finds_no_failure(live_server, transactional_db, tmp_path):
    # given: the seeded world, and a token for an inspector and one for a unit handler
    world = seeded_world()
    tokens = {role: Token.objects.create(user=getattr(world, role)).key for role in ("inspector", "handler_a")}
    schema = tmp_path / "schema.json"
    request = urllib.request.Request(f"{live_server.url}/api/v1/schema/?format=json",
                                     headers={"Authorization": f"Token {tokens['inspector']}"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        schema.write_bytes(answer.read())
    # when: the inspector's run in every phase; the handler's, to whom most operations are
    # refused before their input is read, without the coverage phase's boundary values
    started = time.monotonic()
    running = {role: schemathesis(live_server.url, schema, token, tmp_path / f"{role}.json", PHASES[role])
               for role, token in tokens.items()}
    runs = {role: result_of(run, tmp_path / f"{role}.json") for role, run in running.items()}
    elapsed = time.monotonic() - started
    # then: every operation was tested, and nothing failed
    cases = sum((run["test_cases"] or {}).get("generated", 0) for run in runs.values())
    print(f"\nschemathesis: {cases} cases in {elapsed:.0f} s ("
          + "; ".join(f"{role}: {(run['operations'] or {}).get('tested')} operations, "
                      f"{(run['test_cases'] or {}).get('generated')} cases"
                      for role, run in runs.items()) + ")")
    for role, run in runs.items():
        assert run["operations"] is not None, f"as {role}:\n" + run["output"][-5000:]
        assert run["operations"]["tested"] == run["operations"]["total"] > 20, (role, run["operations"])
        assert run["stop_reason"] == "completed", (role, run["stop_reason"])
        assert run["failures"] == [] and run["errors"] == [], f"as {role}:\n" + run["output"][-20000:]
