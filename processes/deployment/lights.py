"""An item's status light for a reporting period (the process's own rule).

- Green: on track. Yellow: at risk. Red: behind.
- Red when the item is past its deadline and not done, or when its progress is ``red_gap``
  points or more behind the share of its time that has passed.
- Yellow when progress is ``yellow_gap`` points or more behind that share, or when the
  period's report is due (the rule's report day has passed) and none has come.
- An item that was red in the period, or ended the previous period red, and has caught up
  shows yellow for the period, not green.
- A verified item is green. Each period's light is kept (``ItemPeriod``) with the worst it
  has been and the rule version used, so that it can be compared with the previous period.

The thresholds are a ``LightRule`` version in force on the day (defaults if none is kept).
"""
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from workflow.storage import sql
from workflow.trail import notify

from .declaration import HANDLER, Cadence
from .models import ItemCase, ItemPeriod, ItemReport, Light, LightRule, period_start

ORDER = {Light.GREEN: 0, Light.YELLOW: 1, Light.RED: 2}
REPORTING = ("working", "returned")  # the states in which an item reports on its cadence
DEFAULT = LightRule(report_day=25, yellow_gap=10, red_gap=30)


def rule_on(day: date) -> LightRule:
    """The version in force on `day`, or the defaults (a rule with no id) if none is kept."""
    return LightRule.objects.filter(effective_from__lte=day).order_by("-effective_from").first() or DEFAULT


def previous_period(cadence: str, start: date) -> date:
    return period_start(cadence, start - timedelta(days=1))


def due_on(cadence: str, start: date, report_day: int) -> date | None:
    """The day the report of the period starting `start` is due (None: no periodic report)."""
    if cadence == Cadence.NONE:
        return None
    if cadence == Cadence.QUARTERLY:
        return start.replace(month=start.month + 2, day=report_day)
    return start.replace(day=report_day)


def report_expected(case, today: date, report_day: int) -> date | None:
    """The day the item's report for the period `today` falls in is due, if one is expected of
    it: an item being carried out, with a cadence, issued before that day (an item issued after
    a month's report day first reports the next month)."""
    if case.status not in REPORTING:
        return None
    due = due_on(case.cadence, period_start(case.cadence, today), report_day)
    if due is None or case.issued_at is None or timezone.localtime(case.issued_at).date() > due:
        return None
    return due


def judge(case, today: date, rule: LightRule, reported: bool) -> str:
    """The light the item earns today on its own, before the catch-up rule."""
    if case.phase == "done":
        return Light.GREEN
    if case.deadline is not None and today > case.deadline:
        return Light.RED
    behind = expected_percent(case, today) - case.percent
    if behind >= rule.red_gap:
        return Light.RED
    if behind >= rule.yellow_gap:
        return Light.YELLOW
    due = report_expected(case, today, rule.report_day)
    if not reported and due is not None and today > due:
        return Light.YELLOW
    return Light.GREEN


def expected_percent(case, today: date) -> int:
    """The share of its time that has passed, as a percentage: where progress should be."""
    if case.deadline is None or case.issued_at is None:
        return 0
    start = timezone.localtime(case.issued_at).date()
    total = (case.deadline - start).days
    if total <= 0:
        return 100
    return max(0, min(100, round(100 * (today - start).days / total)))


@dataclass
class Shown:
    light: str
    previous: str | None

    @property
    def trend(self) -> str:
        """better | same | worse | "" (no previous period)."""
        if not self.previous:
            return ""
        diff = ORDER[self.light] - ORDER[self.previous]
        return "same" if diff == 0 else ("worse" if diff > 0 else "better")


def refresh(case, today: date | None = None, *, save_item: bool = True) -> ItemPeriod:
    """Judge the item for the period `today` falls in and keep the result (in the caller's
    transaction, e.g. the report's). Inside a transition, pass ``save_item=False``: the
    engine writes the item's changed columns, its light among them."""
    return refresh_many([case], today, save_items=save_item)[0]


PERIOD_FIELDS = ("light", "worst", "percent", "rule", "updated_at", "reminded_at")


