"""The login gate run by app.py before any page: first administrator, login, idle expiry,
the account box in the sidebar, logout.

Session keys (Streamlit session state is per browser tab and lives on the server):
- `actor`: the logged-in `Actor`; pages read it through `ui.common.actor()`. AppTest tests
  set it directly to act as a user.
- `auth_last_activity`: time of the last page run, for the idle timeout.
- `auth_login_at`: set only by a real login; from then on each run re-reads the account, so
  disabling it or resetting its password ends the session and a role change applies at once.
- `auth_notice`: a message for the login form (timed out, logged out).
- `auth_token`: the token of the server-side login session (`duban.sessions`); the browser
  keeps it in the cookie `duban_session`, so a reload, a new tab or a bookmark resumes the
  session. Streamlit can read cookies (`st.context.cookies`, those sent when the tab
  connected) but not set them: a tiny same-origin script (`st.html`) sets and clears it.
  Without a token (AppTest sets `actor` directly) the tab-local checks below apply.
- `auth_cookie_clear`: set when a session ended, so the login form clears the cookie.
"""

from __future__ import annotations

import json
from datetime import datetime

import streamlit as st
from sqlmodel import Session

from duban import auth, sessions, units
from duban.clock import now
from duban.permissions import Actor
from ui.common import engine, user_action

ACTOR_KEY = "actor"
LAST_ACTIVITY_KEY = "auth_last_activity"
LOGIN_AT_KEY = "auth_login_at"
NOTICE_KEY = "auth_notice"
TOKEN_KEY = "auth_token"
CLEAR_COOKIE_KEY = "auth_cookie_clear"
COOKIE = "duban_session"


def start_session(actor: Actor, at: datetime | None = None) -> None:
    """Log this tab in and begin the server-side session whose token the cookie keeps."""
    at = at or now()
    if actor.user_id is not None:
        with Session(engine()) as session:
            st.session_state[TOKEN_KEY] = sessions.start(session, actor.user_id, at=at)
            session.commit()
    st.session_state[ACTOR_KEY] = actor
    st.session_state[LOGIN_AT_KEY] = at
    st.session_state[LAST_ACTIVITY_KEY] = at
    st.session_state.pop(NOTICE_KEY, None)
    st.session_state.pop(CLEAR_COOKIE_KEY, None)


def renew_after_password_change(actor: Actor) -> None:
    """A changed password ends every session of the account; this tab gets a new one."""
    token = st.session_state.get(TOKEN_KEY)
    if token:
        with Session(engine()) as session:
            sessions.end(session, token, "修改密码")
            session.commit()
    start_session(actor)


def end_session(notice: str) -> None:
    """Forget everything this tab held (pages keep data in session state), keep a notice,
    and have the login form clear the cookie."""
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    st.session_state[NOTICE_KEY] = notice
    st.session_state[CLEAR_COOKIE_KEY] = True


def _cookie_script(token: str | None) -> str:
    """Set (or, for None, clear) the session cookie from the page: first-party, Path=/,
    SameSite=Strict, Secure when served over HTTPS; it lasts as long as the session may."""
    if token is None:
        value, age = "", 0
    else:
        value, age = token, int(sessions.MAX_AGE.total_seconds())
    cookie = json.dumps(f"{COOKIE}={value}; Path=/; Max-Age={age}; SameSite=Strict")
    return (
        f"<script>document.cookie = {cookie} + "
        '(window.location.protocol === "https:" ? "; Secure" : "");</script>'
    )


def _resume_from_token(token: str, logged_in_here: bool) -> Actor | None:
    """The actor of a server-side session; when it has ended, this tab forgets everything
    (with the reason, if the session ended just now or this tab was logged in)."""
    with Session(engine()) as session:
        resumed = sessions.resume(session, token)
        session.commit()
    if resumed.actor is None:
        if logged_in_here or resumed.notice:
            end_session(resumed.notice or "登录已失效，请重新登录")
        return None
    st.session_state[ACTOR_KEY] = resumed.actor
    st.session_state[TOKEN_KEY] = token
    return resumed.actor


