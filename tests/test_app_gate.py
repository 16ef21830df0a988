"""The login gate in app.py (issue #8), driven through AppTest the way a user meets it.

"First start with no users: the app asks to create the first administrator (no default
password anywhere)." "5 failed logins lock the account for 15 minutes"; "sessions expire after
a configurable idle time"; "Every page shows who is logged in and offers logout."
"""

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from duban import auth
from duban.clock import now
from duban.enums import AuditAction, Role
from duban.models import AuditLog
from duban.permissions import SYSTEM, Actor
from duban.settings import set_setting
from tests.factories import make_unit

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PASSWORD = "correct horse 1"


def app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=30)


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def sidebar_text(at: AppTest) -> str:
    return " ".join(t.value for t in at.sidebar.text)


def log_in(at: AppTest, username: str, password: str) -> AppTest:
    inputs = {w.label: w for w in at.text_input}
    inputs["用户名"].input(username)
    inputs["密码"].input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def on_login_form(at: AppTest) -> bool:
    return [w.label for w in at.text_input] == ["用户名", "密码"]


def audit_actions(engine) -> list[tuple[AuditAction, str, str]]:
    with Session(engine) as s:
        rows = s.exec(select(AuditLog).where(AuditLog.entity == "user").order_by(AuditLog.id))
        return [(r.action, r.username, r.note) for r in rows]


@pytest.fixture
def clerk(engine):
    with Session(engine) as s:
        user = auth.create_user(s, SYSTEM, "clerk", PASSWORD, Role.CENTER, display_name="小王")
        s.commit()
        return auth.actor_for(user)


# --- first start --------------------------------------------------------------------------


def test_first_start_asks_for_the_first_administrator_and_logs_them_in(engine):
    at = app().run()
    assert any("还没有任何账号" in w.value for w in at.warning)
    fields = {w.label: w for w in at.text_input}
    assert list(fields) == ["用户名", "姓名", "密码（至少 10 个字符）", "再次输入密码"]
    assert all(not w.value for w in at.text_input)  # nothing pre-filled, no default password
    fields["用户名"].input("boss")
    fields["密码（至少 10 个字符）"].input(PASSWORD)
    fields["再次输入密码"].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert "当前用户：boss" in sidebar_text(at) and "角色：管理员" in sidebar_text(at)
    assert at.session_state["actor"].role is Role.ADMIN
    assert [a for a, _, _ in audit_actions(engine)] == [
        AuditAction.CREATE,
        AuditAction.CREATE,
        AuditAction.LOGIN,
    ]
    # with an account in place, a new visitor gets the login form, not the admin form
    assert on_login_form(app().run())


def test_first_administrator_form_checks_the_confirmation_and_the_length(engine):
    at = app().run()
    fields = {w.label: w for w in at.text_input}
    fields["用户名"].input("boss")
    fields["密码（至少 10 个字符）"].input("short")
    fields["再次输入密码"].input("short")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["密码：至少 10 个字符"]
    fields = {w.label: w for w in at.text_input}
    fields["密码（至少 10 个字符）"].input(PASSWORD)
    fields["再次输入密码"].input(PASSWORD + "x")
    at.button[0].click().run()
    assert [e.value for e in at.error] == ["两次输入的密码不一致"]
    with Session(engine) as session:
        assert not auth.has_users(session)


# --- login, lockout, logout ---------------------------------------------------------------


def test_login_with_the_right_password_shows_the_home_page_and_who_is_logged_in(engine, clerk):
    at = app().run()
    assert on_login_form(at) and not at.sidebar.button
    log_in(at, "clerk", PASSWORD)
    assert "当前用户：小王" in sidebar_text(at) and "角色：城运中心" in sidebar_text(at)
    assert at.session_state["actor"] == clerk
    assert titles(at) == ["12345 热线督办台账"] and not on_login_form(at)


def test_a_wrong_password_keeps_the_login_form_with_a_message(engine, clerk):
    at = log_in(app().run(), "clerk", "wrong password")
    assert [e.value for e in at.error] == [auth.BAD_CREDENTIALS]
    assert on_login_form(at) and "actor" not in at.session_state


def test_five_wrong_passwords_lock_the_account_with_a_message(engine, clerk):
    at = app().run()
    for _ in range(5):
        log_in(at, "clerk", "wrong password")
    assert at.error[0].value == auth.BAD_CREDENTIALS  # no hint that this name exists
    log_in(at, "clerk", PASSWORD)
    assert at.error[0].value == auth.BAD_CREDENTIALS and "actor" not in at.session_state
    assert [a for a, _, _ in audit_actions(engine)][-3:] == [
        AuditAction.LOGIN_FAILED,
        AuditAction.LOCKED,
        AuditAction.LOGIN_FAILED,
    ]


def test_logout_forgets_the_session_and_is_audited(engine, clerk):
    at = log_in(app().run(), "clerk", PASSWORD)
    at.session_state["ledger_filter"] = "something the page kept"
    at.sidebar.button(key="auth_logout").click().run()
    assert on_login_form(at)
    assert [i.value for i in at.info] == ["已退出登录"]
    assert "ledger_filter" not in at.session_state and "actor" not in at.session_state
    assert audit_actions(engine)[-1] == (AuditAction.LOGOUT, "clerk", "")


# --- idle expiry and account changes ------------------------------------------------------


