"""Accounts: Argon2 passwords, login with lockout, idle expiry, and the admin's user management.

Rules (issue #8):
- no default password anywhere: the first administrator is created on first start (or by
  `python -m duban user add … --role admin`);
- passwords are hashed with Argon2id (argon2-cffi), must be at least `MIN_PASSWORD_LENGTH`
  characters and not common, repeated or sequential (issue #15);
- `MAX_FAILED_LOGINS` wrong passwords in a row lock the account for `LOCK_MINUTES`; the count
  moves by one atomic UPDATE, so parallel guesses cannot slip past it (issue #15); every
  login, failure, lock and logout is written to the audit log, while the person at the login
  form reads one message for every refusal (no hint which usernames exist or are locked);
- usernames are compared folded in Python (NFKC + casefold, `username_key`);
- a session ends after `idle_timeout_minutes` (a setting) without interaction.

Like every service, these functions leave the commit to the caller. `authenticate` therefore
reports a failed login as a result instead of raising, so the caller commits the failure
counter and its audit rows too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Connection, case, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from duban import audit, records
from duban.clock import now
from duban.enums import AuditAction, Role
from duban.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from duban.models import AuditLog, LoginSession, SetupGuard, Unit, User
from duban.permissions import Actor, Perm
from duban.records import get_live
from duban.settings import get_setting
from duban.text import fold_username

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128  # bounds the hashing work a single request can ask for
MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15
USERNAME_PATTERN = re.compile(r"[\w.@-]{2,50}")
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
BAD_CREDENTIALS = (
    f"用户名或密码错误（连续输错 {MAX_FAILED_LOGINS} 次账号锁定 {LOCK_MINUTES} 分钟，"
    "账号锁定或停用时请联系管理员）"
)
COMMON_PASSWORDS_FILE = Path(__file__).with_name("data") / "common-passwords.txt"
KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")

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
    if username and username_key(password) == username_key(username):
        raise ValidationError("密码：不能与用户名相同")
    folded = password.casefold()
    core = folded.strip("0123456789!@#$%^&*()_+-=.,?~ ")
    if folded in common_passwords() or (len(core) >= 4 and core in common_passwords()):
        raise ValidationError("密码：过于常见，容易被猜中，请换一个")
    if len(set(folded)) < 4 or re.fullmatch(r"(.+?)\1+", folded):
        raise ValidationError("密码：不能由少数字符或同一段字符重复组成")
    if _sequence_steps(folded) >= len(folded) - 2:
        raise ValidationError("密码：不能是连续的字母、数字或键盘顺序（如 1234567890、qwertyuiop）")


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of passwords attackers try first (folded, one a line)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _sequence_steps(text: str) -> int:
    """How many neighbouring pairs step along the alphabet/digits or a keyboard row."""
    steps = 0
    for a, b in zip(text, text[1:], strict=False):
        if abs(ord(a) - ord(b)) == 1 or any(a + b in row or b + a in row for row in KEYBOARD_ROWS):
            steps += 1
    return steps


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
    get_live(session, Unit, unit_id, "所属单位：单位", ValidationError)
    return unit_id


def username_key(username: str) -> str:
    """The folded form usernames are compared in (`duban.text.fold_username`)."""
    return fold_username(username)


def find_user(session: Session, username: str) -> User | None:
    """A user by name, ignoring case in any script (`Admin` and `admin` are one account)."""
    stmt = select(User).where(col(User.username_key) == username_key((username or "").strip()))
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
        display_name=user.display_name,
    )


# --- creating accounts --------------------------------------------------------------------


def has_users(session: Session) -> bool:
    return session.exec(select(col(User.id)).limit(1)).first() is not None


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
        username_key=username_key(name),
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
    taken = ConflictError("系统已有用户，不能再次创建首个管理员，请用已有账号登录")
    if has_users(session):
        raise taken
    session.add(SetupGuard(name="first_admin"))
    try:  # parallel first starts: the guard's primary key lets exactly one through
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise taken from exc
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

    Every refusal reads the same (`BAD_CREDENTIALS`): unknown name, wrong password, locked
    or disabled account; the audit log keeps the real reason. Returns a result rather than
    raising so that the caller commits the failure counter and the audit rows as well.
    """
    at = at or now()
    claimed = CONTROL_CHARS.sub("", (username or "").strip())[:50]
    found = _password_of(session, claimed) if claimed else None
    if found is None:
        _burn_verify(password or "")
        anonymous = Actor(user_id=None, username=claimed, role=Role.UNIT)
        audit.record(session, anonymous, AuditAction.LOGIN_FAILED, "user", note="用户名不存在")
        return LoginResult(None, BAD_CREDENTIALS)
    user_id, password_hash = found
    right = verify_password(password_hash, password or "")  # slow: no connection held
    user = _get_user(session, user_id)
    claimant = Actor(user_id=None, username=user.username, role=user.role)
    if not right:
        _count_failure(session, user, claimant, at)
        return LoginResult(None, BAD_CREDENTIALS)
    if not _open_session_if_unlocked(session, user, at):
        note = "账号锁定期间尝试登录" if user.active else "账号已停用"
        audit.record(session, claimant, AuditAction.LOGIN_FAILED, "user", user.id, note=note)
        return LoginResult(None, BAD_CREDENTIALS)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    actor = actor_for(user)
    audit.record(session, actor, AuditAction.LOGIN, "user", user.id)
    return LoginResult(actor)


