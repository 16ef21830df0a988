"""Accounts (issue #8): Argon2 passwords, first administrator, lockout, idle expiry, admin tools.

"Passwords hashed with Argon2 (argon2-cffi); minimum length; 5 failed logins lock the account
for 15 minutes (recorded in the audit log); sessions expire after a configurable idle time; a
user can change their own password; an admin can reset and disable accounts."
"""

from datetime import datetime, timedelta
from io import StringIO

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from duban import auth
from duban.cli import main
from duban.enums import AuditAction, Role
from duban.errors import ConflictError, PermissionDenied, ValidationError
from duban.models import AuditLog, User
from duban.permissions import SYSTEM, Actor
from duban.settings import set_setting
from tests.factories import make_unit
from tests.helpers import open_page

PASSWORD = "correct horse 1"
T0 = datetime(2024, 3, 4, 9, 0, 0)


def add_user(session, name="clerk", role=Role.CENTER, password=PASSWORD, **kw) -> User:
    user = auth.create_user(session, SYSTEM, name, password, role, **kw)
    session.commit()
    return user


def login(session, name, password, at=T0) -> auth.LoginResult:
    result = auth.authenticate(session, name, password, at=at)
    session.commit()
    return result


def actions(session, user_id=None) -> list[tuple[AuditAction, str]]:
    stmt = select(AuditLog).order_by(AuditLog.id)
    if user_id is not None:
        stmt = stmt.where(AuditLog.entity == "user", AuditLog.entity_id == user_id)
    return [(row.action, row.note) for row in session.exec(stmt)]


# --- passwords ----------------------------------------------------------------------------


def test_passwords_are_stored_as_argon2id_hashes_never_in_clear(session):
    user = add_user(session)
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
    assert all(PASSWORD not in (row.new or "") for row in session.exec(select(AuditLog)))


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("123456789", "至少 10 个字符"),
        ("x" * 129, "最多 128 个字符"),
        (" leading-space", "首尾不能是空格"),
        ("Clerk-12345", None),
    ],
)
def test_password_rules(session, password, message):
    if message is None:
        assert add_user(session, password=password).id is not None
    else:
        with pytest.raises(ValidationError, match=message):
            add_user(session, password=password)


def test_the_password_may_not_be_the_username(session):
    with pytest.raises(ValidationError, match="不能与用户名相同"):
        add_user(session, name="clerk12345", password="CLERK12345")


# --- creating accounts --------------------------------------------------------------------


def test_a_fresh_database_has_no_account_and_no_default_password(session):
    assert not auth.has_users(session)
    for name, password in [("admin", "admin"), ("admin", "admin123456"), ("root", "")]:
        assert login(session, name, password).actor is None


def test_the_first_administrator_is_created_once_and_logged_in(session):
    actor = auth.create_first_admin(session, "boss", PASSWORD, display_name="王主任")
    session.commit()
    assert (actor.username, actor.role) == ("boss", Role.ADMIN)
    assert actions(session) == [
        (AuditAction.CREATE, "首次启动创建管理员"),
        (AuditAction.CREATE, ""),
        (AuditAction.LOGIN, ""),
    ]
    with pytest.raises(ConflictError, match="不能再次创建首个管理员"):
        auth.create_first_admin(session, "intruder", PASSWORD)


def test_only_an_admin_creates_accounts(session):
    with pytest.raises(PermissionDenied, match="无权管理用户"):
        auth.create_user(session, Actor(1, "clerk", Role.CENTER), "new", PASSWORD, Role.CENTER)


def test_usernames_are_unique_ignoring_case(session):
    add_user(session, name="Clerk")
    with pytest.raises(ConflictError, match="已存在"):
        add_user(session, name="clerk")


@pytest.mark.parametrize("name", ["a", "two words", "<b>x</b>", "x" * 51, "tab\there"])
def test_bad_usernames_are_refused(session, name):
    with pytest.raises(ValidationError, match="用户名"):
        add_user(session, name=name)


