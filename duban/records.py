"""Versioned, audited updates of editable rows: the one place optimistic locking lives.

A page loads rows with their `version`; a save sends back the version it started from. If
somebody else saved in between, the save is refused with a message naming the row and
who changed it when — never a silent overwrite.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Table, update
from sqlmodel import Session, SQLModel, col, select

from duban import audit
from duban.clock import now
from duban.enums import AuditAction
from duban.errors import ConflictError, DubanError, NotFound
from duban.models import AuditLog
from duban.permissions import Actor

T = TypeVar("T", bound=SQLModel)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table class, for bulk statements (SQLModel does not declare
    `__table__` to type checkers; SQLAlchemy's declarative mapping sets it)."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # set by the declarative mapping
    return table


def entity_name(model: type[SQLModel]) -> str:
    return str(model.__tablename__)  # a str on every table class here


def get_live(
    session: Session,
    model: type[T],
    row_id: int,
    label: str = "记录",
    error: type[DubanError] = NotFound,
) -> T:
    """A row that exists and is not soft-deleted, or `error` (NotFound; ValidationError where
    the id came from a form field) naming it: `{label}（编号 N）不存在或已删除`."""
    row = session.get(model, row_id)
    if row is None or getattr(row, "deleted_at", None) is not None:
        raise error(f"{label}（编号 {row_id}）不存在或已删除")
    return row


def last_change(session: Session, entity: str, entity_id: int) -> AuditLog | None:
    stmt = (
        select(AuditLog)
        .where(col(AuditLog.entity) == entity, col(AuditLog.entity_id) == entity_id)
        .order_by(col(AuditLog.id).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


def check_version(session: Session, row: Any, expected: int | None, label: str) -> None:
    """Refuse a save based on a stale version, naming who changed the row and when."""
    if expected is None or row.version == expected:
        return
    entity = entity_name(type(row))
    last = last_change(session, entity, row.id)
    who = f"{last.username} 于 {last.at:%Y-%m-%d %H:%M}" if last else "其他用户"
    raise ConflictError(f"{label} 已被 {who} 修改，请刷新后再保存（未覆盖对方的修改）")


def claim_version(session: Session, row: Any, label: str) -> None:
    """Move `row` to its next version in the database, on condition that it is still at the
    version this session loaded: one `UPDATE … SET version = v + 1 WHERE id = ? AND version = v`.

    `check_version` compares with the row as loaded, and another save may commit between
    that load and this write (two staff pressing 保存 at once). The conditional UPDATE takes
    the row lock (PostgreSQL) or the write lock (SQLite) and sees the committed version, so
    the later save is refused, naming who saved first, instead of overwriting them.
    """
    model = type(row)
    loaded = row.version
    claimed = session.execute(
        update(model)
        .where(model.id == row.id, model.version == loaded)  # type: ignore[attr-defined]  # every table here has id and version
        .values(version=loaded + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        session.refresh(row)
        check_version(session, row, loaded, label)
        raise ConflictError(f"{label} 已被其他用户修改，请刷新后再保存（未覆盖对方的修改）")
    row.version = loaded + 1


def apply_changes(
    session: Session,
    actor: Actor,
    row: T,
    values: dict[str, Any],
    *,
    expected_version: int | None,
    label: str,
    action: AuditAction = AuditAction.UPDATE,
    note: str = "",
) -> dict[str, tuple[Any, Any]]:
    """Set `values` on `row` after the version check; audit each real change.

    Returns the changes (field → (old, new)); bumps `version` only if something changed.
    The caller commits, so several rows can be saved in one transaction.
    """
    check_version(session, row, expected_version, label)
    changes = {k: (getattr(row, k), v) for k, v in values.items() if getattr(row, k) != v}
    if not changes:
        return {}
    claim_version(session, row, label)
    for key, (_, new) in changes.items():
        setattr(row, key, new)
    row.updated_at = now()
    if hasattr(row, "updated_by"):
        row.updated_by = actor.user_id
    session.add(row)
    session.flush()
    audit.record_changes(
        session,
        actor,
        entity_name(type(row)),
        row.id,  # type: ignore[attr-defined]  # every table here has an integer id
        changes,
        action=action,
        note=note,
    )
    return changes


def insert(
    session: Session, actor: Actor, row: T, *, new: Any, field: str = "", note: str = ""
) -> T:
    """Add a new row and audit its creation in the same transaction; the flush gives the
    audit row the new id."""
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        AuditAction.CREATE,
        entity_name(type(row)),
        row.id,  # type: ignore[attr-defined]  # every table here has an integer id
        field=field,
        new=new,
        note=note,
    )
    return row


def soft_delete(
    session: Session, actor: Actor, row: Any, *, expected_version: int | None, label: str
) -> None:
    check_version(session, row, expected_version, label)
    claim_version(session, row, label)
    stamp: datetime = now()
    row.deleted_at = stamp
    session.add(row)
    audit.record(
        session,
        actor,
        AuditAction.DELETE,
        entity_name(type(row)),
        row.id,
        field="deleted_at",
        new=stamp,
    )


def restore(session: Session, actor: Actor, row: Any) -> None:
    old = row.deleted_at
    row.deleted_at = None
    row.version += 1
    session.add(row)
    audit.record(
        session,
        actor,
        AuditAction.RESTORE,
        entity_name(type(row)),
        row.id,
        field="deleted_at",
        old=old,
    )
