"""The safety-hazard benchmark suite (`bench --suite hazard`) at a tiny scale, so it never rots.
No timing is asserted: only that both paths close every case, ours and the floor's, with the
same rows, and that the statements it reports per transition and per inspection step are
what the services take when counted again here."""
import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from processes.hazard import services as hazard_services
from processes.hazard.models import HazardCase, Inspection
from tools.bench import hazard
from tools.bench.scenarios import rng
from tools.bench.seed import Org
from workflow.cases import services as platform
from workflow.cases.engine import Actor
from workflow.models import AuditEvent, Role, Unit, User

SCALE = 0.001


def _org() -> Org:
    """The units and people the suite seeded, read back."""
    units = list(Unit.objects.filter(code__startswith="B-").order_by("pk"))
    org = Org(next(u for u in units if u.code == "B-0"), [u for u in units if u.code.startswith("B-C")],
              [u for u in units if u.code.startswith("B-L")])
    for user in User.objects.filter(unit__in=units).order_by("pk"):
        org.people.setdefault((user.role, user.unit_id), []).append(user)
    return org


def _count_path(org, case_id, path) -> list[tuple[str, int]]:
    case = HazardCase.objects.select_related("unit").get(pk=case_id)
    unit, county = case.unit, case.unit.parent
    crew = {"inspector": Actor(org.one(Role.INSPECTOR, county)), "leader": Actor(org.one(Role.LEADER, county)),
            "handler": Actor(org.one(Role.HANDLER, unit))}
    counted = []
    for who, action, params in path:
        if action == "pass_acceptance":  # the acceptance record, added after acceptance was applied for
            hazard.add_acceptance_evidence([case_id], org)
        with CaptureQueriesContext(connection) as queries:
            platform.act(HazardCase, actor=crew[who], case_id=case_id, action=action, **params)
        counted.append((action, hazard.until_commit(queries)))
    return counted


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hazard_rules")
def test_bench_hazard__both_paths_close_with_the_floors_rows_and_the_counts_hold(tmp_path):
    # when
    out = tmp_path / "bench.json"
    call_command("bench", suite="hazard", scale=SCALE, in_place=True, json=str(out))
    # then every case of both paths is closed, ours and the floor's, with the same rows
    results = json.loads(out.read_text(encoding="utf-8"))
    size = hazard.sizes(SCALE)
    opened_by_inspections = 2 * len(hazard.FAILED) + len(hazard.MORE_FAILED)  # a warm-up, two failed, four failed
    assert results["hazards"] == size["hazards"] == HazardCase.objects.count() - opened_by_inspections
    for name, path in hazard.PATHS.items():
        steps = len(path())
        p = results[name]
        assert p["cases"] == size["batch"] and p["transitions"] == p["cases"] * steps
        assert p["closed"] == p["floor_closed"] == p["cases"]
        assert p["rows"] == p["floor_rows"]
        assert p["rows"]["audit_events"] == p["cases"] * (1 + steps)  # created, then one per transition
        assert p["rows"]["open_tasks"] == 0 and p["rows"]["processes_done"] == p["cases"]
        assert p["rows"]["done_tasks"] == p["cases"] * steps  # one task per state, done by its transition
        assert [s["action"] for s in p["steps"]] == [action for _who, action, _params in path()]
    names = {t["name"] for t in results["targets"]}
    assert {"general: rows equal the floor's", "major: statements per transition (max)"} <= names
    assert all(t["met"] for t in results["targets"]), results["targets"]

    # and the statements reported are what each transition takes when counted again
    org = _org()
    leaf = org.leaves[0]
    fresh = hazard.seed_hazards(org, [hazard.FOUND] * 4, [leaf] * 4, rng(), photos=True)
    for (name, path), (warm, probe) in zip(hazard.PATHS.items(), (fresh[:2], fresh[2:])):
        _count_path(org, warm, path())
        counted = _count_path(org, probe, path())
        assert counted == [(s["action"], s["statements"]) for s in results["statements"][name]], name
        assert HazardCase.objects.get(pk=probe).status == "closed"
        assert all(s["at_another_unit"] >= s["statements"] for s in results["statements"][name])
    # (a case with a condition on evidence reads it; one without reads no evidence at all)
    general = dict((s["action"], s["statements"]) for s in results["statements"]["general"])
    assert general["report_fixed"] > general["pass_recheck"]

    # and so are the inspection's, two items of 25 failing
    unit = org.leaves[-1]
    actor = Actor(org.one(Role.INSPECTOR, unit.parent))
    with CaptureQueriesContext(connection) as started:
        inspection = hazard_services.start_inspection(actor=actor, unit=unit, checklist="fire", kind="scheduled")
    answers = {a.position: ("fail" if a.code in hazard.FAILED else "pass", "现场发现问题" if a.code in hazard.FAILED
                            else "") for a in inspection.answers.all()}
    with CaptureQueriesContext(connection) as answered:
        hazard_services.answer(actor=actor, inspection_id=inspection.pk, answers=answers)
    with CaptureQueriesContext(connection) as submitted:
        opened = hazard_services.submit_inspection(actor=actor, inspection_id=inspection.pk)
    two = results["inspections"]["two_failed"]
    assert [hazard.until_commit(q) for q in (started, answered, submitted)] == [
        two["start_inspection"], two["answer"], two["submit_inspection"]]
    assert len(answers) == two["items"] == hazard.CHECKLIST_ITEMS and len(opened) == two["hazards"] == 2
    four = results["inspections"]["four_failed"]
    assert four["hazards"] == 4 and four["submit_inspection"] > two["submit_inspection"]
    assert Inspection.objects.filter(unit=unit, failed=2).count() == 3  # the suite's two, and this one
    assert AuditEvent.objects.filter(case_id__in=[h.pk for h in opened], action="create").count() == 2