def test_a_unit_account_belongs_to_exactly_one_unit(session):
    unit = make_unit(session, "镇城管中队")
    with pytest.raises(ValidationError, match="必须选择所属单位"):
        add_user(session, name="u1", role=Role.UNIT)
    with pytest.raises(ValidationError, match="只有“承办单位”角色"):
        add_user(session, name="c1", role=Role.CENTER, unit_id=unit.id)
    user = add_user(session, name="u1", role=Role.UNIT, unit_id=unit.id)
    assert auth.actor_for(user).unit_id == unit.id


def test_only_a_leader_can_be_granted_contact_data(session):
    leader = add_user(session, name="leader", role=Role.LEADER, can_see_contacts=True)
    clerk_unit = make_unit(session)
    unit_user = add_user(
        session, name="u1", role=Role.UNIT, unit_id=clerk_unit.id, can_see_contacts=True
    )
    assert auth.actor_for(leader).can_see_contacts
    assert not auth.actor_for(unit_user).can_see_contacts


# --- logging in ---------------------------------------------------------------------------


def test_a_correct_login_returns_the_users_actor_and_is_audited(session):
    unit = make_unit(session, "镇房管办")
    user = add_user(session, name="u1", role=Role.UNIT, unit_id=unit.id)
    result = login(session, "U1", PASSWORD)
    assert result.actor == Actor(user.id, "u1", Role.UNIT, unit_id=unit.id)
    assert session.get(User, user.id).last_login_at == T0
    assert actions(session, user.id)[-1] == (AuditAction.LOGIN, "")


def test_a_wrong_password_and_an_unknown_user_get_the_same_message(session):
    add_user(session)
    wrong = login(session, "clerk", "wrong password")
    unknown = login(session, "nobody", PASSWORD)
    assert wrong == unknown == auth.LoginResult(None, auth.BAD_CREDENTIALS)
    failed = session.exec(select(AuditLog).where(AuditLog.action == AuditAction.LOGIN_FAILED)).all()
    assert [(row.username, row.note) for row in failed] == [
        ("clerk", "密码错误"),
        ("nobody", "用户名不存在"),
    ]


def test_five_failed_logins_lock_the_account_for_fifteen_minutes(session):
    user = add_user(session)
    for n in range(4):
        assert login(session, "clerk", "wrong", at=T0 + timedelta(seconds=n)).message == (
            auth.BAD_CREDENTIALS
        )
    fifth = login(session, "clerk", "wrong", at=T0 + timedelta(seconds=4))
    assert fifth.message == auth.BAD_CREDENTIALS  # the form does not say who exists or is locked
    session.refresh(user)
    assert user.locked_until == T0 + timedelta(seconds=4, minutes=15)
    assert actions(session, user.id)[-2:] == [
        (AuditAction.LOGIN_FAILED, "密码错误"),
        (AuditAction.LOCKED, "连续 5 次密码错误"),
    ]
    # even the right password is refused while locked, and that attempt is logged too
    during = login(session, "clerk", PASSWORD, at=T0 + timedelta(minutes=15))
    assert (during.actor, during.message) == (None, auth.BAD_CREDENTIALS)
    assert actions(session, user.id)[-1] == (AuditAction.LOGIN_FAILED, "账号锁定期间尝试登录")
    after = login(session, "clerk", PASSWORD, at=T0 + timedelta(minutes=15, seconds=5))
    assert after.actor is not None


def test_a_successful_login_resets_the_failure_count(session):
    user = add_user(session)
    for _ in range(4):
        login(session, "clerk", "wrong")
    assert login(session, "clerk", PASSWORD).actor is not None
    for _ in range(4):
        login(session, "clerk", "wrong")
    session.refresh(user)
    assert (user.failed_logins, user.locked_until) == (4, None)


