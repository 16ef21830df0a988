"""Why a group is proposed (`Rule`), the 协调督办范围 it starts a case with, and the
thresholds behind the rules, read from the settings an admin changes in 系统设置."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session

from duban.enums import LabeledEnum, Scope
from duban.settings import clean_setting, get_setting

_STATUS_SPLIT = re.compile(r"[、,，;；\s]+")


class Rule(LabeledEnum):
    """Why a group of tickets is proposed for supervision."""

    REPEATED = ("repeated", "重复投诉")
    CONCENTRATED = ("concentrated", "集中投诉")
    UNSATISFIED = ("unsatisfied", "不满意回访")
    CITY = ("city", "市级督办")
    OVERDUE = ("overdue", "超期工单")
    SCORE_LOSS = ("score_loss", "热线考核失分")


# The 协调督办范围 (§二) a case opened from a group starts with; 不满意 twice on one matter
# is a repeated complaint whose handling made no visible progress (§二 4).
RULE_SCOPE: dict[Rule, Scope] = {
    Rule.REPEATED: Scope.REPEATED,
    Rule.CONCENTRATED: Scope.CONCENTRATED,
    Rule.UNSATISFIED: Scope.REPEATED,
    Rule.CITY: Scope.CITY,
    Rule.OVERDUE: Scope.OTHER,
    Rule.SCORE_LOSS: Scope.OTHER,
}


# --- thresholds (settings) ------------------------------------------------------------------

# Thresholds field → settings key (defaults in duban.settings.DEFAULTS).
SETTING_KEYS: dict[str, str] = {
    "repeat_min": "candidate_repeat_min",
    "repeat_window_days": "candidate_repeat_window_days",
    "concentrated_min_callers": "candidate_concentrated_min_callers",
    "concentrated_window_days": "candidate_concentrated_window_days",
    "unsatisfied_min": "candidate_unsatisfied_min",
    "similarity_percent": "candidate_similarity_percent",
    "keyword_min": "candidate_keyword_min",
}
DONE_STATUSES_KEY = "platform_done_statuses"


@dataclass(frozen=True)
class Thresholds:
    """The numbers behind the rules; an admin changes them in 系统设置."""

    repeat_min: int  # 重复投诉: at least N tickets on one matter …
    repeat_window_days: int  # … within the last N days (the look-back of every rule but 集中投诉)
    concentrated_min_callers: int  # 集中投诉: at least M distinct callers …
    concentrated_window_days: int  # … within the last N days
    unsatisfied_min: int  # 不满意回访: at least K 不满意 callbacks on one matter
    similarity_percent: int  # near-identical content: bigram Jaccard ≥ this %
    done_statuses: frozenset[str]  # platform statuses meaning "handled" (not open)
    keyword_min: int = 1  # reworded complaints: shared key words at one address key

    @classmethod
    def load(cls, session: Session) -> Thresholds:
        """The current settings, checked (a bad value's message names the setting)."""
        values = {
            name: clean_setting(key, get_setting(session, key))
            for name, key in SETTING_KEYS.items()
        }
        done = parse_statuses(get_setting(session, DONE_STATUSES_KEY))
        return cls(**values, done_statuses=done)

    def describe(self) -> list[str]:
        """The rules in words, for the page."""
        return [
            f"重复投诉：同一事项近 {self.repeat_window_days} 天内投诉 ≥ {self.repeat_min} 次，"
            "且最近一次回访非“满意”或平台仍在办理",
            f"集中投诉：近 {self.concentrated_window_days} 天内 ≥ {self.concentrated_min_callers} "
            "位不同来电人反映同一事项",
            f"不满意回访：同一事项近 {self.repeat_window_days} 天内回访“不满意” ≥ "
            f"{self.unsatisfied_min} 次",
            f"市级督办：平台标记为市级督办、近 {self.repeat_window_days} 天内受理或仍在办理的工单",
            f"超期工单：近 {self.repeat_window_days} 天内受理、超过平台办结期限仍未办结的工单",
            "同一事项：同一地址键（路名或小区＋弄、号、幢，去掉镇名等前缀和门口等细节，按标准地址别名"
            f"归并）下，同一来电号码；或诉求类别相同且共同关键词 ≥ {self.keyword_min} 个；"
            f"或内容相似度 ≥ {self.similarity_percent}% 且地址相同或相互包含",
        ]


def parse_statuses(value: object) -> frozenset[str]:
    """`已办结、已结案` (or a list) → the set of statuses."""
    items = value if isinstance(value, list | tuple) else _STATUS_SPLIT.split(str(value or ""))
    return frozenset(s.strip() for s in items if str(s).strip())
