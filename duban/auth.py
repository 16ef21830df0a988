"""Accounts: Argon2 passwords, login with lockout, idle expiry, and the admin's user management.

Rules (issue #8):
- no default password anywhere: the first administrator is created on first start (or by
  `python -m duban user add … --role admin`);
- passwords are hashed with Argon2id (argon2-cffi) and must be at least
  `MIN_PASSWORD_LENGTH` characters;
- `MAX_FAILED_LOGINS` wrong passwords in a row lock the account for `LOCK_MINUTES`; every
  login, failure, lock and logout is written to the audit log;
- a session ends after `idle_timeout_minutes` (a setting) without interaction.

Like every service, these functions leave the commit to the caller. `authenticate` therefore
reports a failed login as a result instead of raising, so the caller commits the failure
counter and its audit rows too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, update
from sqlmodel import Session, select

from duban import audit, records
from duban.clock import now
from duban.enums import AuditAction, Role
from duban.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from duban.models import AuditLog, LoginSession, Unit, User
from duban.permissions import Actor, Perm
from duban.settings import get_setting

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128  # bounds the hashing work a single request can ask for
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
USERNAME_PATTERN = re.compile(r"[\w.@-]{2,50}")
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
BAD_CREDENTIALS = "用户名或密码错误"

_hasher = PasswordHasher()
_dummy_hash: str | None = None


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a login attempt: the actor on success, else the message to show."""

    actor: Actor | None
    message: str = ""


# --- passwords ----------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _burn_verify(password: str) -> None:
    """Spend the time of a real verification, so an unknown username is not revealed by timing."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("duban-no-such-user")
    verify_password(_dummy_hash, password)


def validate_password(password: str, username: str = "") -> None:
    """Refuse a weak password with a message naming the rule."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"密码：至少 {MIN_PASSWORD_LENGTH} 个字符")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"密码：最多 {MAX_PASSWORD_LENGTH} 个字符")
    if password.strip() != password:
        raise ValidationError("密码：首尾不能是空格")
    if username and password.lower() == username.lower():
        raise ValidationError("密码：不能与用户名相同")


# --- field checks -------------------------------------------------------------------------


def clean_username(username: str) -> str:
    name = (username or "").strip()
    if not USERNAME_PATTERN.fullmatch(name):
        raise ValidationError(
            "用户名：2–50 个字符，只能包含汉字、字母、数字和 _ . @ -（不能有空格）"
        )
    return name


def clean_display_name(text: str) -> str:
    name = (text or "").strip()
    if CONTROL_CHARS.search(name):
        raise ValidationError("姓名：不能包含控制字符")
    if len(name) > 50:
        raise ValidationError("姓名：最多 50 个字符")
    return name


def _check_unit(session: Session, role: Role, unit_id: int | None) -> int | None:
    """A unit user belongs to exactly one live unit; other roles to none."""
    if role is not Role.UNIT:
        if unit_id is not None:
            raise ValidationError(f"所属单位：只有“{Role.UNIT.label}”角色需要填写所属单位")
        return None
    if unit_id is None:
        raise ValidationError(f"所属单位：“{Role.UNIT.label}”角色必须选择所属单位")
    unit = session.get(Unit, unit_id)
    if unit is None or unit.deleted_at is not None:
        raise ValidationError(f"所属单位：编号 {unit_id} 的单位不存在或已删除")
    return unit_id


def find_user(session: Session, username: str) -> User | None:
    """A user by name, ignoring case (`Admin` and `admin` are one account)."""
    stmt = select(User).where(func.lower(User.username) == (username or "").strip().lower())
    return session.exec(stmt).first()


def _get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"用户（编号 {user_id}）不存在")
    return user


def actor_for(user: User) -> Actor:
    """The Actor the services see for a logged-in user."""
    return Actor(
        user_id=user.id,
        username=user.username,
        role=user.role,
        unit_id=user.unit_id,
        can_see_contacts=user.can_see_contacts,
    )


