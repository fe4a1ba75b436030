"""Working days: statutory holidays, make-up workdays, years without data, admin edits."""
from datetime import date, timedelta

import chinese_calendar
import pytest
from django.test import Client
from django.utils import timezone
from django.utils.translation import gettext, override

from workflow.kernel.calendar import WorkCalendar, add_working_days, shift_working_days, working_days_between
from workflow.models import CalendarDay, CalendarYear
from tests.factories import make_case


@pytest.fixture
def admin_client(world):
    world.admin.is_staff = world.admin.is_superuser = True
    world.admin.save()
    client = Client()
    client.force_login(world.admin)
    return client


# Known years: the seeded statutory calendar -----------------------------------------------------
def test_calendar__national_day_and_its_makeup_saturday(db):
    # given: Monday 28 September 2026; 1-7 October are holidays, Saturday 10 October is worked
    start = date(2026, 9, 28)
    # when
    deadline = add_working_days(start, 5)
    # then: 29, 30 Sep, 8, 9 Oct and the make-up Saturday
    assert deadline.date == date(2026, 10, 10) and deadline.date.weekday() == 5
    assert deadline.missing_years == () and deadline.warning == ""
    assert deadline.date == chinese_calendar.find_workday(5, start)
    assert working_days_between(start, deadline.date) == 5
    assert working_days_between(deadline.date, start) == -5


def test_calendar__every_2026_start_matches_chinese_calendar(db):
    # given: every working day of 2026 up to late November as a start date
    day, mismatches = date(2026, 1, 1), []
    while day <= date(2026, 11, 20):
        if chinese_calendar.is_workday(day):
            for days in (1, 5, 10):
                expected = chinese_calendar.find_workday(days, day)
                # when
                got = add_working_days(day, days)
                # then
                if got.date != expected or got.missing_years:
                    mismatches.append((day, days, got, expected))
        day += timedelta(days=1)
    assert mismatches == []


def test_calendar__spring_festival_2026_with_makeup_saturdays(db):
    # given: Friday 13 February 2026; Saturday 14 Feb is worked, 15-23 Feb are the break,
    # and Saturday 28 Feb is worked again
    start = date(2026, 2, 13)
    # when / then
    assert add_working_days(start, 1).date == date(2026, 2, 14)
    assert add_working_days(start, 2).date == date(2026, 2, 24)
    assert add_working_days(start, 6).date == date(2026, 2, 28)
    assert working_days_between(start, date(2026, 3, 1)) == 6


# Years without data ----------------------------------------------------------------------------
def test_calendar__year_without_data_uses_weekends_and_says_so(db):
    # given: no statutory calendar for 2027 yet
    assert not CalendarYear.objects.filter(year=2027).exists()
    # when
    inside = add_working_days(date(2027, 3, 1), 10)
    across = add_working_days(date(2026, 12, 28), 5)
    # then: Monday 1 March + 10 weekdays; 29-31 Dec 2026, then 1 and 4 Jan 2027 by the weekend rule
    assert inside.date == date(2027, 3, 15) and inside.missing_years == (2027,)
    assert across.date == date(2027, 1, 4) and across.missing_years == (2027,)
    assert across.warning == "2027"


def test_calendar__long_periods_far_ahead_do_not_raise(db):
    # when
    far = add_working_days(date(2026, 12, 1), 365)
    between = working_days_between(date(2026, 12, 1), date(2031, 1, 1))
    # then
    assert far.missing_years == (2027, 2028)
    assert far.date.year == 2028
    assert between > 1000


def test_calendar__the_ends_of_the_calendar_stop_the_count_instead_of_overflowing(db):
    # given: dates a request can no longer bring (workflow.forms.date_window), but a row may hold
    calendar = WorkCalendar()
    # when / then: counting past the last or before the first day stops there
    assert shift_working_days(calendar, date(9999, 12, 20), 30) == date.max
    assert shift_working_days(calendar, date(1, 1, 10), -30) == date.min
    assert shift_working_days(calendar, date(9999, 12, 20), 3) < date.max  # the control: room left
    assert add_working_days(date(9999, 12, 31), 5).date == date.max


def test_calendar__admin_adding_a_year_changes_the_result(db, admin_client):
    # given
    before = add_working_days(date(2026, 12, 28), 5)
    # when: the administrator records 2027 and its New Year's Day holiday in the admin
    year = admin_client.post("/admin/workflow/calendaryear/add/", {"year": "2027", "source": "国务院办公厅通知"})
    holiday = admin_client.post("/admin/workflow/calendarday/add/", {"date": "2027-01-01", "name": "元旦"})
    after = add_working_days(date(2026, 12, 28), 5)
    # then
    assert year.status_code == 302 and holiday.status_code == 302
    assert CalendarDay.objects.get(date=date(2027, 1, 1)).is_workday is False
    assert before.date == date(2027, 1, 4) and before.missing_years == (2027,)
    assert after.date == date(2027, 1, 5) and after.missing_years == ()


def test_calendar__admin_added_makeup_workday_counts(db, admin_client):
    # given: 2027 is known and New Year's Day is a holiday
    admin_client.post("/admin/workflow/calendaryear/add/", {"year": "2027", "source": "国务院办公厅通知"})
    admin_client.post("/admin/workflow/calendarday/add/", {"date": "2027-01-01", "name": "元旦"})
    # when: Saturday 2 January is declared a make-up workday
    response = admin_client.post("/admin/workflow/calendarday/add/",
                                 {"date": "2027-01-02", "is_workday": "on", "name": "元旦调休"})
    # then
    assert response.status_code == 302
    assert add_working_days(date(2026, 12, 28), 4).date == date(2027, 1, 2)
    assert working_days_between(date(2026, 12, 31), date(2027, 1, 4)) == 2


# The case page ---------------------------------------------------------------------------------
def _page(user, case):
    client = Client()
    client.force_login(user)
    with override("zh-hans"):
        return client.get(case.get_absolute_url()).content.decode()


def _warning_text(years):
    with override("zh-hans"):
        return gettext(
            "No official holiday calendar for %(years)s yet: the deadline counts weekends only and may change "
            "when the administrator adds that year's holidays.") % {"years": years}


def test_case_page__shows_the_calendar_warning_when_a_year_has_no_data(world):
    # given: no statutory calendar from this year on
    this_year = timezone.localdate().year
    CalendarYear.objects.filter(year__gte=this_year).delete()
    # when
    case = make_case(world)
    # then
    assert str(this_year) in case.calendar_warning.split(",")
    page = _page(world.inspector, case)
    assert _warning_text(case.calendar_warning) in page and 'class="warning"' in page
    assert _warning_text(case.calendar_warning) in _page(world.handler_a, case)


def test_case_page__no_warning_when_the_calendar_is_known(world):
    # given: the control — every year the deadline can reach is known
    this_year = timezone.localdate().year
    for year in (this_year, this_year + 1):
        CalendarYear.objects.get_or_create(year=year)
    # when
    case = make_case(world)
    # then
    assert case.calendar_warning == ""
    page = _page(world.inspector, case)
    assert 'class="warning"' not in page
    assert gettext("Deadline") in page  # the page did render its deadline box
