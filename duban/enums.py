"""Enumerations of the seed's vocabulary.

Stored values are stable English codes (safe to keep in a database for years); the
Chinese wording of the seed is the `label`, shown everywhere in the UI and documents.
"""

from __future__ import annotations

from enum import StrEnum


class LabeledEnum(StrEnum):
    """A str enum whose members carry a Chinese label: `Member = ("code", "标签")`."""

    label: str

    def __new__(cls, value: str, label: str = "") -> LabeledEnum:
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label or value
        return obj

    @classmethod
    def from_label(cls, label: str) -> LabeledEnum:
        """Find a member by its Chinese label (or code); raises KeyError naming the valid ones."""
        text = (label or "").strip()
        for member in cls:
            if text in (member.label, member.value):
                return member
        valid = "、".join(m.label for m in cls)
        raise KeyError(f"“{text}”不是有效值，可选：{valid}")

    @classmethod
    def labels(cls) -> dict[str, str]:
        return {m.value: m.label for m in cls}


class UnitKind(LabeledEnum):
    """承办单位的类别 (the addressees of the seed's notice)."""

    VILLAGE = ("village", "村居")
    DEPARTMENT = ("department", "职能部门")
    ENTERPRISE = ("enterprise", "企事业单位")
    COMMUNITY = ("community", "新城一站大居")


class CallbackResult(LabeledEnum):
    """回访: the citizen's verdict when the platform calls back."""

    SATISFIED = ("satisfied", "满意")
    BASIC = ("basic", "基本满意")
    UNSATISFIED = ("unsatisfied", "不满意")
    NONE = ("none", "未回访")


class Scope(LabeledEnum):
    """协调督办范围 — the six categories of §二 of the seed."""

    CITY = ("city", "市级督办事项")
    LEADER = ("leader", "区、镇领导批示交办事项")
    CROSS_FUNCTION = ("cross_function", "职能交叉、政策缺失、推诿扯皮事项")
    REPEATED = ("repeated", "重复投诉多次，且办理工作未有明显进展的事项")
    CONCENTRATED = ("concentrated", "多人次集中投诉，且诉求合理合法的事项")
    OTHER = ("other", "其他需协调督办事项")


class Level(LabeledEnum):
    """协调督办类型 — §三 (一)(二)(三); ordered from lowest to highest."""

    WRITTEN = ("written", "书面督办")
    ONSITE = ("onsite", "现场协调督办")
    ESCALATED = ("escalated", "提级协调督办")

    @property
    def rank(self) -> int:
        return list(Level).index(self)

    def next(self) -> Level | None:
        members = list(Level)
        return members[self.rank + 1] if self.rank + 1 < len(members) else None


class CaseStatus(LabeledEnum):
    OPEN = ("open", "督办中")
    CLOSED = ("closed", "已办结")


class StepKind(LabeledEnum):
    """督办环节: one action of the center on a case."""

    SUPERVISION_FORM = ("supervision_form", "督办单")
    ONSITE_NOTICE = ("onsite_notice", "现场协调督办通知")
    LEADER_INSTRUCTION = ("leader_instruction", "领导批办")
    SPECIAL_MEETING = ("special_meeting", "镇领导专题会")
    SPECIAL_REPORT = ("special_report", "工作专报")
    ESCALATED_HANDLING = ("escalated_handling", "提级办理")
    REPORT_UP = ("report_up", "上报区领导")
    ESCALATION_REPORT = ("escalation_report", "提级办理报告")


class StepStatus(LabeledEnum):
    OPEN = ("open", "办理中")
    CLOSED = ("closed", "已完成")
    ESCALATED = ("escalated", "已提级")
    CANCELLED = ("cancelled", "已撤销")


class Progress(LabeledEnum):
    """处置进展, the center's judgement of a unit's feedback."""

    DONE = ("done", "已办结")
    SOME = ("some", "有进展")
    NONE = ("none", "无进展")


class UnitRole(LabeledEnum):
    """A unit's part in a case: 主办 (lead) or 协办 (co-handling)."""

    LEAD = ("lead", "主办")
    CO = ("co", "协办")


class Role(LabeledEnum):
    ADMIN = ("admin", "管理员")
    CENTER = ("center", "城运中心")
    UNIT = ("unit", "承办单位")
    LEADER = ("leader", "领导")


class AuditAction(LabeledEnum):
    CREATE = ("create", "新增")
    UPDATE = ("update", "修改")
    DELETE = ("delete", "删除")
    RESTORE = ("restore", "恢复")
    TRANSITION = ("transition", "流转")
    IMPORT = ("import", "导入")
    EXPORT = ("export", "导出")
    RENDER = ("render", "生成文书")
    LOGIN = ("login", "登录")
    LOGIN_FAILED = ("login_failed", "登录失败")
    LOGOUT = ("logout", "退出")
    LOCKED = ("locked", "账号锁定")
    BACKUP = ("backup", "备份")


class DocumentKind(LabeledEnum):
    """Document kinds; the code is also the CLI's KIND argument."""

    SUPERVISION_FORM = ("supervision-form", "督办单")
    ONSITE_NOTICE = ("onsite-notice", "现场协调督办通知")
    SPECIAL_REPORT = ("special-report", "工作专报")
    ESCALATION_REPORT = ("escalation-report", "提级办理报告")
    MEETING_MINUTES = ("meeting-minutes", "专题会纪要")
    FEEDBACK_RECEIPT = ("feedback-receipt", "书面反馈回执")
    WORK_REPORT = ("work-report", "协调督办工作报告")
    CHASE_NOTICE = ("chase-notice", "催办通知")


class ChaseWay(LabeledEnum):
    """催办方式: how the center followed a step up."""

    PHONE = ("phone", "电话")
    WRITTEN = ("written", "书面")
    SYSTEM = ("system", "系统")


class ExtensionStatus(LabeledEnum):
    """延期申请的状态: asked by the unit, decided by the center."""

    PENDING = ("pending", "待审批")
    APPROVED = ("approved", "已批准")
    REFUSED = ("refused", "不予批准")


class Resolution(LabeledEnum):
    """办理结果 on the platform's export: solved, or only explained (热线考核 诉求解决)."""

    SOLVED = ("solved", "实际解决")
    EXPLAINED = ("explained", "解释说明")
    UNSOLVED = ("unsolved", "未解决")