def refresh_many(cases, today: date | None = None, *, save_items: bool = True, remind: bool = False) -> list:
    """The same for many items, in a few statements: their periods read in one query, and
    only the periods and items whose light changed written, in bulk. With `remind`, the
    handlers of each item whose report for the period is due within ``REMIND_BEFORE`` days
    or late, and has not come, are reminded, once per item and period (the period keeps when;
    the outbox key names the period too)."""
    today = today or timezone.localdate()
    rule = rule_on(today)
    ids = [case.pk for case in cases]
    starts = {case.pk: period_start(case.cadence, today) for case in cases}
    previous = {case.pk: previous_period(case.cadence, starts[case.pk]) for case in cases}
    wanted = set(starts.values()) | set(previous.values())
    kept_rows = {(case_id, period): tuple(row) for case_id, period, *row in
                 ItemPeriod.objects.filter(case__in=ids, period__in=wanted)
                 .values_list("case_id", "period", "light", "worst", "percent", "rule_id", "reminded_at")}
    reported = set(ItemReport.objects.filter(case__in=ids, period__in=set(starts.values()),
                                             kind__in=("progress", "final")).values_list("case_id", "period"))
    result, changed, moved, reminders = [], [], {}, []
    now = timezone.now()
    for case in cases:
        start = starts[case.pk]
        earned = judge(case, today, rule, (case.pk, start) in reported)
        before = kept_rows.get((case.pk, previous[case.pk]))
        kept = kept_rows.get((case.pk, start))
        worst = max(earned, kept[1] if kept else earned, key=ORDER.get)
        was_red = worst == Light.RED or (before is not None and before[0] == Light.RED)
        light = Light.YELLOW if earned == Light.GREEN and was_red and case.phase != "done" else earned
        row = ItemPeriod(case_id=case.pk, period=start, light=light, worst=worst, percent=case.percent,
                         rule_id=rule.pk, updated_at=now, reminded_at=kept[4] if kept else None)
        row.previous = before[0] if before else None
        result.append(row)
        due = _reminder_due(case, today, rule) if remind and row.reminded_at is None else None
        if due is not None and (case.pk, start) not in reported:
            reminders.append(_reminder(case, start, due))
            row.reminded_at = now
        if kept is None or kept[:4] != (light, worst, case.percent, rule.pk) or row.reminded_at != kept[4]:
            changed.append(row)
        if light != case.period_light:
            moved.setdefault(light, []).append(case.pk)
        case.period_light = light
    # One upsert for the periods that changed (a report and the sweep may judge the same item
    # at once: the later write wins, never a failure) and one update per colour for the items.
    sql.insert(changed, conflict=("case", "period"), update_fields=PERIOD_FIELDS)
    if save_items:
        for light, moved_ids in moved.items():
            ItemCase.objects.filter(pk__in=moved_ids).update(period_light=light)
    if reminders:
        notify.queue_many(reminders)
    return result


REMIND_BEFORE = 3  # days before a period's report is due that the unit's handlers are reminded


@dataclass(slots=True)
class Swept:
    """What the sweep reads of an open item: what judge() and remind() use, without the
    cost of a model instance."""
    pk: int
    status: str
    phase: str
    cadence: str
    deadline: date | None
    issued_at: object
    percent: int
    period_light: str
    unit_id: int
    number: str
    title: str


SWEPT = tuple(Swept.__slots__)


def refresh_open(today: date | None = None, batch: int = 2000) -> int:
    """The sweep (hourly, idempotent): judge every open item again (a deadline passing turns it
    red) and remind the units whose period report is due within ``REMIND_BEFORE`` days or
    late, once per item and period. Items are read in key order, a batch at a time."""
    today = today or timezone.localdate()
    done, after = 0, 0
    while True:
        cases = [Swept(*row) for row in ItemCase.objects.filter(phase="open", pk__gt=after).order_by("pk")
                 .values_list(*SWEPT)[:batch]]
        if not cases:
            return done
        with transaction.atomic():
            refresh_many(cases, today, remind=True)
        done, after = done + len(cases), cases[-1].pk


def _reminder_due(case, today: date, rule) -> date | None:
    """The day the item's report for the period is due, if a reminder is owed today: from
    ``REMIND_BEFORE`` days before that day on."""
    day = report_expected(case, today, rule.report_day)
    return day if day is not None and today >= day - timedelta(days=REMIND_BEFORE) else None


def _reminder(case, start: date, day: date) -> tuple:
    return (case, [(HANDLER.role, case.unit_id)], f"report-due:{case.pk}:{start.isoformat()}",
            notify.message(gettext_noop("Progress report due by %(day)s: %(number)s %(title)s"),
                           day=day.isoformat(), number=case.number, title=case.title))
