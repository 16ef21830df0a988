"""延期申请: a unit asks for more time; the center approves (moving the deadline) or refuses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from duban import audit
from duban.boards import effective_due
from duban.cases import answering_unit_id
from duban.chasing.access import _id, _load_step, _own_step, _require_open
from duban.clock import cn_date, now, today
from duban.enums import AuditAction, ExtensionStatus, StepKind
from duban.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from duban.models import Case, Extension, Step, Unit
from duban.permissions import Actor, Perm
from duban.records import apply_changes, check_version, claim_version
from duban.workdays import Calendar

MAX_EXTENSION_WORKDAYS = 30
# --- 延期申请 ------------------------------------------------------------------------------


def request_extension(
    session: Session,
    actor: Actor,
    step_id: int,
    *,
    workdays: int,
    reason: str,
    requested_on: date | None = None,
) -> Extension:
    """延期申请: before the deadline, a reason and the working days wanted.

    A unit user asks for their own steps, today; the center may record a paper request
    with its date. One request waits at a time per step. The caller commits.
    """
    step, case = _load_step(session, actor, step_id)
    _own_step(actor, step, case, "申请延期")
    _require_open(step, case, "申请延期")
    if step.due_at is None:
        raise ValidationError(f"{case.case_no} 的{step.kind.label}尚无反馈期限，无需申请延期")
    if requested_on is not None and not actor.can(Perm.EDIT_CASES):
        raise PermissionDenied("承办单位的延期申请以系统日期为准，不能自行填写申请日期")
    day = requested_on or today()
    if day > today():
        raise ValidationError(f"申请日期 {cn_date(day)} 晚于今天")
    if day > step.due_at:
        raise ValidationError(
            f"{case.case_no} 的{step.kind.label}已于 {cn_date(step.due_at)} 到期，"
            "延期须在期限届满前申请"
        )
    try:
        n = int(workdays)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"延期工作日数必须是整数：{workdays}") from exc
    if not 1 <= n <= MAX_EXTENSION_WORKDAYS:
        raise ValidationError(f"延期工作日数须在 1–{MAX_EXTENSION_WORKDAYS} 之间：{n}")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("请填写延期理由")
    waiting = session.exec(
        select(Extension).where(
            Extension.step_id == step_id,
            Extension.status == ExtensionStatus.PENDING,
            Extension.deleted_at.is_(None),  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
        )
    ).first()
    if waiting is not None:
        raise ConflictError(
            f"{case.case_no} 的{step.kind.label}已有一份待审批的延期申请"
            f"（{cn_date(waiting.requested_on)}），请等城运中心审批"
        )
    ext = Extension(
        step_id=step_id,
        unit_id=answering_unit_id(step) or case.lead_unit_id,
        requested_on=day,
        workdays=n,
        reason=reason,
        old_due_at=step.due_at,
        created_by=actor.user_id,
    )
    session.add(ext)
    session.flush()
    audit.record(
        session,
        actor,
        AuditAction.CREATE,
        "step",
        step_id,
        field="extension",
        new=f"申请延期 {n} 个工作日",
        note=f"延期申请：{n} 个工作日，理由：{reason}",
    )
    return ext


def decide_extension(
    session: Session,
    actor: Actor,
    extension_id: int,
    *,
    approve: bool,
    note: str = "",
    decided_on: date | None = None,
    expected_version: int | None = None,
) -> Extension:
    """The center approves (the deadline moves by the working days asked, counted from the
    current deadline; the original stays on the request) or refuses (a reason is required).

    Approval adds the days to the step's `due_workdays` too, so a later holiday-calendar
    recomputation keeps the extension. The caller commits.
    """
    actor.require(Perm.EDIT_CASES, "审批延期申请")
    ext = session.exec(
        select(Extension).where(Extension.id == extension_id).with_for_update()
    ).first()
    if ext is None or ext.deleted_at is not None:
        raise NotFound(f"延期申请（编号 {extension_id}）不存在或已删除")
    check_version(session, ext, expected_version, "延期申请")
    if ext.status != ExtensionStatus.PENDING:
        raise ConflictError(f"该延期申请已{ext.status.label}，不能再次审批")
    step, case = _load_step(session, actor, ext.step_id)
    note = (note or "").strip()
    if not approve and not note:
        raise ValidationError("不予批准时请填写理由")
    if approve:
        _require_open(step, case, "延期")
    claim_version(session, ext, "延期申请")
    ext.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REFUSED
    ext.decided_on = decided_on or today()
    ext.decision_note = note
    ext.decided_by = actor.user_id
    if approve:
        calendar = Calendar.load(session)
        base = step.due_at or ext.old_due_at
        due = calendar.add(effective_due(base, calendar).day, ext.workdays)
        ext.new_due_at = due.day
        apply_changes(
            session,
            actor,
            step,
            {
                "due_at": due.day,
                "due_provisional": due.provisional,
                "due_workdays": None
                if step.due_workdays is None
                else step.due_workdays + ext.workdays,
            },
            expected_version=None,
            label=step.kind.label,
            note=f"批准延期 {ext.workdays} 个工作日：截止日期由 {cn_date(base)} 改为 {cn_date(due.day)}",
        )
    ext.updated_at = now()
    session.add(ext)
    session.flush()
    audit.record(
        session,
        actor,
        AuditAction.UPDATE,
        "step",
        step.id,
        field="extension",
        old=ExtensionStatus.PENDING.label,
        new=ext.status.label,
        note=(
            f"批准延期 {ext.workdays} 个工作日，原截止日期 {cn_date(ext.old_due_at)}"
            if approve
            else f"不予批准延期，截止日期仍为 {cn_date(step.due_at)}：{note}"
        ),
    )
    return ext


@dataclass(frozen=True)
class ExtensionRow:
    """A request on the center's approval list (or a step's history)."""

    id: int
    version: int
    step_id: int
    case_id: int
    case_no: str
    kind: StepKind
    unit_name: str
    requested_on: date
    workdays: int
    reason: str
    status: ExtensionStatus
    old_due_at: date
    new_due_at: date | None
    decision_note: str


def _extension_rows(session: Session, *conds) -> list[ExtensionRow]:
    rows = session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
            Extension, col(Step.kind), col(Case.id), col(Case.case_no), col(Unit.name)
        )
        .join(Step, col(Step.id) == col(Extension.step_id))
        .join(Case, col(Case.id) == col(Step.case_id))
        .outerjoin(Unit, Unit.id == Extension.unit_id)
        .where(Extension.deleted_at.is_(None), *conds)  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
        .order_by(Extension.requested_on, Extension.id)
    ).all()
    return [
        ExtensionRow(
            id=_id(e),
            version=e.version,
            step_id=e.step_id,
            case_id=case_id,
            case_no=case_no,
            kind=kind,
            unit_name=name or "—",
            requested_on=e.requested_on,
            workdays=e.workdays,
            reason=e.reason,
            status=e.status,
            old_due_at=e.old_due_at,
            new_due_at=e.new_due_at,
            decision_note=e.decision_note,
        )
        for e, kind, case_id, case_no, name in rows
    ]


def pending_extensions(session: Session, actor: Actor) -> list[ExtensionRow]:
    """Requests waiting for the center; a unit user sees its own unit's only."""
    conds = [Extension.status == ExtensionStatus.PENDING, Case.deleted_at.is_(None)]  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
    if not actor.can(Perm.VIEW_ALL):
        conds.append(Extension.unit_id == (actor.unit_id if actor.unit_id is not None else -1))
    return _extension_rows(session, *conds)