def test_a_disabled_account_cannot_log_in(session):
    user = add_user(session)
    auth.update_user(session, SYSTEM, user.id, {"active": False}, expected_version=None)
    session.commit()
    result = login(session, "clerk", PASSWORD)
    assert (result.actor, result.message) == (None, auth.BAD_CREDENTIALS)
    assert actions(session, user.id)[-1] == (AuditAction.LOGIN_FAILED, "账号已停用")


def test_logout_is_audited(session):
    user = add_user(session)
    auth.logout(session, auth.actor_for(user), reason="空闲超时自动退出")
    session.commit()
    assert actions(session, user.id)[-1] == (AuditAction.LOGOUT, "空闲超时自动退出")


# --- idle expiry and re-checks ------------------------------------------------------------


def test_sessions_expire_after_the_configured_idle_time(session):
    assert auth.idle_timeout(session) == timedelta(minutes=30)
    assert not auth.is_expired(T0, auth.idle_timeout(session), at=T0 + timedelta(minutes=30))
    assert auth.is_expired(T0, auth.idle_timeout(session), at=T0 + timedelta(minutes=31))
    set_setting(session, SYSTEM, "idle_timeout_minutes", 10)
    session.commit()
    assert auth.is_expired(T0, auth.idle_timeout(session), at=T0 + timedelta(minutes=11))


def test_a_running_session_ends_when_the_account_is_disabled_or_its_password_reset(session):
    user = add_user(session)
    logged_in = datetime.now() - timedelta(days=1)
    assert auth.refresh_actor(session, user.id, logged_in) is None  # created after "login"
    logged_in = datetime(2100, 1, 1)
    assert auth.refresh_actor(session, user.id, logged_in) == auth.actor_for(user)
    auth.update_user(session, SYSTEM, user.id, {"role": Role.LEADER}, expected_version=None)
    session.commit()
    assert auth.refresh_actor(session, user.id, logged_in).role is Role.LEADER
    auth.update_user(session, SYSTEM, user.id, {"active": False}, expected_version=None)
    session.commit()
    assert auth.refresh_actor(session, user.id, logged_in) is None


# --- own password -------------------------------------------------------------------------


def test_a_user_changes_their_own_password_after_proving_the_old_one(session):
    user = add_user(session)
    me = auth.actor_for(user)
    with pytest.raises(ValidationError, match="原密码：不正确"):
        auth.change_own_password(session, me, "wrong", "a new secret 1")
    with pytest.raises(ValidationError, match="不能与原密码相同"):
        auth.change_own_password(session, me, PASSWORD, PASSWORD)
    auth.change_own_password(session, me, PASSWORD, "a new secret 1")
    session.commit()
    assert login(session, "clerk", PASSWORD).actor is None
    assert login(session, "clerk", "a new secret 1").actor == me
    row = session.exec(select(AuditLog).where(AuditLog.field == "password")).one()
    assert (row.user_id, row.old, row.new, row.note) == (user.id, None, "******", "本人修改密码")


# --- administration -----------------------------------------------------------------------


def test_an_admin_resets_a_password_which_also_lifts_the_lock(session):
    user = add_user(session)
    for _ in range(5):
        login(session, "clerk", "wrong", at=datetime(2100, 1, 1))
    auth.reset_password(session, SYSTEM, user.id, "handed over 1")
    session.commit()
    assert login(session, "clerk", "handed over 1", at=datetime(2100, 1, 1)).actor is not None


def test_an_admin_unlocks_an_account(session):
    user = add_user(session)
    for _ in range(5):
        login(session, "clerk", "wrong", at=datetime(2100, 1, 1))
    auth.unlock_user(session, SYSTEM, user.id)
    session.commit()
    assert login(session, "clerk", PASSWORD, at=datetime(2100, 1, 1)).actor is not None


def test_role_changes_are_versioned_and_audited(session):
    user = add_user(session)
    changes = auth.update_user(
        session, SYSTEM, user.id, {"role": Role.LEADER, "display_name": "李四"}, expected_version=1
    )
    session.commit()
    assert changes == {"display_name": ("", "李四"), "role": (Role.CENTER, Role.LEADER)}
    rows = session.exec(select(AuditLog).where(AuditLog.field == "role")).all()
    assert rows[-1].old == "城运中心" and rows[-1].new == "领导"
    with pytest.raises(ConflictError, match="已被 system"):
        auth.update_user(session, SYSTEM, user.id, {"active": False}, expected_version=1)


