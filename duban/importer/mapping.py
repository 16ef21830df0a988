"""After the import: map unknown units and columns; the import history."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlmodel import Session
from sqlmodel import col as column_of

from duban import audit
from duban.clock import now
from duban.enums import AuditAction, UnitKind
from duban.errors import ValidationError
from duban.importer.fields import FIELD_LABELS, IGNORE, MAPPABLE_FIELDS
from duban.importer.units import UnitResolver, unit_key
from duban.importer.values import tidy
from duban.importer.writing import AUDIT_TABLE, CHUNK
from duban.models import ColumnMapping, ImportBatch, Ticket, Unit
from duban.permissions import Actor, Perm
from duban.records import get_live, table_of
from duban.text import normalize_header


def assign_unassigned(session: Session, actor: Actor, raw_name: str, unit_id: int) -> int:
    """Give every live ticket of unknown unit `raw_name` its unit; audited; returns the count.

    Checked here as well as in its callers: a unit user must not move tickets into their unit.
    """
    actor.require(Perm.IMPORT_TICKETS, "对应承办单位")
    unit = session.get(Unit, unit_id)
    if unit is None or unit.deleted_at is not None:
        raise ValidationError(f"承办单位（编号 {unit_id}）不存在")
    key = unit_key(raw_name)
    table = table_of(Ticket)
    rows = session.execute(
        select(table.c.id, table.c.unit_raw).where(
            table.c.unit_id.is_(None), table.c.unit_raw != ""
        )
    ).all()
    ids = [tid for tid, raw in rows if unit_key(raw) == key]
    stamp = now()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        session.execute(
            update(Ticket)
            .where(table.c.id.in_(chunk))
            .values(unit_id=unit_id, version=table.c.version + 1, updated_at=stamp)
        )
    if ids:
        session.execute(
            insert(AUDIT_TABLE),
            [
                {"at": stamp, "user_id": actor.user_id, "username": actor.username,
                 "action": AuditAction.UPDATE, "entity": "ticket", "entity_id": tid,
                 "field": "unit_id", "old": None, "new": str(unit_id),
                 "note": f"导入时未匹配的承办单位“{raw_name}”已对应到单位"}
                for tid in ids
            ],
        )  # fmt: skip
    return len(ids)


def map_unit_alias(session: Session, actor: Actor, raw_name: str, unit_id: int) -> int:
    """Record `raw_name` as an alias of an existing unit (so future imports match it) and
    assign the tickets already imported under that name. Returns how many were assigned."""
    actor.require(Perm.IMPORT_TICKETS, "对应承办单位")
    unit = get_live(session, Unit, unit_id, "承办单位", ValidationError)
    name = tidy(raw_name)
    if not name:
        raise ValidationError("单位名称不能为空")
    if unit_key(name) not in {unit_key(a) for a in unit.aliases} | {unit_key(unit.name)}:
        old = list(unit.aliases)
        unit.aliases = [*old, name]
        unit.version += 1
        unit.updated_at = now()
        session.add(unit)
        audit.record(
            session, actor, AuditAction.UPDATE, "unit", unit.id, field="aliases",
            old="、".join(old), new="、".join(unit.aliases), note="导入工单时对应未匹配的单位名称",
        )  # fmt: skip
    session.flush()
    return assign_unassigned(session, actor, name, unit_id)


def create_unit_for(
    session: Session, actor: Actor, raw_name: str, kind: UnitKind
) -> tuple[Unit, int]:
    """Create a unit named as the export wrote it and assign its unassigned tickets."""
    actor.require(Perm.IMPORT_TICKETS, "新建承办单位")
    name = tidy(raw_name)
    if not name:
        raise ValidationError("单位名称不能为空")
    if UnitResolver.load(session).resolve(name) is not None:
        raise ValidationError(f"承办单位“{name}”已存在，请直接对应到该单位")
    unit = Unit(name=name, kind=kind)
    session.add(unit)
    session.flush()
    audit.record(session, actor, AuditAction.CREATE, "unit", unit.id, field="name", new=name)
    return unit, assign_unassigned(session, actor, name, unit.id)  # type: ignore[arg-type]  # ids are set: these rows were flushed


def save_column_mapping(session: Session, actor: Actor, header: str, target: str) -> None:
    """Remember that `header` means ticket field `target` ("" = ignore) for future imports."""
    actor.require(Perm.IMPORT_TICKETS, "保存列映射")
    key = normalize_header(header)
    if not key:
        raise ValidationError("列名不能为空")
    if target != IGNORE and target not in MAPPABLE_FIELDS:
        raise ValidationError(f"列“{header}”：未知的目标字段 {target}")
    row = (
        session.execute(select(ColumnMapping).where(column_of(ColumnMapping.header) == key))
        .scalars()
        .first()
    )
    old = row.field if row else None
    if row is None:
        row = ColumnMapping(header=key, field=target)
    row.field = target
    session.add(row)
    session.flush()
    audit.record(
        session, actor, AuditAction.UPDATE, "columnmapping", row.id, field=key,
        old=old, new=FIELD_LABELS.get(target, "忽略"),
    )  # fmt: skip


def import_history(session: Session, limit: int = 20) -> list[ImportBatch]:
    """The latest import batches, newest first."""
    stmt = select(ImportBatch).order_by(column_of(ImportBatch.id).desc()).limit(limit)
    return list(session.execute(stmt).scalars())
