"""督办事项's pages: the matter's panel (the items tree with its roll-up, the units behind), the
item's panel (light against the previous period, co-units' parts, the units it was passed down
to) and the roll-up of all matters, for the office, the leader and the units, in a number of
queries that does not grow with the tree."""
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from processes.deployment import services
from processes.deployment.models import ItemCase, ItemPeriod, LightRule, MatterCase
from tests import deployment_helpers as shared
from tests.deployment_helpers import act, register_plan
from tests.factories import make_unit, make_user
from workflow.cases.engine import Actor
from workflow.models import Case, Role

PLAN = shared.PLAN + "（二）推进居家养老。完成适老化改造300户。\n"  # the shared plan and one more item


def dispatched(world, units_per_item, title="2026年工作要点", co_units=(), text=PLAN):
    """A plan registered and dispatched: its second-level items, each to the units of
    `units_per_item` (a list per item, in order; items beyond the list stay undispatched), with
    the co-units of `co_units` (likewise)."""
    inspector = world.actor("inspector")
    matter = register_plan(world, title=title, text=text)
    leaves = [item for item in matter.plan_items.order_by("position") if item.level == 2]
    for n, (item, units) in enumerate(zip(leaves, units_per_item)):
        services.update_item(matter.pk, item.pk, actor=inspector, title=item.title, text=item.text,
                             deadline=timezone.localdate() + timedelta(days=60), target="按期完成",
                             cadence="monthly", units=units, co_units=co_units[n] if n < len(co_units) else [])
    act(world, inspector, matter, "dispatch", model=MatterCase)
    return MatterCase.objects.get(pk=matter.pk)


def behind(case, days=1):
    """Put an item past its deadline and red, as the daily sweep would find it."""
    ItemCase.objects.filter(pk=case.pk).update(deadline=timezone.localdate() - timedelta(days=days),
                                               period_light="red")


@pytest.fixture(autouse=True)
def in_english(client):
    """The pages in English, so that the checks read the message ids whatever the catalogue holds."""
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"


@pytest.fixture
def matter(world):
    matter = dispatched(world, [[world.county_a, world.county_b], [world.county_a]], co_units=[[], [world.county_b]])
    behind(ItemCase.objects.get(parent=matter, unit=world.county_b))
    return matter


def page(client, user, url, status=200):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == status, response.content[:500]
    return response.content.decode()


# The matter's panel ------------------------------------------------------------------------------
def test_matter_panel_shows_the_tree_roll_up_and_units_behind_for_the_office_and_leader(client, world, matter):
    url = reverse("matter:detail", args=[matter.pk])
    for user in (world.inspector, world.leader):
        html = page(client, user, url)
        assert "Items and progress" in html and "提高低保标准" in html and "建设社区食堂" in html
        assert "Units behind schedule" in html
        unit_link = f'{reverse("item:list")}?under={matter.pk}&amp;unit={world.county_b.pk}&amp;overdue=1'
        assert unit_link in html and world.county_b.name in html
        assert "under this matter" in html and "across all matters" not in html
        assert "Not dispatched yet" in html                      # the items left for later
        assert "Behind 1" in html and "On track 2" in html       # lights in words, not colour alone
        assert "Total of the items below" in html                # a heading sums its items
    assert "Roll-up of all matters" in html
    # The listed unit's link opens the item list, filtered.
    assert client.get(f'{reverse("item:list")}?under={matter.pk}&unit={world.county_b.pk}&overdue=1').status_code == 200