# --- creating accounts --------------------------------------------------------------------


def has_users(session: Session) -> bool:
    return session.exec(select(User.id).limit(1)).first() is not None


def _insert_user(
    session: Session,
    actor: Actor | None,
    username: str,
    password: str,
    role: Role,
    *,
    unit_id: int | None,
    display_name: str,
    can_see_contacts: bool,
    note: str,
) -> User:
    name = clean_username(username)
    validate_password(password, name)
    if find_user(session, name) is not None:
        raise ConflictError(f"用户名“{name}”已存在")
    user = User(
        username=name,
        display_name=clean_display_name(display_name),
        role=Role(role),
        unit_id=_check_unit(session, Role(role), unit_id),
        can_see_contacts=bool(can_see_contacts) and Role(role) is Role.LEADER,
        password_hash=hash_password(password),
        password_changed_at=now(),
    )
    session.add(user)
    session.flush()
    who = actor or actor_for(user)
    unit = session.get(Unit, user.unit_id) if user.unit_id else None
    details = f"角色：{user.role.label}" + (f"；单位：{unit.name}" if unit else "")
    audit.record(
        session, who, AuditAction.CREATE, "user", user.id, field="username", new=name, note=note
    )
    audit.record(session, who, AuditAction.CREATE, "user", user.id, field="role", new=details)
    return user


def create_user(
    session: Session,
    actor: Actor,
    username: str,
    password: str,
    role: Role,
    *,
    unit_id: int | None = None,
    display_name: str = "",
    can_see_contacts: bool = False,
) -> User:
    """An admin creates an account (a unit user needs their unit); audited, caller commits."""
    actor.require(Perm.MANAGE_USERS)
    return _insert_user(
        session,
        actor,
        username,
        password,
        role,
        unit_id=unit_id,
        display_name=display_name,
        can_see_contacts=can_see_contacts,
        note="",
    )


def create_first_admin(
    session: Session, username: str, password: str, *, display_name: str = ""
) -> Actor:
    """First start: the person at the keyboard becomes the administrator, once.

    Refused as soon as any account exists, so the form cannot be replayed later.
    """
    if has_users(session):
        raise ConflictError("系统已有用户，不能再次创建首个管理员，请用已有账号登录")
    user = _insert_user(
        session,
        None,
        username,
        password,
        Role.ADMIN,
        unit_id=None,
        display_name=display_name,
        can_see_contacts=False,
        note="首次启动创建管理员",
    )
    user.last_login_at = now()
    session.add(user)
    actor = actor_for(user)
    audit.record(session, actor, AuditAction.LOGIN, "user", user.id)
    return actor


# --- logging in and out -------------------------------------------------------------------


def authenticate(
    session: Session, username: str, password: str, *, at: datetime | None = None
) -> LoginResult:
    """Check a login; count failures, lock after too many, audit everything.

    Returns a result rather than raising so that the caller commits the failure counter and
    the audit rows of a failed attempt as well.
    """
    at = at or now()
    claimed = CONTROL_CHARS.sub("", (username or "").strip())[:50]
    user = find_user(session, claimed) if claimed else None
    if user is None:
        _burn_verify(password or "")
        anonymous = Actor(user_id=None, username=claimed, role=Role.UNIT)
        audit.record(session, anonymous, AuditAction.LOGIN_FAILED, "user", note="用户名不存在")
        return LoginResult(None, BAD_CREDENTIALS)
    claimant = Actor(user_id=None, username=user.username, role=user.role)
    if user.locked_until is not None and user.locked_until > at:
        audit.record(
            session,
            claimant,
            AuditAction.LOGIN_FAILED,
            "user",
            user.id,
            note="账号锁定期间尝试登录",
        )
        return LoginResult(
            None, f"账号已锁定，请于 {user.locked_until:%H:%M} 后再试，或联系管理员解锁"
        )
    if not verify_password(user.password_hash, password or ""):
        return LoginResult(None, _count_failure(session, user, claimant, at))
    if not user.active:
        audit.record(
            session, claimant, AuditAction.LOGIN_FAILED, "user", user.id, note="账号已停用"
        )
        return LoginResult(None, "账号已停用，请联系管理员")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, at
    session.add(user)
    actor = actor_for(user)
    audit.record(session, actor, AuditAction.LOGIN, "user", user.id)
    return LoginResult(actor)


