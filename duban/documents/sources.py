"""The database rows one paper is printed from: office, case bundle, meeting bundle."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from duban.enums import StepStatus, UnitRole
from duban.errors import NotFound
from duban.models import (
    Case,
    CaseTicket,
    CaseUnit,
    Feedback,
    Meeting,
    MeetingCase,
    RoutingRule,
    Step,
    Ticket,
    Unit,
)
from duban.records import get_live
from duban.settings import get_setting


@dataclass(frozen=True)
class Office:
    """The issuing office, from settings (never hard-coded in templates or code)."""

    name: str
    contact: str
    phone: str

    @classmethod
    def load(cls, session: Session) -> Office:
        return cls(
            name=get_setting(session, "office_name") or "",
            contact=get_setting(session, "office_contact") or "",
            phone=get_setting(session, "office_phone") or "",
        )


@dataclass
class CaseBundle:
    """A case with its tickets, units, steps and feedback, loaded in a few queries."""

    case: Case
    tickets: list[Ticket] = field(default_factory=list)
    units: list[tuple[int, UnitRole]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)  # oldest first, cancelled left out
    feedback: dict[int, list[Feedback]] = field(default_factory=dict)  # by step id, oldest first


@dataclass
class MeetingBundle:
    meeting: Meeting
    cases: list[CaseBundle]
    rules: list[RoutingRule]


@dataclass(frozen=True)
class Source:
    """Everything a context builder reads: the office, the unit names and the subject rows."""

    office: Office
    names: Mapping[int, str]  # unit id → name
    case: CaseBundle | None = None
    step: Step | None = None
    meeting: MeetingBundle | None = None


def unit_names(session: Session) -> dict[int, str]:
    return dict(session.exec(select(col(Unit.id), col(Unit.name))).all())  # type: ignore[arg-type]  # ids are set: these rows were flushed


def load_cases(session: Session, case_ids: Iterable[int]) -> dict[int, CaseBundle]:
    """Cases by id with everything their papers print, in five queries whatever the count."""
    ids = list(dict.fromkeys(case_ids))
    if not ids:
        return {}
    cases = session.exec(
        select(Case).where(col(Case.id).in_(ids), col(Case.deleted_at).is_(None))
    ).all()
    bundles = {c.id: CaseBundle(case=c) for c in cases}
    rows = session.exec(
        select(CaseUnit).where(col(CaseUnit.case_id).in_(ids)).order_by(col(CaseUnit.unit_id))
    )
    for link in rows:
        if link.case_id in bundles:
            bundles[link.case_id].units.append((link.unit_id, link.role))
    tickets = session.exec(
        select(col(CaseTicket.case_id), Ticket)
        .join(Ticket, col(Ticket.id) == col(CaseTicket.ticket_id))
        .where(col(CaseTicket.case_id).in_(ids), col(Ticket.deleted_at).is_(None))
        .order_by(col(Ticket.received_at), col(Ticket.id))
    )
    for case_id, ticket in tickets:
        bundles[case_id].tickets.append(ticket)
    steps = session.exec(
        select(Step)
        .where(
            col(Step.case_id).in_(ids),
            col(Step.deleted_at).is_(None),
            col(Step.status) != StepStatus.CANCELLED,
        )
        .order_by(col(Step.issued_at), col(Step.id))
    ).all()
    for step in steps:
        bundles[step.case_id].steps.append(step)
    by_step = {s.id: s.case_id for s in steps}
    if by_step:
        feedback = session.exec(
            select(Feedback)
            .where(col(Feedback.step_id).in_(list(by_step)), col(Feedback.deleted_at).is_(None))
            .order_by(col(Feedback.received_at), col(Feedback.id))
        )
        for fb in feedback:
            bundles[by_step[fb.step_id]].feedback.setdefault(fb.step_id, []).append(fb)
    return bundles  # type: ignore[return-value]  # ids are set: these rows were flushed


def load_case(session: Session, case_id: int) -> CaseBundle:
    bundle = load_cases(session, [case_id]).get(case_id)
    if bundle is None:
        raise NotFound(f"督办事项（编号 {case_id}）不存在或已删除")
    return bundle


def load_meeting(session: Session, meeting_id: int) -> MeetingBundle:
    meeting = get_live(session, Meeting, meeting_id, "专题会")
    case_ids = session.exec(
        select(col(MeetingCase.case_id)).where(col(MeetingCase.meeting_id) == meeting_id)
    ).all()
    bundles = load_cases(session, case_ids)
    cases = sorted(bundles.values(), key=lambda b: (b.case.year, b.case.seq))
    rules = session.exec(
        select(RoutingRule)
        .where(col(RoutingRule.meeting_id) == meeting_id, col(RoutingRule.deleted_at).is_(None))
        .order_by(col(RoutingRule.id))
    ).all()
    return MeetingBundle(meeting=meeting, cases=cases, rules=list(rules))


def case_by_no(session: Session, case_no: str) -> Case:
    case = session.exec(
        select(Case).where(col(Case.case_no) == case_no.strip(), col(Case.deleted_at).is_(None))
    ).first()
    if case is None:
        raise NotFound(f"督办编号“{case_no}”不存在")
    return case
