"""The audit log (issue #8): "Append-only log of every create/update/delete/transition/login/
export/document render: who, when, entity, id, field, old → new. No UI or service path edits
or deletes audit rows. Page 操作日志 filters by user, entity, date."
"""

from datetime import date, datetime
from unittest.mock import patch

import pytest
from sqlalchemy import delete, update
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from duban import audit, auth, cases, documents, exporter, uploads
from duban.enums import AuditAction, DocumentKind, Progress, Role, Scope
from duban.errors import PermissionDenied
from duban.models import AuditLog, Document, Feedback, Step
from duban.permissions import SYSTEM, Actor
from tests.factories import make_ticket, make_unit, sample_file
from tests.helpers import APP, clock_on, open_page

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
    return open_page(actor, "pages/audit_log.py", **query)


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


# --- completeness over a full case path ---------------------------------------------------


def test_a_full_case_path_leaves_a_complete_trail(session):
    """Every create/update/transition/login/export/document render of one case's life is in
    the log with who did it: center clerk and unit user, each logged in with a real account."""
    unit = make_unit(session, "镇生态环境办")
    ticket = make_ticket(session, unit_id=unit.id, content="夜间施工噪声扰民")
    for name, role, unit_id in [("clerk", Role.CENTER, None), ("eco", Role.UNIT, unit.id)]:
        auth.create_user(session, SYSTEM, name, "long enough 1", role, unit_id=unit_id)
    session.commit()

    def login(name: str) -> Actor:
        actor = auth.authenticate(session, name, "long enough 1").actor
        session.commit()
        return actor

    clerk, eco = login("clerk"), login("eco")
    case = cases.open_case(
        session, clerk, scope=Scope.REPEATED, lead_unit_id=unit.id, ticket_ids=[ticket.id],
        related_info="三次投诉", opinion="五个工作日内反馈", opened_at=date(2024, 3, 4),
    )  # fmt: skip
    session.commit()
    form = cases.latest_handling_step(session, case.id)
    scan = uploads.store_upload(session, eco, name="回执.pdf", data=sample_file("pdf")).id
    with clock_on(date(2024, 3, 8)):  # the unit submits then
        reply = cases.register_feedback(
            session, eco, form.id, text="施工方拒不配合", signed=True, stamped=True,
            progress=Progress.NONE, upload_id=scan,
        )  # fmt: skip
    cases.confirm_feedback(session, clerk, reply.id)
    cases.escalate_case(session, clerk, case.id, on=date(2024, 3, 11))
    notice = cases.issue_onsite_notice(
        session, clerk, case.id, issued_at=date(2024, 3, 12), location="示例路8号工地",
        scheduled_at=datetime(2024, 3, 13, 9, 30), procedure="踏勘现场", attendees="生态环境办",
        contact_name="王", contact_phone="021-59000000",
    )  # fmt: skip
    session.commit()
    with patch("duban.cases.steps.now", return_value=datetime(2024, 3, 12, 15)):
        cases.register_notice_receipt(
            session, eco, notice.id, reported_to="张主任", tasks=[(unit.id, "停工整改")],
            venue_ready=True, venue="会议室",
        )  # fmt: skip
    cases.record_site_visit(
        session, clerk, notice.id, visit_at=date(2024, 3, 13), findings="无夜间施工许可",
        responsible_unit_id=unit.id, deadline_workdays=3,
    )  # fmt: skip
    with clock_on(date(2024, 3, 15)):
        reply = cases.register_feedback(
            session, eco, notice.id, text="已停工", signed=True, stamped=True,
            progress=Progress.DONE, upload_id=scan,
        )  # fmt: skip
    cases.confirm_feedback(session, clerk, reply.id)
    cases.verify_case(session, clerk, case.id, note="复查已停工", on=date(2024, 3, 18))
    document = documents.render_document(
        session, clerk, DocumentKind.ONSITE_NOTICE, case_id=case.id, step_id=notice.id
    )
    exporter.cases_xlsx(session, clerk)
    cases.close_case(session, clerk, case.id, result_text="停工整改", on=date(2024, 3, 19))
    auth.logout(session, eco)
    session.commit()

    rows = session.exec(select(AuditLog).order_by(AuditLog.id)).all()
    assert all(r.at is not None and r.username for r in rows)
    by_user = {
        name: {(r.action, r.entity) for r in rows if r.username == name}
        for name in ("clerk", "eco")
    }
    assert {
        (AuditAction.LOGIN, "user"),
        (AuditAction.CREATE, "case"),
        (AuditAction.TRANSITION, "case"),
        (AuditAction.RENDER, "document"),
        (AuditAction.EXPORT, "case"),
    } <= by_user["clerk"]
    assert {(AuditAction.LOGIN, "user"), (AuditAction.LOGOUT, "user")} <= by_user["eco"]
    assert all(r.user_id is not None for r in rows if r.username in ("clerk", "eco"))
    # every record the path created has its own trail, starting with who created it
    created = [
        ("case", case.id),
        *(("step", s.id) for s in session.exec(select(Step).where(Step.case_id == case.id))),
        *(("feedback", f.id) for f in session.exec(select(Feedback))),
        ("document", document.id),
    ]
    assert len(created) == 1 + 2 + 2 + 1
    for entity, entity_id in created:
        trail = audit.history(session, entity, entity_id)
        assert trail, f"no audit trail for {entity} {entity_id}"
        assert trail[0].username in ("clerk", "eco")
    # the unit's feedback is attributed to the unit user, the level changes to the clerk
    feedback_ids = [f.id for f in session.exec(select(Feedback))]
    assert {audit.history(session, "feedback", i)[0].username for i in feedback_ids} == {"eco"}
    transitions = [(r.old, r.new, r.username) for r in rows if r.action == AuditAction.TRANSITION]
    assert transitions == [
        ("书面督办", "现场协调督办", "clerk"),
        ("现场协调督办", "已办结", "clerk"),
    ]
    assert session.exec(select(Document)).one().created_by == clerk.user_id
