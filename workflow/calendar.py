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

    def is_workday(self, day: date) -> bool:
        if day.year not in self.known_years:
            self.missing_years.add(day.year)
            return day.weekday() < 5
        return self.exceptions.get(day, day.weekday() < 5)


def add_working_days(start: date, days: int) -> Deadline:
    """The date `days` working days after `start` (start itself is not counted)."""
    horizon = start + timedelta(days=days * 2 + 40)
    calendar = WorkCalendar(start, horizon)
    current, counted = start, 0
    while counted < days:
        current += timedelta(days=1)
        if current > calendar.end:  # very long periods: widen the window
            calendar = WorkCalendar(current, current + timedelta(days=days * 2 + 40))
        if calendar.is_workday(current):
            counted += 1
    return Deadline(current, tuple(sorted(calendar.missing_years)))


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
