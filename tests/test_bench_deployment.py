"""The 督办事项 benchmark suite (`bench --suite deployment`) at a tiny scale, so it never rots.
No timing is asserted: only that the real dispatch wrote the rows its floor wrote, and that
the roll-up and the lights came out as the plain SQL's."""
import json

import pytest
from django.core.management import call_command

from tools.bench import deployment


@pytest.mark.django_db(transaction=True)
def test_bench_deployment__real_path_and_floor_agree(tmp_path):
    # when
    out = tmp_path / "bench.json"
    call_command("bench", suite="deployment", scale=0.003, in_place=True, json=str(out))
    # then
    results = json.loads(out.read_text(encoding="utf-8"))
    cases = deployment.ITEMS * results["units"]
    dispatch = results["dispatch"]
    assert results["units"] == 3 and dispatch["cases"] == cases
    assert dispatch["rows"] == dispatch["floor_rows"]
    assert dispatch["rows"]["processes"] == dispatch["rows"]["cases"] == cases
    assert dispatch["rows"]["audit_events"] == 2 * cases + 1  # create and issue each, and the matter's dispatch
    assert dispatch["rows"]["tasks"] == cases + 1 and dispatch["rows"]["open_tasks"] == cases
    assert dispatch["rows"]["outbox"] >= cases and dispatch["rows"]["dispatched_plan_items"] == deployment.ITEMS
    rollup = results["rollup"]
    assert rollup["same_result"] is True and rollup["item_cases"] == cases and rollup["plan_items"] == deployment.ITEMS
    whole = rollup["whole"]
    assert whole["done"] and whole["cancelled"] and whole["overdue"] and whole["red"] and whole["yellow"]
    lights = results["lights"]
    assert lights["judged"] == lights["open_items"] > 0 and lights["period_rows"] == lights["open_items"]
    assert lights.get("same_result", True) is True
    again = lights["again"]  # the next sweep of the day: the same lights, nothing left to write
    assert again["judged"] == lights["judged"] and again["period_rows"] == lights["period_rows"]
    assert again.get("same_result", True) is True
    assert all(t["met"] for t in results["targets"]), results["targets"]
