"""The supervision workflow (§二 and §三 of the seed): open a case, issue its steps, register
feedback, escalate, verify, close, reopen, refer.

The state machine is written once, as data (`transitions.TRANSITIONS`): a case is in one
`CaseState` (书面督办, 现场协调督办, 提级协调督办 or 已办结), and every action is a row "state → next
state, allowed to these permissions, under these conditions". Every service goes through
`_transition`, which finds the row, checks the actor and the conditions, and only then changes
anything; an action the table does not allow is refused with a Chinese `TransitionError` and
nothing is written. `docs/WORKFLOW.md` is generated from the table (`workflow_markdown`) and a
test keeps the two in step.

One module a concern: `states` (states, actions, step kinds), `transitions` (guards and
the table), `lookup` (reading a case and
its steps), `eligibility` (提级 eligibility as one SQL query), `numbering` (督办编号), `opening`
(立项 and editing), `steps` (issuing and recording steps), `feedback` (反馈 registration and
review), `outcomes` (escalation, verification, closing, reopening, referral), `deadlines`
(recomputing due dates after a calendar change), `views` (the pages' lists and detail) and
`timeline` (the case history from the audit log). Services leave the commit to the caller
(ARCHITECTURE.md).
"""

from duban.cases.deadlines import change_year_schedule, recompute_due_dates
from duban.cases.eligibility import eligible_for_escalation
from duban.cases.feedback import (
    answered_on_time,
    confirm_feedback,
    correct_feedback_date,
    feedback_compliant,
    register_feedback,
    return_feedback,
)
from duban.cases.lookup import (
    answering_unit_id,
    answering_unit_sql,
    done_feedback,
    get_case,
    latest_handling_step,
    registration_late,
)
from duban.cases.opening import matter_title, open_case, update_case
from duban.cases.outcomes import (
    close_case,
    escalate_case,
    list_referrals,
    refer_case,
    reopen_case,
    verify_case,
)
from duban.cases.states import HANDLING_KINDS, Action, CaseState, case_state
from duban.cases.steps import (
    issue_escalated_handling,
    issue_onsite_notice,
    issue_supervision_form,
    record_escalation_report,
    record_leader_instruction,
    record_site_visit,
    record_special_meeting,
    record_special_report,
    register_notice_receipt,
    report_up,
)
from duban.cases.timeline import TimelineEntry, case_timeline
from duban.cases.transitions import (
    TRANSITIONS,
    allowed_actions,
    workflow_markdown,
    workflow_mermaid,
)
from duban.cases.views import (
    CaseDetail,
    CaseFilter,
    case_detail,
    escalation_eligible,
    feedback_uploads,
    list_cases,
)

__all__ = [
    "Action",
    "CaseDetail",
    "CaseFilter",
    "CaseState",
    "HANDLING_KINDS",
    "TRANSITIONS",
    "TimelineEntry",
    "allowed_actions",
    "answered_on_time",
    "answering_unit_id",
    "answering_unit_sql",
    "case_detail",
    "case_state",
    "case_timeline",
    "change_year_schedule",
    "close_case",
    "confirm_feedback",
    "correct_feedback_date",
    "done_feedback",
    "eligible_for_escalation",
    "escalate_case",
    "escalation_eligible",
    "feedback_compliant",
    "feedback_uploads",
    "get_case",
    "issue_escalated_handling",
    "issue_onsite_notice",
    "issue_supervision_form",
    "latest_handling_step",
    "list_cases",
    "list_referrals",
    "matter_title",
    "open_case",
    "recompute_due_dates",
    "record_escalation_report",
    "record_leader_instruction",
    "record_site_visit",
    "record_special_meeting",
    "record_special_report",
    "refer_case",
    "register_feedback",
    "register_notice_receipt",
    "registration_late",
    "reopen_case",
    "report_up",
    "return_feedback",
    "update_case",
    "verify_case",
    "workflow_markdown",
    "workflow_mermaid",
]
