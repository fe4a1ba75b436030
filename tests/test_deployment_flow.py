"""督办事项 end to end through the services: register a plan, edit its tree, dispatch it, pass
an item down a level, report, verify, roll up, and close with a completion report."""
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from processes.deployment import services
from processes.deployment.models import ItemCase, ItemPeriod, MatterCase, PlanItem
from tests.deployment_helpers import act, deadline, register_plan
from tests.factories import make_unit, make_user
from workflow.kernel.errors import ActionError
from workflow.cases.engine import Actor
from workflow.models import AuditEvent, Case, Role

@pytest.fixture
def plan(world):
    return register_plan(world)


def test_register_numbers_per_kind_and_parses_the_tree(world, plan):
    items = list(plan.plan_items.order_by("position"))
    assert [(i.level, i.number) for i in items][:3] == [(1, "一、"), (2, "（一）"), (2, "（二）")]
    assert plan.unit_id == world.city.pk and plan.supervisor_unit_id == world.city.pk
    year = timezone.localdate().year
    assert plan.doc_number == f"市民督办〔{year}〕1号"
    (second,) = services.register(actor=world.actor("inspector"), kind="plan", title="又一件", description="")
    (instruction,) = services.register(actor=world.actor("inspector"), kind="instruction", title="批示",
                                       origin="王局长", description="请抓紧落实。")
    assert second.doc_number.endswith("〔%d〕2号" % year)
    assert instruction.doc_number == f"市民批办〔{year}〕1号"
    assert instruction.plan_items.count() == 1


def test_hotline_needs_its_ticket_number(world):
    with pytest.raises(ActionError):
        services.register(actor=world.actor("inspector"), kind="hotline", title="来电", description="x")


def test_edit_dispatch_redispatch_report_verify_close(world, plan):
    inspector = world.actor("inspector")
    items = list(plan.plan_items.order_by("position"))
    low = items[1]
    services.update_item(plan.pk, low.pk, actor=inspector, title="提高低保标准", text=low.text,
                         deadline=deadline(60), target="5%", cadence="monthly",
                         units=[world.county_a, world.county_b], co_units=[])
    canteen = items[-1]
    services.update_item(plan.pk, canteen.pk, actor=inspector, title="建设社区食堂", text=canteen.text,
                         deadline=deadline(90), target="20个", cadence="quarterly",
                         units=[world.county_a], co_units=[world.county_b])
    act(world, "inspector", plan, "dispatch", model=MatterCase)
    plan.refresh_from_db()
    assert plan.status == "dispatched"
    cases = ItemCase.objects.filter(parent=plan)
    assert cases.count() == 3 and set(cases.values_list("status", flat=True)) == {"issued"}
    a_low = cases.get(unit=world.county_a, plan_item=low)
    # Dispatched items can no longer be edited.
    with pytest.raises(ActionError):
        services.relevel(plan.pk, low.pk, actor=inspector, by=-1)

    # The county passes its item to two townships, due earlier.
    town1, town2 = make_unit("一镇民政办", parent=world.county_a), make_unit("二镇民政办", parent=world.county_a)
    county_inspector = make_user(Role.INSPECTOR, world.county_a)
    act(world, "handler_a", a_low, "sign")
    with pytest.raises(ActionError):  # not earlier than its own deadline
        services.open_items(actor=Actor(county_inspector), units=[town1, town2], parent=a_low,
                            title="提高低保标准", description="x", deadline=a_low.deadline, cadence="monthly")
    children = services.open_items(actor=Actor(county_inspector), units=[town1, town2], parent=a_low,
                                   title="提高低保标准", description="x", deadline=a_low.deadline - timedelta(days=10),
                                   cadence="monthly")
    assert {c.plan_item_id for c in children} == {low.pk} and all(c.root_id == plan.pk for c in children)
    with pytest.raises(ActionError):  # the county reports once, after its townships
        act(world, "handler_a", a_low, "submit", reason="完成")
    for town, child in zip((town1, town2), children):
        clerk = Actor(make_user(Role.HANDLER, town))
        act(world, clerk, child, "sign")
        act(world, clerk, child, "report_progress", reason="过半", percent=50)
        act(world, clerk, child, "submit", reason="已完成")
        act(world, Actor(county_inspector), child, "verify")
    act(world, "handler_a", a_low, "report_progress", reason="两镇完成", percent=100)
    act(world, "handler_a", a_low, "submit", reason="全县完成")
    act(world, "inspector", a_low, "verify")
    assert ItemCase.objects.get(pk=a_low.pk).phase == "done"

    # The co-unit reports its part to the lead unit; the lead's completion shows who was late.
    canteen_case = cases.get(plan_item=canteen)
    act(world, "handler_a", canteen_case, "sign")
    act(world, "handler_b", canteen_case, "contribute", reason="配合选址", percent=40)
    act(world, "handler_a", canteen_case, "submit", reason="建成20个")
    event = AuditEvent.objects.get(case_id=canteen_case.pk, action="submit")
    assert event.data["late_co_units"] == [world.county_b.pk]
    act(world, "inspector", canteen_case, "verify")

    # The matter cannot report while an item is open; then the leader reads it.
    with pytest.raises(ActionError):
        act(world, "inspector", plan, "report", model=MatterCase, completion_report="已办结")
    b_low = cases.get(unit=world.county_b, plan_item=low)
    act(world, "handler_b", b_low, "sign")
    act(world, "handler_b", b_low, "submit", reason="完成")
    act(world, "inspector", b_low, "verify")
    act(world, "inspector", plan, "report", model=MatterCase, completion_report="各项任务均已完成。")
    act(world, "leader", plan, "read_report", model=MatterCase, reason="阅。")
    plan.refresh_from_db()
    assert plan.phase == "done" and plan.read_opinion == "阅。"


