"""The seed's deadlines ("在 5 个工作日内") are working days on China's official calendar."""

from datetime import date, timedelta

import chinese_calendar
import pytest

from duban.enums import Role
from duban.errors import PermissionDenied, ValidationError
from duban.permissions import SYSTEM, Actor
from duban.workdays import (
    Calendar,
    add_workdays,
    is_workday,
    parse_day_list,
    set_year_schedule,
    workdays_between,
)


def test_written_supervision_due_in_five_working_days_skips_spring_festival():
    # 2024-02-08 is a Thursday before the Spring Festival holiday (02-10 … 02-17)
    assert add_workdays(date(2024, 2, 8), 5).day == date(2024, 2, 21)


def test_start_day_is_not_counted():
    assert add_workdays(date(2024, 3, 4), 1).day == date(2024, 3, 5)
    assert add_workdays(date(2024, 3, 4), 0).day == date(2024, 3, 4)


def test_adjusted_working_sunday_counts():
    # 2024-09-29 (Sunday) was a working day before National Day
    assert add_workdays(date(2024, 9, 27), 1).day == date(2024, 9, 29)
    assert is_workday(date(2024, 9, 29))


def test_weekends_and_holidays_are_not_workdays():
    assert not is_workday(date(2024, 10, 1))  # National Day
    assert not is_workday(date(2024, 3, 9))  # an ordinary Saturday
    assert is_workday(date(2024, 3, 8))


def test_every_day_the_package_knows_is_judged_as_the_package_judges_it():
    calendar, day = Calendar(), date(2004, 1, 1)
    while day.year < 2027:
        assert calendar.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_workdays_between_is_the_inverse_of_add():
    start = date(2024, 2, 8)
    assert workdays_between(start, add_workdays(start, 5).day) == 5
    assert workdays_between(date(2024, 2, 21), start) == -5
    assert workdays_between(start, start) == 0


def test_negative_days_are_refused():
    with pytest.raises(ValidationError, match="不能为负数"):
        add_workdays(date(2024, 2, 8), -1)


def test_year_without_schedule_falls_back_to_weekends_and_is_provisional():
    due = add_workdays(date(2027, 1, 29), 5)  # Friday; 2027 is beyond the package
    assert due.day == date(2027, 2, 5)
    assert due.provisional


def test_known_year_deadline_is_final():
    assert not add_workdays(date(2024, 12, 20), 5).provisional


def test_deadline_crossing_into_an_unknown_year_is_provisional():
    due = add_workdays(date(2026, 12, 30), 3)
    assert due.day == date(2027, 1, 4)
    assert due.provisional


def test_admin_schedule_for_a_new_year_makes_deadlines_final(session):
    holidays = parse_day_list("2027-02-06~2027-02-13")
    working = parse_day_list("2027-02-20")
    set_year_schedule(session, SYSTEM, 2027, holidays, working, note="测试安排")
    session.commit()
    calendar = Calendar.load(session)
    due = calendar.add(date(2027, 2, 4), 5)  # Thu; 02-05 Fri, holiday week, 02-15…
    assert due == add_workdays(date(2027, 2, 4), 5, calendar)
    assert due.day == date(2027, 2, 18)
    assert not due.provisional
    assert calendar.is_workday(date(2027, 2, 20))  # 调休 Saturday
    assert calendar.year_status([2026, 2027, 2028]) == {
        2026: "内置（chinesecalendar）",
        2027: "管理员已录入",
        2028: "未录入（按周末暂估）",
    }


def test_override_corrects_a_single_day_of_a_known_year(session):
    set_year_schedule(session, SYSTEM, 2024, [date(2024, 3, 5)], [])
    session.commit()
    assert not Calendar.load(session).is_workday(date(2024, 3, 5))


def test_entering_a_schedule_again_replaces_the_old_one(session):
    set_year_schedule(session, SYSTEM, 2027, [date(2027, 1, 1)], [])
    set_year_schedule(session, SYSTEM, 2027, [date(2027, 1, 4)], [])
    session.commit()
    calendar = Calendar.load(session)
    assert calendar.is_workday(date(2027, 1, 1))  # a plain Friday again
    assert not calendar.is_workday(date(2027, 1, 4))


def test_schedule_refuses_a_day_of_another_year(session):
    with pytest.raises(ValidationError, match="不属于 2027 年"):
        set_year_schedule(session, SYSTEM, 2027, [date(2026, 12, 31)], [])


def test_only_admins_edit_the_calendar(session):
    clerk = Actor(user_id=None, username="clerk", role=Role.CENTER)
    with pytest.raises(PermissionDenied):
        set_year_schedule(session, clerk, 2027, [], [])


@pytest.mark.parametrize("text", ["2027-13-01", "明天", "2027-02-10~2027-02-01"])
def test_bad_pasted_dates_are_named(text):
    with pytest.raises(ValidationError, match=text.split("~")[0][:4]):
        parse_day_list(text)
