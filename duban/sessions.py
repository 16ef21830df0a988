"""Login sessions that outlive a browser tab: a reload, a new tab or a bookmark stays logged in.

The browser keeps only a random token (in a cookie, see docs/DEPLOY.md); the database keeps
its SHA-256, the user, when it began, when it was last seen and when it ends at the latest.
Every page run resumes the session from the token, and the session ends — server-side, so a
copied token stops working too — on logout, after the idle timeout, at its absolute end, when
the account is disabled or its password is reset (or changed, elsewhere).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from duban import auth
from duban.clock import now
from duban.models import LoginSession, User
from duban.permissions import Actor

MAX_AGE = timedelta(hours=12)  # a working day; the idle timeout usually ends it sooner
TOUCH_EVERY = timedelta(seconds=30)  # last_seen is written at most this often per session
TOKEN_BYTES = 32

__all__ = ["MAX_AGE", "Resumed", "end", "hash_token", "resume", "start"]


@dataclass(frozen=True)
class Resumed:
    """The outcome of presenting a token: the actor, or why the session is over ("" when
    the token is unknown)."""

    actor: Actor | None
    notice: str = ""


def hash_token(token: str) -> str:
    """What the table stores for a token: its SHA-256 (the token has 256 random bits, so a
    fast hash suffices; no salt is needed against guessing)."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def start(session: Session, user_id: int, *, at: datetime | None = None) -> str:
    """Begin a session for a user who has just proved who they are; returns the token (the
    only copy: the database keeps its hash)."""
    at = at or now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        LoginSession(
            user_id=user_id,
            token_hash=hash_token(token),
            created_at=at,
            last_seen_at=at,
            expires_at=at + MAX_AGE,
        )
    )
    session.flush()
    return token


# why an ended session ended (LoginSession.end_reason) → what the login form says
ACCOUNT_CHANGED = "账号已停用或密码已被重置，请重新登录"
ENDED_NOTICES = {
    "密码已修改或重置": ACCOUNT_CHANGED,
    "账号已停用": ACCOUNT_CHANGED,
    "账号已停用或密码已重置": ACCOUNT_CHANGED,
    "退出登录": "已退出登录",
}


def _find(session: Session, token: str) -> LoginSession | None:
    return session.exec(
        select(LoginSession).where(LoginSession.token_hash == hash_token(token))
    ).first()


def _live(session: Session, token: str) -> LoginSession | None:
    row = _find(session, token) if token else None
    return row if row is not None and row.ended_at is None else None


def _close(session: Session, row: LoginSession, reason: str, at: datetime) -> None:
    row.ended_at = at
    row.end_reason = reason
    session.add(row)


def resume(session: Session, token: str, *, at: datetime | None = None) -> Resumed:
    """The user a token stands for, with their current rights; ends the session (and says
    why) when it is idle, past its end, or the account was disabled or its password reset."""
    at = at or now()
    row = _find(session, token) if token else None
    if row is None:
        return Resumed(None)
    if row.ended_at is not None:
        return Resumed(None, ENDED_NOTICES.get(row.end_reason, "登录已失效，请重新登录"))
    user = session.get(User, row.user_id)
    if (
        user is None
        or not user.active
        or (user.password_changed_at is not None and user.password_changed_at > row.created_at)
    ):
        _close(session, row, "账号已停用或密码已重置", at)
        if user is not None:
            auth.logout(session, auth.actor_for(user), reason="账号已停用或密码已被重置")
        return Resumed(None, ACCOUNT_CHANGED)
    actor = auth.actor_for(user)
    timeout = auth.idle_timeout(session)
    if auth.is_expired(row.last_seen_at, timeout, at=at):
        _close(session, row, "空闲超时", at)
        auth.logout(session, actor, reason="空闲超时自动退出")
        minutes = int(timeout.total_seconds() // 60)
        return Resumed(None, f"已超过 {minutes} 分钟未操作，登录已失效，请重新登录")
    if at >= row.expires_at:
        _close(session, row, "登录已到期", at)
        auth.logout(session, actor, reason="登录已到期")
        hours = int(MAX_AGE.total_seconds() // 3600)
        return Resumed(None, f"登录已超过 {hours} 小时，请重新登录")
    if at - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = at
        session.add(row)
    return Resumed(actor)


def end(session: Session, token: str, reason: str, *, at: datetime | None = None) -> bool:
    """End the session of a token (logout, a password change); False if it was not live."""
    row = _live(session, token)
    if row is None:
        return False
    _close(session, row, reason, at or now())
    return True
