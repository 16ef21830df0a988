"""The append-only change log: who, when, what, old → new.

Services call `record` / `record_changes` inside the same transaction as the change, so a
change and its audit rows commit or roll back together. Nothing in the code updates or
deletes an `AuditLog` row, and the ORM refuses to: a flush that changes or deletes one, or
an UPDATE/DELETE statement aimed at the table, raises `PermissionDenied` (see the guards at
the end of this module).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import Connection, event, func
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from duban.enums import AuditAction
from duban.errors import PermissionDenied
from duban.models import AuditLog
from duban.permissions import Actor, Perm


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
        .where(col(AuditLog.entity) == entity, col(AuditLog.entity_id) == entity_id)
        .order_by(col(AuditLog.at), col(AuditLog.id))
    )
    return list(session.exec(stmt))


# --- reading the log (page 操作日志) --------------------------------------------------------

ENTITY_LABELS: dict[str, str] = {
    "ticket": "工单",
    "importbatch": "工单导入",
    "case": "督办事项",
    "step": "督办环节",
    "feedback": "书面反馈",
    "upload": "上传文件",
    "meeting": "专题会",
    "routingrule": "处置规则",
    "referral": "移交纪委监察办",
    "document": "文书",
    "templateversion": "文书模板",
    "unit": "承办单位",
    "user": "用户",
    "setting": "系统设置",
    "calendaryear": "工作日历",
    "backup": "数据备份",
}


def entity_label(entity: str) -> str:
    return ENTITY_LABELS.get(entity, entity)


@dataclass(frozen=True)
class AuditPage:
    """One page of a filtered log, newest first, and how many rows match in all."""

    rows: list[AuditLog]
    total: int


def search(
    session: Session,
    actor: Actor,
    *,
    username: str | None = None,
    entity: str | None = None,
    entity_id: int | None = None,
    action: AuditAction | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    limit: int = 200,
    offset: int = 0,
) -> AuditPage:
    """The log filtered by who, what and when (dates inclusive); only for VIEW_AUDIT."""
    actor.require(Perm.VIEW_AUDIT)
    conditions = []
    if username:
        conditions.append(col(AuditLog.username) == username)
    if entity:
        conditions.append(col(AuditLog.entity) == entity)
    if entity_id is not None:
        conditions.append(col(AuditLog.entity_id) == entity_id)
    if action is not None:
        conditions.append(col(AuditLog.action) == action)
    if date_from is not None:
        conditions.append(col(AuditLog.at) >= datetime.combine(date_from, datetime.min.time()))
    if date_to is not None:
        conditions.append(
            col(AuditLog.at) < datetime.combine(date_to + timedelta(days=1), datetime.min.time())
        )
    total = session.exec(select(func.count()).select_from(AuditLog).where(*conditions)).one()
    stmt = (
        select(AuditLog)
        .where(*conditions)
        .order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
        .limit(limit)
        .offset(offset)
    )
    return AuditPage(rows=list(session.exec(stmt)), total=total)


def usernames(session: Session, actor: Actor) -> list[str]:
    """Everyone who appears in the log (for the filter), including failed login names."""
    actor.require(Perm.VIEW_AUDIT)
    return sorted(session.exec(select(col(AuditLog.username)).distinct()))


def entities(session: Session, actor: Actor) -> list[str]:
    actor.require(Perm.VIEW_AUDIT)
    return sorted(session.exec(select(col(AuditLog.entity)).distinct()))


def latest(session: Session, action: AuditAction, entity: str | None = None) -> AuditLog | None:
    """The newest row of one kind (e.g. the last backup), or None."""
    stmt = select(AuditLog).where(col(AuditLog.action) == action)
    if entity is not None:
        stmt = stmt.where(col(AuditLog.entity) == entity)
    stmt = stmt.order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc()).limit(1)
    return session.exec(stmt).first()


def head(session: Session | Connection) -> tuple[int | None, datetime | None]:
    """The newest row's id and time: it moves with every audited change, so it names the
    state of the data for caches shared between users (one primary-key lookup at any size;
    the time tells apart two databases whose logs happen to be equally long). A bare
    connection will do: pages ask it on every run."""
    row = session.execute(
        select(col(AuditLog.id), col(AuditLog.at)).order_by(col(AuditLog.id).desc()).limit(1)
    ).first()
    return (row[0], row[1]) if row else (None, None)


# --- append-only guards -------------------------------------------------------------------

APPEND_ONLY = "操作日志只能追加，不能修改或删除"


@event.listens_for(OrmSession, "before_flush")
def _refuse_changed_audit_rows(session: OrmSession, _context: Any, _instances: Any) -> None:
    """No code path may edit or delete a logged row through the ORM."""
    for row in session.deleted:
        if isinstance(row, AuditLog):
            raise PermissionDenied(APPEND_ONLY)
    for row in session.dirty:
        if isinstance(row, AuditLog) and session.is_modified(row):
            raise PermissionDenied(APPEND_ONLY)


@event.listens_for(OrmSession, "do_orm_execute")
def _refuse_bulk_audit_changes(state: ORMExecuteState) -> None:
    """Nor through an ORM-enabled UPDATE or DELETE statement."""
    if (state.is_update or state.is_delete) and any(
        mapper.class_ is AuditLog for mapper in state.all_mappers
    ):
        raise PermissionDenied(APPEND_ONLY)