def test_tree_editing(world, plan):
    inspector = world.actor("inspector")
    items = list(plan.plan_items.order_by("position"))
    count = len(items)
    second_top = next(i for i in items if i.number == "二、")
    services.relevel(plan.pk, second_top.pk, actor=inspector, by=1)
    moved = PlanItem.objects.get(pk=second_top.pk)
    assert moved.level == 2 and moved.parent_id == items[0].pk
    assert PlanItem.objects.get(pk=items[-1].pk).level == 3  # its children moved with it
    with pytest.raises(ActionError):
        services.relevel(plan.pk, items[0].pk, actor=inspector, by=-1)
    services.merge_with_previous(plan.pk, items[2].pk, actor=inspector)
    assert plan.plan_items.count() == count - 1
    new = services.split(plan.pk, items[1].pk, actor=inspector, at=4)
    assert new.level == items[1].level and plan.plan_items.count() == count
    services.delete_item(plan.pk, new.pk, actor=inspector)
    assert plan.plan_items.count() == count - 1
    with pytest.raises(ActionError):  # someone outside the office
        services.relevel(plan.pk, items[1].pk, actor=world.actor("leader"), by=1)


def _dispatched(world, plan, units, days=60):
    inspector = world.actor("inspector")
    first = plan.plan_items.order_by("position")[1]
    services.update_item(plan.pk, first.pk, actor=inspector, title=first.title, text=first.text,
                         deadline=deadline(days), target="", cadence="monthly", units=units, co_units=[])
    act(world, "inspector", plan, "dispatch", model=MatterCase)
    cases = ItemCase.objects.filter(parent=plan)
    return first, [cases.get(unit=unit) for unit in units]


def test_rollup_counts_shares_overdue_and_units_behind(world, plan):
    from processes.deployment import rollup

    first, (a, b) = _dispatched(world, plan, [world.county_a, world.county_b])
    act(world, "handler_a", a, "sign")
    act(world, "handler_a", a, "submit", reason="完成")
    act(world, "inspector", a, "verify")
    late = timezone.localdate() + timedelta(days=200)
    result = rollup.matter_rollup(plan, today=late)
    tally = result.by_plan_item[first.pk]
    assert (tally.total, tally.done, tally.overdue, tally.percent_done) == (2, 1, 1, 50)
    assert result.whole.total == 2
    assert [(unit_id, overdue) for unit_id, _name, overdue, _red in result.behind] == [(world.county_b.pk, 1)]
    assert rollup.matters_rollup([plan.pk], today=late)[plan.pk].done == 1


