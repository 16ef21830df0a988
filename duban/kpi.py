"""Key figures of the supervision work, each formula written once (docs/KPI.md states them).

Every measure has one *item query*: a SELECT of the rows the measure counts, carrying the
unit the row is attributed to. The figures are SQL aggregates over those queries, and the
unit assessment lists the same queries row by row, so a number in the report and a
deduction on a unit's scoring sheet can never disagree. The three step measures are counted
in one pass (`step_counts`) by the very conditions their item queries filter by, and one
GROUP BY can fill the per-unit and the per-level table at once (`compute(with_levels=True)`).

A step's on-time outcome is read from its frozen columns (`Step.on_time`, written once by
`duban.cases` at the first confirmed compliant feedback), so a later calendar edit or re-import does
not rewrite history. Only steps still without an outcome are judged against `as_of`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    extract,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlmodel import Session, col

from duban.cases import answering_unit_sql
from duban.clock import cn_date, today
from duban.enums import (
    CallbackResult,
    CaseStatus,
    FeedbackReview,
    Level,
    Scope,
    StepKind,
    StepStatus,
)
from duban.errors import ValidationError
from duban.models import Case, CaseUnit, Feedback, Referral, Step, Ticket, Unit
from duban.workdays import Calendar

QUARTERS = "一二三四"

# Outcomes of a step due in the period (the CASE expression `step_outcome` yields these).
ON_TIME, LATE, PENDING = "on_time", "late", "pending"


# --- what is being measured --------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """An inclusive date range; month, quarter and year are the usual ones."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValidationError(
                f"统计区间有误：结束日期 {self.end.isoformat()} 早于开始日期 {self.start.isoformat()}"
            )

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        first = date(year, month, 1)
        nxt = date(year + (month == 12), month % 12 + 1, 1)
        return cls(first, nxt - timedelta(days=1))

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        if quarter not in (1, 2, 3, 4):
            raise ValidationError(f"季度必须是 1–4：{quarter}")
        first = cls.month(year, 3 * quarter - 2)
        return cls(first.start, cls.month(year, 3 * quarter).end)

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31))

    @property
    def label(self) -> str:
        """`2024年3月`, `2024年第一季度`, `2024年度`, or `2024年1月1日至2024年3月15日`."""
        s, e = self.start, self.end
        if self == Period.year(s.year):
            return f"{s.year}年度"
        if s.day == 1 and s.month % 3 == 1 and self == Period.quarter(s.year, s.month // 3 + 1):
            return f"{s.year}年第{QUARTERS[s.month // 3]}季度"
        if s.day == 1 and self == Period.month(s.year, s.month):
            return f"{s.year}年{s.month}月"
        return f"{cn_date(s)}至{cn_date(e)}"

    def months(self) -> list[tuple[int, int]]:
        """Every (year, month) the period touches, in order."""
        out, y, m = [], self.start.year, self.start.month
        while (y, m) <= (self.end.year, self.end.month):
            out.append((y, m))
            y, m = y + (m == 12), m % 12 + 1
        return out

    @property
    def start_dt(self) -> datetime:
        return datetime.combine(self.start, time.min)

    @property
    def end_dt(self) -> datetime:
        """The first instant after the period (ticket times are compared with `<`)."""
        return datetime.combine(self.end + timedelta(days=1), time.min)


@dataclass(frozen=True)
class Selection:
    """A period plus optional filters; empty filter sets mean 'all'.

    `as_of` is the day open steps are judged on (a step due before it and still without
    a compliant feedback is late); reports for past periods use the day they are made.
    """

    period: Period
    unit_ids: frozenset[int] = frozenset()
    levels: frozenset[Level] = frozenset()
    as_of: date = field(default_factory=today)

    def with_levels(self, levels: Iterable[Level]) -> Selection:
        return replace(self, levels=frozenset(levels))

    def with_units(self, unit_ids: Iterable[int]) -> Selection:
        return replace(self, unit_ids=frozenset(unit_ids))


@dataclass(frozen=True)
class Ratio:
    """A rate kept with its numerator and denominator (a rate without them is not shown)."""

    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    def percent(self, digits: int = 1) -> str:
        """`87.5%`, or `—` when there is nothing to measure."""
        value = self.value
        return "—" if value is None else f"{value * 100:.{digits}f}%"

    def __str__(self) -> str:
        return f"{self.percent()}（{self.numerator}/{self.denominator}）"


# --- the item queries: one definition per measure ----------------------------------------


def _live(*models: Any) -> list[ColumnElement[bool]]:
    return [m.deleted_at.is_(None) for m in models]


def escalated_step() -> ColumnElement[bool]:
    """A step the case left upward: marked 已提级, or with an escalation reason recorded."""
    return or_(col(Step.status) == StepStatus.ESCALATED, col(Step.escalation_reason) != "")


def step_outcome(as_of: date) -> ColumnElement[str]:
    """on_time / late / pending for a step with a due date.

    The frozen `Step.on_time` decides when present; a step still without a compliant
    feedback is late once its due date is before `as_of`, pending until then.
    """
    return case(
        (col(Step.on_time).is_(True), literal(ON_TIME)),
        (col(Step.on_time).is_(False), literal(LATE)),
        (col(Step.due_at) < as_of, literal(LATE)),
        else_=literal(PENDING),
    )


def _unit_filter(column: Any, sel: Selection) -> list[ColumnElement[bool]]:
    return [column.in_(sel.unit_ids)] if sel.unit_ids else []


def _level_filter(column: Any, sel: Selection) -> list[ColumnElement[bool]]:
    return [column.in_(sel.levels)] if sel.levels else []


def _step_live(sel: Selection) -> list[ColumnElement[bool]]:
    """Live, not cancelled steps of live cases, within the level filter."""
    return [
        *_live(Step, Case),
        col(Step.status) != StepStatus.CANCELLED,
        *_level_filter(col(Step.level), sel),
    ]


# What makes a step count for each step measure, written once: the item queries below filter
# by these, and `step_counts` counts by them.


def _due_in(sel: Selection) -> list[ColumnElement[bool]]:
    """Due in the period (a step of 按时反馈率), for its answering unit."""
    p = sel.period
    return [
        col(Step.due_at) >= p.start,
        col(Step.due_at) <= p.end,
        *_unit_filter(answering_unit_sql(), sel),
    ]


def _notice_in(sel: Selection) -> list[ColumnElement[bool]]:
    """A 现场协调督办通知 issued in the period, for the unit it was sent to."""
    p = sel.period
    return [
        col(Step.kind) == StepKind.ONSITE_NOTICE,
        col(Step.issued_at) >= p.start,
        col(Step.issued_at) <= p.end,
        *_unit_filter(col(Step.unit_id), sel),
    ]


def _escalation_in(sel: Selection) -> list[ColumnElement[bool]]:
    """A step left upward, issued in the period, for its answering unit."""
    p = sel.period
    return [
        escalated_step(),
        col(Step.issued_at) >= p.start,
        col(Step.issued_at) <= p.end,
        *_unit_filter(answering_unit_sql(), sel),
    ]


def _registered_same_day() -> ColumnElement[int]:
    same_day = and_(
        col(Step.registered_at).is_not(None),
        func.date(col(Step.registered_at)) <= col(Step.issued_at),
    )
    return case((same_day, 1), else_=0)


def steps_due(sel: Selection) -> Select:
    """Steps whose due date falls in the period, with their outcome (按时反馈率)."""
    return (
        select(
            col(Step.id).label("step_id"),
            answering_unit_sql().label("unit_id"),
            col(Case.id).label("case_id"),
            col(Case.case_no),
            col(Case.title),
            col(Step.kind),
            col(Step.level),
            col(Step.issued_at),
            col(Step.due_at),
            col(Step.closed_at),
            col(Step.margin_workdays),
            col(Step.status),
            step_outcome(sel.as_of).label("outcome"),
        )
        .join(Case, col(Case.id) == col(Step.case_id))
        .where(*_step_live(sel), *_due_in(sel))
    )


def onsite_notices(sel: Selection) -> Select:
    """现场协调督办通知 issued in the period, and whether the unit registered it that day."""
    return (
        select(
            col(Step.id).label("step_id"),
            col(Step.unit_id).label("unit_id"),
            col(Step.level),
            col(Case.id).label("case_id"),
            _registered_same_day().label("registered_same_day"),
        )
        .join(Case, col(Case.id) == col(Step.case_id))
        .where(*_step_live(sel), *_notice_in(sel))
    )


def escalations(sel: Selection) -> Select:
    """Escalations: steps the case left upward, dated by the step's issue date, charged to
    the unit that had to answer the step."""
    return (
        select(
            col(Step.id).label("step_id"),
            answering_unit_sql().label("unit_id"),
            col(Case.id).label("case_id"),
            col(Case.case_no),
            col(Case.title),
            col(Step.kind),
            col(Step.level),
            col(Step.issued_at),
            col(Step.escalation_reason),
        )
        .join(Case, col(Case.id) == col(Step.case_id))
        .where(*_step_live(sel), *_escalation_in(sel))
    )


def step_counts(sel: Selection) -> Select:
    """`steps_due`, `onsite_notices` and `escalations` counted in one pass over the steps.

    Each measure's condition (the one its item query filters by) becomes a conditional
    count, grouped by everything the three attribute a row to: the answering unit
    (`unit_id`), the unit a notice was sent to (`notice_unit_id`), the level, the outcome
    and the same-day registration. One scan of steps ⋈ cases instead of three.
    """
    due, notice, escalation = (and_(*f(sel)) for f in (_due_in, _notice_in, _escalation_in))
    keys: tuple[Any, ...] = (
        answering_unit_sql().label("unit_id"),
        col(Step.unit_id).label("notice_unit_id"),
        col(Step.level).label("level"),
        step_outcome(sel.as_of).label("outcome"),
        _registered_same_day().label("registered_same_day"),
    )
    return (
        select(
            *keys,
            func.count(case((due, 1))).label("due"),
            func.count(case((notice, 1))).label("notices"),
            func.count(case((escalation, 1))).label("escalations"),
        )
        .join(Case, col(Case.id) == col(Step.case_id))
        .where(*_step_live(sel), or_(due, notice, escalation))
        .group_by(*keys)
    )


def noncompliant_feedback(sel: Selection) -> Select:
    """Confirmed written feedback received in the period without signature, stamp or scan
    (feedback still 待核验 or returned by the center does not count)."""
    p = sel.period
    unit = func.coalesce(col(Feedback.unit_id), answering_unit_sql())
    return (
        select(
            col(Feedback.id).label("feedback_id"),
            unit.label("unit_id"),
            col(Case.id).label("case_id"),
            col(Case.case_no),
            col(Case.title),
            col(Step.kind),
            col(Step.level),
            col(Feedback.received_at),
            col(Feedback.signed),
            col(Feedback.stamped),
        )
        .join(Step, col(Step.id) == col(Feedback.step_id))
        .join(Case, col(Case.id) == col(Step.case_id))
        .where(
            *_live(Feedback, Step, Case),
            col(Feedback.compliant).is_(False),
            col(Feedback.review) == FeedbackReview.CONFIRMED,
            col(Feedback.received_at) >= p.start,
            col(Feedback.received_at) <= p.end,
            *_unit_filter(unit, sel),
            *_level_filter(col(Step.level), sel),
        )
    )


def referrals(sel: Selection) -> Select:
    """Referrals to 镇纪委监察办 in the period, attributed to the case's 主办 unit."""
    p = sel.period
    return (
        select(
            col(Referral.id).label("referral_id"),
            col(Case.lead_unit_id).label("unit_id"),
            col(Case.level),
            col(Case.id).label("case_id"),
            col(Case.case_no),
            col(Case.title),
            col(Referral.referred_at),
            col(Referral.reason),
        )
        .join(Case, col(Case.id) == col(Referral.case_id))
        .where(
            *_live(Referral, Case),
            col(Referral.referred_at) >= p.start,
            col(Referral.referred_at) <= p.end,
            *_unit_filter(col(Case.lead_unit_id), sel),
            *_level_filter(col(Case.level), sel),
        )
    )


def tickets_received(sel: Selection) -> Select:
    """Tickets received in the period (the level filter does not apply to tickets)."""
    p = sel.period
    return select(
        col(Ticket.id).label("ticket_id"),
        col(Ticket.unit_id).label("unit_id"),
        case((col(Ticket.repeat_group) != "", 1), else_=0).label("repeat"),
        col(Ticket.callback_result),
    ).where(
        *_live(Ticket),
        col(Ticket.received_at) >= p.start_dt,
        col(Ticket.received_at) < p.end_dt,
        *_unit_filter(col(Ticket.unit_id), sel),
    )


def _case_units(sel: Selection, per_unit: bool) -> tuple[Any, list[ColumnElement[bool]]]:
    """The unit column and filter for case measures: a case counts for each of its units."""
    if per_unit:
        return col(CaseUnit.unit_id), _unit_filter(col(CaseUnit.unit_id), sel)
    if not sel.unit_ids:
        return cast(null(), Integer), []
    within = select(col(CaseUnit.case_id)).where(col(CaseUnit.unit_id).in_(sel.unit_ids))
    return cast(null(), Integer), [col(Case.id).in_(within)]


def _with_case_units(stmt: Select, per_unit: bool) -> Select:
    return stmt.join(CaseUnit, col(CaseUnit.case_id) == col(Case.id)) if per_unit else stmt


def cases_opened(sel: Selection, *, per_unit: bool = False) -> Select:
    """Cases opened in the period; closed = closed by the period's end; escalated = went up."""
    p = sel.period
    unit, unit_where = _case_units(sel, per_unit)
    # An uncorrelated IN, not a correlated EXISTS: PostgreSQL hashes either once, but costs
    # the EXISTS per case, and at a district's year (33,000 cases) that estimate crosses
    # `jit_above_cost`, so every such query paid ≈ 0.5 s of JIT compilation for 0.15 s of work.
    went_up = col(Case.id).in_(
        select(col(Step.case_id)).where(col(Step.deleted_at).is_(None), escalated_step())
    )
    closed = and_(
        col(Case.status) == CaseStatus.CLOSED,
        col(Case.closed_at).is_not(None),
        col(Case.closed_at) <= p.end,
    )
    stmt = select(
        col(Case.id).label("case_id"),
        unit.label("unit_id"),
        col(Case.case_no),
        col(Case.title),
        col(Case.level),
        col(Case.scope),
        col(Case.opened_at),
        case((closed, 1), else_=0).label("closed"),
        case((went_up, 1), else_=0).label("escalated"),
    )
    return _with_case_units(stmt, per_unit).where(
        *_live(Case),
        col(Case.opened_at) >= p.start,
        col(Case.opened_at) <= p.end,
        *unit_where,
        *_level_filter(col(Case.level), sel),
    )


def cases_closed(sel: Selection, *, per_unit: bool = False) -> Select:
    """Cases closed in the period (for the average working days from opening to closing)."""
    p = sel.period
    unit, unit_where = _case_units(sel, per_unit)
    stmt = select(
        col(Case.id).label("case_id"),
        unit.label("unit_id"),
        col(Case.level),
        col(Case.opened_at),
        col(Case.closed_at),
    )
    return _with_case_units(stmt, per_unit).where(
        *_live(Case),
        col(Case.status) == CaseStatus.CLOSED,
        col(Case.closed_at) >= p.start,
        col(Case.closed_at) <= p.end,
        *unit_where,
        *_level_filter(col(Case.level), sel),
    )


# --- the figures --------------------------------------------------------------------------


@dataclass
class Kpis:
    """Every figure for one row of a table: one unit, or everything (`unit_id is None`)."""

    unit_id: int | None = None
    unit_name: str = "合计"
    cases: int = 0
    by_level: dict[Level, int] = field(default_factory=lambda: dict.fromkeys(Level, 0))
    by_scope: dict[Scope, int] = field(default_factory=lambda: dict.fromkeys(Scope, 0))
    closed: int = 0
    escalated_cases: int = 0
    steps_on_time: int = 0
    steps_late: int = 0
    steps_pending: int = 0
    notices: int = 0
    notices_registered: int = 0
    tickets: int = 0
    repeat_tickets: int = 0
    callbacks: int = 0
    callbacks_satisfied: int = 0
    escalations: int = 0
    referrals: int = 0
    noncompliant_feedback: int = 0
    cases_closed_in_period: int = 0
    workdays_to_close: int = 0  # summed over the cases closed in the period

    @property
    def supervised(self) -> bool:
        """Whether the row has any supervision figure (a unit with only tickets has none)."""
        return any(
            (
                self.cases,
                self.steps_on_time + self.steps_late + self.steps_pending,
                self.notices,
                self.escalations,
                self.referrals,
                self.noncompliant_feedback,
            )
        )

    @property
    def on_time_rate(self) -> Ratio:
        """按时反馈率: on time ÷ (on time + late); pending steps are not yet judged."""
        return Ratio(self.steps_on_time, self.steps_on_time + self.steps_late)

    @property
    def registration_rate(self) -> Ratio:
        """及时登记率: notices registered on the notice day ÷ notices issued."""
        return Ratio(self.notices_registered, self.notices)

    @property
    def closure_rate(self) -> Ratio:
        """办结率: cases opened in the period and closed by its end ÷ cases opened."""
        return Ratio(self.closed, self.cases)

    @property
    def escalation_rate(self) -> Ratio:
        """提级率: cases opened in the period that went up at least one level ÷ cases opened."""
        return Ratio(self.escalated_cases, self.cases)

    @property
    def repeat_rate(self) -> Ratio:
        """重复投诉率: tickets in a repeat group ÷ tickets received."""
        return Ratio(self.repeat_tickets, self.tickets)

    @property
    def satisfaction_rate(self) -> Ratio:
        """回访满意率: (满意 + 基本满意) ÷ tickets with a callback (未回访 excluded)."""
        return Ratio(self.callbacks_satisfied, self.callbacks)

    @property
    def avg_workdays_to_close(self) -> float | None:
        """平均办结用时: working days from opening to closing, over cases closed in the period."""
        n = self.cases_closed_in_period
        return self.workdays_to_close / n if n else None


@dataclass
class KpiReport:
    """The figures overall and per unit for one selection."""

    selection: Selection
    overall: Kpis
    units: list[Kpis]  # by unit name; only units with something to show
    by_unit: bool = True  # False: `units` was not computed (not: no unit had anything)
    levels: dict[Level, Kpis] | None = None  # per level, when asked for (`with_levels`)


def _grouped(session: Session, items: Select, *columns: str) -> dict:
    """Count the rows of an item query grouped by some of its columns."""
    sub = items.subquery()
    keys = [sub.c[name] for name in columns]
    rows = session.execute(select(*keys, func.count()).group_by(*keys)).all()
    return {tuple(row[:-1]): int(row[-1]) for row in rows}


class _Rows(dict):
    """Row key (a unit id, a level, or None for the total) → Kpis, created on first touch."""

    def __missing__(self, key: Any) -> Kpis:
        row = (
            Kpis(unit_id=key) if key is None or isinstance(key, int) else Kpis(unit_name=key.label)
        )
        self[key] = row
        return row


# Where grouped counts go: (the item column the rows are keyed by, the rows). One GROUP BY
# over every sink's key fills several tables at once (per unit and per level, or the total
# and per level), so a report reads each measure once instead of once per table.
Sinks = list[tuple[str, _Rows]]


def _spread(
    session: Session, items: Select, sinks: Sinks, *columns: str
) -> Iterable[tuple[list[Kpis], dict[str, Any], int]]:
    """Count an item query's rows grouped by every sink's key plus `columns`; yield, for each
    group, the row it adds to in every sink, the values of `columns`, and the count."""
    keys = list(dict.fromkeys(key for key, _ in sinks))
    names = keys + [c for c in columns if c not in keys]
    for group, n in _grouped(session, items, *names).items():
        value = dict(zip(names, group, strict=True))
        yield [rows[value[key]] for key, rows in sinks], value, n


def _add_case_counts(session: Session, sel: Selection, sinks: Sinks, *, per_unit: bool) -> None:
    items = cases_opened(sel, per_unit=per_unit)
    for rows, value, n in _spread(session, items, sinks, "level", "scope", "closed", "escalated"):
        for row in rows:
            row.cases += n
            row.by_level[value["level"]] += n
            row.by_scope[value["scope"]] += n
            row.closed += n * value["closed"]
            row.escalated_cases += n * value["escalated"]


def _add_closing_days(
    session: Session, sel: Selection, sinks: Sinks, calendar: Calendar, *, per_unit: bool
) -> None:
    found = list(
        _spread(session, cases_closed(sel, per_unit=per_unit), sinks, "opened_at", "closed_at")
    )
    if not found:
        return
    first = min(value["opened_at"] for _, value, _ in found)
    last = max(value["closed_at"] for _, value, _ in found)
    index = WorkdayIndex.build(calendar, first, last)
    for rows, value, n in found:
        days = index.between(value["opened_at"], value["closed_at"])
        for row in rows:
            row.cases_closed_in_period += n
            row.workdays_to_close += n * days


OUTCOME_FIELDS = {ON_TIME: "steps_on_time", LATE: "steps_late", PENDING: "steps_pending"}


def _add_row_measures(session: Session, sel: Selection, sinks: Sinks) -> None:
    """Measures whose item rows each belong to exactly one unit and one level, so the total
    is their sum. Tickets have no level: a sink keyed by level leaves them out."""
    notice_key = {"unit_id": "notice_unit_id"}
    for found in session.execute(step_counts(sel)).all():
        for key, rows in sinks:
            if found.due:
                row, attr = rows[getattr(found, key)], OUTCOME_FIELDS[found.outcome]
                setattr(row, attr, getattr(row, attr) + found.due)
            if found.notices:
                row = rows[getattr(found, notice_key.get(key, key))]
                row.notices += found.notices
                row.notices_registered += found.notices * found.registered_same_day
            if found.escalations:
                rows[getattr(found, key)].escalations += found.escalations
    for targets, _, n in _spread(session, referrals(sel), sinks):
        for row in targets:
            row.referrals += n
    for targets, _, n in _spread(session, noncompliant_feedback(sel), sinks):
        for row in targets:
            row.noncompliant_feedback += n
    ticket_sinks = [(key, rows) for key, rows in sinks if key != "level"]
    if not ticket_sinks:
        return
    satisfied = {CallbackResult.SATISFIED, CallbackResult.BASIC}
    answered = satisfied | {CallbackResult.UNSATISFIED}
    tickets = tickets_received(sel)
    for targets, value, n in _spread(session, tickets, ticket_sinks, "repeat", "callback_result"):
        callback = value["callback_result"]
        for row in targets:
            row.tickets += n
            row.repeat_tickets += n * value["repeat"]
            row.callbacks += n if callback in answered else 0
            row.callbacks_satisfied += n if callback in satisfied else 0


ROW_MEASURES = (
    "steps_on_time",
    "steps_late",
    "steps_pending",
    "notices",
    "notices_registered",
    "escalations",
    "referrals",
    "noncompliant_feedback",
    "tickets",
    "repeat_tickets",
    "callbacks",
    "callbacks_satisfied",
)


def compute(
    session: Session,
    sel: Selection,
    calendar: Calendar | None = None,
    *,
    by_unit: bool = True,
    with_levels: bool = False,
) -> KpiReport:
    """All figures for a selection, overall and (unless `by_unit=False`) per unit.

    `with_levels=True` also fills `KpiReport.levels` (what `by_level` returns) from the same
    queries: each measure is grouped by unit and level at once.
    """
    calendar = calendar or Calendar.load(session)
    per_unit, levels = _Rows(), _Rows()
    _add_row_measures(
        session, sel, [("unit_id", per_unit)] + ([("level", levels)] if with_levels else [])
    )
    overall = Kpis()
    for name in ROW_MEASURES:
        setattr(overall, name, sum(getattr(r, name) for r in per_unit.values()))
    totals: Sinks = [("unit_id", _Rows({None: overall}))]
    if with_levels:
        totals.append(("level", levels))
    _add_case_counts(session, sel, totals, per_unit=False)
    _add_closing_days(session, sel, totals, calendar, per_unit=False)
    units: list[Kpis] = []
    if by_unit:
        _add_case_counts(session, sel, [("unit_id", per_unit)], per_unit=True)
        _add_closing_days(session, sel, [("unit_id", per_unit)], calendar, per_unit=True)
        units = _named(session, per_unit)
    return KpiReport(
        selection=sel,
        overall=overall,
        units=units,
        by_unit=by_unit,
        levels=_level_rows(sel, levels) if with_levels else None,
    )


def _named(session: Session, rows: _Rows) -> list[Kpis]:
    """Units with a name, sorted; rows without a unit (unassigned tickets) are left out."""
    ids = [k for k in rows if k is not None]
    names = dict(
        session.execute(select(col(Unit.id), col(Unit.name)).where(col(Unit.id).in_(ids))).all()
    )
    for key in ids:
        rows[key].unit_name = names.get(key, f"单位{key}")
    return sorted((rows[k] for k in ids), key=lambda r: r.unit_name)


def by_level(
    session: Session, sel: Selection, calendar: Calendar | None = None
) -> dict[Level, Kpis]:
    """The figures per level: steps by their level, cases and referrals by the case's.

    Tickets have no level, so ticket figures (重复投诉率, 回访满意率) are empty here.
    (`compute(..., with_levels=True)` gives these together with the unit figures.)
    """
    calendar = calendar or Calendar.load(session)
    rows = _Rows()
    _add_row_measures(session, sel, [("level", rows)])
    _add_case_counts(session, sel, [("level", rows)], per_unit=False)
    _add_closing_days(session, sel, [("level", rows)], calendar, per_unit=False)
    return _level_rows(sel, rows)


def _level_rows(sel: Selection, rows: _Rows) -> dict[Level, Kpis]:
    return {level: rows[level] for level in Level if not sel.levels or level in sel.levels}


def cases_by_month(session: Session, sel: Selection) -> list[tuple[int, int, int]]:
    """(year, month, cases opened) for every month of the period, zeros included."""
    sub = cases_opened(sel).subquery()
    y, m = extract("year", sub.c.opened_at), extract("month", sub.c.opened_at)
    found = {
        (int(yy), int(mm)): int(n)
        for yy, mm, n in session.execute(select(y, m, func.count()).group_by(y, m)).all()
    }
    return [(yy, mm, found.get((yy, mm), 0)) for yy, mm in sel.period.months()]


def items(session: Session, query: Select) -> list[Any]:
    """The rows of an item query (for tracing a figure back to its cases)."""
    return list(session.execute(query.order_by(query.selected_columns["case_id"])).all())


# --- working days in bulk ------------------------------------------------------------------


@dataclass(frozen=True)
class WorkdayIndex:
    """Cumulative working-day counts over a span, so `between` is two lookups.

    Agrees with `Calendar.between` for days inside the span; built once per report so
    ten thousand closing times cost one pass over the calendar.
    """

    first: date
    cumulative: tuple[int, ...]

    @classmethod
    def build(cls, calendar: Calendar, first: date, last: date) -> WorkdayIndex:
        counts, total = [], 0
        for offset in range((last - first).days + 1):
            total += calendar.is_workday(first + timedelta(days=offset))
            counts.append(total)
        return cls(first, tuple(counts))

    def between(self, a: date, b: date) -> int:
        """Working days after `a` up to and including `b` (negative when b < a)."""
        return self.cumulative[(b - self.first).days] - self.cumulative[(a - self.first).days]


# The formulas above in the words of the report's readers (shown by 报表 under 指标口径;
# docs/KPI.md is the full statement with every edge case).
FORMULAS: tuple[tuple[str, str, str], ...] = (
    (
        "督办件数",
        "统计区间内立案的督办事项数",
        "按事项当前（最高）督办类型、协调督办范围、承办单位（主办与协办）分列",
    ),
    (
        "按时反馈率",
        "到期环节中，首份合规书面反馈（主要领导签字并加盖公章）不晚于办理时限的 ÷ 本期到期且已按时或已逾期的环节",
        "办理时限在统计区间内的环节；未合规反馈且已过时限的计为逾期；结果在首份合规反馈时固定，不因日历修改而变化",
    ),
    (
        "及时登记率",
        "当天登记的现场协调督办通知 ÷ 本期发出的现场协调督办通知",
        "未登记或次日及以后登记的，计为不及时",
    ),
    (
        "办结率",
        "本期立案且在期末前办结的事项 ÷ 本期立案的事项",
        "期后办结的不计入本期；重新办理的事项视为在办",
    ),
    (
        "提级率",
        "本期立案且至少提级一次的事项 ÷ 本期立案的事项",
        "直接以现场或提级方式立案的不计为提级",
    ),
    ("重复投诉率", "本期受理的工单中属于重复组的 ÷ 本期受理的工单", "无承办单位的工单只计入合计"),
    (
        "回访满意率",
        "回访结果为满意或基本满意的工单 ÷ 有回访结果（满意、基本满意、不满意）的工单",
        "未回访和无回访结果的工单不计入分母",
    ),
    (
        "平均办结用时",
        "本期办结事项从立案到办结的工作日数的平均值",
        "按工作日计算，节假日与调休按工作日历",
    ),
)
