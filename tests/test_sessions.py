"""Login sessions that last across reloads and tabs, and end on logout, the idle timeout, their
absolute end, a password reset or change, or the account being disabled (issue 14)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from duban import auth, sessions
from duban.clock import now
from duban.enums import AuditAction, Role
from duban.models import AuditLog, LoginSession
from duban.permissions import SYSTEM, Actor
from duban.settings import set_setting

PASSWORD = "correct horse 1"


@pytest.fixture
def clerk(session: Session) -> Actor:
    user = auth.create_user(session, SYSTEM, "clerk", PASSWORD, Role.CENTER, display_name="小王")
    session.commit()
    return auth.actor_for(user)


def stored(session: Session) -> list[LoginSession]:
    return list(session.exec(select(LoginSession).order_by(LoginSession.id)))


def last_logout_note(session: Session) -> str:
    row = session.exec(
        select(AuditLog).where(AuditLog.action == AuditAction.LOGOUT).order_by(AuditLog.id.desc())
    ).first()
    return row.note if row else ""


def test_the_database_keeps_only_the_hash_of_a_random_token(session: Session, clerk) -> None:
    first = sessions.start(session, clerk.user_id)
    second = sessions.start(session, clerk.user_id)
    rows = stored(session)
    assert first != second and len(first) >= 43  # 32 random bytes, URL-safe
    assert [r.token_hash for r in rows] == [sessions.hash_token(first), sessions.hash_token(second)]
    assert all(first not in r.token_hash and len(r.token_hash) == 64 for r in rows)
    assert rows[0].expires_at - rows[0].created_at == sessions.MAX_AGE


def test_a_token_resumes_its_user_with_current_rights(session: Session, clerk) -> None:
    token = sessions.start(session, clerk.user_id)
    session.commit()
    assert sessions.resume(session, token).actor == clerk
    auth.update_user(session, SYSTEM, clerk.user_id, {"role": Role.LEADER}, expected_version=None)
    assert sessions.resume(session, token).actor.role is Role.LEADER


@pytest.mark.parametrize("token", ["", "guessed", "x" * 43])
def test_an_unknown_token_resumes_nobody(session: Session, clerk, token: str) -> None:
    sessions.start(session, clerk.user_id)
    assert sessions.resume(session, token) == sessions.Resumed(None)


def test_logout_ends_the_session_server_side(session: Session, clerk) -> None:
    token = sessions.start(session, clerk.user_id)
    assert sessions.end(session, token, "退出登录")
    assert sessions.resume(session, token) == sessions.Resumed(None, "已退出登录")  # a copy too
    assert not sessions.end(session, token, "退出登录")
    assert stored(session)[0].end_reason == "退出登录"


def test_an_idle_session_ends_after_the_configured_time(session: Session, clerk) -> None:
    set_setting(session, SYSTEM, "idle_timeout_minutes", 10)
    start = now()
    token = sessions.start(session, clerk.user_id, at=start)
    assert sessions.resume(session, token, at=start + timedelta(minutes=9)).actor == clerk
    late = sessions.resume(session, token, at=start + timedelta(minutes=19, seconds=1))
    assert late == sessions.Resumed(None, "已超过 10 分钟未操作，登录已失效，请重新登录")
    assert stored(session)[0].end_reason == "空闲超时"
    assert last_logout_note(session) == "空闲超时自动退出"
    assert sessions.resume(session, token, at=start + timedelta(minutes=20)).notice == (
        "登录已失效，请重新登录"
    )


def test_activity_in_any_tab_keeps_the_session_alive(session: Session, clerk) -> None:
    start = now()
    token = sessions.start(session, clerk.user_id, at=start)
    for minutes in (20, 40, 60, 80):  # each run within the 30 minutes of the last
        assert sessions.resume(session, token, at=start + timedelta(minutes=minutes)).actor
    assert stored(session)[0].last_seen_at == start + timedelta(minutes=80)


def test_a_session_ends_at_its_absolute_end_however_active(session: Session, clerk) -> None:
    start = now()
    token = sessions.start(session, clerk.user_id, at=start)
    at = start
    while at + timedelta(minutes=25) < start + sessions.MAX_AGE:
        at += timedelta(minutes=25)
        assert sessions.resume(session, token, at=at).actor == clerk
    ended = sessions.resume(session, token, at=start + sessions.MAX_AGE)
    assert ended == sessions.Resumed(None, "登录已超过 12 小时，请重新登录")


def test_a_password_reset_ends_every_session_of_the_account_at_once(
    session: Session, clerk
) -> None:
    tokens = [sessions.start(session, clerk.user_id) for _ in range(2)]
    session.commit()
    admin = Actor(user_id=None, username="admin", role=Role.ADMIN)
    auth.reset_password(session, admin, clerk.user_id, "another secret 2")  # same second
    for token in tokens:
        assert sessions.resume(session, token) == sessions.Resumed(None, sessions.ACCOUNT_CHANGED)
    assert [r.end_reason for r in stored(session)] == ["密码已修改或重置"] * 2
    fresh = sessions.start(session, clerk.user_id)  # logging in again works
    assert sessions.resume(session, fresh).actor == clerk


def test_a_password_changed_in_the_database_after_login_ends_the_session(
    session: Session, clerk
) -> None:
    """Even a change that bypassed the services (raw SQL) ends sessions begun before it."""
    start = now()
    token = sessions.start(session, clerk.user_id, at=start)
    session.execute(
        text('UPDATE "user" SET password_changed_at = :at'), {"at": start + timedelta(minutes=1)}
    )
    resumed = sessions.resume(session, token, at=start + timedelta(minutes=2))
    assert resumed == sessions.Resumed(None, sessions.ACCOUNT_CHANGED)


def test_disabling_the_account_ends_its_sessions(session: Session, clerk) -> None:
    token = sessions.start(session, clerk.user_id)
    auth.update_user(session, SYSTEM, clerk.user_id, {"active": False}, expected_version=None)
    assert sessions.resume(session, token).notice == sessions.ACCOUNT_CHANGED
    auth.update_user(session, SYSTEM, clerk.user_id, {"active": True}, expected_version=None)
    assert sessions.resume(session, token).actor is None  # enabling again does not revive it
