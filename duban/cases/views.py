"""What the case pages show: the filtered case list and one case's detail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Integer, and_, cast, exists, func, or_
from sqlmodel import Session, col, select

from duban import masking
from duban.cases.eligibility import Eligibility, eligible_for_escalation
from duban.cases.lookup import _visible_case_ids, done_feedback, get_case
from duban.cases.states import HANDLING_KINDS, CaseState, case_state
from duban.cases.steps import notice_tasks
from duban.cases.transitions import _text
from duban.clock import today
from duban.enums import CaseStatus, Level, Scope, StepStatus, UnitRole
from duban.models import (
    Case,
    CaseTicket,
    CaseUnit,
    Feedback,
    Meeting,
    MeetingCase,
    Referral,
    Step,
    Ticket,
    Unit,
    Upload,
)
from duban.permissions import Actor, Perm


@dataclass
class CaseFilter:
    status: CaseStatus | None = None
    level: Level | None = None
    scope: Scope | None = None
    unit_id: int | None = None
    search: str = ""
    overdue_only: bool = False
    referred_only: bool = False


@dataclass(frozen=True)
class CaseRow:
    id: int
    case_no: str
    title: str
    scope: Scope
    level: Level
    status: CaseStatus
    lead_unit: str
    opened_at: date
    closed_at: date | None
    due_at: date | None  # the earliest due date of its open steps
    due_provisional: bool
    referred: bool


def escalation_eligible(
    session: Session, actor: Actor, case_ids: Sequence[int], on: date | None = None
) -> set[int]:
    """Which of `case_ids` the actor may see are eligible for escalation (提级) today."""
    ids = list(case_ids)
    if not actor.can(Perm.VIEW_ALL):
        mine = _visible_case_ids(actor).where(col(CaseUnit.case_id).in_(ids))
        ids = list(set(session.exec(mine)))
    return {e.case_id for e in eligible_for_escalation(session, on or today(), ids)}


def list_cases(
    session: Session,
    actor: Actor,
    filters: CaseFilter | None = None,
    *,
    on: date | None = None,
    limit: int = 200,
    offset: int = 0,
) -> tuple[list[CaseRow], int]:
    """Cases the actor may see, filtered, newest first; returns (page of rows, total count)."""
    f = filters or CaseFilter()
    day = on or today()
    due = (
        select(
            col(Step.case_id),
            func.min(col(Step.due_at)).label("due_at"),
            func.max(cast(col(Step.due_provisional), Integer)).label("prov"),
        )
        .where(
            col(Step.status) == StepStatus.OPEN,
            col(Step.due_at).is_not(None),
            col(Step.deleted_at).is_(None),
        )
        .group_by(col(Step.case_id))
        .subquery("due")
    )
    referred = exists().where(
        col(Referral.case_id) == col(Case.id), col(Referral.deleted_at).is_(None)
    )
    conds: list[Any] = [col(Case.deleted_at).is_(None)]
    if not actor.can(Perm.VIEW_ALL):
        conds.append(col(Case.id).in_(_visible_case_ids(actor)))
    if f.status is not None:
        conds.append(col(Case.status) == f.status)
    if f.level is not None:
        conds.append(col(Case.level) == f.level)
    if f.scope is not None:
        conds.append(col(Case.scope) == f.scope)
    if f.unit_id is not None:
        conds.append(
            col(Case.id).in_(
                select(col(CaseUnit.case_id)).where(col(CaseUnit.unit_id) == f.unit_id)
            )
        )
    if _text(f.search):
        like = f"%{_text(f.search)}%"
        conds.append(
            or_(
                col(Case.case_no).like(like),
                col(Case.title).like(like),
                col(Case.related_info).like(like),
            )
        )
    if f.overdue_only:
        conds.append(and_(col(Case.status) == CaseStatus.OPEN, due.c.due_at < day))
    if f.referred_only:
        conds.append(referred)
    base = (
        select(  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
            col(Case.id),
            col(Case.case_no),
            col(Case.title),
            col(Case.scope),
            col(Case.level),
            col(Case.status),
            col(Unit.name),
            col(Case.opened_at),
            col(Case.closed_at),
            due.c.due_at,
            due.c.prov,
            referred.label("referred"),
        )
        .outerjoin(Unit, col(Unit.id) == col(Case.lead_unit_id))
        .outerjoin(due, due.c.case_id == col(Case.id))
        .where(*conds)
    )
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    rows = session.exec(
        base.order_by(col(Case.opened_at).desc(), col(Case.id).desc()).limit(limit).offset(offset)
    ).all()
    return [
        CaseRow(
            id=r[0],
            case_no=r[1],
            title=r[2],
            scope=r[3],
            level=r[4],
            status=r[5],
            lead_unit=r[6] or "",
            opened_at=r[7],
            closed_at=r[8],
            due_at=r[9],
            due_provisional=bool(r[10]),
            referred=bool(r[11]),
        )
        for r in rows
    ], total


@dataclass
class StepView:
    step: Step
    feedback: list[Feedback]
    unit_name: str
    responsible_unit_name: str
    tasks: list[tuple[str, str]] = field(default_factory=list)  # 当天登记的任务分解


@dataclass
class CaseDetail:
    case: Case
    state: CaseState
    units: list[tuple[Unit, UnitRole]]
    tickets: list[Ticket]
    steps: list[StepView]
    referrals: list[Referral]
    meetings: list[Meeting]
    eligibility: Eligibility | None
    done_feedback: Feedback | None
    unit_names: dict[int, str] = field(default_factory=dict)

    @property
    def open_step(self) -> Step | None:
        """The handling step waiting for the unit's feedback, if any."""
        for view in reversed(self.steps):
            if view.step.kind in HANDLING_KINDS and view.step.status == StepStatus.OPEN:
                return view.step
        return None

    @property
    def lead_unit(self) -> Unit | None:
        return next((u for u, role in self.units if role == UnitRole.LEAD), None)


