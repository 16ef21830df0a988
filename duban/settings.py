"""Settings an admin may change in the app (stored in the `setting` table), with defaults.

Each key has one default here; modules read settings through `get_setting` so a fresh
database behaves exactly as documented.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
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
    # accounts: a session ends after this many minutes without interaction (duban.auth)
    "idle_timeout_minutes": 30,
    # backups: how many of the newest data/backups/<timestamp>/ folders are kept (duban.backup)
    "backup_keep": 14,
    # 年度绩效考核 (duban.assessment): score = base − deductions + bonus; admins edit on 报表
    "assessment_rules": {
        "base_score": 100,  # every unit starts here
        "overdue_step": 2,  # per step answered late, or unanswered past its due date
        "escalation": 3,  # per step the case had to leave upward (提级)
        "noncompliant_feedback": 1,  # per feedback without 主要领导签字 or 公章
        "referral": 5,  # per case referred to 镇纪委监察办 (its 主办 unit)
        "on_time_bonus": 5,  # when the unit's 按时反馈率 reaches the threshold
        "on_time_threshold": 95,  # percent
        "unassessed_listed": 1,  # units with nothing to assess: 1 listed unranked last, 0 left out
    },
    # 督办线索 (duban.analysis): the thresholds of the candidate rules
    "candidate_repeat_min": 3,  # 重复投诉: tickets on one matter …
    "candidate_repeat_window_days": 90,  # … within these last days (also 不满意回访)
    "candidate_concentrated_min_callers": 5,  # 集中投诉: distinct callers …
    "candidate_concentrated_window_days": 30,  # … within these last days
    "candidate_unsatisfied_min": 2,  # 不满意回访: 不满意 callbacks on one matter
    "candidate_similarity_percent": 60,  # near-identical content: bigram Jaccard ≥ this %
    # 督办线索 (duban.analysis, duban.address): reworded complaints at one address key and of
    # one category are one matter when they share at least this many key words …
    "candidate_keyword_min": 1,
    # … and the town's own address prefixes, stripped before addresses are compared
    "address_prefixes": "上海市、上海、青浦区、赵巷镇",
    # platform statuses meaning the platform has handled a ticket (others count as open)
    "platform_done_statuses": "已处置、待回访、已回访、已办结、已结案、办结、结案",
    # imported columns the importer did not recognise that unit and leader users may read
    # unmasked (duban.masking): every other such column is masked for them
    "raw_columns_safe": "",
    # 热线考核 (duban.score, docs/KPI.md): weights and rules; the center edits them on 热线考核
    "score_rules": {
        "volume_weight": 5,  # 受理量得分 = weight × unit's tickets ÷ group's tickets
        "contact_weight": 30,  # 先行联系得分 = weight × 是 ÷ (是 + 否)
        "solve_weight": 20,  # 诉求解决得分 = weight × (实际解决 + w × 解释说明) ÷ (both)
        "explained_credit": 1.0,  # w: how much a 解释说明 counts against a 实际解决
        "satisfaction_weight": 40,  # 市民满意得分 = weight × (满意 + b × 基本满意) ÷ (three)
        "basic_credit": 0.8,  # b: how much a 基本满意 counts against a 满意
        "overdue_points": 1,  # 减分 per ticket with 是否逾期 = 是
        "village_suffixes": "村委会、居委会、村、居委",  # a unit named so is ranked with 村居
        "candidate_units": 3,  # 督办线索: the units losing the most points in the last month
    },
    # 签收与催办 (duban.chasing): 及时签收 within this many working days of issue
    "sign_within_workdays": 1,
    # sending each unit's to-do list (duban.chasing): empty host = not configured
    "smtp_host": "",
    "smtp_port": 25,
    "smtp_security": "none",  # none | starttls | ssl
    "smtp_sender": "",
}


def get_setting(session: Session, key: str) -> Any:
    if key not in DEFAULTS:
        raise KeyError(key)
    row = session.get(Setting, key)
    return copy.deepcopy(DEFAULTS[key]) if row is None else row.value


def set_setting(
    session: Session, actor: Actor, key: str, value: Any, *, perm: Perm = Perm.MANAGE_SETTINGS
) -> None:
    """Change a setting (admins only, or `perm` for a setting another role owns), audited;
    the caller commits."""
    actor.require(perm)
    if key not in DEFAULTS:
        raise ValidationError(f"未知的设置项：{key}")
    row = session.get(Setting, key)
    old = DEFAULTS[key] if row is None else row.value
    if row is None:
        row = Setting(key=key)
    row.value, row.updated_at, row.updated_by = value, now(), actor.user_id
    session.add(row)
    audit.record(session, actor, AuditAction.UPDATE, "setting", None, field=key, old=old, new=value)


# The fields of 系统设置 → 单位与参数 / 数据备份: their names in messages, and number ranges.
LABELS: dict[str, str] = {
    "office_name": "单位名称",
    "office_contact": "联系人",
    "office_phone": "联系电话",
    "case_no_prefix": "督办编号前缀",
    "idle_timeout_minutes": "空闲自动退出（分钟）",
    "backup_keep": "保留备份份数",
    # 督办线索 → 规则与阈值
    "candidate_repeat_min": "重复投诉：最少投诉次数",
    "candidate_repeat_window_days": "重复投诉：统计天数",
    "candidate_concentrated_min_callers": "集中投诉：最少来电人数",
    "candidate_concentrated_window_days": "集中投诉：统计天数",
    "candidate_unsatisfied_min": "不满意回访：最少不满意次数",
    "candidate_similarity_percent": "内容相似度阈值（%）",
    "platform_done_statuses": "平台“已处置”状态",
    "raw_columns_safe": "可对单位和领导显示的导入原始列（用、分隔，其余原始列脱敏）",
    "candidate_keyword_min": "改写投诉：最少共同关键词数",
    "address_prefixes": "地址前缀（省市、区、镇，用顿号分隔）",
    "sign_within_workdays": "及时签收时限（工作日）",
    "smtp_host": "邮件服务器地址",
    "smtp_port": "邮件服务器端口",
    "smtp_security": "加密方式",
    "smtp_sender": "发件人地址",
}
RANGES: dict[str, tuple[int, int]] = {
    "idle_timeout_minutes": (5, 1440),
    "backup_keep": (1, 365),
    "candidate_repeat_min": (2, 100),
    "candidate_repeat_window_days": (1, 3650),
    "candidate_concentrated_min_callers": (2, 1000),
    "candidate_concentrated_window_days": (1, 3650),
    "candidate_unsatisfied_min": (1, 100),
    "candidate_similarity_percent": (30, 100),
    "candidate_keyword_min": (1, 10),
    "sign_within_workdays": (1, 10),
    "smtp_port": (1, 65535),
}
REQUIRED = {"office_name", "case_no_prefix"}


def clean_setting(key: str, value: Any) -> Any:
    """A form value checked against its default's type; the message names the field."""
    label = LABELS.get(key, key)
    default = DEFAULTS[key]
    if isinstance(default, int):
        try:
            number = int(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"{label}：必须是整数") from exc
        low, high = RANGES.get(key, (0, 10**9))
        if not low <= number <= high:
            raise ValidationError(f"{label}：必须在 {low}–{high} 之间")
        return number
    text = str(value if value is not None else "").strip()
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text):
        raise ValidationError(f"{label}：不能包含控制字符或换行")
    if len(text) > 100:
        raise ValidationError(f"{label}：最多 100 个字符")
    if key in REQUIRED and not text:
        raise ValidationError(f"{label}：不能为空")
    if key == "case_no_prefix" and (len(text) > 20 or any(c.isspace() for c in text)):
        raise ValidationError(f"{label}：最多 20 个字符，且不能有空格")
    return text


def read_settings(session: Session, actor: Actor, keys: Iterable[str]) -> dict[str, Any]:
    """The current values a settings form shows: only the roles that may change settings
    read them here (SMTP and backup settings are not for every screen)."""
    actor.require(Perm.MANAGE_SETTINGS)
    return {key: get_setting(session, key) for key in keys}


def save_settings(session: Session, actor: Actor, values: dict[str, Any]) -> list[str]:
    """Save a settings form: all values are checked first, then only the changed ones are
    written (each audited), so a bad field changes nothing. Returns the changed keys."""
    actor.require(Perm.MANAGE_SETTINGS)
    unknown = [k for k in values if k not in DEFAULTS]
    if unknown:
        raise ValidationError(f"未知的设置项：{'、'.join(unknown)}")
    cleaned = {key: clean_setting(key, value) for key, value in values.items()}
    changed = [key for key, value in cleaned.items() if get_setting(session, key) != value]
    for key in changed:
        set_setting(session, actor, key, cleaned[key])
    return changed
