"""The audit log (issue #8): "Append-only log of every create/update/delete/transition/login/
export/document render: who, when, entity, id, field, old → new. No UI or service path edits
or deletes audit rows. Page 操作日志 filters by user, entity, date."
"""

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from duban import audit
from duban.enums import AuditAction, Role
from duban.errors import PermissionDenied
from duban.models import AuditLog
from duban.permissions import Actor

APP = str(Path(__file__).resolve().parents[1] / "app.py")
ADMIN = Actor(None, "admin", Role.ADMIN)
CENTER = Actor(None, "clerk", Role.CENTER)
MALICIOUS = (
    "<script>alert(1)</script> **bold** [x](javascript:alert(1)) {{ secret }} \x07" + "长" * 3000
)


def add(session, who: str, action: AuditAction, entity: str, entity_id: int, at: datetime, **kw):
    row = AuditLog(username=who, action=action, entity=entity, entity_id=entity_id, at=at, **kw)
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def log(session):
    add(session, "张三", AuditAction.CREATE, "case", 1, datetime(2024, 3, 1, 9))
    add(
        session,
        "张三",
        AuditAction.UPDATE,
        "ticket",
        7,
        datetime(2024, 3, 2, 23, 59),
        field="notes",
    )
    add(session, "李四", AuditAction.TRANSITION, "case", 1, datetime(2024, 3, 3, 0, 0))
    add(session, "李四", AuditAction.LOGIN, "user", 2, datetime(2024, 3, 4, 8))
    return session


# --- append-only --------------------------------------------------------------------------


def test_an_audit_row_cannot_be_edited_through_the_orm(log):
    row = log.exec(select(AuditLog)).first()
    row.new = "forged"
    with pytest.raises(PermissionDenied, match="只能追加"):
        log.flush()
    log.rollback()
    assert log.get(AuditLog, row.id).new is None


def test_an_audit_row_cannot_be_deleted_through_the_orm(log):
    log.delete(log.exec(select(AuditLog)).first())
    with pytest.raises(PermissionDenied, match="只能追加"):
        log.flush()
    log.rollback()
    assert len(log.exec(select(AuditLog)).all()) == 4


@pytest.mark.parametrize(
    "statement",
    [update(AuditLog).values(new="forged"), delete(AuditLog).where(AuditLog.username == "张三")],
)
def test_bulk_update_or_delete_statements_on_the_log_are_refused(log, statement):
    with pytest.raises(PermissionDenied, match="只能追加"):
        log.exec(statement)
    log.rollback()
    assert len(log.exec(select(AuditLog).where(AuditLog.new.is_(None))).all()) == 4


def test_appending_still_works_next_to_the_guards(log):
    audit.record(log, CENTER, AuditAction.EXPORT, "ticket", note="导出工单")
    log.commit()
    assert audit.latest(log, AuditAction.EXPORT).note == "导出工单"


# --- searching ----------------------------------------------------------------------------


def test_search_filters_by_user_entity_action_and_inclusive_dates(log):
    def who(**kw) -> list[tuple[str, str]]:
        return [(r.username, r.entity) for r in audit.search(log, CENTER, **kw).rows]

    assert who(username="张三") == [("张三", "ticket"), ("张三", "case")]
    assert who(entity="case", entity_id=1) == [("李四", "case"), ("张三", "case")]
    assert who(action=AuditAction.LOGIN) == [("李四", "user")]
    assert who(date_from=date(2024, 3, 2), date_to=date(2024, 3, 3)) == [
        ("李四", "case"),
        ("张三", "ticket"),
    ]
    assert audit.search(log, CENTER, limit=1, offset=1).total == 4


def test_filter_choices_list_the_users_and_objects_in_the_log(log):
    assert audit.usernames(log, CENTER) == ["张三", "李四"]
    assert audit.entities(log, CENTER) == ["case", "ticket", "user"]


@pytest.mark.parametrize("role", [Role.UNIT, Role.LEADER])
def test_only_admins_and_the_center_read_the_log(log, role):
    with pytest.raises(PermissionDenied, match="无权查看操作日志"):
        audit.search(log, Actor(None, "x", role))


# --- page 操作日志 --------------------------------------------------------------------------


def open_audit_page(actor: Actor, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["actor"] = actor
    at.query_params.update(query)
    at.run()
    at.switch_page("pages/audit_log.py").run()
    assert not at.exception, at.exception
    return at


def table(at: AppTest):
    return at.dataframe[0].value


def test_the_page_filters_by_user(log):
    at = open_audit_page(ADMIN)
    assert len(table(at)) == 4
    at.selectbox(key="audit_log_user").select("李四").run()
    assert list(table(at)["用户"]) == ["李四", "李四"]
    assert list(table(at)["操作"]) == ["登录", "流转"]


def test_the_page_opens_one_records_trail_from_the_url(log):
    at = open_audit_page(CENTER, entity="case", id="1")
    assert list(table(at)["对象"]) == ["督办事项", "督办事项"]
    assert list(table(at)["编号"]) == ["1", "1"]


def test_the_page_shows_malicious_text_literally(session):
    add(
        session,
        MALICIOUS[:50],
        AuditAction.UPDATE,
        "ticket",
        1,
        datetime(2024, 3, 1),
        old="<b>",
        new=MALICIOUS,
    )
    at = open_audit_page(ADMIN)
    row = table(at).iloc[0]
    assert row["新值"] == MALICIOUS
    assert row["原值"] == "<b>"
    assert row["用户"] == MALICIOUS[:50]
    assert all("<script>" not in m.value for m in at.markdown)


def test_the_page_is_not_listed_for_unit_users(log):
    at = AppTest.from_file(APP, default_timeout=30)
    at.session_state["actor"] = Actor(None, "u", Role.UNIT, unit_id=1)
    at.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/audit_log.py")