def _count_failure(session: Session, user: User, claimant: Actor, at: datetime) -> str:
    """One more wrong password; the last allowed one locks the account."""
    user.failed_logins += 1
    audit.record(
        session,
        claimant,
        AuditAction.LOGIN_FAILED,
        "user",
        user.id,
        field="failed_logins",
        new=user.failed_logins,
        note="密码错误",
    )
    if user.failed_logins < MAX_FAILED_LOGINS:
        session.add(user)
        return BAD_CREDENTIALS
    user.failed_logins = 0
    user.locked_until = at + timedelta(minutes=LOCK_MINUTES)
    session.add(user)
    audit.record(
        session,
        claimant,
        AuditAction.LOCKED,
        "user",
        user.id,
        field="locked_until",
        new=user.locked_until,
        note=f"连续 {MAX_FAILED_LOGINS} 次密码错误",
    )
    return (
        f"连续 {MAX_FAILED_LOGINS} 次密码错误，账号已锁定 {LOCK_MINUTES} 分钟"
        f"（至 {user.locked_until:%H:%M}）"
    )


def logout(session: Session, actor: Actor, *, reason: str = "") -> None:
    """Record the end of a session (the UI forgets the actor)."""
    audit.record(session, actor, AuditAction.LOGOUT, "user", actor.user_id, note=reason)


def idle_timeout(session: Session) -> timedelta:
    return timedelta(minutes=int(get_setting(session, "idle_timeout_minutes")))


def is_expired(last_activity: datetime, timeout: timedelta, *, at: datetime | None = None) -> bool:
    """A session idle for longer than the timeout has ended."""
    return (at or now()) - last_activity > timeout


def refresh_actor(session: Session, user_id: int, logged_in_at: datetime) -> Actor | None:
    """The current rights of a logged-in user, or None if the session must end.

    Checked on every page run: a disabled account, or a password reset after this session
    began, ends the session; a role change applies at once.
    """
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None
    if user.password_changed_at is not None and user.password_changed_at > logged_in_at:
        return None
    return actor_for(user)


# --- own account --------------------------------------------------------------------------


def change_own_password(session: Session, actor: Actor, old: str, new: str) -> None:
    """A user changes their own password, proving the old one; audited without any hash."""
    if actor.user_id is None:
        raise PermissionDenied("当前账号不是登录用户，不能修改密码")
    user = _get_user(session, actor.user_id)
    if not verify_password(user.password_hash, old or ""):
        raise ValidationError("原密码：不正确")
    validate_password(new, user.username)
    if verify_password(user.password_hash, new):
        raise ValidationError("新密码：不能与原密码相同")
    _set_password(session, actor, user, new, note="本人修改密码")


def _set_password(session: Session, actor: Actor, user: User, password: str, note: str) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = now()
    user.failed_logins, user.locked_until = 0, None
    user.version += 1
    user.updated_at = now()
    session.add(user)
    end_sessions(session, user.id, "密码已修改或重置")
    audit.record(
        session,
        actor,
        AuditAction.UPDATE,
        "user",
        user.id,
        field="password",
        new="******",
        note=note,
    )


# --- administration -----------------------------------------------------------------------


def list_users(session: Session, actor: Actor) -> list[User]:
    actor.require(Perm.MANAGE_USERS)
    return list(session.exec(select(User).order_by(User.username)))


def reset_password(session: Session, actor: Actor, user_id: int, new: str) -> None:
    """An admin sets a new password for a user (and so also lifts a lock)."""
    actor.require(Perm.MANAGE_USERS)
    user = _get_user(session, user_id)
    validate_password(new, user.username)
    _set_password(session, actor, user, new, note="管理员重置密码")


