"""The benchmark harness at a tiny scale, so it never rots. No timing is asserted: only that
every scenario ran, produced its figures and evaluated its target, and that the seeded cases
of two types meet in the inbox, the red list and the mixed list."""
import json

import pytest
from django.core.management import call_command


@pytest.mark.django_db(transaction=True)
def test_bench__smoke_run_produces_every_figure(tmp_path):
    # when
    out = tmp_path / "bench.json"
    call_command("bench", scale=0.002, in_place=True, no_load=True, json=str(out))
    # then
    results = json.loads(out.read_text(encoding="utf-8"))
    for section in ("write", "read", "sweep", "dispatch", "bulletin", "ledger", "load", "targets"):
        assert section in results, section
    assert results["write"]["transitions"] > 0 and results["write"]["floor_per_s"] > 0
    assert set(results["read"]["small"]) == {"inbox", "case_list", "case_page", "red_list", "mixed_list"}
    assert set(results["cases_by_type"]) == {"rectification", "inspection_item"}
    for scale in ("small", "large"):
        for page in ("inbox", "red_list", "mixed_list"):
            assert set(results["read"][scale][page]["types"]) == {"rectification", "inspection_item"}, (scale, page)
    assert results["sweep"]["small"]["fired"] == results["sizes"]["due"]
    assert results["sweep"]["large"]["second_run_fired"] == 0
    assert results["dispatch"]["same_rows"] is True
    assert results["ledger"]["rows"] == results["sizes"]["ledger_rows"]
    names = {t["name"] for t in results["targets"]}
    assert "queries per transition (max)" in names and "sweep time large/small" in names
    assert {"mixed_list p95 large/small", "mixed_list queries small = large"} <= names
    assert all(isinstance(t["met"], bool) for t in results["targets"])
