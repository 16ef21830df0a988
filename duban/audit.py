"""The append-only change log: who, when, what, old → new.

Services call `record` / `record_changes` inside the same transaction as the change, so a
change and its audit rows commit or roll back together. Nothing in the code updates or
deletes an `AuditLog` row.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlmodel import Session, select

from duban.enums import AuditAction
from duban.models import AuditLog
from duban.permissions import Actor


def show(value: Any) -> str | None:
    """A value as the log keeps it: enums by label, dates ISO, None stays None."""
    if value is None:
        return None
    if isinstance(value, Enum):
        return getattr(value, "label", value.value)
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return str(value)


def record(
    session: Session,
    actor: Actor,
    action: AuditAction,
    entity: str,
    entity_id: int | None = None,
    *,
    field: str = "",
    old: Any = None,
    new: Any = None,
    note: str = "",
) -> AuditLog:
    row = AuditLog(
        user_id=actor.user_id,
        username=actor.username,
        action=action,
        entity=entity,
        entity_id=entity_id,
        field=field,
        old=show(old),
        new=show(new),
        note=note,
    )
    session.add(row)
    return row


def record_changes(
    session: Session,
    actor: Actor,
    entity: str,
    entity_id: int | None,
    changes: dict[str, tuple[Any, Any]],
    *,
    action: AuditAction = AuditAction.UPDATE,
    note: str = "",
) -> None:
    """One row per changed field: `changes` maps field → (old, new)."""
    for name, (old, new) in changes.items():
        record(session, actor, action, entity, entity_id, field=name, old=old, new=new, note=note)


def history(session: Session, entity: str, entity_id: int) -> list[AuditLog]:
    """The audit trail of one record, oldest first."""
    stmt = (
        select(AuditLog)
        .where(AuditLog.entity == entity, AuditLog.entity_id == entity_id)
        .order_by(AuditLog.at, AuditLog.id)
    )
    return list(session.exec(stmt))
