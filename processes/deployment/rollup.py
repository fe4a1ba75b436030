"""Progress rolled up the tree of a matter: per plan item and for the matter, the units'
shares (the items dispatched to them), how many are done, overdue, and by light; and the
units behind schedule at any level (an item passed down names its townships that are late).
An item passed down is done only once its townships are, so its share carries theirs.

The matter's roll-up also counts, per plan item, the shares passed further down (the items
below the units' own shares): how many, and how many are done.

Each is one aggregate query over the item table, by the matter's tree (``root``) or the
item's parent, whatever the number of units."""
from dataclasses import dataclass, field

from django.db.models import Avg, Count, Q
from django.utils import timezone

from .models import ItemCase, Light


@dataclass
class Tally:
    total: int = 0
    done: int = 0
    cancelled: int = 0
    overdue: int = 0
    red: int = 0
    yellow: int = 0
    green: int = 0
    average: float = 0.0          # the mean percent reported by the open and done shares

    @property
    def live(self) -> int:
        return self.total - self.cancelled

    @property
    def percent_done(self) -> int:
        """The share of items verified done, as a percentage (cancelled ones left out)."""
        return round(100 * self.done / self.live) if self.live else 0

    def add(self, other: "Tally"):
        weight = self.live + other.live
        if weight:
            self.average = (self.average * self.live + other.average * other.live) / weight
        for name in ("total", "done", "cancelled", "overdue", "red", "yellow", "green"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Below:
    """The shares passed further down under one plan item: the items below the units' own."""

    live: int = 0                 # not cancelled
    done: int = 0

    def add(self, other: "Below"):
        self.live += other.live
        self.done += other.done


@dataclass
class Rollup:
    by_plan_item: dict = field(default_factory=dict)   # plan item id (None: items opened by hand) → Tally
    below: dict = field(default_factory=dict)          # plan item id → Below, when passed further down
    whole: Tally = field(default_factory=Tally)
    behind: list = field(default_factory=list)          # (unit id, unit name, overdue, red), most behind first


def _counts(today, among: Q = Q()) -> dict:
    """The tally's counts over the items `among` selects (all of those grouped, by default)."""
    open_ = Q(phase="open")
    return {
        "total": Count("pk", filter=among), "done": Count("pk", filter=among & Q(phase="done")),
        "cancelled": Count("pk", filter=among & Q(phase="cancelled")),
        "overdue": Count("pk", filter=among & open_ & Q(deadline__lt=today)),
        "red": Count("pk", filter=among & open_ & Q(period_light=Light.RED)),
        "yellow": Count("pk", filter=among & open_ & Q(period_light=Light.YELLOW)),
        "green": Count("pk", filter=among & (Q(phase="done") | (open_ & Q(period_light=Light.GREEN)))),
        "average": Avg("percent", filter=among & ~Q(phase="cancelled")),
    }


def matter_rollup(matter, today=None, behind_limit: int = 50) -> Rollup:
    """The roll-up of one matter: its units' shares per plan item, the whole, and who is behind;
    and per plan item the shares passed further down. The shares at every level are read in
    one query over the matter's tree, the units' own ones counted apart from those below."""
    today = today or timezone.localdate()
    result = Rollup()
    own, further = Q(parent_id=matter.pk), ~Q(parent_id=matter.pk)
    rows = (ItemCase.objects.filter(root_id=matter.pk).values("plan_item_id")
            .annotate(**_counts(today, own),
                      below_live=Count("pk", filter=further & ~Q(phase="cancelled")),
                      below_done=Count("pk", filter=further & Q(phase="done")))
            .order_by())
    for row in rows:
        key = row.pop("plan_item_id")
        below = Below(row.pop("below_live"), row.pop("below_done"))
        if below.live:
            result.below[key] = below
        if row["total"]:
            tally = Tally(**{**row, "average": float(row["average"] or 0)})
            result.by_plan_item[key] = tally
            result.whole.add(tally)
    result.behind = units_behind(matter, today, behind_limit)
    return result


def units_behind(matter, today=None, limit: int = 50) -> list:
    """Units with open items of the matter, at any level, past their deadline or red."""
    today = today or timezone.localdate()
    late = Q(deadline__lt=today)
    rows = (ItemCase.objects.filter(root_id=matter.pk, phase="open").filter(late | Q(period_light=Light.RED))
            .values("unit_id", "unit__name")
            .annotate(overdue=Count("pk", filter=late), red=Count("pk", filter=Q(period_light=Light.RED)))
            .order_by("-overdue", "-red", "unit__name")[:limit])
    return [(row["unit_id"], row["unit__name"], row["overdue"], row["red"]) for row in rows]


def matters_rollup(matter_ids, today=None) -> dict:
    """The whole of several matters at once (a list of sources): matter id → Tally."""
    today = today or timezone.localdate()
    rows = (ItemCase.objects.filter(parent_id__in=list(matter_ids)).values("parent_id").annotate(**_counts(today))
            .order_by())
    result = {}
    for row in rows:
        key = row.pop("parent_id")
        result[key] = Tally(**{**row, "average": float(row["average"] or 0)})
    return result


def children_rollup(item, today=None) -> Tally:
    """An item passed down: its children's shares (the units below it)."""
    today = today or timezone.localdate()
    row = ItemCase.objects.filter(parent_id=item.pk).aggregate(**_counts(today))
    return Tally(**{**row, "average": float(row["average"] or 0)})
