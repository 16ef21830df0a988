"""Case states, actions, and the step kinds a unit must answer in writing."""

from __future__ import annotations

from duban.enums import CaseStatus, LabeledEnum, Level, StepKind
from duban.models import Case

# §三: 5 个工作日内 for the 督办单 and for 提级办理.
WRITTEN_DUE_WORKDAYS = 5
ESCALATED_DUE_WORKDAYS = 5

# Steps a unit must answer in writing; the other kinds (批办, 专题会, 专报, 上报) are records.
HANDLING_KINDS = (StepKind.SUPERVISION_FORM, StepKind.ONSITE_NOTICE, StepKind.ESCALATED_HANDLING)
HANDLING_KIND_OF_LEVEL = {
    Level.WRITTEN: StepKind.SUPERVISION_FORM,
    Level.ONSITE: StepKind.ONSITE_NOTICE,
    Level.ESCALATED: StepKind.ESCALATED_HANDLING,
}


# --- states and actions -----------------------------------------------------------------


class CaseState(LabeledEnum):
    """Where a case stands: its level while open, or closed. NEW is the state before opening."""

    NEW = ("new", "未立项")
    WRITTEN = ("written", "书面督办")
    ONSITE = ("onsite", "现场协调督办")
    ESCALATED = ("escalated", "提级协调督办")
    CLOSED = ("closed", "已办结")


STATE_OF_LEVEL = {
    Level.WRITTEN: CaseState.WRITTEN,
    Level.ONSITE: CaseState.ONSITE,
    Level.ESCALATED: CaseState.ESCALATED,
}
OPEN_STATES = tuple(STATE_OF_LEVEL.values())


class Action(LabeledEnum):
    """Everything that changes a case; each has rows in `TRANSITIONS`."""

    OPEN = ("open", "确定督办事项")
    EDIT = ("edit", "修改事项信息")
    ISSUE_FORM = ("issue_form", "派送督办单")
    ISSUE_NOTICE = ("issue_notice", "发出现场协调督办通知")
    REGISTER_NOTICE = ("register_notice", "登记收到通知")
    SITE_VISIT = ("site_visit", "实地踏勘")
    LEADER_INSTRUCTION = ("leader_instruction", "领导批办")
    SPECIAL_MEETING = ("special_meeting", "镇领导专题会")
    SPECIAL_REPORT = ("special_report", "工作专报")
    ISSUE_HANDLING = ("issue_handling", "提级办理")
    FEEDBACK = ("feedback", "登记书面反馈")
    CONFIRM_FEEDBACK = ("confirm_feedback", "核验书面反馈")
    RETURN_FEEDBACK = ("return_feedback", "退回书面反馈")
    CORRECT_FEEDBACK_DATE = ("correct_feedback_date", "更正反馈收到日期")
    VERIFY = ("verify", "跟踪核实")
    REPORT_UP = ("report_up", "上报区领导")
    ESCALATE = ("escalate", "提级")
    CLOSE = ("close", "办结")
    REOPEN = ("reopen", "重新督办")
    REFER = ("refer", "移交镇纪委监察办")
    ESCALATION_REPORT = ("escalation_report", "报请分管领导批办")


def case_state(case: Case) -> CaseState:
    if case.status == CaseStatus.CLOSED:
        return CaseState.CLOSED
    return STATE_OF_LEVEL[case.level]