def test_a_unit_behind_opens_its_items_of_this_matter_only(client, world, matter):
    other = dispatched(world, [[world.county_b]], title="另一件事项", text="一、兜牢民生底线\n（一）另一项任务。\n")
    late_elsewhere = ItemCase.objects.get(parent=other, unit=world.county_b)
    behind(late_elsewhere)
    # County B passes its late share of this matter down to a township: the township's share is listed too.
    share = ItemCase.objects.get(parent=matter, unit=world.county_b, plan_item__title__contains="提高低保标准")
    town = make_unit("丙镇民政办", parent=world.county_b)
    ItemCase.objects.filter(pk=share.pk).update(deadline=timezone.localdate() + timedelta(days=60))
    share.refresh_from_db()
    (township,) = services.open_items(actor=Actor(make_user(Role.INSPECTOR, world.county_b)), units=[town],
                                      parent=share, title=share.title, description="镇级落实", cadence="monthly",
                                      deadline=timezone.localdate() + timedelta(days=30))
    behind(township)
    behind(share)
    html = page(client, world.inspector, reverse("matter:detail", args=[matter.pk]))
    link = f'{reverse("item:list")}?under={matter.pk}&amp;unit={world.county_b.pk}&amp;overdue=1'
    assert link in html
    listed = page(client, world.inspector, link.replace("&amp;", "&"))
    assert share.number in listed and township.number in listed
    assert late_elsewhere.number not in listed
    # The list says which matter it is narrowed to, by the matter's own number, with a way back.
    assert "Only the cases under" in listed and matter.doc_number in listed
    assert f'href="{reverse("item:list")}?unit={world.county_b.pk}&amp;overdue=1"' in listed
    assert f'<input type="hidden" name="under" value="{matter.pk}"' in listed
    # Without the matter, the unit's overdue items of every matter.
    listed = page(client, world.inspector, f'{reverse("item:list")}?unit={world.county_b.pk}&overdue=1')
    assert share.number in listed and late_elsewhere.number in listed and "Only the cases under" not in listed


def test_matter_panel_scopes_the_units_behind_to_what_the_user_may_see(client, world, matter):
    # A handler in the office's own unit sees the matter, but no county's items.
    clerk = make_user(Role.HANDLER, world.city)
    html = page(client, clerk, reverse("matter:detail", args=[matter.pk]))
    assert "Items and progress" in html
    assert world.county_b.name not in html and "Units behind schedule" not in html
    # A county handler may not open the city's matter at all.
    page(client, world.handler_a, reverse("matter:detail", args=[matter.pk]), status=404)


def test_matter_page_queries_do_not_grow_with_items_and_units(client, world):
    small = dispatched(world, [[world.county_a]], title="小", text="一、兜牢民生底线\n（一）提高低保标准。\n")
    more_units = [make_unit(f"{n}县民政局", parent=world.city) for n in "丙丁戊己"]
    large = dispatched(world, [[world.county_a, world.county_b, *more_units]] * 4, title="大")
    # Shares passed further down, under two of the large matter's plan items.
    for share in ItemCase.objects.filter(parent=large, unit__in=more_units[:2]):
        towns = [make_unit(f"{share.unit.name}{n}镇", parent=share.unit) for n in "一二"]
        services.open_items(actor=Actor(make_user(Role.INSPECTOR, share.unit)), units=towns, parent=share,
                            title=share.title, description="镇级落实", cadence="monthly",
                            deadline=share.deadline - timedelta(days=10))
    assert ItemCase.objects.filter(root=large).exclude(parent=large).count() == 16
    behind(ItemCase.objects.get(parent=small))
    for case in ItemCase.objects.filter(parent=large)[:5]:
        behind(case)
    assert large.plan_items.count() > small.plan_items.count()
    assert ItemCase.objects.filter(parent=large).count() == 24 and ItemCase.objects.filter(parent=small).count() == 1
    client.force_login(world.inspector)
    counts = []
    for matter in (small, large):
        url = reverse("matter:detail", args=[matter.pk])
        client.get(url)  # warm the per-process caches (calendar, settings)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert "below: 0/4 done" in client.get(reverse("matter:detail", args=[large.pk])).content.decode()


