"""Settings fall back to documented defaults and only admins change them."""

import pytest
from sqlmodel import select

from duban.enums import Role
from duban.errors import PermissionDenied, ValidationError
from duban.models import AuditLog
from duban.permissions import SYSTEM, Actor
from duban.settings import get_setting, set_setting


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


def test_unknown_keys_are_refused(session):
    with pytest.raises(ValidationError, match="未知的设置项"):
        set_setting(session, SYSTEM, "nope", 1)
