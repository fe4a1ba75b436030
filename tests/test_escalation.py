"""The escalation ladder: order, once per rung, working days, and what stops it."""
import threading
from datetime import date, timedelta

import chinese_calendar
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from processes.rectification.models import RectificationCase
from workflow.cases import escalation
from workflow.models import Case, Escalation, EscalationPolicy, Notification, OutboxMessage, Proposal, Rung
from workflow.trail.notify import relay
from tests.factories import drive, make_case, to_submitted


def oracle_shift(day: date, n: int) -> date:
    """Working-day arithmetic straight from chinese-calendar, as an independent check."""
    step = timedelta(days=1 if n >= 0 else -1)
    while n:
        day += step
        if chinese_calendar.is_workday(day):
            n -= 1 if n > 0 else -1
    return day


def overdue_case(world, deadline: date, **fields):
    case = make_case(world, **fields)
    case.deadline = deadline
    RectificationCase.objects.filter(pk=case.pk).update(deadline=deadline, next_rung_on=escalation.next_rung_on(case))
    return RectificationCase.objects.get(pk=case.pk)


def rungs(case):
    return list(Escalation.objects.filter(case=case).order_by("rung").values_list("rung", flat=True))


def test_ladder__dates_cross_national_day_and_a_makeup_workday(db):
    # given: a deadline just before the 2026 National Day break
    deadline = date(2026, 9, 29)
    policy = EscalationPolicy(case_type="rectification", remind_before=2, red_after=3, interview_after=5,
                              accountability_after=5)
    # when
    dates = escalation.rung_dates(deadline, policy)
    # then: every rung matches chinese-calendar's own working days (holidays skipped, 调休 counted)
    red = oracle_shift(deadline, 3)
    interview = oracle_shift(red, 5)
    assert dates == {Rung.REMINDER: oracle_shift(deadline, -2), Rung.YELLOW: deadline, Rung.RED: red,
                     Rung.INTERVIEW: interview, Rung.ACCOUNTABILITY: oracle_shift(interview, 5)}
    assert red > date(2026, 10, 7)  # the holiday week does not count as overdue


def test_ladder__fires_each_rung_once_in_order_as_days_pass(world):
    # given
    deadline = date(2026, 9, 29)
    case = overdue_case(world, deadline)
    dates = escalation.rung_dates(deadline, escalation.policy_for("rectification"))
    seen = []
    # when: the sweep runs every day from two weeks before the deadline to well after the last rung
    day = deadline - timedelta(days=14)
    while day <= dates[Rung.ACCOUNTABILITY] + timedelta(days=5):
        escalation.sweep(today=day)
        escalation.sweep(today=day)  # twice a day: changes nothing
        now = rungs(case)
        if now != (seen[-1][1] if seen else []):
            seen.append((day, now))
        day += timedelta(days=1)
    # then: each rung fired on its own due day, in order, once
    assert [d for d, _ in seen] == [dates[r] for r in Rung.values]
    assert seen[-1][1] == list(Rung.values)
    assert Proposal.objects.filter(case=case).count() == 2
    case.refresh_from_db()
    assert case.rung == Rung.ACCOUNTABILITY and case.next_rung_on is None


def test_sweep__second_run_adds_nothing(world):
    # given
    today = date(2026, 11, 20)
    cases = [overdue_case(world, today - timedelta(days=n)) for n in (0, 3, 10, 30)]
    # when
    first = escalation.sweep(today=today)
    counts = (Escalation.objects.count(), OutboxMessage.objects.count(), Proposal.objects.count())
    second = escalation.sweep(today=today)
    # then
    assert first > 0 and second == 0
    assert (Escalation.objects.count(), OutboxMessage.objects.count(), Proposal.objects.count()) == counts
    assert rungs(cases[0]) == [Rung.REMINDER, Rung.YELLOW]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrent connections need PostgreSQL "
                    "(the SQLite test database is in memory)")
@pytest.mark.django_db(transaction=True)
def test_sweep__two_at_once_fire_each_rung_once(world):
    # given
    today = date(2026, 11, 20)
    cases = [overdue_case(world, today - timedelta(days=n)) for n in range(1, 13)]
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait(timeout=10)
            escalation.sweep(today=today)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # then
    assert errors == []
    for case in cases:
        fired = rungs(case)
        assert fired == sorted(set(fired)) and fired[:2] == [Rung.REMINDER, Rung.YELLOW]
    keys = list(OutboxMessage.objects.values_list("key", flat=True))
    assert len(keys) == len(set(keys))


def test_sweep__reads_only_due_cases(world):
    # given: many open cases, none due
    for _ in range(20):
        make_case(world)
    # when
    with CaptureQueriesContext(connection) as queries:
        fired = escalation.sweep(today=date(2026, 1, 5))
    # then: one indexed query, whatever the number of open cases
    assert fired == 0 and len(queries) == 1
    assert "next_rung_on" in queries[0]["sql"]


