"""The change log as a person reads it: 姓名, Chinese field names, 是/否, —, unit names."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from duban import auth, readable
from duban.enums import AuditAction, Role
from duban.models import AuditLog
from duban.permissions import SYSTEM
from tests.factories import make_unit


def logged(session: Session, **kw) -> AuditLog:
    row = AuditLog(at=datetime(2024, 3, 1, 9), action=AuditAction.UPDATE, entity="step", **kw)
    session.add(row)
    session.flush()
    return row


def test_a_log_row_reads_in_words_not_raw_values(session: Session) -> None:
    unit = make_unit(session, "镇城管中队")
    clerk = auth.create_user(session, SYSTEM, "wang01", "a long password 1", Role.CENTER,
                             display_name="王小明")  # fmt: skip
    rows = [
        logged(session, user_id=clerk.id, username="wang01", field="on_time", old=None, new="True"),
        logged(
            session,
            user_id=clerk.id,
            username="wang01",
            field="responsible_unit_id",
            old="",
            new=str(unit.id),
        ),  # fmt: skip
        logged(
            session, user_id=None, username="system", field="role", old="角色：领导", new="False"
        ),
    ]
    lines = readable.log_lines(session, rows)
    assert [(x.person, x.field, x.old, x.new) for x in lines] == [
        ("王小明", "是否按时", "—", "是"),
        ("王小明", "责任单位", "—", "镇城管中队"),
        ("system", "角色", "角色：领导", "否"),
    ]


def test_an_unknown_field_keeps_its_name_and_an_empty_one_reads_as_a_dash() -> None:
    assert readable.field_label("weird_field") == "weird_field"
    assert readable.field_label("") == "—"
    assert readable.value_text("notes", "nan", {}) == "—"
    assert readable.value_text("unit_id", "99", {}) == "（已删除的单位 99）"