def test_lights_red_catch_up_shows_yellow_and_compares_with_previous(world, plan):
    from processes.deployment import lights
    from processes.deployment.models import ItemPeriod, LightRule

    _first, (a, _b) = _dispatched(world, plan, [world.county_a, world.county_b], days=100)
    act(world, "handler_a", a, "sign")
    case = ItemCase.objects.get(pk=a.pk)
    issued = timezone.localtime(case.issued_at).date()
    rule = LightRule.objects.create(effective_from=issued - timedelta(days=1), report_day=28, yellow_gap=10,
                                    red_gap=30)
    midway = issued + timedelta(days=50)           # half the time gone, nothing done: red
    (row,) = lights.refresh_many([case], midway)
    assert row.light == "red" and row.rule_id == rule.pk
    case.percent = 60                              # caught up within the same period: yellow, not green
    (row,) = lights.refresh_many([case], midway)
    assert (row.light, row.worst) == ("yellow", "red")
    assert ItemPeriod.objects.filter(case=case).count() in (1, 2)
    later = lights.period_start("monthly", midway) + timedelta(days=40)  # the next period but one
    later = later.replace(day=min(later.day, 20))
    case.percent = 100
    (row,) = lights.refresh_many([case], later)
    assert row.light in ("green", "yellow")
    shown = lights.Shown(row.light, row.previous)
    assert shown.trend in ("", "same", "better", "worse")


def test_past_deadline_is_red_and_verified_is_green(world, plan):
    from processes.deployment import lights

    _first, (a, _b) = _dispatched(world, plan, [world.county_a, world.county_b], days=10)
    case = ItemCase.objects.get(pk=a.pk)
    (row,) = lights.refresh_many([case], case.deadline + timedelta(days=1))
    assert row.light == "red"
    act(world, "handler_a", a, "sign")
    act(world, "handler_a", a, "submit", reason="完成")
    act(world, "inspector", a, "verify")
    assert ItemCase.objects.get(pk=a.pk).period_light == "green"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real concurrent writers need PostgreSQL")
def test_numbering_under_concurrent_registration():
    """Eight offices' clerks register at once, two kinds: each kind counts 1..n with no gap or repeat."""
    from tests.factories import make_world
    from tests.test_reliability_concurrency import run_together

    world = make_world()
    clerks = [make_user(Role.INSPECTOR, world.city) for _ in range(8)]

    def job(n):
        def register():
            kind = "plan" if n % 2 else "instruction"
            (matter,) = services.register(actor=Actor(clerks[n]), kind=kind, title=f"事项{n}", description="")
            return kind, matter.serial
        return register

    results = run_together(*(job(n) for n in range(8)))
    assert all(status == "ok" for status, _value in results), results
    by_kind = {}
    for _status, (kind, serial) in results:
        by_kind.setdefault(kind, []).append(serial)
    assert {kind: sorted(serials) for kind, serials in by_kind.items()} == {"plan": [1, 2, 3, 4],
                                                                          "instruction": [1, 2, 3, 4]}


def test_a_failed_registration_gives_its_number_back(world):
    with pytest.raises(ActionError):
        services.register(actor=world.actor("inspector"), kind="plan", title="x", description="",
                          source_date=timezone.localdate() + timedelta(days=3))
    (matter,) = services.register(actor=world.actor("inspector"), kind="plan", title="y", description="")
    assert matter.serial == 1


