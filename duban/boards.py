"""Boards (看板) and the home page: what is late, what is about to be late, what should go
up a level, and how each unit is doing.

Every board is one or a few SQL queries over indexed columns (`ix_step_status_due`,
`ix_ticket_live_unit_callback`, the foreign keys); Python only touches the rows a board shows. All boards take the same
`BoardFilter` (unit, level, scope, 立案日期), so selecting a unit on one board filters the
others.

Deadline rule of the boards: a due date that falls on a rest day (possible for a date fixed
at a site visit, or after an admin edited the calendar) counts as the next working day, the
way statutory deadlines roll over a holiday. Hence a step is overdue when its due date is
on or before the last working day before today, and due soon when it falls after that and
no later than 2 working days from today.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, extract, func
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from duban.cases import answering_unit_sql, eligible_for_escalation
from duban.enums import (
    CallbackResult,
    CaseStatus,
    FeedbackReview,
    Level,
    Progress,
    Scope,
    StepKind,
    StepStatus,
)
from duban.kpi import LATE, ON_TIME, Ratio, escalated_step, step_outcome
from duban.models import Case, CaseUnit, Feedback, Referral, Step, Ticket, Unit
from duban.permissions import Actor, Perm
from duban.workdays import Calendar, DueDate

DUE_SOON_WORKDAYS = 2
CHUNK = 5000  # ids per IN (…) list, well under every driver's parameter limit


# --- filters and today's thresholds --------------------------------------------------------


@dataclass(frozen=True)
class BoardFilter:
    """What every board can be narrowed to; `None` means all.

    `unit_id` is the unit that must answer a step (for the units board: the unit's row);
    `level` is the step's level; `since`/`until` bound the case's 立案日期 (tickets on the
    units board: their 诉求时间).
    """

    unit_id: int | None = None
    level: Level | None = None
    scope: Scope | None = None
    since: date | None = None
    until: date | None = None

    def pinned_to(self, actor: Actor) -> BoardFilter:
        """A unit user sees only their own unit, whatever the filter asked for."""
        if actor.can(Perm.VIEW_ALL):
            return self
        return replace(self, unit_id=actor.unit_id if actor.unit_id is not None else -1)


@dataclass(frozen=True)
class Horizon:
    """Today's thresholds on due dates (see the module docstring)."""

    today: date
    overdue_through: date  # due on or before this day: overdue
    soon_through: date  # due after `overdue_through`, on or before this day: due soon

    @classmethod
    def of(cls, today: date, calendar: Calendar) -> Horizon:
        last_workday = today - timedelta(days=1)
        while not calendar.is_workday(last_workday):
            last_workday -= timedelta(days=1)
        return cls(today, last_workday, calendar.add(today, DUE_SOON_WORKDAYS).day)


def effective_due(day: date, calendar: Calendar) -> DueDate:
    """The working day a due date stands for: itself, or the next working day after a rest day."""
    return DueDate(day) if calendar.is_workday(day) else calendar.add(day, 1)


def answering_unit() -> Any:
    """The unit that must answer a step: fixed at a site visit, else the addressee, else 主办."""
    return func.coalesce(answering_unit_sql(), col(Case.lead_unit_id))


def _case_conditions(filt: BoardFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [col(Case.deleted_at).is_(None)]
    if filt.scope is not None:
        conds.append(col(Case.scope) == filt.scope)
    if filt.since is not None:
        conds.append(col(Case.opened_at) >= filt.since)
    if filt.until is not None:
        conds.append(col(Case.opened_at) <= filt.until)
    return conds


def _step_conditions(filt: BoardFilter) -> list[ColumnElement[bool]]:
    """Live steps of live cases within the filter (the step's unit and level)."""
    conds = [*_case_conditions(filt), col(Step.deleted_at).is_(None)]
    if filt.unit_id is not None:
        conds.append(answering_unit() == filt.unit_id)
    if filt.level is not None:
        conds.append(col(Step.level) == filt.level)
    return conds


def _open_step_conditions(filt: BoardFilter) -> list[ColumnElement[bool]]:
    """Open steps with a deadline, of open cases."""
    return [
        *_step_conditions(filt),
        col(Step.status) == StepStatus.OPEN,
        col(Step.due_at).is_not(None),
        col(Case.status) == CaseStatus.OPEN,
    ]


# --- 首页 headline -------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """Today's numbers for a leader who opens the app for 30 seconds."""

    open_by_level: dict[Level, int]
    overdue_steps: int
    due_soon_steps: int

    @property
    def open_cases(self) -> int:
        return sum(self.open_by_level.values())


def headline(
    session: Session,
    actor: Actor,
    today: date,
    calendar: Calendar,
    filt: BoardFilter | None = None,
) -> Headline:
    """Open cases per level, overdue and due-soon steps: three COUNT queries."""
    filt = (filt or BoardFilter()).pinned_to(actor)
    cases = select(col(Case.level), func.count()).where(
        *_case_conditions(filt), col(Case.status) == CaseStatus.OPEN
    )
    if filt.unit_id is not None:
        cases = cases.where(
            col(Case.id).in_(
                select(col(CaseUnit.case_id)).where(col(CaseUnit.unit_id) == filt.unit_id)
            )
        )
    if filt.level is not None:
        cases = cases.where(col(Case.level) == filt.level)
    by_level = dict.fromkeys(Level, 0)
    by_level.update(dict(session.exec(cases.group_by(col(Case.level))).all()))
    horizon = Horizon.of(today, calendar)
    base = select(func.count()).select_from(Step).join(Case, col(Case.id) == col(Step.case_id))
    base = base.where(*_open_step_conditions(filt))
    overdue = session.exec(base.where(col(Step.due_at) <= horizon.overdue_through)).one()
    soon = session.exec(
        base.where(
            col(Step.due_at) > horizon.overdue_through,
            col(Step.due_at) <= horizon.soon_through,
        )
    ).one()
    return Headline(open_by_level=by_level, overdue_steps=overdue, due_soon_steps=soon)


# --- 逾期 / 即将到期 ------------------------------------------------------------------------


@dataclass(frozen=True)
class StepRow:
    """One open step on the overdue or due-soon board.

    `workdays` is the working days overdue (逾期) or left until the deadline (即将到期; 0 = due
    today), counted from the effective due date.
    """

    case_id: int
    case_no: str
    title: str
    scope: Scope
    step_id: int
    kind: StepKind
    level: Level
    unit_id: int | None
    unit_name: str
    issued_at: date
    due_at: date
    effective_due: date
    provisional: bool
    workdays: int
    feedback_at: date | None
    feedback_progress: Progress | None
    feedback_compliant: bool | None
    feedback_review: FeedbackReview | None = None

    @property
    def last_feedback(self) -> str:
        """`3月8日 无进展（不合规）`, `3月8日 有进展（待核验）`, or `未反馈`: what a unit
        entered counts only once the center confirms it, so the board says when it has not."""
        if self.feedback_at is None:
            return "未反馈"
        text = f"{self.feedback_at.month}月{self.feedback_at.day}日"
        if self.feedback_progress is not None:
            text += f" {self.feedback_progress.label}"
        notes = [] if self.feedback_compliant else ["不合规"]
        review = self.feedback_review
        if review is not None and review is not FeedbackReview.CONFIRMED:
            notes.append(review.label)
        return text + (f"（{'，'.join(notes)}）" if notes else "")


def _open_steps(
    session: Session, filt: BoardFilter, window: Sequence[ColumnElement[bool]], limit: int | None
) -> list[Any]:
    """Open steps within the filter and a due-date window, with their latest feedback."""
    latest = (
        select(col(Feedback.id))
        .where(col(Feedback.step_id) == col(Step.id), col(Feedback.deleted_at).is_(None))
        .order_by(col(Feedback.received_at).desc(), col(Feedback.id).desc())
        .limit(1)
        .correlate(Step)
        .scalar_subquery()
    )
    fb = aliased(Feedback)
    unit = answering_unit()
    stmt = (
        select(  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
            col(Case.id).label("case_id"),
            col(Case.case_no),
            col(Case.title),
            col(Case.scope),
            col(Step.id).label("step_id"),
            col(Step.kind),
            col(Step.level),
            unit.label("unit_id"),
            col(Unit.name).label("unit_name"),
            col(Step.issued_at),
            col(Step.due_at),
            col(Step.due_provisional),
            fb.received_at.label("feedback_at"),  # type: ignore[attr-defined]  # aliased(): typed as the model
            fb.progress.label("feedback_progress"),  # type: ignore[operator]  # aliased(): typed as the model
            fb.compliant.label("feedback_compliant"),  # type: ignore[attr-defined]  # aliased(): typed as the model
            fb.review.label("feedback_review"),  # type: ignore[operator]  # aliased(): typed as the model
        )
        .join(Case, col(Case.id) == col(Step.case_id))
        .outerjoin(Unit, col(Unit.id) == unit)
        .outerjoin(fb, fb.id == latest)
        .where(*_open_step_conditions(filt), *window)
        .order_by(col(Step.due_at), col(Case.case_no), col(Step.id))
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.exec(stmt).all())


def _to_rows(raw: Iterable[Any], days: dict[date, tuple[DueDate, int]]) -> list[StepRow]:
    rows = []
    for r in raw:
        eff, n = days[r.due_at]
        rows.append(
            StepRow(
                case_id=r.case_id,
                case_no=r.case_no,
                title=r.title,
                scope=r.scope,
                step_id=r.step_id,
                kind=r.kind,
                level=r.level,
                unit_id=r.unit_id,
                unit_name=r.unit_name or "",
                issued_at=r.issued_at,
                due_at=r.due_at,
                effective_due=eff.day,
                provisional=bool(r.due_provisional) or eff.provisional,
                workdays=n,
                feedback_at=r.feedback_at,
                feedback_progress=r.feedback_progress,
                feedback_compliant=r.feedback_compliant,
                feedback_review=r.feedback_review,
            )
        )
    return rows


def working_days_late(
    calendar: Calendar, today: date, dues: Iterable[date]
) -> dict[date, tuple[DueDate, int]]:
    """Due date → (effective due date, working days from it to today), for past due dates.

    Distinct effective dates are chained latest-first, so `Calendar.between` walks the span
    from the oldest deadline to today once, however many steps share those dates.
    """
    effective = {d: effective_due(d, calendar) for d in set(dues)}
    late: dict[date, int] = {}
    after, total = today, 0
    for day in sorted({e.day for e in effective.values()}, reverse=True):
        total += calendar.between(day, after)
        late[day], after = total, day
    return {d: (e, late[e.day]) for d, e in effective.items()}


def overdue_board(
    session: Session,
    actor: Actor,
    today: date,
    calendar: Calendar,
    filt: BoardFilter | None = None,
    *,
    limit: int | None = None,
) -> list[StepRow]:
    """逾期: open steps past their (effective) due date, the most overdue first.

    Sorted by lateness (the oldest due date first); `limit` keeps the most overdue.
    """
    horizon = Horizon.of(today, calendar)
    raw = _open_steps(
        session,
        (filt or BoardFilter()).pinned_to(actor),
        [col(Step.due_at) <= horizon.overdue_through],
        limit,
    )
    return _to_rows(raw, working_days_late(calendar, today, (r.due_at for r in raw)))


def due_soon_board(
    session: Session,
    actor: Actor,
    today: date,
    calendar: Calendar,
    filt: BoardFilter | None = None,
    *,
    limit: int | None = None,
) -> list[StepRow]:
    """即将到期: open steps due today or within the next 2 working days, the soonest first."""
    horizon = Horizon.of(today, calendar)
    raw = _open_steps(
        session,
        (filt or BoardFilter()).pinned_to(actor),
        [
            col(Step.due_at) > horizon.overdue_through,
            col(Step.due_at) <= horizon.soon_through,
        ],
        limit,
    )
    days = {}
    for due in {r.due_at for r in raw}:
        eff = effective_due(due, calendar)
        days[due] = (eff, calendar.between(today, eff.day))
    return _to_rows(raw, days)


# --- 待提级 --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EscalationRow:
    """A case eligible to go up one level (the rule lives in `duban.cases`), with its reason."""

    case_id: int
    case_no: str
    title: str
    scope: Scope
    level: Level
    unit_id: int | None
    unit_name: str
    step_id: int
    kind: StepKind
    issued_at: date
    due_at: date | None
    provisional: bool
    opened_at: date
    reason: str

    @property
    def next_level(self) -> Level | None:
        return self.level.next()


def escalation_board(
    session: Session,
    actor: Actor,
    today: date,
    filt: BoardFilter | None = None,
    *,
    limit: int | None = None,
) -> list[EscalationRow]:
    """待提级: cases `duban.cases.eligible_for_escalation` lists, within the filter.

    The longest-waiting first (the eligible step's due date, then 督办编号).
    """
    filt = (filt or BoardFilter()).pinned_to(actor)
    eligible = {e.step_id: e.reason for e in eligible_for_escalation(session, today)}
    if not eligible:
        return []
    unit = answering_unit()
    columns: tuple[Any, ...] = (
        col(Case.id).label("case_id"),
        col(Case.case_no),
        col(Case.title),
        col(Case.scope),
        col(Case.level),
        unit.label("unit_id"),
        col(Unit.name).label("unit_name"),
        col(Step.id).label("step_id"),
        col(Step.kind),
        col(Step.issued_at),
        col(Step.due_at),
        col(Step.due_provisional),
        col(Case.opened_at),
    )
    raw: list[Any] = []
    ids = sorted(eligible)
    for start in range(0, len(ids), CHUNK):
        stmt = (
            select(*columns)
            .join(Case, col(Case.id) == col(Step.case_id))
            .outerjoin(Unit, col(Unit.id) == unit)
            .where(*_step_conditions(filt), col(Step.id).in_(ids[start : start + CHUNK]))
        )
        raw.extend(session.exec(stmt).all())
    raw.sort(key=lambda r: (r.due_at is None, r.due_at or date.max, r.case_no))
    rows = [
        EscalationRow(
            case_id=r.case_id,
            case_no=r.case_no,
            title=r.title,
            scope=r.scope,
            level=r.level,
            unit_id=r.unit_id,
            unit_name=r.unit_name or "",
            step_id=r.step_id,
            kind=r.kind,
            issued_at=r.issued_at,
            due_at=r.due_at,
            provisional=bool(r.due_provisional),
            opened_at=r.opened_at,
            reason=eligible[r.step_id],
        )
        for r in raw
    ]
    return rows if limit is None else rows[:limit]


# --- 首页 ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """What 首页 shows: the headline numbers and the first rows of three boards."""

    numbers: Headline
    overdue: list[StepRow]
    due_soon: list[StepRow]
    eligible: list[EscalationRow]
    eligible_count: int


def summary(session: Session, actor: Actor, today: date, filt: BoardFilter, rows: int) -> Summary:
    """Today's numbers and the `rows` most urgent items of 逾期, 即将到期 and 待提级."""
    calendar = Calendar.load(session)
    eligible = escalation_board(session, actor, today, filt)
    return Summary(
        numbers=headline(session, actor, today, calendar, filt),
        overdue=overdue_board(session, actor, today, calendar, filt, limit=rows),
        due_soon=due_soon_board(session, actor, today, calendar, filt, limit=rows),
        eligible=eligible[:rows],
        eligible_count=len(eligible),
    )


# --- 承办单位 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitRow:
    """One unit's line on the units board."""

    unit_id: int
    unit_name: str
    open_cases: int
    overdue_steps: int
    on_time: Ratio  # 按时反馈率: steps answered on time ÷ steps judged (on time + late)
    escalations: int  # steps the case left upward
    referrals: int  # cases (主办) referred to 镇纪委监察办
    satisfaction: Ratio  # 回访满意率: (满意 + 基本满意) ÷ tickets with a callback


SATISFIED = (CallbackResult.SATISFIED, CallbackResult.BASIC)
ANSWERED = (*SATISFIED, CallbackResult.UNSATISFIED)


def _counts(session: Session, stmt: Any) -> dict:
    """{group key(s): count} of a grouped COUNT query (one key → scalar keys)."""
    out = {}
    for row in session.exec(stmt).all():
        *key, n = row
        out[key[0] if len(key) == 1 else tuple(key)] = int(n)
    return out


def unit_board(
    session: Session,
    actor: Actor,
    today: date,
    calendar: Calendar,
    filt: BoardFilter | None = None,
) -> list[UnitRow]:
    """承办单位: per active unit, four grouped aggregates (one query each), by unit name.

    Open cases count for each of a case's units (主办 and 协办); steps count for the unit
    that must answer them; referrals for the 主办 unit; tickets for their 承办单位. The level
    and scope filters do not apply to tickets; their date filter is the 诉求时间.
    """
    filt = (filt or BoardFilter()).pinned_to(actor)
    horizon = Horizon.of(today, calendar)
    unit = answering_unit()
    case_level = [col(Case.level) == filt.level] if filt.level is not None else []

    open_cases = _counts(
        session,
        select(col(CaseUnit.unit_id), func.count())
        .join(Case, col(Case.id) == col(CaseUnit.case_id))
        .where(*_case_conditions(filt), *case_level, col(Case.status) == CaseStatus.OPEN)
        .group_by(col(CaseUnit.unit_id)),
    )
    # the steps' three figures in one pass over steps ⋈ cases (conditional sums)
    outcome = step_outcome(today)
    judged = and_(col(Step.status) != StepStatus.CANCELLED, col(Step.due_at).is_not(None))
    overdue_now = and_(
        col(Step.status) == StepStatus.OPEN,
        col(Case.status) == CaseStatus.OPEN,
        col(Step.due_at) <= horizon.overdue_through,
    )
    step_counts = {
        r[0]: r[1:]
        for r in session.exec(
            select(  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
                unit,
                func.sum(_as_int(overdue_now)),
                func.sum(_as_int(and_(judged, outcome == ON_TIME))),
                func.sum(_as_int(and_(judged, outcome == LATE))),
                func.sum(_as_int(escalated_step())),
            )
            .select_from(Step)
            .join(Case, col(Case.id) == col(Step.case_id))
            .where(*_step_conditions(replace(filt, unit_id=None)))
            .group_by(unit)
        ).all()
    }
    referrals = _counts(
        session,
        select(col(Case.lead_unit_id), func.count())
        .select_from(Referral)
        .join(Case, col(Case.id) == col(Referral.case_id))
        .where(*_case_conditions(filt), *case_level, col(Referral.deleted_at).is_(None))
        .group_by(col(Case.lead_unit_id)),
    )
    callbacks = _counts(
        session,
        select(col(Ticket.unit_id), col(Ticket.callback_result), func.count())
        .where(*_ticket_conditions(filt), col(Ticket.callback_result).in_(ANSWERED))
        .group_by(col(Ticket.unit_id), col(Ticket.callback_result)),
    )
    units = select(col(Unit.id), col(Unit.name)).where(
        col(Unit.deleted_at).is_(None), col(Unit.active)
    )
    if filt.unit_id is not None:
        units = units.where(col(Unit.id) == filt.unit_id)
    rows = []
    for unit_id, name in session.exec(units.order_by(col(Unit.name))).all():
        answered = sum(callbacks.get((unit_id, c), 0) for c in ANSWERED)
        satisfied = sum(callbacks.get((unit_id, c), 0) for c in SATISFIED)
        overdue, on_time, late, escalations = (
            int(n or 0) for n in step_counts.get(unit_id, (0, 0, 0, 0))
        )
        rows.append(
            UnitRow(
                unit_id=unit_id,  # type: ignore[arg-type]  # ids are set: these rows were flushed
                unit_name=name,
                open_cases=open_cases.get(unit_id, 0),
                overdue_steps=overdue,
                on_time=Ratio(on_time, on_time + late),
                escalations=escalations,
                referrals=referrals.get(unit_id, 0),
                satisfaction=Ratio(satisfied, answered),
            )
        )
    return rows


def _ticket_conditions(filt: BoardFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = [col(Ticket.deleted_at).is_(None)]
    if filt.since is not None:
        conds.append(col(Ticket.received_at) >= filt.since)
    if filt.until is not None:
        conds.append(col(Ticket.received_at) < filt.until + timedelta(days=1))
    return conds


@dataclass(frozen=True)
class MonthRow:
    """One month of the trend chart: cases opened, steps due, and how many of those were late."""

    month: str  # 2024-03
    opened: int
    due: int
    late: int


def month_trend(
    session: Session,
    actor: Actor,
    today: date,
    filt: BoardFilter | None = None,
    *,
    months: int = 12,
) -> list[MonthRow]:
    """Per month: cases opened (立案日期) and steps due (截止日期) with the late ones.

    Without a date filter the last `months` months up to today; every month appears, zeros
    included. The unit filter keeps the cases the unit handles and the steps it answers.
    """
    filt = (filt or BoardFilter()).pinned_to(actor)
    until = filt.until or today
    since = filt.since or _months_back(until, months)
    window = replace(filt, since=None, until=None)

    oy, om = extract("year", col(Case.opened_at)), extract("month", col(Case.opened_at))
    opened_stmt = (
        select(oy, om, func.count())
        .where(
            *_case_conditions(window), col(Case.opened_at) >= since, col(Case.opened_at) <= until
        )
        .group_by(oy, om)
    )
    if filt.unit_id is not None:
        opened_stmt = opened_stmt.where(
            col(Case.id).in_(
                select(col(CaseUnit.case_id)).where(col(CaseUnit.unit_id) == filt.unit_id)
            )
        )
    if filt.level is not None:
        opened_stmt = opened_stmt.where(col(Case.level) == filt.level)
    opened = {(int(y), int(m)): n for y, m, n in session.exec(opened_stmt).all()}

    late = step_outcome(today) == LATE
    dy, dm = extract("year", col(Step.due_at)), extract("month", col(Step.due_at))
    due_stmt = (
        select(dy, dm, func.count(), func.sum(_as_int(late)))
        .select_from(Step)
        .join(Case, col(Case.id) == col(Step.case_id))
        .where(
            *_step_conditions(window),
            col(Step.status) != StepStatus.CANCELLED,
            col(Step.due_at) >= since,
            col(Step.due_at) <= until,
        )
        .group_by(dy, dm)
    )
    due = {(int(y), int(m)): (n, int(k or 0)) for y, m, n, k in session.exec(due_stmt).all()}
    rows = []
    for y, m in _month_span(since, until):
        n_due, n_late = due.get((y, m), (0, 0))
        rows.append(MonthRow(f"{y}-{m:02d}", opened.get((y, m), 0), n_due, n_late))
    return rows


def _as_int(condition: ColumnElement[bool]) -> Any:
    return case((condition, 1), else_=0)


def _months_back(day: date, months: int) -> date:
    """The first day of the month `months - 1` months before `day`'s month."""
    index = day.year * 12 + day.month - 1 - (months - 1)
    return date(index // 12, index % 12 + 1, 1)


def _month_span(first: date, last: date) -> list[tuple[int, int]]:
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append((y, m))
        y, m = y + (m == 12), m % 12 + 1
    return out