def _password_of(session: Session, username: str) -> tuple[int, str] | None:
    """The id and hash of an account, read on a connection returned to the pool at once:
    the password check that follows takes a while, and parallel logins must not each hold
    a pooled connection (and on SQLite a read snapshot) through it."""
    stmt = select(col(User.id), col(User.password_hash)).where(
        col(User.username_key) == username_key(username)
    )
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    return (row[0], row[1]) if row is not None and row[0] is not None else None


def _not_locked(at: datetime) -> ColumnElement[bool]:
    return col(User.locked_until).is_(None) | (col(User.locked_until) <= at)


def _open_session_if_unlocked(session: Session, user: User, at: datetime) -> bool:
    """Reset the failure count of an active, unlocked account in one statement.

    The lock is checked inside the UPDATE, not from the row read before the (slow) password
    check, so a right guess racing with the wrong ones that lock the account is refused.
    """
    stmt = (
        update(User)
        .where(col(User.id) == user.id, col(User.active).is_(True), _not_locked(at))
        .values(failed_logins=0, locked_until=None, last_login_at=at)
        .returning(col(User.id))
        .execution_options(synchronize_session=False)
    )
    opened = session.execute(stmt).first() is not None
    session.refresh(user)
    return opened


def _count_failure(session: Session, user: User, claimant: Actor, at: datetime) -> None:
    """One more wrong password, counted by one atomic UPDATE … RETURNING.

    Parallel guesses each add one inside the database (a read-add-write in Python lets 40
    parallel guesses count as 3); the guess that reaches `MAX_FAILED_LOGINS` sets the lock.
    Guesses during a lock are logged but do not extend it.
    """
    counted = col(User.failed_logins) + 1
    locks = counted >= MAX_FAILED_LOGINS
    stmt = (
        update(User)
        .where(col(User.id) == user.id, _not_locked(at))
        .values(
            failed_logins=case((locks, 0), else_=counted),
            locked_until=case((locks, at + timedelta(minutes=LOCK_MINUTES)), else_=None),
        )
        .returning(col(User.failed_logins), col(User.locked_until))
        .execution_options(synchronize_session=False)
    )
    row = session.execute(stmt).first()
    if row is None:
        audit.record(
            session,
            claimant,
            AuditAction.LOGIN_FAILED,
            "user",
            user.id,
            note="账号锁定期间尝试登录",
        )
        return
    failed, locked_until = row
    audit.record(
        session,
        claimant,
        AuditAction.LOGIN_FAILED,
        "user",
        user.id,
        field="failed_logins",
        new=failed or MAX_FAILED_LOGINS,
        note="密码错误",
    )
    if locked_until is not None:
        audit.record(
            session,
            claimant,
            AuditAction.LOCKED,
            "user",
            user.id,
            field="locked_until",
            new=locked_until,
            note=f"连续 {MAX_FAILED_LOGINS} 次密码错误",
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
    return list(session.exec(select(User).order_by(col(User.username))))


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
        .where(col(LoginSession.user_id) == user_id, col(LoginSession.ended_at).is_(None))
        .values(ended_at=now(), end_reason=reason)
    )


def _require_another_admin(session: Session, user: User) -> None:
    stmt = select(func.count()).where(
        col(User.role) == Role.ADMIN,
        col(User.active).is_(True),
        col(User.id) != user.id,
    )
    if session.exec(stmt).one() == 0:
        raise ValidationError(f"{user.username} 是唯一启用的管理员，不能停用或改为其他角色")


LOGIN_EVENTS = (AuditAction.LOGIN, AuditAction.LOGIN_FAILED, AuditAction.LOCKED, AuditAction.LOGOUT)


def own_account(session: Session, actor: Actor) -> User | None:
    """The actor's own account row (None for the system actor), for 我的账户."""
    return session.get(User, actor.user_id) if actor.user_id is not None else None


def display_names(session: Session, actor: Actor) -> dict[int, str]:
    """Every account's 姓名 by id, to name who uploaded or changed something; staff only
    (the pages that name other accounts are theirs)."""
    if not actor.can(Perm.VIEW_AUDIT):
        actor.require(Perm.MANAGE_TEMPLATES, "查看用户姓名")
    rows = session.exec(select(col(User.id), col(User.display_name))).all()
    return {user_id: name for user_id, name in rows if user_id is not None}


def login_history(session: Session, actor: Actor, limit: int = 20) -> list[AuditLog]:
    """A user's own recent logins, failures and locks, newest first (shown on 我的账户,
    so a user notices attempts on their account)."""
    if actor.user_id is None:
        return []
    stmt = (
        select(AuditLog)
        .where(
            col(AuditLog.entity) == "user",
            col(AuditLog.entity_id) == actor.user_id,
            col(AuditLog.action).in_(LOGIN_EVENTS),
        )
        .order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))