def test_matter_panel_counts_the_shares_passed_further_down_per_plan_item(client, world, matter, passed_down):
    from processes.deployment.rollup import Below, matter_rollup

    item, county_inspector, children = passed_down
    Case.objects.filter(pk=children[0].pk).update(phase="done", status="done")
    with CaptureQueriesContext(connection) as queries:
        result = matter_rollup(matter)
    assert len(queries) == 2  # every level's shares in one query, and the units behind
    assert result.below == {item.plan_item_id: Below(live=2, done=1)}
    # The units' own shares are counted as before: the townships' are not among them.
    assert result.by_plan_item[item.plan_item_id].total == 1 and result.whole.total == 3
    html = page(client, world.inspector, reverse("matter:detail", args=[matter.pk]))
    assert html.count("below: 1/2 done") == 2                 # the plan item, and the heading above it
    assert "“Below” counts the shares the units passed further down" in html
    # A cancelled township's share is not counted.
    Case.objects.filter(pk=children[1].pk).update(phase="cancelled")
    assert matter_rollup(matter).below[item.plan_item_id] == Below(live=1, done=1)
    html = page(client, world.inspector, reverse("matter:detail", args=[matter.pk]))
    assert "below: 1/1 done" in html


def test_a_matter_without_shares_passed_down_shows_no_below_figure(client, world, matter):
    html = page(client, world.inspector, reverse("matter:detail", args=[matter.pk]))
    assert "below:" not in html and "“Below” counts" not in html


def test_the_matter_is_known_by_its_supervision_number_at_the_top_of_its_page(client, world, matter):
    assert matter.doc_number and matter.doc_number != matter.number
    html = page(client, world.inspector, reverse("matter:detail", args=[matter.pk]))
    assert f"<title>{matter.doc_number}" in html
    assert f'<p class="muted">{matter.doc_number} <small>· {matter.number}</small></p>' in html
    # The matters' list and an item's page name it the same way.
    html = page(client, world.inspector, reverse("matter:list"))
    assert f'<a href="{matter.get_absolute_url()}">{matter.doc_number}</a>' in html
    assert "<th>Supervision number</th>" not in html and "<th>Source</th>" in html  # not twice
    item = ItemCase.objects.filter(parent=matter).first()
    html = page(client, world.inspector, reverse("item:detail", args=[item.pk]))
    assert f"{matter.doc_number} {matter.title}</a>" in html
    assert f"<title>{item.number}" in html and f'<p class="muted">{item.number}</p>' in html
    # A matter without a supervision number is known by its case number.
    MatterCase.objects.filter(pk=matter.pk).update(doc_number="")
    html = page(client, world.inspector, reverse("matter:detail", args=[matter.pk]))
    assert f'<p class="muted">{matter.number}</p>' in html


# The item's panel --------------------------------------------------------------------------------
@pytest.fixture
def passed_down(world, matter):
    """County A's item, with county B as co-unit, passed down to two townships."""
    item = ItemCase.objects.get(parent=matter, unit=world.county_a, parties__unit=world.county_b)
    act(world, "handler_a", item, "sign")
    act(world, "handler_a", item, "report_progress", reason="已完成摸底", percent=40)
    town1, town2 = make_unit("一镇民政办", parent=world.county_a), make_unit("二镇民政办", parent=world.county_a)
    county_inspector = make_user(Role.INSPECTOR, world.county_a)
    children = services.open_items(actor=Actor(county_inspector), units=[town1, town2], parent=item,
                                   title=item.title, description="镇级落实", cadence="monthly",
                                   deadline=item.deadline - timedelta(days=10))
    clerk = Actor(make_user(Role.HANDLER, town1))
    act(world, clerk, children[0], "sign")
    act(world, clerk, children[0], "report_progress", reason="过半", percent=60)
    return ItemCase.objects.get(pk=item.pk), county_inspector, children


