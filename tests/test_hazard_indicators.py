"""The hazard indicators: every figure counted exactly over known data in two counties, each
figure's list holding exactly what it counts, scoping (a county's leader sees the county),
bounded inputs (a message or a 404, never a 500), and a page whose queries do not grow with
the data."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from processes.hazard import services
from processes.hazard.models import HazardCase
from tests.factories import make_unit, make_user
from tests.hazard_helpers import act, add_photo
from workflow.models import AuditEvent, Role, UnitKind

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("hazard_rules")]

INDICATORS = "hazard:indicators"
CASES = "hazard:indicator_cases"


def run(world, unit, actor="inspector", kind="unannounced", checklist="fire", results=None, on=None):
    """A submitted inspection of `unit`: items coded in `results` get that answer, the rest pass.
    Returns the hazards keyed by the failed item's code."""
    results = results or {}
    inspection = services.start_inspection(actor=world.actor(actor), unit=unit, checklist=checklist, kind=kind,
                                           on=on)
    answers = {a.position: (results.get(a.code, "pass"), "问题" if results.get(a.code) == "fail" else "")
               for a in inspection.answers.all()}
    services.answer(actor=world.actor(actor), inspection_id=inspection.pk, answers=answers)
    hazards = services.submit_inspection(actor=world.actor(actor), inspection_id=inspection.pk)
    return inspection, {h.answers[0].code: h for h in hazards}


def close_general(world, hazard, deadline=None):
    """Rectify by a deadline and close after the re-check; `deadline` replaces the one set."""
    hazard = act(world, hazard, "inspector", "set_deadline", deadline_days=5, requirement="整改")
    if deadline is not None:
        HazardCase.objects.filter(pk=hazard.pk).update(deadline=deadline)
    add_photo(world, hazard, world.fixer(hazard), "after", hazard.pk * 7 + 1)
    hazard = act(world, hazard, world.fixer(hazard), "report_fixed", reason="已整改")
    return act(world, hazard, "inspector", "pass_recheck")


def list_major(world, hazard):
    hazard = act(world, hazard, "inspector", "propose_major", reason="符合判定标准")
    return act(world, hazard, "leader", "list_hazard", deadline_days=30, requirement="限期整改")