def unlock_user(session: Session, actor: Actor, user_id: int) -> None:
    """An admin lifts a lock before its 15 minutes are over."""
    actor.require(Perm.MANAGE_USERS)
    user = _get_user(session, user_id)
    records.apply_changes(
        session,
        actor,
        user,
        {"locked_until": None, "failed_logins": 0},
        expected_version=None,
        label=f"用户 {user.username}",
        note="管理员解除锁定",
    )


EDITABLE = {"display_name", "role", "unit_id", "can_see_contacts", "active"}


def update_user(
    session: Session,
    actor: Actor,
    user_id: int,
    values: dict[str, Any],
    *,
    expected_version: int | None,
) -> dict[str, tuple[Any, Any]]:
    """An admin changes a user's name, role, unit, contact grant or enables/disables them.

    An admin cannot disable or demote themselves, and the last active administrator stays,
    so the system is never left without anyone who can manage it.
    """
    actor.require(Perm.MANAGE_USERS)
    unknown = set(values) - EDITABLE
    if unknown:
        raise ValidationError(f"不能修改的用户字段：{'、'.join(sorted(unknown))}")
    user = _get_user(session, user_id)
    merged = {k: getattr(user, k) for k in EDITABLE} | values
    role = Role(merged["role"])
    clean = {
        "display_name": clean_display_name(merged["display_name"]),
        "role": role,
        "unit_id": _check_unit(session, role, merged["unit_id"]),
        "can_see_contacts": bool(merged["can_see_contacts"]) and role is Role.LEADER,
        "active": bool(merged["active"]),
    }
    stays_admin = clean["active"] and role is Role.ADMIN
    if user.role is Role.ADMIN and user.active and not stays_admin:
        if user.id == actor.user_id:
            raise ValidationError("不能停用自己的账号或取消自己的管理员角色")
        _require_another_admin(session, user)
    changes = records.apply_changes(
        session,
        actor,
        user,
        clean,
        expected_version=expected_version,
        label=f"用户 {user.username}",
    )
    if clean["active"] and "active" in changes:
        user.failed_logins, user.locked_until = 0, None
        session.add(user)
    if not clean["active"]:
        end_sessions(session, user.id, "账号已停用")
    return changes


def end_sessions(session: Session, user_id: int | None, reason: str) -> None:
    """End every live login session of an account (password reset or change, disabled):
    its cookies in every browser stop working at once (duban.sessions)."""
    session.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=now(), end_reason=reason)
    )


def _require_another_admin(session: Session, user: User) -> None:
    stmt = select(func.count()).where(
        User.role == Role.ADMIN,
        User.active.is_(True),  # type: ignore[attr-defined]
        User.id != user.id,
    )
    if session.exec(stmt).one() == 0:
        raise ValidationError(f"{user.username} 是唯一启用的管理员，不能停用或改为其他角色")


LOGIN_EVENTS = (AuditAction.LOGIN, AuditAction.LOGIN_FAILED, AuditAction.LOCKED, AuditAction.LOGOUT)


def login_history(session: Session, actor: Actor, limit: int = 20) -> list[AuditLog]:
    """A user's own recent logins, failures and locks, newest first (shown on 我的账户,
    so a user notices attempts on their account)."""
    if actor.user_id is None:
        return []
    stmt = (
        select(AuditLog)
        .where(
            AuditLog.entity == "user",
            AuditLog.entity_id == actor.user_id,
            AuditLog.action.in_(LOGIN_EVENTS),  # type: ignore[union-attr]
        )
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())  # type: ignore[union-attr]
        .limit(limit)
    )
    return list(session.exec(stmt))


def unit_choices(session: Session) -> list[Unit]:
    """The live units a unit account can belong to, by name."""
    stmt = select(Unit).where(Unit.deleted_at.is_(None)).order_by(Unit.name)  # type: ignore[union-attr]
    return list(session.exec(stmt))
