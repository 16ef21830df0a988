"""The center's manual deductions: add, remove, list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from duban import audit
from duban.enums import AuditAction
from duban.errors import NotFound, ValidationError
from duban.kpi import Period
from duban.models import ScoreDeduction, Unit
from duban.permissions import Actor, Perm
from duban.records import soft_delete
from duban.score.rules import shown


def add_deduction(
    session: Session, actor: Actor, unit_id: int, day: date, points: Any, reason: str
) -> ScoreDeduction:
    """Record a manual deduction (the center), audited; the caller commits."""
    actor.require(Perm.MANAGE_SCORE)
    unit = session.get(Unit, unit_id)
    if unit is None or unit.deleted_at is not None:
        raise NotFound(f"承办单位不存在：{unit_id}")
    try:
        value = Fraction(str(points).strip())
    except (ValueError, ZeroDivisionError) as exc:
        raise ValidationError(f"扣分：必须是数字（{points}）") from exc
    if not 0 < value <= 100:
        raise ValidationError(f"扣分：必须大于 0、不超过 100（{points}）")
    text = " ".join(str(reason or "").split())
    if not text:
        raise ValidationError("扣分事由：不能为空")
    if len(text) > 200:
        raise ValidationError("扣分事由：最多 200 个字")
    row = ScoreDeduction(
        unit_id=unit_id,
        day=day,
        points=float(value),
        reason=text,
        created_by=actor.user_id,
        created_by_name=actor.name,
    )
    session.add(row)
    session.flush()
    audit.record(
        session, actor, AuditAction.CREATE, "scorededuction", row.id, field="points",
        new=f"{unit.name} {day.isoformat()} 扣 {shown(float(value))} 分：{text}",
    )  # fmt: skip
    return row


def remove_deduction(session: Session, actor: Actor, deduction_id: int, version: int) -> None:
    """Withdraw a manual deduction (soft delete, audited); a stale version is refused."""
    actor.require(Perm.MANAGE_SCORE)
    row = session.get(ScoreDeduction, deduction_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"扣分记录不存在：{deduction_id}")
    soft_delete(session, actor, row, expected_version=version, label=f"扣分记录（{row.reason}）")


@dataclass(frozen=True)
class DeductionLine:
    id: int
    version: int
    unit_name: str
    day: date
    points: float
    reason: str
    who: str
    at: datetime


def deductions(session: Session, actor: Actor, period: Period) -> list[DeductionLine]:
    """The live manual deductions dated in the period (a unit user: its own)."""
    stmt = (
        select(ScoreDeduction, col(Unit.name))
        .join(Unit, col(Unit.id) == col(ScoreDeduction.unit_id))
        .where(
            col(ScoreDeduction.deleted_at).is_(None),
            col(ScoreDeduction.day) >= period.start,
            col(ScoreDeduction.day) <= period.end,
        )
        .order_by(col(ScoreDeduction.day), col(ScoreDeduction.id))
    )
    if not actor.can(Perm.VIEW_ALL):
        stmt = stmt.where(col(ScoreDeduction.unit_id) == (actor.unit_id or -1))
    return [
        DeductionLine(
            d.id, d.version, name, d.day, d.points, d.reason, d.created_by_name, d.created_at
        )
        for d, name in session.execute(stmt)
    ]