@pytest.fixture
def data(world):
    """County A: two elderly-care homes and a relief station (and a township office, not an
    institution); county B: one elderly-care home. Every figure below is known."""
    today = timezone.localdate()
    d = world
    d.today, d.start = today, today - timedelta(days=30)
    d.home1 = make_unit("甲县福寿园养老院", UnitKind.ELDERLY_CARE, d.county_a)
    d.home2 = make_unit("甲县康乐养老院", UnitKind.ELDERLY_CARE, d.county_a)
    d.station = make_unit("甲县救助管理站", UnitKind.RELIEF_STATION, d.county_a)
    d.town = make_unit("甲县城关镇民政办", UnitKind.TOWNSHIP_OFFICE, d.county_a)
    d.home_b = make_unit("乙县敬老院", UnitKind.ELDERLY_CARE, d.county_b)
    d.handler_home1 = make_user(Role.HANDLER, d.home1)
    d.handler_home2 = make_user(Role.HANDLER, d.home2)
    d.handler_home_b = make_user(Role.HANDLER, d.home_b)
    d.leader_a = make_user(Role.LEADER, d.county_a)
    d.leader_b = make_user(Role.LEADER, d.county_b)
    fixers = {d.home1.pk: "handler_home1", d.home_b.pk: "handler_home_b", d.county_a.pk: "handler_a"}
    d.fixer = lambda hazard: fixers[hazard.unit_id]

    # home1: an earlier inspection passed everything; the latest fails the drill item (F3).
    run(d, d.home1, on=today - timedelta(days=10))
    d.fire_home1, h = run(d, d.home1, results={"D1": "fail", "E2": "fail", "B3": "fail", "F3": "fail"})
    add_photo(d, h["D1"], "inspector", "before", 11)
    add_photo(d, h["D1"], "inspector", "after", 12)
    d.h1 = act(d, h["D1"], "inspector", "fix_on_spot", reason="当场更换")           # closed, no deadline
    d.h2 = close_general(d, h["E2"], deadline=today)                                 # closed on its deadline day
    d.h3 = list_major(d, h["B3"])                                                    # listed; notice late
    HazardCase.objects.filter(pk=d.h3.pk).update(listing_notice_due=today - timedelta(days=1))
    d.h4 = h["F3"]                                                                   # not graded yet
    # home1 again, on a checklist without the plan and drill items: a major hazard de-listed late.
    d.power_home1, h = run(d, d.home1, checklist="power_gas", results={"SE1": "fail"})
    d.h11 = drive_to_delisted(d, h["SE1"])
    HazardCase.objects.filter(pk=d.h11.pk).update(delisting_notice_due=today - timedelta(days=1))
    # home2: its own self-inspections; the earlier says n/a to the plan item, the latest passes all.
    run(d, d.home2, actor="handler_home2", kind="self", results={"F2": "na"}, on=today - timedelta(days=10))
    run(d, d.home2, actor="handler_home2", kind="self")
    # The station: inspected only before the period.
    run(d, d.station, kind="scheduled", on=today - timedelta(days=60))
    # County A's bureau itself (not an institution): a hazard closed after its deadline.
    _, h = run(d, d.county_a, results={"C1": "fail"})
    d.h5 = close_general(d, h["C1"], deadline=today - timedelta(days=1))
    # Hazards out of the figures: one found before the period, one cancelled.
    (d.h7,) = services.open_by_hand(actor=d.actor("inspector"), units=[d.county_a], title="旧隐患", category="fire",
                                    source="inspection", description="x")
    HazardCase.objects.filter(pk=d.h7.pk).update(created_at=timezone.now() - timedelta(days=60))
    (d.h8,) = services.open_by_hand(actor=d.actor("inspector"), units=[d.town], title="误录", category="fire",
                                    source="inspection", description="x")
    act(d, d.h8, "inspector", "request_cancel", reason="重复录入")
    act(d, d.h8, "leader", "approve_cancel")
    # County B's home: a hazard closed late, and a major hazard listed before the period, still open.
    _, h = run(d, d.home_b, results={"D3": "fail", "B3": "fail"})
    d.h9 = close_general(d, h["D3"], deadline=today - timedelta(days=2))
    d.h10 = list_major(d, h["B3"])
    long_ago = timezone.now() - timedelta(days=60)
    HazardCase.objects.filter(pk=d.h10.pk).update(
        created_at=long_ago, listed_at=long_ago, listing_notice_due=today - timedelta(days=55),
        listing_published_on=today - timedelta(days=40))
    return d


def drive_to_delisted(world, hazard):
    hazard = list_major(world, hazard)
    plan = dict(plan_measures="更换电梯", plan_responsible="院长", plan_funds="5000.00", plan_deadline=hazard.deadline,
                plan_emergency="停用电梯")
    hazard = act(world, hazard, "handler_home1", "file_plan", **plan)
    hazard = act(world, hazard, "leader", "approve_plan")
    add_photo(world, hazard, "handler_home1", "after", 31)
    hazard = act(world, hazard, "handler_home1", "apply_acceptance", reason="已更换")
    add_photo(world, hazard, "inspector", "after", 32)
    hazard = act(world, hazard, "inspector", "pass_acceptance", acceptors="张督查", accepted_on=timezone.localdate(),
                 reason="合格")
    hazard = act(world, hazard, "leader", "delist")
    assert hazard.status == "delisted"
    return hazard


def period(d, **more):
    return {"date_from": d.start.isoformat(), "date_to": d.today.isoformat(), **more}


def figures(response) -> dict:
    assert response.status_code == 200, response.content.decode()[:2000]
    context = response.context
    out = {}
    for group in ("coverage", "found", "closure", "majors", "plans"):
        out.update({f.name: f.value for f in context[group]})
    for _label, found, closed in context["grades"]:
        out[found.name], out[closed.name] = found.value, closed.value
    return out


def listed(client, params) -> set:
    response = client.get(reverse(CASES), params)
    assert response.status_code == 200, response.content.decode()[:2000]
    assert not response.context["page"].paginator.capped
    return {row.pk for row in response.context["page"].object_list}


CITY = {
    "institutions": 4, "inspected": 2, "not_inspected": 2, "self_inspected": 1, "plan": 3, "drill": 2,
    "found": 7, "found_closed": 4, "found_general": 4, "found_major": 2, "found_pending": 1,
    "found_closed_general": 4, "found_closed_major": 0, "found_closed_pending": 0,
    "closed": 4, "on_time": 2, "late": 2,
    "listed": 2, "major_open": 3, "listing_late": 1, "delisting_late": 1,
}