def test_item_panel_shows_light_trend_reports_co_units_and_children(client, world, passed_down):
    item, county_inspector, children = passed_down
    start = item.reports.get().period
    previous = (start - timedelta(days=1)).replace(day=1)
    ItemPeriod.objects.create(case=item, period=previous, light="red", worst="red", percent=10)
    # Issued last period, and this period's report day (the 1st) has passed without the co-unit's part.
    LightRule.objects.create(effective_from=previous - timedelta(days=400), report_day=1, yellow_gap=10, red_gap=30)
    Case.objects.filter(pk=item.pk).update(issued_at=timezone.now() - timedelta(days=45))
    url = reverse("item:detail", args=[item.pk])
    html = page(client, world.inspector, url)
    assert "Progress and light" in html and "已完成摸底" in html and "40%" in html
    assert "Previous period" in html and "Better than the previous period" in html
    assert world.county_b.name in html and "Late: no part reported this period" in html
    assert "Passed down to units below" in html and "一镇民政办" in html and "二镇民政办" in html
    assert "Pass down to units below" not in html      # the city's inspector does not pass the county's item down
    # The co-unit reports its part: no longer late.
    act(world, "handler_b", item, "contribute", reason="配合核对", percent=30)
    html = page(client, world.handler_b, url)
    assert "Reported this period" in html and "配合核对" in html
    # The county's own inspector may pass it down; its handler sees the children's figures only.
    html = page(client, county_inspector, url)
    assert f'{reverse("item:new")}?parent={item.pk}' in html
    html = page(client, world.handler_a, url)
    assert "Pass down to units below" not in html and "一镇民政办" not in html
    assert "their figures are counted above" in html


def test_item_page_queries_do_not_grow_with_children(client, world, passed_down):
    item, county_inspector, children = passed_down
    client.force_login(county_inspector)
    url = reverse("item:detail", args=[item.pk])
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    towns = [make_unit(f"{n}镇民政办", parent=world.county_a) for n in "三四五六"]
    services.open_items(actor=Actor(county_inspector), units=towns, parent=item, title=item.title,
                        description="镇级落实", cadence="monthly", deadline=item.deadline - timedelta(days=10))
    client.get(url)  # new units: the unit settings' cache is read again once
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(few) == len(many)


# The roll-up of all matters ---------------------------------------------------------------------
def test_rollup_lists_visible_matters_with_their_figures_and_filters(client, world, matter):
    (instruction,) = services.register(actor=world.actor("inspector"), kind="instruction", title="王局长批示件",
                                       origin="王局长", source_date=timezone.localdate(), description="请抓紧落实。")
    url = reverse("matter:rollup")
    assert url == "/matter/rollup/"
    html = page(client, world.leader, url)
    assert matter.doc_number in html and instruction.doc_number in html and "Behind 1" in html
    assert "33%" not in html and "0%" in html
    html = page(client, world.leader, f"{url}?kind=instruction&year={timezone.localdate().year}&status=registered")
    assert instruction.doc_number in html and matter.doc_number not in html
    html = page(client, world.leader, f"{url}?year={timezone.localdate().year - 1}")
    assert "No matters match." in html
    # The units see none of the city's matters.
    html = page(client, world.handler_a, url)
    assert matter.doc_number not in html and "No matters match." in html


@pytest.mark.parametrize("query", ["kind=nonsense", "year=abc", "year=1800", "year=99999999999999999999",
                                   "status=nope", "page=0", "page=-3", "page=abc", "page=99999999999"])
def test_rollup_refuses_bad_filters_with_a_message(client, world, query):
    client.force_login(world.inspector)
    response = client.get(f"{reverse('matter:rollup')}?{query}")
    assert response.status_code == 400
    assert "The filter was not understood" in response.content.decode()


def test_rollup_pages(client, world):
    from processes.deployment import views_rollup

    for n in range(views_rollup.PER_PAGE + 2):
        services.register(actor=world.actor("inspector"), kind="meeting", title=f"会议事项{n}", description="")
    html = page(client, world.inspector, reverse("matter:rollup") + "?kind=meeting&page=2")
    assert html.count("会议事项") == 2 and "Page 2 of 2" in html


def test_rollup_queries_do_not_grow_with_matters(client, world, matter):
    client.force_login(world.inspector)
    url = reverse("matter:rollup")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(3):
        dispatched(world, [[world.county_a, world.county_b]], title=f"又一件{n}")
    client.get(url)
    with CaptureQueriesContext(connection) as many:
        html = client.get(url).content.decode()
    assert html.count("又一件") == 3 and len(few) == len(many)


def test_a_link_to_a_page_not_installed_is_left_out():
    from processes.deployment.templatetags.deployment import optional_url

    assert optional_url("matter:no-such-page", 1) == ""
    assert optional_url("matter:rollup") == "/matter/rollup/"
