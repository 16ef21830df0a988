"""The weights of 热线考核 (the setting `score_rules`), changed by the center and audited."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from duban.errors import ValidationError
from duban.models import AuditLog
from duban.permissions import Actor, Perm
from duban.settings import DEFAULTS, get_setting, set_setting

SETTING_KEY = "score_rules"
VILLAGE, DEPARTMENT = "村居", "部门"
GROUPS = (VILLAGE, DEPARTMENT)
_SPLIT = re.compile(r"[、,，;；\s]+")
# --- the rules ------------------------------------------------------------------------------

RULE_LABELS: dict[str, str] = {
    "volume_weight": "受理量得分满分",
    "contact_weight": "先行联系得分满分",
    "solve_weight": "诉求解决得分满分",
    "explained_credit": "解释说明折算系数 w",
    "satisfaction_weight": "市民满意得分满分",
    "basic_credit": "基本满意折算系数",
    "overdue_points": "每件逾期工单减分",
    "village_suffixes": "按名称归入村居的后缀",
    "candidate_units": "失分最多的单位列为督办线索（个）",
}
RULE_LIMITS: dict[str, float] = {"explained_credit": 1, "basic_credit": 1, "candidate_units": 50}
TEXT_RULES = frozenset({"village_suffixes"})


@dataclass(frozen=True)
class ScoreRules:
    """The weights in force (exact fractions of what the center typed)."""

    volume_weight: Fraction
    contact_weight: Fraction
    solve_weight: Fraction
    explained_credit: Fraction
    satisfaction_weight: Fraction
    basic_credit: Fraction
    overdue_points: Fraction
    village_suffixes: tuple[str, ...]
    candidate_units: int

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ScoreRules:
        """Rules over the defaults; each value checked, a bad one named in the message."""
        unknown = sorted(set(values) - set(RULE_LABELS))
        if unknown:
            raise ValidationError(f"未知的考核规则项：{'、'.join(unknown)}")
        merged = {**DEFAULTS[SETTING_KEY], **values}
        cleaned: dict[str, Any] = {}
        for name, label in RULE_LABELS.items():
            if name in TEXT_RULES:
                words = tuple(w for w in _SPLIT.split(str(merged[name] or "")) if w)
                cleaned[name] = words
                continue
            try:
                number = Fraction(str(merged[name]).strip())
            except (TypeError, ValueError, ZeroDivisionError) as exc:
                raise ValidationError(f"考核规则“{label}”必须是数字：{merged[name]}") from exc
            limit = RULE_LIMITS.get(name, 1000)
            if not 0 <= number <= limit:
                raise ValidationError(f"考核规则“{label}”必须在 0–{limit:g} 之间：{merged[name]}")
            if name == "candidate_units" and number.denominator != 1:
                raise ValidationError(f"考核规则“{label}”必须是整数：{merged[name]}")
            cleaned[name] = int(number) if name == "candidate_units" else number
        return cls(**cleaned)

    def to_dict(self) -> dict[str, Any]:
        """As stored in the setting: numbers as int or float, suffixes as one text."""
        out: dict[str, Any] = {}
        for name in RULE_LABELS:
            value = getattr(self, name)
            if name in TEXT_RULES:
                out[name] = "、".join(value)
            else:
                out[name] = int(value) if Fraction(value).denominator == 1 else float(value)
        return out

    def lines(self) -> list[tuple[str, str]]:
        """The rules in force as (rule, value) lines: the 考核规则 sheet and the page."""
        return [(RULE_LABELS[k], shown(v)) for k, v in self.to_dict().items()]


def shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def load_rules(session: Session) -> ScoreRules:
    return ScoreRules.from_dict(get_setting(session, SETTING_KEY))


def save_rules(session: Session, actor: Actor, values: dict[str, Any]) -> ScoreRules:
    """Check and store changed weights (the center and admins; audited); the caller commits."""
    actor.require(Perm.MANAGE_SCORE)
    rules = ScoreRules.from_dict({**get_setting(session, SETTING_KEY), **values})
    if rules.to_dict() != get_setting(session, SETTING_KEY):
        set_setting(session, actor, SETTING_KEY, rules.to_dict(), perm=Perm.MANAGE_SCORE)
    return rules


@dataclass(frozen=True)
class RuleChange:
    """One changed weight: who, when, old → new."""

    at: datetime
    username: str
    rule: str
    old: str
    new: str


def rule_history(session: Session, actor: Actor) -> list[RuleChange]:
    """Every change of the weights, newest first, one line per changed rule."""
    actor.require(Perm.VIEW_ALL, "查看考核规则的修改记录")
    rows = session.execute(
        select(AuditLog)
        .where(col(AuditLog.entity) == "setting", col(AuditLog.field) == SETTING_KEY)
        .order_by(col(AuditLog.id).desc())
    ).scalars()
    out = []
    for row in rows:
        old, new = _stored(row.old), _stored(row.new)
        for name, label in RULE_LABELS.items():
            before = old.get(name, DEFAULTS[SETTING_KEY][name])
            after = new.get(name, DEFAULTS[SETTING_KEY][name])
            if before != after:
                out.append(RuleChange(row.at, row.username, label, shown(before), shown(after)))
    return out


def _stored(text: str | None) -> dict[str, Any]:
    """A setting value as the audit log wrote it (`str(dict)`)."""
    try:
        value = ast.literal_eval(text or "{}")
    except (ValueError, SyntaxError):
        return {}
    return value if isinstance(value, dict) else {}