def test_an_admin_cannot_lock_themselves_out_nor_remove_the_last_admin(session):
    boss = add_user(session, name="boss", role=Role.ADMIN)
    me = auth.actor_for(boss)
    with pytest.raises(ValidationError, match="不能停用自己的账号"):
        auth.update_user(session, me, boss.id, {"active": False}, expected_version=None)
    with pytest.raises(ValidationError, match="唯一启用的管理员"):
        auth.update_user(session, SYSTEM, boss.id, {"role": Role.CENTER}, expected_version=None)
    add_user(session, name="deputy", role=Role.ADMIN)
    auth.update_user(session, SYSTEM, boss.id, {"role": Role.CENTER}, expected_version=None)
    session.commit()
    assert session.get(User, boss.id).role is Role.CENTER


def test_update_user_refuses_fields_it_does_not_manage(session):
    user = add_user(session)
    with pytest.raises(ValidationError, match="password_hash"):
        auth.update_user(session, SYSTEM, user.id, {"password_hash": "x"}, expected_version=None)


def test_only_admins_list_reset_unlock_or_update_users(session):
    user = add_user(session)
    clerk = auth.actor_for(user)
    for call in (
        lambda: auth.list_users(session, clerk),
        lambda: auth.reset_password(session, clerk, user.id, "another one 1"),
        lambda: auth.unlock_user(session, clerk, user.id),
        lambda: auth.update_user(
            session, clerk, user.id, {"role": Role.ADMIN}, expected_version=None
        ),
    ):
        with pytest.raises(PermissionDenied):
            call()


def test_login_history_shows_a_user_the_attempts_on_their_account(session):
    user = add_user(session)
    login(session, "clerk", "wrong")
    login(session, "clerk", PASSWORD)
    history = auth.login_history(session, auth.actor_for(user))
    assert [row.action for row in history] == [AuditAction.LOGIN, AuditAction.LOGIN_FAILED]


# --- command line -------------------------------------------------------------------------


def test_cli_user_add_reads_the_password_from_stdin(session, monkeypatch, capsys):
    make_unit(session, "镇城管中队", aliases=["城管中队"])
    session.commit()
    monkeypatch.setattr("sys.stdin", StringIO(PASSWORD + "\n"))
    code = main(["user", "add", "u1", "--role", "unit", "--unit", "城管中队", "--password-stdin"])
    assert code == 0, capsys.readouterr().err
    assert "已创建用户 u1（承办单位）" in capsys.readouterr().out
    assert login(session, "u1", PASSWORD).actor.role is Role.UNIT


