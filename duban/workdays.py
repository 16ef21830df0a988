"""Chinese working-day calendar: every deadline of the seed ("5 个工作日内") is counted here.

Rules (DESIGN.md):
- N working days count from the day after the start date (the start day is not counted),
  skip weekends and statutory holidays, and count the adjusted working weekends (调休):
  2024-02-08 + 5 → 2024-02-21; 2024-09-27 + 1 → 2024-09-29 (a working Sunday).
- The `chinesecalendar` package knows 2004–2026. An admin enters later years (the State
  Council publishes each winter) as `HolidayOverride` days and confirms the year with a
  `CalendarYear` row. Overrides also correct single days of any year.
- For a year with no schedule, only weekends are skipped and the result is provisional
  (暂估); it is recomputed once the year is confirmed (`duban.cases` does that for steps).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import chinese_calendar
from sqlmodel import Session, col, select

from duban import audit
from duban.clock import now
from duban.enums import AuditAction
from duban.errors import ValidationError
from duban.models import CalendarYear, HolidayOverride
from duban.permissions import Actor, Perm

PACKAGE_YEARS = range(2004, 2027)  # what chinesecalendar 1.11 covers


@dataclass(frozen=True)
class DueDate:
    """A computed deadline; `provisional` when a year on the way had no known schedule."""

    day: date
    provisional: bool = False

    def __str__(self) -> str:
        return self.day.isoformat()


@dataclass
class Calendar:
    """Working-day arithmetic over the package's data plus the admins' overrides.

    Load it once per unit of work (`Calendar.load(session)`); it holds no session.
    """

    overrides: dict[date, bool] = field(default_factory=dict)  # day → is it a workday
    confirmed_years: set[int] = field(default_factory=set)

    @classmethod
    def load(cls, session: Session) -> Calendar:
        overrides = {o.day: o.is_workday for o in session.exec(select(HolidayOverride))}
        years = set(session.exec(select(col(CalendarYear.year))))
        return cls(overrides=overrides, confirmed_years=years)

    def year_known(self, year: int) -> bool:
        """Whether deadlines in `year` are final (the package or an admin knows its holidays)."""
        return year in PACKAGE_YEARS or year in self.confirmed_years

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        if day.year in PACKAGE_YEARS:
            return _package_is_workday(day)
        return day.weekday() < 5

    def add(self, start: date, n: int) -> DueDate:
        """The date N working days after `start` (start not counted); N ≥ 0."""
        if n < 0:
            raise ValidationError(f"工作日天数不能为负数：{n}")
        day, counted = start, 0
        provisional = False
        while counted < n:
            day += timedelta(days=1)
            provisional |= not self.year_known(day.year)
            if self.is_workday(day):
                counted += 1
        return DueDate(day, provisional)

    def between(self, a: date, b: date) -> int:
        """Working days after `a` up to and including `b`; negative when b is before a.

        `between(start, add(start, n).day) == n`, so it measures lateness and margins in
        the same unit the deadlines are set in.
        """
        if b < a:
            return -self.between(b, a)
        return sum(1 for d in _days(a + timedelta(days=1), b) if self.is_workday(d))

    def year_status(self, years: Iterable[int]) -> dict[int, str]:
        """For the settings page: where each year's schedule comes from."""
        result = {}
        for year in years:
            if year in self.confirmed_years:
                result[year] = "管理员已录入"
            elif year in PACKAGE_YEARS:
                result[year] = "内置（chinesecalendar）"
            else:
                result[year] = "未录入（按周末暂估）"
        return result


def _package_is_workday(day: date) -> bool:
    """`chinese_calendar.is_workday` without its per-call range check, which scans all of the
    package's holidays for their first and last year (a board counting lateness for 5,000
    steps spent most of its time there); the answer is the package's own two tables."""
    if day in chinese_calendar.workdays:
        return True
    return day.weekday() < 5 and day not in chinese_calendar.holidays


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def add_workdays(start: date, n: int, calendar: Calendar | None = None) -> DueDate:
    """N working days after `start`; without a calendar only the package's data is used."""
    return (calendar or Calendar()).add(start, n)


def workdays_between(a: date, b: date, calendar: Calendar | None = None) -> int:
    return (calendar or Calendar()).between(a, b)


def is_workday(day: date, calendar: Calendar | None = None) -> bool:
    return (calendar or Calendar()).is_workday(day)


def parse_day_list(text: str) -> list[date]:
    """Dates pasted by an admin: one per line or separated by commas/spaces; ranges `a~b`."""
    days: list[date] = []
    for token in text.replace("，", ",").replace("、", ",").replace("\n", ",").split(","):
        token = token.strip()
        if not token:
            continue
        parts = [p.strip() for p in token.replace("至", "~").split("~")]
        try:
            first = date.fromisoformat(parts[0])
            last = date.fromisoformat(parts[-1])
        except ValueError as exc:
            raise ValidationError(
                f"日期格式错误：“{token}”，请写成 2027-01-01 或 2027-02-10~2027-02-16"
            ) from exc
        if last < first:
            raise ValidationError(f"日期范围颠倒：“{token}”")
        days.extend(_days(first, last))
    return days


def holiday_overrides(session: Session, actor: Actor) -> list[HolidayOverride]:
    """The admins' entered days (holidays and 调休 working days), by date. The calendar is
    public: every role's deadlines follow it."""
    return list(session.exec(select(HolidayOverride).order_by(col(HolidayOverride.day))))


def set_year_schedule(
    session: Session,
    actor: Actor,
    year: int,
    holidays: list[date],
    working_weekends: list[date],
    note: str = "",
) -> None:
    """Replace a year's overrides with an admin's schedule and mark the year confirmed.

    Holidays are days off (weekdays or not); working weekends are the 调休 Saturdays and
    Sundays. The caller commits; pages call `duban.cases.change_year_schedule`, which also
    refreshes the open steps' due dates.
    """
    actor.require(Perm.MANAGE_SETTINGS, "修改工作日历")
    user_id = actor.user_id
    for day in [*holidays, *working_weekends]:
        if day.year != year:
            raise ValidationError(f"日期 {day.isoformat()} 不属于 {year} 年")
    both = set(holidays) & set(working_weekends)
    if both:
        first = min(both).isoformat()
        raise ValidationError(f"日期 {first} 同时出现在节假日与调休上班日中")
    for old in session.exec(
        select(HolidayOverride).where(
            col(HolidayOverride.day) >= date(year, 1, 1),
            col(HolidayOverride.day) <= date(year, 12, 31),
        )
    ):
        session.delete(old)
    session.flush()
    for day in sorted(set(holidays)):
        session.add(HolidayOverride(day=day, is_workday=False, name="节假日", created_by=user_id))
    for day in sorted(set(working_weekends)):
        session.add(HolidayOverride(day=day, is_workday=True, name="调休上班", created_by=user_id))
    confirmed = session.get(CalendarYear, year)
    if confirmed is None:
        session.add(CalendarYear(year=year, confirmed_by=user_id, note=note))
    else:
        confirmed.confirmed_at, confirmed.confirmed_by, confirmed.note = now(), user_id, note
        session.add(confirmed)
    audit.record(
        session,
        actor,
        AuditAction.UPDATE,
        "calendaryear",
        year,
        field="schedule",
        new=f"节假日 {len(set(holidays))} 天，调休上班 {len(set(working_weekends))} 天",
        note=note,
    )
