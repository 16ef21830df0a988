"""Settings fall back to documented defaults and only admins change them."""

import pytest
from sqlmodel import select

from duban.enums import Role
from duban.errors import PermissionDenied, ValidationError
from duban.models import AuditLog, Setting
from duban.permissions import SYSTEM, Actor
from duban.settings import get_setting, read_settings, save_settings, set_setting
from tests.helpers import open_page


def test_a_fresh_database_uses_the_defaults(session):
    assert get_setting(session, "office_name") == "青浦区赵巷镇城市运行管理中心"


def test_an_admin_changes_a_setting_and_it_is_audited(session):
    set_setting(session, SYSTEM, "case_no_prefix", "测试督")
    session.commit()
    assert get_setting(session, "case_no_prefix") == "测试督"
    row = session.exec(select(AuditLog).where(AuditLog.field == "case_no_prefix")).one()
    assert (row.old, row.new) == ("赵巷督", "测试督")


def test_only_admins_change_settings(session):
    with pytest.raises(PermissionDenied):
        set_setting(session, Actor(None, "clerk", Role.CENTER), "office_name", "x")


def test_only_admins_read_the_settings_forms_values(session):
    """SMTP and backup settings stay on the admin's form: other roles are refused."""
    set_setting(session, SYSTEM, "office_name", "赵巷镇城运中心")
    assert read_settings(session, SYSTEM, ["office_name"]) == {"office_name": "赵巷镇城运中心"}
    for role in (Role.CENTER, Role.UNIT, Role.LEADER):
        with pytest.raises(PermissionDenied):
            read_settings(session, Actor(None, "someone", role), ["office_name"])


def test_unknown_keys_are_refused(session):
    with pytest.raises(ValidationError, match="未知的设置项"):
        set_setting(session, SYSTEM, "nope", 1)


# --- 系统设置 → 单位与参数 (issue #8) ---------------------------------------------------------


def test_saving_a_form_writes_only_changed_values_each_audited(session):
    changed = save_settings(
        session,
        SYSTEM,
        {"office_name": " 青浦区赵巷镇城市运行管理中心 ", "office_phone": "021-59750000"},
    )
    session.commit()
    assert changed == ["office_phone"]
    rows = session.exec(select(AuditLog).where(AuditLog.entity == "setting")).all()
    assert [(r.field, r.new) for r in rows] == [("office_phone", "021-59750000")]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("idle_timeout_minutes", 2, "空闲自动退出（分钟）：必须在 5–1440 之间"),
        ("idle_timeout_minutes", "abc", "空闲自动退出（分钟）：必须是整数"),
        ("backup_keep", 0, "保留备份份数：必须在 1–365 之间"),
        ("office_name", "  ", "单位名称：不能为空"),
        ("office_contact", "张三\n李四", "联系人：不能包含控制字符或换行"),
        ("office_phone", "1" * 101, "联系电话：最多 100 个字符"),
        ("case_no_prefix", "赵 巷督", "督办编号前缀：最多 20 个字符，且不能有空格"),
    ],
)
def test_a_bad_field_is_named_and_nothing_is_saved(session, key, value, message):
    with pytest.raises(ValidationError, match=message):
        save_settings(session, SYSTEM, {"office_phone": "021-1", key: value})
    assert session.get(Setting, "office_phone") is None


def test_the_office_tab_saves_and_shows_markup_literally(session):
    at = open_page(Actor(None, "admin", Role.ADMIN), "pages/settings.py")
    fields = {w.label: w for w in at.text_input if w.form_id == "settings_office_form"}
    fields["联系人"].input("<b>王</b> **主任** {{ x }}")
    next(n for n in at.number_input if n.label == "空闲自动退出（分钟）").set_value(15)
    next(b for b in at.button if b.form_id == "settings_office_form").click().run()
    assert not at.exception, at.exception
    assert [s.value for s in at.success] == ["已保存：联系人、空闲自动退出（分钟）"]
    assert get_setting(session, "office_contact") == "<b>王</b> **主任** {{ x }}"
    assert get_setting(session, "idle_timeout_minutes") == 15
    fields = {w.label: w for w in at.text_input if w.form_id == "settings_office_form"}
    assert fields["联系人"].value == "<b>王</b> **主任** {{ x }}"