def test_cli_user_add_prompts_twice_and_refuses_a_mismatch(session, monkeypatch, capsys):
    typed = iter([PASSWORD, "something else"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(typed))
    assert main(["user", "add", "boss", "--role", "admin"]) == 2
    assert "两次输入的密码不一致" in capsys.readouterr().err
    assert not auth.has_users(session)


def test_cli_user_add_refuses_a_short_password_and_an_unknown_unit(session, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", StringIO("short\n"))
    assert main(["user", "add", "boss", "--role", "admin", "--password-stdin"]) == 2
    assert "密码：至少 10 个字符" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", StringIO(PASSWORD + "\n"))
    assert (
        main(["user", "add", "u", "--role", "unit", "--unit", "无此单位", "--password-stdin"]) == 2
    )
    assert "承办单位“无此单位”不存在" in capsys.readouterr().err


def test_cli_reset_password_lets_a_locked_out_admin_back_in(session, monkeypatch, capsys):
    add_user(session, name="boss", role=Role.ADMIN)
    for _ in range(5):
        login(session, "boss", "wrong", at=datetime(2100, 1, 1))
    monkeypatch.setattr("sys.stdin", StringIO("brand new pass\n"))
    assert main(["user", "reset-password", "boss", "--password-stdin"]) == 0
    session.expire_all()
    assert login(session, "boss", "brand new pass", at=datetime(2100, 1, 1)).actor is not None
    assert main(["user", "list"]) == 0
    assert "boss\t管理员\t启用" in capsys.readouterr().out


# --- page 用户管理 --------------------------------------------------------------------------

MALICIOUS_NAME = "<b>王</b>**五**{{x}}"


def users_page() -> AppTest:
    return open_page(Actor(None, "admin", Role.ADMIN), "pages/users.py")


def fill(at: AppTest, form: str, **values) -> None:
    widgets = [w for w in [*at.text_input, *at.selectbox, *at.checkbox] if w.form_id == form]
    by_label = {w.label: w for w in widgets}
    for label, value in values.items():
        widget = by_label[label]
        widget.check() if value is True else widget.set_value(value)


def submit(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, at.exception
    return at


def test_an_admin_creates_a_unit_account_on_the_users_page(session):
    unit = make_unit(session, "镇城管中队")
    session.commit()
    at = users_page()
    fill(
        at, "users_new_form", 用户名="u__bold__", 姓名=MALICIOUS_NAME, 角色=Role.UNIT,
        **{"所属单位（承办单位账号必填）": unit.id, "初始密码（至少 10 个字符）": PASSWORD,
           "再次输入初始密码": PASSWORD},
    )  # fmt: skip
    submit(at, "创建用户")
    assert [s.value for s in at.success] == ["已创建用户 u\\_\\_bold\\_\\_"]
    table = at.dataframe[0].value
    row = table[table["用户名"] == "u__bold__"].iloc[0]
    assert (row["姓名"], row["角色"], row["所属单位"]) == (MALICIOUS_NAME, "承办单位", "镇城管中队")
    assert login(session, "u__bold__", PASSWORD).actor.unit_id == unit.id


def test_the_users_page_refuses_a_unit_account_without_a_unit(session):
    at = users_page()
    fill(
        at, "users_new_form", 用户名="u1", 角色=Role.UNIT,
        **{"初始密码（至少 10 个字符）": PASSWORD, "再次输入初始密码": PASSWORD},
    )  # fmt: skip
    submit(at, "创建用户")
    assert [e.value for e in at.error] == ["所属单位：“承办单位”角色必须选择所属单位"]
    assert not auth.has_users(session)


def test_an_admin_disables_an_account_on_the_users_page(session):
    add_user(session)
    at = users_page()
    fill(at, "users_edit_form", **{"启用（取消勾选即停用，停用后不能登录）": False})
    submit(at, "保存修改")
    assert [s.value for s in at.success] == ["已保存 clerk 的 1 项修改"]
    assert list(at.dataframe[0].value["状态"]) == ["已停用"]
    assert login(session, "clerk", PASSWORD).message == auth.BAD_CREDENTIALS


def test_a_stale_users_page_does_not_overwrite_another_admins_change(session):
    user = add_user(session)
    at = users_page()  # the page has seen version 1
    auth.update_user(
        session, SYSTEM, user.id, {"display_name": "另一位管理员改的"}, expected_version=1
    )
    session.commit()
    fill(at, "users_edit_form", 姓名="我改的")
    submit(at, "保存修改")
    assert "已被 system" in at.error[0].value
    session.refresh(user)
    assert user.display_name == "另一位管理员改的"


def test_an_admin_resets_a_password_on_the_users_page(session):
    add_user(session)
    at = users_page()
    fill(
        at, "users_password_form",
        **{"新密码（至少 10 个字符）": "handed over 1", "再次输入新密码": "handed over 1"},
    )  # fmt: skip
    submit(at, "重置密码")
    assert [s.value for s in at.success] == ["已重置 clerk 的密码，锁定已解除"]
    assert login(session, "clerk", "handed over 1").actor is not None
