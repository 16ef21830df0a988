"""签收: a unit signs for a 督办单 or notice, timed in working days."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from duban import audit
from duban.chasing.access import _load_step, _own_step
from duban.clock import cn_date, now
from duban.enums import AuditAction, StepKind, StepStatus
from duban.errors import ConflictError, PermissionDenied, ValidationError
from duban.models import StepReceipt
from duban.permissions import Actor, Perm
from duban.settings import get_setting
from duban.workdays import Calendar

SIGN_KINDS = (StepKind.SUPERVISION_FORM, StepKind.ONSITE_NOTICE)
"""The papers a unit signs for (签收): the 督办单 and the 现场协调督办通知."""
# --- 签收 ----------------------------------------------------------------------------------


def sign_deadline(session: Session, issued_at: date) -> date:
    """The last day of 及时签收: `sign_within_workdays` working days after issue (setting)."""
    n = int(get_setting(session, "sign_within_workdays"))
    return Calendar.load(session).add(issued_at, n).day


def sign_for(
    session: Session, actor: Actor, step_id: int, *, signed_at: datetime | None = None
) -> StepReceipt:
    """签收 of a 督办单 or 现场协调督办通知, once per step; timeliness frozen at signing.

    A unit user signs now, for their own unit. The center records the 签收 of a unit that
    works on paper, with the time the unit reported (`signed_at`, required then). The caller
    commits.
    """
    step, case = _load_step(session, actor, step_id)
    _own_step(actor, step, case, "签收")
    if step.kind not in SIGN_KINDS:
        raise ValidationError(f"{step.kind.label}无需签收，只有督办单和现场协调督办通知需要签收")
    if step.status == StepStatus.CANCELLED:
        raise ValidationError(f"{case.case_no} 的{step.kind.label}已撤销，不能签收")
    on_behalf = actor.can(Perm.EDIT_CASES)
    if on_behalf:
        if signed_at is None:
            raise ValidationError("代为登记签收时，请填写承办单位报告的签收时间")
    elif signed_at is not None:
        raise PermissionDenied("承办单位签收以系统时间为准，不能自行填写签收时间")
    when = signed_at or now()
    if when > now():
        raise ValidationError(f"签收时间 {cn_date(when)} 晚于现在")
    if when.date() < step.issued_at:
        raise ValidationError(
            f"签收时间 {cn_date(when)} 早于{step.kind.label}发出日期 {cn_date(step.issued_at)}"
        )
    existing = session.get(StepReceipt, step_id)
    if existing is not None:
        raise ConflictError(
            f"{case.case_no} 的{step.kind.label}已于 {cn_date(existing.signed_at)} 签收，不能重复签收"
        )
    due = sign_deadline(session, step.issued_at)
    receipt = StepReceipt(
        step_id=step_id,
        unit_id=step.unit_id,
        signed_at=when,
        on_behalf=on_behalf,
        due_at=due,
        on_time=when.date() <= due,
        recorded_by=actor.user_id,
    )
    try:
        with session.begin_nested():
            session.add(receipt)
            session.flush()
    except IntegrityError as exc:  # a parallel 签收 of the same step won
        raise ConflictError(f"{case.case_no} 的{step.kind.label}已被他人签收，请刷新") from exc
    note = ("城运中心代为登记签收" if on_behalf else "承办单位签收") + (
        "（及时）" if receipt.on_time else f"（超过及时签收期限 {cn_date(due)}）"
    )
    audit.record(
        session, actor, AuditAction.UPDATE, "step", step_id, field="signed_at", new=when, note=note
    )
    return receipt