def test_every_figure_for_the_city(client, data):
    d = data
    client.force_login(d.leader)
    response = client.get(reverse(INDICATORS), period(d))
    assert figures(response) == CITY
    page = response.content.decode()
    assert "50.0%" in page  # inspected: 2 of 4
    assert reverse(CASES) in page


def test_each_figure_lists_exactly_what_it_counts(client, data):
    d = data
    client.force_login(d.leader)
    cases = {
        "found": {d.h1, d.h2, d.h3, d.h4, d.h5, d.h9, d.h11}, "found_closed": {d.h1, d.h2, d.h5, d.h9},
        "found_general": {d.h1, d.h2, d.h5, d.h9}, "found_major": {d.h3, d.h11}, "found_pending": {d.h4},
        "found_closed_general": {d.h1, d.h2, d.h5, d.h9}, "found_closed_major": set(),
        "closed": {d.h1, d.h2, d.h5, d.h9}, "on_time": {d.h1, d.h2}, "late": {d.h5, d.h9},
        "listed": {d.h3, d.h11}, "major_open": {d.h3, d.h10, d.h11}, "listing_late": {d.h3},
        "delisting_late": {d.h11},
    }
    for metric, expected in cases.items():
        assert listed(client, period(d, metric=metric)) == {h.pk for h in expected}, metric
    units = {
        "institutions": {d.home1, d.home2, d.station, d.home_b}, "inspected": {d.home1, d.home_b},
        "not_inspected": {d.home2, d.station}, "self_inspected": {d.home2}, "plan": {d.home1, d.home2, d.home_b},
        "drill": {d.home2, d.home_b},
    }
    for metric, expected in units.items():
        assert listed(client, period(d, metric=metric)) == {u.pk for u in expected}, metric
    page = client.get(reverse(CASES), period(d, metric="late")).content.decode()
    assert d.h5.number in page and d.h9.number in page and d.h5.get_absolute_url() in page


def test_a_unit_row_names_the_inspection_its_figure_read(client, data):
    d = data
    client.force_login(d.leader)

    def latest(metric):
        response = client.get(reverse(CASES), period(d, metric=metric))
        return {unit.pk: (unit.latest_inspection, unit.latest_on) for unit in response.context["page"].object_list}

    # Inspected: the latest regulator's inspection; the plan: the latest one that has the plan item.
    assert latest("inspected")[d.home1.pk] == (d.power_home1.pk, d.today)
    assert latest("plan")[d.home1.pk] == (d.fire_home1.pk, d.today)
    assert latest("not_inspected")[d.station.pk] == (None, None)  # inspected only before the period
    page = client.get(reverse(CASES), period(d, metric="inspected")).content.decode()
    assert d.today.isoformat() in page and d.home1.name in page and d.home2.name not in page
    assert reverse("hazard:inspection", args=[d.power_home1.pk]) in page
    assert client.get(reverse("hazard:inspection", args=[d.power_home1.pk])).status_code == 200


def test_a_subtree_and_a_longer_period(client, data):
    d = data
    client.force_login(d.leader)
    county_a = figures(client.get(reverse(INDICATORS), period(d, unit=d.county_a.pk)))
    assert county_a == {
        "institutions": 3, "inspected": 1, "not_inspected": 2, "self_inspected": 1, "plan": 2, "drill": 1,
        "found": 6, "found_closed": 3, "found_general": 3, "found_major": 2, "found_pending": 1,
        "found_closed_general": 3, "found_closed_major": 0, "found_closed_pending": 0,
        "closed": 3, "on_time": 2, "late": 1, "listed": 2, "major_open": 2, "listing_late": 1, "delisting_late": 1,
    }
    longer = figures(client.get(reverse(INDICATORS), {"date_from": (d.today - timedelta(days=90)).isoformat(),
                                                      "date_to": d.today.isoformat()}))
    # The station's inspection and the two older hazards (one pending, one major) now fall in the period.
    assert longer["inspected"] == 3 and longer["plan"] == 4 and longer["drill"] == 3
    assert longer["found"] == 9 and longer["found_major"] == 3 and longer["found_pending"] == 2
    assert longer["listed"] == 3 and longer["listing_late"] == 2


