"""Working days: Chinese statutory holidays and make-up workdays, kept as data.

Years without data fall back to the weekend rule and say so; nothing here raises for
a date outside the known range.
"""
from dataclasses import dataclass
from datetime import date, timedelta

from .models import CalendarDay, CalendarYear


@dataclass(frozen=True)
class Deadline:
    date: date
    missing_years: tuple[int, ...] = ()

    @property
    def warning(self) -> str:
        return ",".join(str(y) for y in self.missing_years)


class WorkCalendar:
    """A snapshot of the calendar for a date range: one query for years, one for days."""

    def __init__(self, start: date, end: date):
        self.known_years = set(CalendarYear.objects.values_list("year", flat=True))
        self.exceptions = dict(
            CalendarDay.objects.filter(date__gte=start, date__lte=end).values_list("date", "is_workday")
        )
        self.start, self.end = start, end
        self.missing_years: set[int] = set()

    def _widen(self, day: date):
        """Load another stretch of exceptions when a computation walks past the snapshot."""
        start, end = min(day, self.start) - timedelta(days=60), max(day, self.end) + timedelta(days=60)
        self.exceptions = dict(
            CalendarDay.objects.filter(date__gte=start, date__lte=end).values_list("date", "is_workday")
        )
        self.start, self.end = start, end

    def is_workday(self, day: date) -> bool:
        if not self.start <= day <= self.end:
            self._widen(day)
        if day.year not in self.known_years:
            self.missing_years.add(day.year)
            return day.weekday() < 5
        return self.exceptions.get(day, day.weekday() < 5)


def shift_working_days(calendar: "WorkCalendar", start: date, days: int) -> date:
    """The date `days` working days after (or, if negative, before) `start`, within a snapshot."""
    step = timedelta(days=1 if days >= 0 else -1)
    current, counted = start, 0
    while counted < abs(days):
        current += step
        if calendar.is_workday(current):
            counted += 1
    return current


def add_working_days(start: date, days: int) -> Deadline:
    """The date `days` working days after `start` (start itself is not counted)."""
    calendar = WorkCalendar(start, start + timedelta(days=days * 2 + 40))
    return Deadline(shift_working_days(calendar, start, days), tuple(sorted(calendar.missing_years)))


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (negative if end < start)."""
    if end == start:
        return 0
    sign = 1
    if end < start:
        start, end, sign = end, start, -1
    calendar = WorkCalendar(start, end)
    count = sum(1 for n in range(1, (end - start).days + 1) if calendar.is_workday(start + timedelta(days=n)))
    return sign * count