def test_ladder__granted_extension_restarts_the_count(world):
    # given: a case that reached yellow
    today = date(2026, 11, 20)
    case = overdue_case(world, today + timedelta(days=1))
    case = drive(world, case, ("handler_a", "sign"))
    escalation.sweep(today=today + timedelta(days=1))
    assert rungs(case) == [Rung.REMINDER, Rung.YELLOW]
    # when: an extension is granted (requested before the deadline)
    RectificationCase.objects.filter(pk=case.pk).update(deadline=date.today() + timedelta(days=3))
    new_deadline = date.today() + timedelta(days=40)
    drive(world, case, ("handler_a", "request_extension", {"reason": "r", "new_deadline": new_deadline}),
          ("head_a", "approve_extension"), ("inspector", "approve_extension"), ("leader", "approve_extension"))
    # then: nothing more fires before the new deadline; red comes only after it
    case.refresh_from_db()
    assert case.deadline == new_deadline
    assert case.next_rung_on == escalation.rung_dates(new_deadline, escalation.policy_for("rectification"))[Rung.RED]
    escalation.sweep(today=new_deadline - timedelta(days=1))
    assert rungs(case) == [Rung.REMINDER, Rung.YELLOW]


def test_ladder__stops_when_the_unit_has_submitted_or_the_case_closed(world):
    today = date(2026, 11, 20)
    submitted = to_submitted(world, make_case(world))
    closed = drive(world, to_submitted(world, make_case(world)), ("inspector", "accept"), ("leader", "sign_off"))
    for case in (submitted, closed):
        assert Case.objects.get(pk=case.pk).next_rung_on is None
    RectificationCase.objects.filter(pk__in=[submitted.pk, closed.pk]).update(deadline=today - timedelta(days=20))
    assert escalation.sweep(today=today) == 0


def test_ladder__tells_the_right_people(world):
    # given
    today = date(2026, 11, 20)
    case = overdue_case(world, today - timedelta(days=30))
    # when
    escalation.sweep(today=today)
    relay()
    # then: yellow reaches the unit head, red the leader, the interview proposal the inspector
    def told(user, rung):
        return OutboxMessage.objects.filter(key__startswith=f"esc:{case.pk}:{rung}:{user.pk}:").exists()

    assert told(world.handler_a, Rung.REMINDER) and told(world.head_a, Rung.YELLOW)
    assert told(world.leader, Rung.RED) and told(world.inspector, Rung.INTERVIEW)
    assert told(world.legal, Rung.ACCOUNTABILITY) and not told(world.head_b, Rung.YELLOW)
    assert Notification.objects.filter(user=world.leader, case=case).count() == 3  # red, interview, accountability


def test_red_list__leader_sees_red_cases_and_prints_the_letter(world, client):
    # given
    today = date.today()
    red = overdue_case(world, today - timedelta(days=20))
    escalation.sweep(today=today)
    # when / then
    client.force_login(world.leader)
    page = client.get("/red-list/").content.decode()
    assert red.number in page
    assert client.get(f"/red-list/{world.county_a.pk}/letter.pdf").status_code == 405  # issuing is a POST
    letter = client.post(f"/red-list/{world.county_a.pk}/letter.pdf")
    assert letter.status_code == 200 and letter.content.startswith(b"%PDF")
    client.force_login(world.handler_a)
    assert client.get("/red-list/").status_code == 403
    client.force_login(world.head_b)
    assert client.post(f"/red-list/{world.county_a.pk}/letter.pdf").status_code == 403


def test_case_page_shows_the_rung_and_when_it_fired(world, client):
    today = date.today()
    case = overdue_case(world, today - timedelta(days=20))
    escalation.sweep(today=today)
    client.force_login(world.inspector)
    page = client.get(f"/rectification/{case.pk}/").content.decode()
    assert "rung rung-" in page and page.count("<li>") >= 3


def test_counts__follow_rungs_and_closures_and_match_a_rebuild(world):
    # given: two overdue cases in county A, one escalated to red and beyond
    from workflow.models import RungCount

    today = date(2026, 11, 20)
    far = overdue_case(world, today - timedelta(days=30))
    near = overdue_case(world, today)
    escalation.sweep(today=today)

    def counts():
        return {(c.unit_id, c.rung): c.open_cases for c in RungCount.objects.all() if c.open_cases}

    # then: each case counts once, at its highest rung, in its unit and every unit above it
    far.refresh_from_db()
    expected = {(world.county_a.pk, far.rung): 1, (world.city.pk, far.rung): 1,
                (world.county_a.pk, Rung.YELLOW): 1, (world.city.pk, Rung.YELLOW): 1}
    assert counts() == expected
    incremental = counts()
    escalation.rebuild_counts()
    assert counts() == incremental
    # when: the far case is cancelled, it leaves the counts
    drive(world, far, ("inspector", "request_cancel", {"reason": "r"}), ("leader", "approve_cancel"))
    assert counts() == {(world.county_a.pk, Rung.YELLOW): 1, (world.city.pk, Rung.YELLOW): 1}
    assert near.pk