def case_detail(
    session: Session, actor: Actor, case_id: int, *, on: date | None = None
) -> CaseDetail:
    """Everything the case page shows, in a handful of queries."""
    case = get_case(session, actor, case_id)
    units = [
        (unit, role)
        for unit, role in session.exec(
            select(Unit, col(CaseUnit.role))
            .join(CaseUnit, col(CaseUnit.unit_id) == col(Unit.id))
            .where(col(CaseUnit.case_id) == case_id)
            .order_by(col(CaseUnit.role).desc(), col(Unit.name))
        )
    ]
    names = {u.id: u.name for u, _ in units if u.id is not None}
    tickets = list(
        session.exec(
            select(Ticket)
            .join(CaseTicket, col(CaseTicket.ticket_id) == col(Ticket.id))
            .where(col(CaseTicket.case_id) == case_id)
            .order_by(col(Ticket.received_at))
        )
    )
    if not masking.sees_contacts(actor):  # unit and leader users: callers masked here
        safe = masking.safe_columns(session)
        tickets = [masking.mask_ticket_copy(actor, t, safe) for t in tickets]
    steps = list(
        session.exec(
            select(Step)
            .where(col(Step.case_id) == case_id, col(Step.deleted_at).is_(None))
            .order_by(col(Step.id))
        )
    )
    feedback_by_step: dict[int, list[Feedback]] = {}
    if steps:
        for fb in session.exec(
            select(Feedback)
            .where(
                col(Feedback.step_id).in_([s.id for s in steps]),
                col(Feedback.deleted_at).is_(None),
            )
            .order_by(col(Feedback.id))
        ):
            feedback_by_step.setdefault(fb.step_id, []).append(fb)
    tasks = notice_tasks(session, [s.id for s in steps if s.registered_at is not None])  # type: ignore[misc]  # ids are set: these rows were flushed
    views = [
        StepView(
            step=s,
            feedback=feedback_by_step.get(s.id, []),  # type: ignore[arg-type]  # ids are set: these rows were flushed
            unit_name=names.get(s.unit_id, "") if s.unit_id else "",
            responsible_unit_name=names.get(s.responsible_unit_id, "")
            if s.responsible_unit_id
            else "",
            tasks=tasks.get(s.id, []),  # type: ignore[arg-type]  # ids are set: these rows were flushed
        )
        for s in steps
    ]
    referrals = list(
        session.exec(
            select(Referral)
            .where(col(Referral.case_id) == case_id, col(Referral.deleted_at).is_(None))
            .order_by(col(Referral.referred_at))
        )
    )
    meetings = list(
        session.exec(
            select(Meeting)
            .join(MeetingCase, col(MeetingCase.meeting_id) == col(Meeting.id))
            .where(col(MeetingCase.case_id) == case_id, col(Meeting.deleted_at).is_(None))
            .order_by(col(Meeting.held_at))
        )
    )
    found = eligible_for_escalation(session, on or today(), [case_id])
    return CaseDetail(
        case=case,
        state=case_state(case),
        units=units,
        tickets=tickets,
        steps=views,
        referrals=referrals,
        meetings=meetings,
        eligibility=found[0] if found else None,
        done_feedback=done_feedback(session, case_id),
        unit_names=names,
    )


def feedback_uploads(session: Session, actor: Actor, case_id: int) -> dict[int, Upload]:
    """The scanned replies attached to a case's feedback, by upload id (for their download
    buttons); refused like the case itself for a unit that does not handle it."""
    get_case(session, actor, case_id)
    ids = select(col(Feedback.upload_id)).join(Step, col(Step.id) == col(Feedback.step_id))
    ids = ids.where(col(Step.case_id) == case_id, col(Feedback.deleted_at).is_(None))
    stmt = select(Upload).where(col(Upload.id).in_(ids))
    return {u.id: u for u in session.exec(stmt) if u.id is not None}
