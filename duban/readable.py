"""How stored values read for a person: field names in Chinese, 是/否 for booleans, "—" for
nothing, unit ids as unit names, people by 姓名. The change log keeps the raw values (it is
evidence); what a page shows of it goes through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from duban.audit import entity_label
from duban.importer import FIELD_LABELS as TICKET_FIELDS
from duban.models import AuditLog, Unit, User

EMPTY = "—"

# Field names as the log stores them (model attributes) → the words a user knows.
FIELD_NAMES: dict[str, str] = {
    **TICKET_FIELDS,
    "username": "用户名",
    "display_name": "姓名",
    "role": "角色",
    "unit_id": "承办单位",
    "responsible_unit_id": "责任单位",
    "lead_unit_id": "牵头单位",
    "can_see_contacts": "可见联系方式",
    "active": "启用",
    "password": "密码",
    "failed_logins": "连续输错次数",
    "locked_until": "锁定至",
    "aliases": "别名",
    "name": "名称",
    "path": "路径",
    "schedule": "节假日安排",
    "deleted_at": "删除时间",
    "notes": "备注",
    "tags": "标签",
    "repeat_group": "重复组",
    "state": "状态",
    "status": "状态",
    "level": "督办类型",
    "scope": "协调督办范围",
    "meeting": "专题会",
    "closed_at": "办结时间",
    "due_at": "办理时限",
    "due_workdays": "时限（工作日）",
    "on_time": "是否按时",
    "margin_workdays": "提前/逾期（工作日）",
    "escalation_reason": "提级理由",
    "registered_at": "登记时间",
    "visit_at": "踏勘时间",
    "visit_findings": "踏勘情况",
    "result_text": "办理结果",
    "verification_note": "核实情况",
    "verified_at": "核实时间",
    "reopen_reason": "重新办理原因",
    "title": "标题",
}

UNIT_FIELDS = {"unit_id", "responsible_unit_id", "lead_unit_id"}
BOOLEAN_TEXT = {"True": "是", "False": "否", "true": "是", "false": "否"}


def field_label(field: str) -> str:
    """A stored field name in Chinese; an unlisted one keeps its name (never empty)."""
    return FIELD_NAMES.get(field, field) if field else EMPTY


def value_text(field: str, value: str | None, unit_names: dict[int, str]) -> str:
    """A logged value as a person reads it: — for nothing, 是/否, a unit's name for its id,
    a time without seconds."""
    if value is None or value == "" or value in ("None", "nan", "NaT"):
        return EMPTY
    if value in BOOLEAN_TEXT:
        return BOOLEAN_TEXT[value]
    if field in UNIT_FIELDS and value.isdigit():
        return unit_names.get(int(value), f"（已删除的单位 {value}）")
    if len(value) == 19 and value[10] == " " and value.endswith(":00"):
        return value[:16]
    return value


def person_names(session: Session, user_ids: Iterable[int | None]) -> dict[int, str]:
    """姓名 (or, where none was entered, the login name) of each user id."""
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    rows = session.exec(
        select(User.id, User.display_name, User.username).where(col(User.id).in_(ids))
    )
    return {i: display or username for i, display, username in rows if i is not None}


@dataclass(frozen=True)
class LogLine:
    """One change log row as shown: who by name, the field in Chinese, readable values."""

    at: datetime
    person: str
    action: str
    entity: str
    entity_id: int | None
    field: str
    old: str
    new: str
    note: str


def log_lines(session: Session, rows: list[AuditLog]) -> list[LogLine]:
    """Rows of the change log made readable (the caller has already checked who may read)."""
    names = person_names(session, (r.user_id for r in rows))
    unit_names = {i: n for i, n in session.exec(select(Unit.id, Unit.name)) if i is not None}
    return [
        LogLine(
            at=r.at,
            person=names.get(r.user_id, r.username) if r.user_id is not None else r.username,
            action=r.action.label,
            entity=entity_label(r.entity),
            entity_id=r.entity_id,
            field=field_label(r.field),
            old=value_text(r.field, r.old, unit_names),
            new=value_text(r.field, r.new, unit_names),
            note=r.note,
        )
        for r in rows
    ]
