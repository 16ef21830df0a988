"""Reading a case, its steps and feedback within the actor's scope."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from duban.cases.states import HANDLING_KINDS
from duban.enums import FeedbackReview, Progress, StepStatus
from duban.errors import NotFound, ValidationError
from duban.models import Case, CaseUnit, Feedback, Step, Unit
from duban.permissions import Actor, Perm
from duban.records import get_live


def case_unit_ids(session: Session, case_id: int) -> set[int | None]:
    stmt = select(col(CaseUnit.unit_id)).where(col(CaseUnit.case_id) == case_id)
    rows = session.exec(stmt).all()
    return set(rows)


def _visible_case_ids(actor: Actor):
    """A unit user sees only the cases their unit handles (lead or co-unit)."""
    return select(col(CaseUnit.case_id)).where(col(CaseUnit.unit_id) == actor.unit_id)


def get_case(session: Session, actor: Actor, case_id: int, *, for_update: bool = False) -> Case:
    """A live case the actor may see, or NotFound / PermissionDenied in Chinese."""
    stmt = select(Case).where(col(Case.id) == case_id)
    if for_update:
        stmt = stmt.with_for_update()
    case = session.exec(stmt).first()
    if case is None or case.deleted_at is not None:
        raise NotFound(f"督办事项（编号 {case_id}）不存在或已删除")
    if not actor.can(Perm.VIEW_ALL) and not actor.can(Perm.EDIT_CASES):
        actor.require_unit(case_unit_ids(session, case_id), "查看该督办事项")
    return case


def _get_step(session: Session, actor: Actor, step_id: int) -> tuple[Step, Case]:
    step = get_live(session, Step, step_id, "督办环节")
    return step, get_case(session, actor, step.case_id, for_update=True)


def _get_unit(session: Session, unit_id: int | None, what: str) -> Unit:
    if unit_id is None:
        raise ValidationError(f"请选择{what}")
    return get_live(session, Unit, unit_id, f"{what}：单位", ValidationError)


def answering_unit_id(step: Step) -> int | None:
    """Whose feedback answers a step: the unit fixed at a site visit, else the addressee."""
    return step.responsible_unit_id or step.unit_id


def answering_unit_sql() -> ColumnElement[int]:
    """`answering_unit_id` as a SQL expression, so the boards and KPIs count a step against
    the same unit this module closes it by."""
    return func.coalesce(col(Step.responsible_unit_id), col(Step.unit_id))


def registration_late(step: Step) -> bool | None:
    """Whether the unit registered an on-site notice after the notice day (应在当天进行登记)."""
    if step.registered_at is None:
        return None
    return step.registered_at.date() > step.issued_at


def latest_handling_step(session: Session, case_id: int) -> Step | None:
    return session.exec(
        select(Step)
        .where(
            col(Step.case_id) == case_id,
            col(Step.kind).in_(HANDLING_KINDS),
            col(Step.status) != StepStatus.CANCELLED,
            col(Step.deleted_at).is_(None),
        )
        .order_by(col(Step.id).desc())
    ).first()


def closing_feedback(session: Session, step: Step) -> Feedback | None:
    """The confirmed, compliant feedback of the answering unit that closed the step, if any."""
    if step.status != StepStatus.CLOSED or step.kind not in HANDLING_KINDS:
        return None
    return session.exec(
        select(Feedback)
        .where(
            col(Feedback.step_id) == step.id,
            col(Feedback.unit_id) == answering_unit_id(step),
            col(Feedback.compliant).is_(True),
            col(Feedback.review) == FeedbackReview.CONFIRMED,
            col(Feedback.deleted_at).is_(None),
        )
        .order_by(col(Feedback.id).desc())
    ).first()


def done_feedback(session: Session, case_id: int) -> Feedback | None:
    """The compliant 已办结 feedback on the case's latest handling step (needed to close)."""
    step = latest_handling_step(session, case_id)
    feedback = closing_feedback(session, step) if step is not None else None
    return feedback if feedback is not None and feedback.progress == Progress.DONE else None