def current_actor() -> Actor | None:
    """The actor for this run, after the idle timeout and the account re-check; None if
    nobody is logged in (any more). A new tab or a reload resumes the cookie's session."""
    actor: Actor | None = st.session_state.get(ACTOR_KEY)
    token: str | None = st.session_state.get(TOKEN_KEY)
    if token:
        return _resume_from_token(token, logged_in_here=True)
    if actor is None:
        cookie = st.context.cookies.get(COOKIE)
        if isinstance(cookie, str) and cookie and not st.session_state.get(CLEAR_COOKIE_KEY):
            return _resume_from_token(cookie, logged_in_here=False)
        return None
    at = now()
    last: datetime | None = st.session_state.get(LAST_ACTIVITY_KEY)
    login_at: datetime | None = st.session_state.get(LOGIN_AT_KEY)
    with Session(engine()) as session:
        timeout = auth.idle_timeout(session)
        if last is not None and auth.is_expired(last, timeout, at=at):
            auth.logout(session, actor, reason="空闲超时自动退出")
            session.commit()
            minutes = int(timeout.total_seconds() // 60)
            end_session(f"已超过 {minutes} 分钟未操作，登录已失效，请重新登录")
            return None
        if login_at is not None and actor.user_id is not None:
            fresh = auth.refresh_actor(session, actor.user_id, login_at)
            if fresh is None:
                auth.logout(session, actor, reason="账号已停用或密码已被重置")
                session.commit()
                end_session("账号已停用或密码已被重置，请重新登录")
                return None
            actor = fresh
            st.session_state[ACTOR_KEY] = fresh
    st.session_state[LAST_ACTIVITY_KEY] = at
    return actor


def login_page() -> None:
    """No users yet: create the first administrator. Otherwise: the login form."""
    st.title("12345 热线督办台账")
    if st.session_state.get(CLEAR_COOKIE_KEY):
        st.html(_cookie_script(None), unsafe_allow_javascript=True)
    notice = st.session_state.get(NOTICE_KEY)
    if notice:
        st.info(notice)
    with Session(engine()) as session:
        first_run = not auth.has_users(session)
    if first_run:
        _first_admin_form()
    else:
        _login_form()


def _login_form() -> None:
    with st.form("auth_login_form"):
        st.subheader("登录")
        username = st.text_input("用户名", max_chars=50, autocomplete="username")
        password = st.text_input(
            "密码",
            type="password",
            max_chars=auth.MAX_PASSWORD_LENGTH,
            autocomplete="current-password",
        )
        submitted = st.form_submit_button("登录", type="primary")
    if not submitted:
        return
    with user_action():
        with Session(engine()) as session:
            result = auth.authenticate(session, username, password)
            session.commit()
        if result.actor is None:
            st.error(result.message)
            return
        start_session(result.actor)
        st.rerun()


def new_password_inputs(label: str) -> tuple[str, str]:
    """A new password and its confirmation, limited as `duban.auth` checks them (the label
    names which password: 密码, 新密码, 初始密码)."""
    password = st.text_input(
        f"{label}（至少 {auth.MIN_PASSWORD_LENGTH} 个字符）",
        type="password",
        max_chars=auth.MAX_PASSWORD_LENGTH,
    )
    confirm = st.text_input(f"再次输入{label}", type="password", max_chars=auth.MAX_PASSWORD_LENGTH)
    return password, confirm


def _first_admin_form() -> None:
    st.warning("系统中还没有任何账号。请创建第一个管理员账号（此后用它登录并为其他人开设账号）。")
    with st.form("auth_first_admin_form"):
        st.subheader("创建管理员")
        username = st.text_input("用户名", max_chars=50)
        display_name = st.text_input("姓名", max_chars=50)
        password, confirm = new_password_inputs("密码")
        submitted = st.form_submit_button("创建并登录", type="primary")
    if not submitted:
        return
    if password != confirm:
        st.error("两次输入的密码不一致")
        return
    with user_action():
        with Session(engine()) as session:
            actor = auth.create_first_admin(session, username, password, display_name=display_name)
            session.commit()
        start_session(actor)
        st.rerun()


def account_sidebar(actor: Actor) -> None:
    """Who is logged in, and the logout button, on every page."""
    unit_name = ""
    if actor.unit_id is not None:
        with Session(engine()) as session:
            unit_name = units.unit_name(session, actor, actor.unit_id) or ""
    with st.sidebar:
        token = st.session_state.get(TOKEN_KEY)
        if token:  # first in the run: a reload right after login already finds the cookie
            st.html(_cookie_script(token), unsafe_allow_javascript=True)
        st.text(f"当前用户：{actor.name}")
        st.text(f"角色：{actor.role.label}" + (f"（{unit_name}）" if unit_name else ""))
        if st.button("退出登录", key="auth_logout", icon=":material/logout:"):
            with user_action():
                with Session(engine()) as session:
                    auth.logout(session, actor)
                    if token:
                        sessions.end(session, token, "退出登录")
                    session.commit()
                end_session("已退出登录")
                st.rerun()
