"""Settings an admin may change in the app (stored in the `setting` table), with defaults.

Each key has one default here; modules read settings through `get_setting` so a fresh
database behaves exactly as documented.
"""

from __future__ import annotations

import copy
from typing import Any

from sqlmodel import Session

from duban import audit
from duban.clock import now
from duban.enums import AuditAction
from duban.errors import ValidationError
from duban.models import Setting
from duban.permissions import Actor, Perm

DEFAULTS: dict[str, Any] = {
    # the issuing office, printed on every document
    "office_name": "青浦区赵巷镇城市运行管理中心",
    "office_contact": "",
    "office_phone": "",
    # 督办编号: f"{prefix}〔{year}〕第{seq:03d}号"
    "case_no_prefix": "赵巷督",
}


def get_setting(session: Session, key: str) -> Any:
    if key not in DEFAULTS:
        raise KeyError(key)
    row = session.get(Setting, key)
    return copy.deepcopy(DEFAULTS[key]) if row is None else row.value


def set_setting(session: Session, actor: Actor, key: str, value: Any) -> None:
    """Change a setting (admins only), audited; the caller commits."""
    actor.require(Perm.MANAGE_SETTINGS)
    if key not in DEFAULTS:
        raise ValidationError(f"未知的设置项：{key}")
    row = session.get(Setting, key)
    old = DEFAULTS[key] if row is None else row.value
    if row is None:
        row = Setting(key=key)
    row.value, row.updated_at, row.updated_by = value, now(), actor.user_id
    session.add(row)
    audit.record(session, actor, AuditAction.UPDATE, "setting", None, field=key, old=old, new=value)