def test_an_idle_session_expires_after_the_configured_time(engine, clerk):
    with Session(engine) as s:
        set_setting(s, SYSTEM, "idle_timeout_minutes", 10)
        s.commit()
    at = app()
    at.session_state["actor"] = clerk
    at.session_state["auth_last_activity"] = now() - timedelta(minutes=11)
    at.run()
    assert on_login_form(at)
    assert [i.value for i in at.info] == ["已超过 10 分钟未操作，登录已失效，请重新登录"]
    assert audit_actions(engine)[-1] == (AuditAction.LOGOUT, "clerk", "空闲超时自动退出")


def test_activity_within_the_timeout_keeps_the_session(engine, clerk):
    at = app()
    at.session_state["actor"] = clerk
    at.session_state["auth_last_activity"] = now() - timedelta(minutes=29)
    at.run()
    assert not on_login_form(at) and "当前用户：小王" in sidebar_text(at)
    assert at.session_state["auth_last_activity"] >= now() - timedelta(minutes=1)


def test_disabling_an_account_ends_its_running_session(engine, clerk):
    at = log_in(app().run(), "clerk", PASSWORD)
    with Session(engine) as s:
        auth.update_user(s, SYSTEM, clerk.user_id, {"active": False}, expected_version=None)
        s.commit()
    at.run()
    assert on_login_form(at)
    assert [i.value for i in at.info] == ["账号已停用或密码已被重置，请重新登录"]


def test_a_role_change_applies_to_a_running_session_at_once(engine, clerk):
    at = log_in(app().run(), "clerk", PASSWORD)
    at.switch_page("pages/audit_log.py")  # the center may read the log
    with Session(engine) as s:
        auth.update_user(s, SYSTEM, clerk.user_id, {"role": Role.LEADER}, expected_version=None)
        s.commit()
    at.run()
    assert at.session_state["actor"].role is Role.LEADER
    assert "操作日志" not in titles(at)  # a leader's page list has no 操作日志
    assert "角色：领导" in sidebar_text(at)


# --- pages by role, and reaching a page by URL --------------------------------------------

ALL_PAGES = {
    "pages/home.py", "pages/ledger.py", "pages/cases.py", "pages/case_new.py", "pages/boards.py",
    "pages/candidates.py", "pages/meetings.py", "pages/reports.py", "pages/cockpit.py",
    "pages/documents.py", "pages/templates.py", "pages/users.py", "pages/audit_log.py",
    "pages/settings.py", "pages/account.py", "pages/todo.py", "pages/chasing.py",
}  # fmt: skip
EVERYONE = {
    "pages/home.py",
    "pages/ledger.py",
    "pages/cases.py",
    "pages/boards.py",
    "pages/account.py",
}
READERS = {"pages/meetings.py", "pages/reports.py", "pages/cockpit.py"}
STAFF = {"pages/case_new.py", "pages/candidates.py", "pages/documents.py", "pages/audit_log.py", "pages/chasing.py"}  # fmt: skip
ADMIN_ONLY = {"pages/templates.py", "pages/users.py", "pages/settings.py"}
ALLOWED = {
    Role.ADMIN: ALL_PAGES - {"pages/todo.py"},
    Role.CENTER: EVERYONE | READERS | STAFF,
    Role.LEADER: EVERYONE | READERS,
    Role.UNIT: EVERYONE | {"pages/todo.py"},
}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_only_its_pages(engine, role):
    unit_id = None
    if role is Role.UNIT:
        with Session(engine) as session:
            unit_id = make_unit(session).id
            session.commit()
    at = app()
    at.session_state["actor"] = Actor(None, "someone", role, unit_id=unit_id)
    at.run()
    reachable = set()
    for path in sorted(ALL_PAGES):
        try:
            at.switch_page(path)
            reachable.add(path)
        except ValueError:
            pass
    assert reachable == ALLOWED[role]


def test_a_page_requested_before_login_opens_after_login(engine, clerk):
    at = app().run()
    at.switch_page("pages/account.py").run()  # e.g. a bookmarked /account
    assert on_login_form(at) and "我的账户" not in titles(at)
    log_in(at, "clerk", PASSWORD)
    assert titles(at) == ["我的账户"]


def test_a_page_file_never_runs_without_the_gate(engine, clerk, monkeypatch):
    """Streamlit runs pages/x.py alone until app.py has called st.navigation once in the
    process (its old pages/ folder mode); ui.common sends such a run through app.py."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import app_test

    monkeypatch.setattr(app_test, "PagesManager", PagesManager)  # AppTest's own behaviour
    at = app().run()
    at.switch_page("pages/users.py").run()
    assert on_login_form(at) and "用户管理" not in titles(at)


# --- 我的账户 -------------------------------------------------------------------------------


def test_a_user_changes_their_password_on_my_account_and_stays_logged_in(engine, clerk):
    at = log_in(app().run(), "clerk", PASSWORD)
    at.switch_page("pages/account.py").run()
    fields = {w.label: w for w in at.text_input}
    fields["原密码"].input(PASSWORD)
    fields["新密码（至少 10 个字符）"].input("a new secret 1")
    fields["再次输入新密码"].input("a new secret 1")
    at.button[0].click().run()
    assert [s.value for s in at.success] == ["密码已修改"]
    at.run()
    assert not on_login_form(at)  # this session stays; other sessions of the account end
    with Session(engine) as s:
        assert auth.authenticate(s, "clerk", "a new secret 1").actor == clerk


def test_my_account_lists_my_recent_logins(engine, clerk):
    at = app().run()
    log_in(at, "clerk", "wrong password")
    log_in(at, "clerk", PASSWORD)
    at.switch_page("pages/account.py").run()
    events = list(at.dataframe[1].value["事件"])
    assert events == ["登录", "登录失败"]