def test_a_county_leader_sees_only_the_county(client, data):
    d = data
    client.force_login(d.leader_b)
    assert figures(client.get(reverse(INDICATORS), period(d))) == {
        "institutions": 1, "inspected": 1, "not_inspected": 0, "self_inspected": 0, "plan": 1, "drill": 1,
        "found": 1, "found_closed": 1, "found_general": 1, "found_major": 0, "found_pending": 0,
        "found_closed_general": 1, "found_closed_major": 0, "found_closed_pending": 0,
        "closed": 1, "on_time": 0, "late": 1, "listed": 0, "major_open": 1, "listing_late": 0, "delisting_late": 0,
    }
    assert listed(client, period(d, metric="major_open")) == {d.h10.pk}
    assert listed(client, period(d, metric="institutions")) == {d.home_b.pk}
    page = client.get(reverse(INDICATORS)).content.decode()
    assert d.home1.name not in page and d.county_a.name not in page
    # Another county, or a unit above, is a 404 as if it did not exist.
    assert client.get(reverse(INDICATORS), {"unit": d.county_a.pk}).status_code == 404
    assert client.get(reverse(INDICATORS), {"unit": d.city.pk}).status_code == 404
    assert client.get(reverse(CASES), period(d, unit=d.home1.pk, metric="found")).status_code == 404
    assert AuditEvent.objects.filter(action="access_denied", actor_id=d.leader_b.pk).count() == 3


def test_default_is_the_users_unit_this_year(client, data):
    d = data
    client.force_login(d.leader_a)
    response = client.get(reverse(INDICATORS))
    scope = response.context["scope"]
    assert scope.unit == d.county_a and scope.end == d.today and scope.start == d.today.replace(month=1, day=1)
    got = figures(response)
    assert got["institutions"] == 3 and got["major_open"] == 2


def test_who_may_see_the_indicators(client, data):
    d = data
    client.force_login(d.inspector)
    assert figures(client.get(reverse(INDICATORS), period(d))) == CITY
    for user in (d.handler_a, d.head_a, d.legal, d.handler_home1):
        client.force_login(user)
        assert client.get(reverse(INDICATORS)).status_code == 403
        assert client.get(reverse(CASES), {"metric": "found"}).status_code == 403
    client.logout()
    assert client.get(reverse(INDICATORS)).status_code == 302


@pytest.mark.parametrize("params", [
    {"date_from": "2026-13-01"}, {"date_to": "yesterday"}, {"date_from": "1900-01-01"}, {"date_to": "2999-01-01"},
    {"date_from": "2026-06-01", "date_to": "2026-05-01"}, {"unit": "abc"}, {"unit": "0"},
    {"unit": "99999999999999999999999"}, {"unit": "1", "date_from": "\x00"},
])
def test_bad_input_gets_a_message(client, data, params):
    client.force_login(data.leader)
    for name in (INDICATORS, CASES):
        response = client.get(reverse(name), {**params, "metric": "found"})
        assert response.status_code in (400, 404)
        if response.status_code == 400:
            assert "The filter was not understood" in response.content.decode() or response.context["message"]


def test_an_unknown_figure_or_page_is_refused(client, data):
    client.force_login(data.leader)
    for params in ({"metric": "everything"}, {}, {"metric": "found", "page": "0"},
                   {"metric": "found", "page": "999999999"}):
        response = client.get(reverse(CASES), params)
        assert response.status_code == 400
        assert response.context["message"]
    assert client.get(reverse(CASES), {"metric": "found", "page": "3"}).status_code == 200  # past the last: the last


def test_a_unit_that_does_not_exist_is_a_404(client, data):
    client.force_login(data.leader)
    assert client.get(reverse(INDICATORS), {"unit": "987654"}).status_code == 404


def queries(client, url, params) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_queries_do_not_grow_with_the_data(client, data):
    d = data
    client.force_login(d.leader)
    pages = [(reverse(INDICATORS), period(d)), (reverse(CASES), period(d, metric="found")),
             (reverse(CASES), period(d, metric="institutions")), (reverse(CASES), period(d, metric="plan"))]
    before = [queries(client, url, params) for url, params in pages]
    for n in range(4):  # more institutions, inspections and hazards in both counties
        home = make_unit(f"新养老院{n}", UnitKind.ELDERLY_CARE, d.county_a if n % 2 else d.county_b)
        run(d, home, results={"D1": "fail", "F2": "fail"})
        run(d, home, kind="scheduled", checklist="food", results={"FS2": "fail"})
    after = [queries(client, url, params) for url, params in pages]
    assert max(before) <= 20  # the session, the user, the menu, the unit picker, one aggregate per group
    assert figures(client.get(reverse(INDICATORS), period(d)))["institutions"] == 8
    assert after == before
