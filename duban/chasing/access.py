"""Reading one step with the actor's rights, and the checks every chasing write shares."""

from __future__ import annotations

from sqlmodel import Session, select

from duban.cases import answering_unit_id, get_case
from duban.enums import CaseStatus, StepStatus
from duban.errors import NotFound, PermissionDenied, ValidationError
from duban.models import Case, Extension, Step, Unit
from duban.permissions import Actor, Perm


def _id(row: Step | Extension) -> int:
    """The id of a row read from the database (never None there)."""
    assert row.id is not None
    return row.id


# --- reading one step with the actor's rights ----------------------------------------------


def _load_step(session: Session, actor: Actor, step_id: int) -> tuple[Step, Case]:
    """A live step of a case the actor may see, locked for the change."""
    step = session.exec(select(Step).where(Step.id == step_id).with_for_update()).first()
    if step is None or step.deleted_at is not None:
        raise NotFound(f"督办环节（编号 {step_id}）不存在或已删除")
    return step, get_case(session, actor, step.case_id, for_update=True)


def _own_step(actor: Actor, step: Step, case: Case, what: str) -> None:
    """A unit user acts only on steps addressed to, or to be answered by, their unit."""
    if actor.can(Perm.EDIT_CASES):
        return
    actor.require(Perm.REGISTER_FEEDBACK, what)
    units = {step.unit_id, answering_unit_id(step)} - {None}
    if actor.unit_id is None or actor.unit_id not in units:
        raise PermissionDenied(
            f"当前账号（{actor.username}）只能处理本单位的督办环节，无权{what}（{case.case_no}）"
        )


def _require_open(step: Step, case: Case, what: str) -> None:
    if case.status != CaseStatus.OPEN or step.status != StepStatus.OPEN:
        raise ValidationError(
            f"{case.case_no} 的{step.kind.label}当前为“{step.status.label}”，不能{what}"
        )


def _unit_name(session: Session, unit_id: int | None) -> str:
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    return unit.name if unit is not None else "—"
