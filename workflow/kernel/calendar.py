"""Working days: Chinese statutory holidays and make-up workdays, kept as data.

Years without data fall back to the weekend rule and say so; nothing here raises for
a date outside the known range, nor overflows at the ends of the calendar.
"""
import time
from dataclasses import dataclass
from datetime import date, timedelta

from workflow.models import CalendarDay, CalendarYear


@dataclass(frozen=True)
class Deadline:
    date: date
    missing_years: tuple[int, ...] = ()

    @property
    def warning(self) -> str:
        return ",".join(str(y) for y in self.missing_years)


_CACHE_SECONDS = 60
_snapshot: dict = {"loaded": -1e9, "years": frozenset(), "days": {}}


def forget_calendar(**_kwargs):
    """Drop the cached calendar (called when an admin edits a year or a day)."""
    _snapshot["loaded"] = -1e9


def _calendar_data():
    """The whole calendar table is a few hundred rows: keep it in memory for a minute."""
    if time.monotonic() - _snapshot["loaded"] > _CACHE_SECONDS:
        _snapshot["years"] = frozenset(CalendarYear.objects.values_list("year", flat=True))
        _snapshot["days"] = dict(CalendarDay.objects.values_list("date", "is_workday"))
        _snapshot["loaded"] = time.monotonic()
    return _snapshot["years"], _snapshot["days"]


class WorkCalendar:
    """The working-day rule: the calendar's exceptions, else Monday to Friday. Remembers the
    years it had no data for, so a deadline can say it may change."""

    def __init__(self):
        self.known_years, self.exceptions = _calendar_data()
        self.missing_years: set[int] = set()

    def is_workday(self, day: date) -> bool:
        if day.year not in self.known_years:
            self.missing_years.add(day.year)
            return day.weekday() < 5
        return self.exceptions.get(day, day.weekday() < 5)


def shift_working_days(calendar: "WorkCalendar", start: date, days: int) -> date:
    """The date `days` working days after (or, if negative, before) `start`, within a snapshot.

    Stops at the first or last day a date can hold rather than overflow: forms keep request
    dates near today, but a far date already stored must not make a transition fail."""
    step = timedelta(days=1 if days >= 0 else -1)
    end = date.max if days >= 0 else date.min
    current, counted = start, 0
    while counted < abs(days) and current != end:
        current += step
        if calendar.is_workday(current):
            counted += 1
    return current


def add_working_days(start: date, days: int) -> Deadline:
    """The date `days` working days after `start` (start itself is not counted)."""
    calendar = WorkCalendar()
    return Deadline(shift_working_days(calendar, start, days), tuple(sorted(calendar.missing_years)))


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (negative if end < start)."""
    if end == start:
        return 0
    sign = 1
    if end < start:
        start, end, sign = end, start, -1
    calendar = WorkCalendar()
    count = sum(1 for n in range(1, (end - start).days + 1) if calendar.is_workday(start + timedelta(days=n)))
    return sign * count
