"""The data of 督办事项's panels on the case page, read in a fixed number of queries whatever the
size of the tree: ``{% matter_panel case user as panel %}`` (the items tree with its roll-up,
the units behind), ``{% item_panel case user as panel %}`` (the light against the previous
period, the reports and co-units' parts, the units it was passed down to), the light's label
(``{{ light|light_label }}``) and ``{% optional_url name arg %}`` for a page that may not be
installed."""
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html

from workflow.models import Unit

from ..declaration import Cadence
from ..lights import Shown, expected_percent, previous_period, report_expected, rule_on
from ..models import ItemCase, ItemPeriod, ItemReport, Light, period_start
from ..rollup import Below, Tally, children_rollup, matter_rollup
from ..services import EDITABLE, is_office

register = template.Library()


@register.filter
def light_label(value) -> str:
    """A light's words (正常 / 预警 / 滞后), so that it never rests on colour alone."""
    return str(Light(value).label) if value in Light.values else ""


@register.simple_tag
def light_badge(value, count=None) -> str:
    """A light as a dot beside its words, and the number of items at it when given."""
    if value not in Light.values:
        return ""
    words = light_label(value) if count is None else f"{light_label(value)} {count}"
    return format_html('<span class="dp-light dp-light-{}"><span class="light light-{}" aria-hidden="true"></span>{}'
                       '</span>', value, value, words)


@register.simple_tag
def optional_url(name, *args) -> str:
    """The URL of `name`, or "" when no such page is installed, so that a link to it is left out."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def item_list_url(matter_id: int, unit_id: int, overdue: bool) -> str:
    """The list of the matter's items narrowed to a unit (and its overdue items, when it has
    some): the units' shares at every level under the matter."""
    query = {"under": matter_id, "unit": unit_id, **({"overdue": "1"} if overdue else {})}
    return f"{reverse('item:list')}?{urlencode(query)}"


@dataclass
class TreeRow:
    plan_item: object              # a PlanItem, or None for the items opened by hand under the matter
    tally: Tally | None            # its own units' shares; else the sum of the items below it; None: neither
    summed: bool = False           # the tally is that of the items below it (a heading)
    below: Below | None = None     # the shares passed further down (summed likewise for a heading)


@dataclass
class Behind:
    unit_id: int
    name: str
    overdue: int
    red: int
    url: str


@register.simple_tag
def matter_panel(matter, user) -> dict:
    """The matter's plan items in tree order, each with the roll-up of the units' shares and of
    the shares passed further down, the whole, and the units behind schedule that the user
    may see. Four queries at most."""
    result = matter_rollup(matter)
    items = list(matter.plan_items.order_by("position").only("pk", "matter_id", "parent_id", "position", "level",
                                                             "number", "title", "deadline", "dispatched_at"))
    rows = [TreeRow(item, result.by_plan_item.get(item.pk), below=result.below.get(item.pk)) for item in items]
    parents = {item.pk: item.parent_id for item in items}
    summed, summed_below = {}, {}
    for item in items:  # each dispatched item's shares, added to every heading above it
        tally, further, up = result.by_plan_item.get(item.pk), result.below.get(item.pk), parents.get(item.pk)
        while tally is not None and up is not None:
            summed.setdefault(up, Tally()).add(tally)
            if further is not None:
                summed_below.setdefault(up, Below()).add(further)
            up = parents.get(up)
    for row in rows:
        if row.tally is None and row.plan_item.pk in summed:
            row.tally, row.summed = summed[row.plan_item.pk], True
            row.below = summed_below.get(row.plan_item.pk)
    if None in result.by_plan_item:
        rows.append(TreeRow(None, result.by_plan_item[None], below=result.below.get(None)))
    behind = result.behind
    if behind:
        seen = set(Unit.objects.visible_to(user).filter(pk__in=[row[0] for row in behind])
                   .values_list("pk", flat=True))
        behind = [row for row in behind if row[0] in seen]
    return {
        "rows": rows, "whole": result.whole,
        "behind": [Behind(unit_id, name, overdue, red, item_list_url(matter.pk, unit_id, bool(overdue)))
                   for unit_id, name, overdue, red in behind],
        "dispatched": any(row.tally for row in rows),
        "passed_down": bool(result.below),
        # The office (an inspector of the unit holding the matter) imports items until it is reported.
        "may_import": is_office(user, matter) and matter.status in EDITABLE,
    }


@dataclass
class CoUnit:
    name: str
    done_at: object
    latest: object = None          # its latest ItemReport of kind "part"
    late: bool = False
    this_period: bool = False      # its latest part is of the current period


@dataclass
class ItemPanel:
    shown: Shown
    expected: int
    reports: list = field(default_factory=list)
    co_units: list = field(default_factory=list)
    children: list = field(default_factory=list)
    below: Tally | None = None     # the roll-up of the units it was passed down to
    pass_down_url: str = ""


@register.simple_tag
def item_panel(case, user) -> ItemPanel:
    """The item's light now and in the previous period, its reports, each co-unit's latest part
    and whether it is late (no part in the current period), and the items it was passed down
    to that the user may see with their roll-up. Five queries."""
    today = timezone.localdate()
    start = period_start(case.cadence, today)
    before = previous_period(case.cadence, start)
    lights = dict(ItemPeriod.objects.filter(case_id=case.pk, period__in=(start, before))
                  .values_list("period", "light"))
    light = lights.get(start) or case.period_light
    panel = ItemPanel(shown=Shown(light, lights.get(before)), expected=expected_percent(case, today))
    panel.reports = list(ItemReport.objects.filter(case_id=case.pk).select_related("author", "unit")
                         .order_by("-created_at"))
    parties = list(case.parties.select_related("unit").order_by("pk"))
    if parties:
        latest = {}
        for report in panel.reports:  # newest first
            if report.kind == ItemReport.Kind.PART:
                latest.setdefault(report.unit_id, report)
        for party in parties:
            part = latest.get(party.unit_id)
            if party.done_at or not case.is_open:
                late = False
            elif case.cadence == Cadence.NONE:
                late = case.deadline is not None and case.deadline < today
            else:  # no part this period, and the period's report day has passed
                due = report_expected(case, today, rule_on(today).report_day)
                late = (part is None or part.period < start) and due is not None and today > due
            panel.co_units.append(CoUnit(party.unit.name, party.done_at, part, late,
                                         part is not None and part.period >= start))
    panel.below = children_rollup(case, today)
    if panel.below.total:
        panel.children = list(ItemCase.objects.visible_to(user).filter(parent_id=case.pk).select_related("unit")
                              .order_by("unit__name", "pk")[:200])
    if case.is_open and user.unit_id == case.unit_id and case.spec.opened_by(user):
        panel.pass_down_url = f"{reverse('item:new')}?{urlencode({'parent': case.pk})}"
    return panel