def test_hotline_ticket_keeps_its_number_and_deadline_and_ends_with_a_return_visit(world):
    due = timezone.localdate() + timedelta(days=10)
    (ticket,) = services.register(actor=world.actor("inspector"), kind="hotline", title="低保申请无人答复",
                                  hotline_ticket="12345-0001", hotline_deadline=due, description="市民来电反映……")
    assert (ticket.hotline_ticket, ticket.hotline_deadline, ticket.deadline) == ("12345-0001", due, due)
    (only,) = ticket.plan_items.all()
    with pytest.raises(ActionError):  # an item may not be due after the hotline's own deadline
        services.update_item(ticket.pk, only.pk, actor=world.actor("inspector"), title="核实答复", text=only.text,
                             deadline=due + timedelta(days=1), target="", cadence="none", units=[world.county_a],
                             co_units=[])
        act(world, "inspector", ticket, "dispatch", model=MatterCase)
    services.update_item(ticket.pk, only.pk, actor=world.actor("inspector"), title="核实答复", text=only.text,
                         deadline=due, target="", cadence="none", units=[world.county_a], co_units=[])
    act(world, "inspector", ticket, "dispatch", model=MatterCase)
    item = ItemCase.objects.get(parent=ticket)
    act(world, "handler_a", item, "sign")
    act(world, "handler_a", item, "submit", reason="已核实并答复来电人")
    act(world, "inspector", item, "verify")
    with pytest.raises(ActionError):  # no report before the return visit
        act(world, "inspector", ticket, "report", model=MatterCase, completion_report="已办结")
    act(world, "inspector", ticket, "record_return_visit", model=MatterCase, satisfaction="satisfied",
        return_visit="来电人表示满意")
    act(world, "inspector", ticket, "report", model=MatterCase, completion_report="已办结")
    act(world, "leader", ticket, "read_report", model=MatterCase, reason="阅")
    ticket.refresh_from_db()
    assert (ticket.phase, ticket.satisfaction) == ("done", "satisfied")


def test_the_sweep_reminds_a_unit_once_per_period_before_its_report_is_due(world, plan, monkeypatch):
    from processes.deployment import lights
    from processes.deployment.models import LightRule
    from workflow.models import OutboxMessage

    _first, (a, b) = _dispatched(world, plan, [world.county_a, world.county_b], days=100)
    act(world, "handler_a", a, "sign")
    act(world, "handler_b", b, "sign")
    LightRule.objects.create(effective_from=timezone.localdate() - timedelta(days=400), report_day=25,
                             yellow_gap=10, red_gap=30)
    Case.objects.filter(pk__in=[a.pk, b.pk]).update(issued_at=timezone.now() - timedelta(days=40))  # last month
    act(world, "handler_b", b, "report_progress", reason="推进中", percent=30)
    # Two days before this month's report day, or today if that has passed (the unit is late).
    day = max(timezone.localdate().replace(day=23), timezone.localdate())

    def reminders(user):
        return OutboxMessage.objects.filter(recipient=user, key__startswith="report-due:").count()

    lights.refresh_open(day)
    queued = []
    original = lights.notify.queue_many
    monkeypatch.setattr(lights.notify, "queue_many", lambda items, **kw: queued.extend(items) or original(items, **kw))
    lights.refresh_open(day)
    assert reminders(world.handler_a) == 1
    assert reminders(world.handler_b) == 0  # it reported this period
    # the period keeps when its unit was reminded, so the next sweep queues nothing again
    period = lights.period_start("monthly", day)
    assert ItemPeriod.objects.get(case_id=a.pk, period=period).reminded_at is not None
    assert ItemPeriod.objects.get(case_id=b.pk, period=period).reminded_at is None
    assert queued == []


def test_several_lead_units_with_co_units_each_get_their_own_case_with_the_co_units(world, plan):
    inspector = world.actor("inspector")
    county_c = make_unit("丙县民政局", parent=world.city)
    first = plan.plan_items.order_by("position")[1]
    services.update_item(plan.pk, first.pk, actor=inspector, title=first.title, text=first.text,
                         deadline=deadline(30), target="", cadence="monthly",
                         units=[world.county_a, world.county_b], co_units=[county_c])
    act(world, "inspector", plan, "dispatch", model=MatterCase)
    cases = ItemCase.objects.filter(parent=plan)
    assert sorted(cases.values_list("unit_id", flat=True)) == sorted([world.county_a.pk, world.county_b.pk])
    assert all(list(case.parties.values_list("unit_id", flat=True)) == [county_c.pk] for case in cases)


def test_only_the_receiving_unit_passes_its_item_down(world, plan):
    _first, (a, _b) = _dispatched(world, plan, [world.county_a, world.county_b])
    town = make_unit("三镇民政办", parent=world.county_a)
    with pytest.raises(ActionError):  # the city's inspector sees the item but it is the county's to pass down
        services.open_items(actor=world.actor("inspector"), units=[town], parent=a, title="x", description="x",
                            deadline=a.deadline - timedelta(days=1), cadence="monthly")
    county = Actor(make_user(Role.INSPECTOR, world.county_a))
    (child,) = services.open_items(actor=county, units=[town], parent=a, title="x", description="x",
                                   deadline=a.deadline - timedelta(days=1), cadence="monthly")
    assert child.supervisor_unit_id == world.county_a.pk


def _tree(plan):
    return [(i.title, i.level, i.parent.title if i.parent else None) for i in plan.plan_items.order_by("position")]


def test_merging_keeps_the_merged_items_children_under_the_item_it_joins(world):
    text = "一、甲\n（一）甲一\n（二）甲二\n二、乙\n（一）乙一"
    (plan,) = services.register(actor=world.actor("inspector"), kind="plan", title="计划", description=text)
    second = plan.plan_items.get(title="乙")
    services.merge_with_previous(plan.pk, second.pk, actor=world.actor("inspector"))  # 乙 into 甲二 (one level down)
    assert _tree(plan) == [("甲", 1, None), ("甲一", 2, "甲"), ("甲二", 2, "甲"), ("乙一", 3, "甲二")]


def test_moving_an_item_out_leaves_its_siblings_with_their_parent(world):
    text = "一、甲\n（一）甲一\n（二）甲二\n二、乙"
    (plan,) = services.register(actor=world.actor("inspector"), kind="plan", title="计划", description=text)
    services.relevel(plan.pk, plan.plan_items.get(title="甲一").pk, actor=world.actor("inspector"), by=-1)
    assert _tree(plan) == [("甲", 1, None), ("甲二", 2, "甲"), ("甲一", 1, None), ("乙", 1, None)]


def test_an_item_due_in_the_past_is_not_dispatched(world, plan):
    item = plan.plan_items.order_by("position")[1]
    services.update_item(plan.pk, item.pk, actor=world.actor("inspector"), title=item.title, text=item.text,
                         deadline=deadline(5), target="", cadence="monthly", units=[world.county_a], co_units=[])
    PlanItem.objects.filter(pk=item.pk).update(deadline=timezone.localdate() - timedelta(days=1))
    with pytest.raises(ActionError):
        act(world, "inspector", plan, "dispatch", model=MatterCase)
    assert not ItemCase.objects.filter(parent=plan).exists()


def test_an_item_issued_after_the_report_day_is_not_late_that_period(world, plan):
    from processes.deployment import lights
    from processes.deployment.models import LightRule

    _first, (a, _b) = _dispatched(world, plan, [world.county_a, world.county_b], days=100)
    act(world, "handler_a", a, "sign")
    case = ItemCase.objects.get(pk=a.pk)
    issued = timezone.localtime(case.issued_at).date()
    LightRule.objects.create(effective_from=issued - timedelta(days=400), report_day=1, yellow_gap=90, red_gap=95)
    if issued.day > 1:  # issued after this month's report day: nothing is due until next month
        assert lights.report_expected(case, issued, 1) is None
        (row,) = lights.refresh_many([case], issued)
        assert row.light == "green"
    next_month = lights.period_start("monthly", issued + timedelta(days=32)) + timedelta(days=1)
    assert lights.report_expected(case, next_month, 1) == next_month - timedelta(days=1)
