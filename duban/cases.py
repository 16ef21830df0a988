"""The supervision workflow (§二 and §三 of the seed): open a case, issue its steps, register
feedback, escalate, verify, close, reopen, refer.

The state machine is written once, as data (`TRANSITIONS`): a case is in one `CaseState`
(书面督办, 现场协调督办, 提级协调督办 or 已办结), and every action is a row "state → next
state, allowed to these permissions, under these conditions". Every service goes through
`_transition`, which finds the row, checks the actor and the conditions, and only then
changes anything; an action the table does not allow is refused with a Chinese
`TransitionError` and nothing is written. `docs/WORKFLOW.md` is generated from the table
(`workflow_markdown`) and a test keeps the two in step.

Eligibility for escalation (§三(一)3 and (二)5: 经…仍未有处置进展的，纳入提级办理范围) is one
SQL query (`eligible_for_escalation`), so the boards can ask it over every open case.
Services leave the commit to the caller (ARCHITECTURE.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Integer, and_, cast, exists, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from duban import audit, masking, uploads
from duban.clock import cn_date, cn_due, now, today
from duban.enums import (
    AuditAction,
    CaseStatus,
    FeedbackReview,
    LabeledEnum,
    Level,
    Progress,
    Scope,
    StepKind,
    StepStatus,
    UnitRole,
)
from duban.errors import NotFound, PermissionDenied, TransitionError, ValidationError
from duban.models import (
    AuditLog,
    Case,
    CaseCounter,
    CaseTicket,
    CaseUnit,
    Document,
    Feedback,
    Meeting,
    MeetingCase,
    NoticeTask,
    Referral,
    Step,
    Ticket,
    Unit,
    Upload,
    User,
)
from duban.permissions import PERM_LABELS, Actor, Perm
from duban.records import apply_changes, check_version, get_live, insert
from duban.settings import get_setting
from duban.workdays import Calendar, set_year_schedule

T = TypeVar("T")

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


# --- conditions (guards) ----------------------------------------------------------------


@dataclass
class Ctx:
    """What a guard may look at: the case, the step acted on and the action's inputs."""

    session: Session
    actor: Actor
    case: Case | None
    on: date  # the date the action happened (issue, receipt, visit, decision …)
    target: CaseState = CaseState.NEW
    step: Step | None = None
    due_at: date | None = None
    reason: str = ""
    unit_id: int | None = None
    eligibility: Eligibility | None = None
    done_feedback: Feedback | None = None
    feedback: Feedback | None = None  # the feedback a review acts on
    result_text: str = ""
    note: str = ""  # what the audit row of a state change says (defaults to the reason)


@dataclass(frozen=True)
class Guard:
    """A condition of a transition: `label` for the docs, `check` returns a refusal or None."""

    label: str
    check: Callable[[Ctx], str | None]


def _date_not_future(c: Ctx) -> str | None:
    return None if c.on <= today() else f"日期 {cn_date(c.on)} 晚于今天，不能登记未来的日期"


def _date_not_before_opening(c: Ctx) -> str | None:
    assert c.case is not None
    if c.on < c.case.opened_at:
        return f"日期 {cn_date(c.on)} 早于立项日期 {cn_date(c.case.opened_at)}"
    return None


def _start_reason(c: Ctx) -> str | None:
    if c.reason.strip():
        return None
    return f"直接进入“{c.target.label}”须写明理由（如市级督办、领导批示交办）"


def _no_open_handling_step(c: Ctx) -> str | None:
    assert c.case is not None
    open_step = c.session.exec(
        select(Step).where(
            col(Step.case_id) == c.case.id,
            col(Step.kind).in_(HANDLING_KINDS),
            col(Step.status) == StepStatus.OPEN,
            col(Step.deleted_at).is_(None),
        )
    ).first()
    if open_step is None:
        return None
    return f"已有办理中的“{open_step.kind.label}”（{cn_date(open_step.issued_at)}发出），请先登记反馈或提级"


def _step_open(c: Ctx) -> str | None:
    assert c.step is not None
    if c.step.status == StepStatus.OPEN:
        return None
    return f"该“{c.step.kind.label}”环节状态为“{c.step.status.label}”，不能再办理"


def _step_needs_feedback(c: Ctx) -> str | None:
    assert c.step is not None
    if c.step.kind in HANDLING_KINDS:
        return None
    return f"“{c.step.kind.label}”是记录性环节，不需要承办单位书面反馈"


def _step_is_notice(c: Ctx) -> str | None:
    assert c.step is not None
    if c.step.kind == StepKind.ONSITE_NOTICE:
        return None
    return f"只有现场协调督办通知需要当天登记和实地踏勘，该环节为“{c.step.kind.label}”"


def _not_before_step_issue(c: Ctx) -> str | None:
    assert c.step is not None
    if c.on >= c.step.issued_at:
        return None
    return f"日期 {cn_date(c.on)} 早于该环节发出日期 {cn_date(c.step.issued_at)}"


def _due_not_before_issue(c: Ctx) -> str | None:
    issued = c.step.issued_at if c.step is not None else c.on
    if c.due_at is None or (c.due_at >= issued and c.due_at >= c.on):
        return None
    return f"处置时限 {cn_date(c.due_at)} 早于发出日期 {cn_date(issued)} 或踏勘日期 {cn_date(c.on)}"


def _visit_not_recorded(c: Ctx) -> str | None:
    assert c.step is not None
    if c.step.visit_at is None:
        return None
    return f"该通知已于 {cn_date(c.step.visit_at)} 记录实地踏勘"


def _unit_of_case(c: Ctx) -> str | None:
    assert c.case is not None
    if c.unit_id in case_unit_ids(c.session, c.case.id):  # type: ignore[arg-type]  # ids are set: these rows were flushed
        return None
    return "该单位不是本事项的承办单位（主办或协办）"


def _eligible_or_override(c: Ctx) -> str | None:
    if c.eligibility is not None or c.reason.strip():
        return None
    return (
        "该事项目前不满足提级条件（当前环节未反馈“无进展”，也未逾期）；如确需提级，请写明提级理由"
    )


def _done_feedback(c: Ctx) -> str | None:
    if c.done_feedback is not None:
        return None
    return "最新的办理环节尚未收到承办单位合规（主要领导签字并加盖公章）的“已办结”书面反馈"


def _verified(c: Ctx) -> str | None:
    assert c.case is not None
    if c.case.verified_at is None:
        return "城运中心尚未跟踪核实办理情况"
    if c.on < c.case.verified_at:
        return f"办结日期 {cn_date(c.on)} 早于核实日期 {cn_date(c.case.verified_at)}"
    return None


def _verify_after_feedback(c: Ctx) -> str | None:
    fb = c.done_feedback
    if fb is None or c.on >= fb.received_at:
        return None
    return f"核实日期 {cn_date(c.on)} 早于反馈收到日期 {cn_date(fb.received_at)}"


def _result_text(c: Ctx) -> str | None:
    return None if c.result_text.strip() else "请填写督办情况（办结结果）"


def _feedback_pending(c: Ctx) -> str | None:
    assert c.feedback is not None
    if c.feedback.review == FeedbackReview.PENDING:
        return None
    return f"该书面反馈{c.feedback.review.label}，不能再核验或更正"


def _reason(c: Ctx) -> str | None:
    return None if c.reason.strip() else "请写明理由"


def _not_before_closing(c: Ctx) -> str | None:
    assert c.case is not None
    if c.case.closed_at is None or c.on >= c.case.closed_at:
        return None
    return f"日期 {cn_date(c.on)} 早于办结日期 {cn_date(c.case.closed_at)}"


def _closed_at(level: Level) -> Guard:
    def check(c: Ctx) -> str | None:
        assert c.case is not None
        return None if c.case.level == level else f"该事项办结时为“{c.case.level.label}”"

    return Guard(f"办结时为{level.label}", check)


NOT_FUTURE = Guard("日期不晚于今天", _date_not_future)
AFTER_OPENING = Guard("日期不早于立项日期", _date_not_before_opening)
START_REASON = Guard("写明直接进入该阶段的理由（市级督办、领导批示等）", _start_reason)
NO_OPEN_HANDLING = Guard("没有办理中的督办单/通知/提级办理", _no_open_handling_step)
STEP_OPEN = Guard("环节办理中（未收到合规反馈、未提级）", _step_open)
STEP_NEEDS_FEEDBACK = Guard("环节需承办单位书面反馈", _step_needs_feedback)
STEP_IS_NOTICE = Guard("环节为现场协调督办通知", _step_is_notice)
AFTER_STEP_ISSUE = Guard("日期不早于环节发出日期", _not_before_step_issue)
DUE_AFTER_ISSUE = Guard("处置时限不早于发出日期", _due_not_before_issue)
VISIT_ONCE = Guard("尚未记录实地踏勘", _visit_not_recorded)
UNIT_OF_CASE = Guard("单位为本事项的主办或协办单位", _unit_of_case)
ELIGIBLE = Guard(
    "符合提级条件（反馈“无进展”或逾期无合规反馈），或写明提级理由", _eligible_or_override
)
DONE_FEEDBACK = Guard("最新办理环节收到合规的“已办结”反馈", _done_feedback)
VERIFY_AFTER_FEEDBACK = Guard("核实日期不早于反馈日期", _verify_after_feedback)
VERIFIED = Guard("城运中心已跟踪核实", _verified)
RESULT_TEXT = Guard("填写督办情况", _result_text)
FEEDBACK_PENDING = Guard("反馈待核验", _feedback_pending)
REASON = Guard("写明理由", _reason)
AFTER_CLOSING = Guard("日期不早于办结日期", _not_before_closing)


# --- the transition table ---------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    """One allowed move: in `source`, `action` leads to `target` if every guard passes."""

    source: CaseState
    action: Action
    target: CaseState
    perms: frozenset[Perm]  # any one of these suffices
    guards: tuple[Guard, ...] = ()

    @property
    def condition(self) -> str:
        return "；".join(g.label for g in self.guards)


CENTER = frozenset({Perm.EDIT_CASES})
UNIT = frozenset({Perm.REGISTER_FEEDBACK})
LEADER_OR_CENTER = frozenset({Perm.EDIT_CASES, Perm.INSTRUCT})
FEEDBACK_GUARDS = (STEP_NEEDS_FEEDBACK, STEP_OPEN, UNIT_OF_CASE, AFTER_STEP_ISSUE, NOT_FUTURE)


def _stay(state: CaseState, action: Action, perms: frozenset[Perm], *guards: Guard) -> Transition:
    return Transition(state, action, state, perms, guards)


TRANSITIONS: tuple[Transition, ...] = (
    # 确定督办事项: normally 书面督办; 市级督办 / 领导批示 may start higher, with a reason
    Transition(CaseState.NEW, Action.OPEN, CaseState.WRITTEN, CENTER, (NOT_FUTURE,)),
    *(
        Transition(CaseState.NEW, Action.OPEN, s, CENTER, (START_REASON, NOT_FUTURE))
        for s in (CaseState.ONSITE, CaseState.ESCALATED)
    ),
    # what may happen at every open level
    *(
        t
        for s in OPEN_STATES
        for t in (
            _stay(s, Action.EDIT, CENTER),
            _stay(s, Action.FEEDBACK, UNIT, *FEEDBACK_GUARDS),
            _stay(s, Action.CONFIRM_FEEDBACK, CENTER, FEEDBACK_PENDING),
            _stay(s, Action.RETURN_FEEDBACK, CENTER, FEEDBACK_PENDING, REASON),
            _stay(
                s,
                Action.CORRECT_FEEDBACK_DATE,
                CENTER,
                FEEDBACK_PENDING,
                REASON,
                AFTER_STEP_ISSUE,
                NOT_FUTURE,
            ),
            _stay(s, Action.LEADER_INSTRUCTION, LEADER_OR_CENTER, AFTER_OPENING, NOT_FUTURE),
            _stay(s, Action.VERIFY, CENTER, DONE_FEEDBACK, VERIFY_AFTER_FEEDBACK, NOT_FUTURE),
            Transition(
                s,
                Action.CLOSE,
                CaseState.CLOSED,
                CENTER,
                (DONE_FEEDBACK, VERIFIED, RESULT_TEXT, NOT_FUTURE),
            ),
            _stay(s, Action.REFER, CENTER, REASON, AFTER_OPENING, NOT_FUTURE),
        )
    ),
    # 书面督办: the 督办单, 5 working days; no progress → up one level
    _stay(
        CaseState.WRITTEN, Action.ISSUE_FORM, CENTER, NO_OPEN_HANDLING, AFTER_OPENING, NOT_FUTURE
    ),
    Transition(
        CaseState.WRITTEN, Action.ESCALATE, CaseState.ONSITE, CENTER, (ELIGIBLE, NOT_FUTURE)
    ),
    # 现场协调督办: notice, same-day registration, joint site visit fixing the deadline
    _stay(
        CaseState.ONSITE, Action.ISSUE_NOTICE, CENTER, NO_OPEN_HANDLING, AFTER_OPENING, NOT_FUTURE
    ),
    _stay(
        CaseState.ONSITE,
        Action.REGISTER_NOTICE,
        UNIT,
        STEP_IS_NOTICE,
        STEP_OPEN,
        AFTER_STEP_ISSUE,
    ),
    _stay(
        CaseState.ONSITE,
        Action.SITE_VISIT,
        CENTER,
        STEP_IS_NOTICE,
        STEP_OPEN,
        VISIT_ONCE,
        UNIT_OF_CASE,
        AFTER_STEP_ISSUE,
        DUE_AFTER_ISSUE,
        NOT_FUTURE,
    ),
    Transition(
        CaseState.ONSITE, Action.ESCALATE, CaseState.ESCALATED, CENTER, (ELIGIBLE, NOT_FUTURE)
    ),
    # 提级协调督办: 专题会, 工作专报, 提级办理 (5 working days), 上报区领导
    _stay(CaseState.ESCALATED, Action.SPECIAL_MEETING, CENTER, AFTER_OPENING),
    _stay(CaseState.ESCALATED, Action.SPECIAL_REPORT, CENTER, AFTER_OPENING, NOT_FUTURE),
    _stay(
        CaseState.ESCALATED,
        Action.ISSUE_HANDLING,
        CENTER,
        NO_OPEN_HANDLING,
        AFTER_OPENING,
        NOT_FUTURE,
    ),
    _stay(CaseState.ESCALATED, Action.REPORT_UP, CENTER, AFTER_OPENING, NOT_FUTURE),
    _stay(CaseState.ESCALATED, Action.ESCALATION_REPORT, CENTER, AFTER_OPENING, NOT_FUTURE),
    # 已办结: may be reopened (e.g. the citizen calls again) at the level it closed at
    *(
        Transition(
            CaseState.CLOSED,
            Action.REOPEN,
            STATE_OF_LEVEL[level],
            CENTER,
            (_closed_at(level), REASON, AFTER_CLOSING, NOT_FUTURE),
        )
        for level in Level
    ),
    _stay(CaseState.CLOSED, Action.REFER, CENTER, REASON, AFTER_OPENING, NOT_FUTURE),
)

RULES: dict[tuple[CaseState, Action, CaseState], Transition] = {
    (t.source, t.action, t.target): t for t in TRANSITIONS
}


def allowed_actions(actor: Actor, case: Case) -> list[Action]:
    """Actions the table allows from the case's state to this actor (conditions unchecked)."""
    state = case_state(case)
    seen: list[Action] = []
    for t in TRANSITIONS:
        if t.source == state and t.action not in seen and any(actor.can(p) for p in t.perms):
            seen.append(t.action)
    return seen


def _transition(ctx: Ctx, action: Action, target: CaseState, apply: Callable[[], T]) -> T:
    """The one gate of every change: table row, permission, unit, conditions, then `apply`.

    Nothing is written before all checks pass; a state change is audited here.
    """
    case = ctx.case
    source = case_state(case) if case is not None else CaseState.NEW
    ctx.target = target
    rule = RULES.get((source, action, target))
    if rule is None:
        name = f"督办事项 {case.case_no}" if case is not None else "新事项"
        if source == target:
            raise TransitionError(f"{name}当前为“{source.label}”，不能{action.label}")
        raise TransitionError(f"{name}当前为“{source.label}”，不能{action.label}至“{target.label}”")
    if not any(ctx.actor.can(p) for p in rule.perms):
        ctx.actor.require(min(rule.perms), action.label)
    if case is not None and case.id is not None:
        ctx.actor.require_unit(case_unit_ids(ctx.session, case.id), action.label)
    for guard in rule.guards:
        refusal = guard.check(ctx)
        if refusal:
            raise TransitionError(refusal)
    version = case.version if case is not None else None
    result = apply()
    case = ctx.case
    assert case is not None
    if source == CaseState.NEW:
        return result
    if target != source:
        note = ctx.note or ctx.reason
        audit.record(
            ctx.session,
            ctx.actor,
            AuditAction.TRANSITION,
            "case",
            case.id,
            field="state",
            old=source.label,
            new=target.label,
            note=f"{action.label}：{note}" if note else action.label,
        )
    if case.version == version:  # one version step per action, whatever it changed
        _touch(case, ctx.actor)
        ctx.session.add(case)
    ctx.session.flush()
    return result


def _touch(row: Any, actor: Actor) -> None:
    row.version += 1
    row.updated_at = now()
    row.updated_by = actor.user_id


# --- reading ----------------------------------------------------------------------------


def case_unit_ids(session: Session, case_id: int) -> set[int | None]:
    stmt = select(col(CaseUnit.unit_id)).where(col(CaseUnit.case_id) == case_id)
    rows = session.exec(stmt).all()
    return set(rows)


def _visible_case_ids(actor: Actor):
    """A unit user sees only the cases their unit handles (lead or co-unit)."""
    return select(col(CaseUnit.case_id)).where(col(CaseUnit.unit_id) == actor.unit_id)


def get_case(session: Session, actor: Actor, case_id: int, *, for_update: bool = False) -> Case:
    """A live case the actor may see, or NotFound / PermissionDenied in Chinese."""
    stmt = select(Case).where(col(Case.id) == case_id)
    if for_update:
        stmt = stmt.with_for_update()
    case = session.exec(stmt).first()
    if case is None or case.deleted_at is not None:
        raise NotFound(f"督办事项（编号 {case_id}）不存在或已删除")
    if not actor.can(Perm.VIEW_ALL) and not actor.can(Perm.EDIT_CASES):
        actor.require_unit(case_unit_ids(session, case_id), "查看该督办事项")
    return case


def _get_step(session: Session, actor: Actor, step_id: int) -> tuple[Step, Case]:
    step = get_live(session, Step, step_id, "督办环节")
    return step, get_case(session, actor, step.case_id, for_update=True)


def _get_unit(session: Session, unit_id: int | None, what: str) -> Unit:
    if unit_id is None:
        raise ValidationError(f"请选择{what}")
    return get_live(session, Unit, unit_id, f"{what}：单位", ValidationError)


def answering_unit_id(step: Step) -> int | None:
    """Whose feedback answers a step: the unit fixed at a site visit, else the addressee."""
    return step.responsible_unit_id or step.unit_id


def answering_unit_sql() -> ColumnElement[int]:
    """`answering_unit_id` as a SQL expression, so the boards and KPIs count a step against
    the same unit this module closes it by."""
    return func.coalesce(col(Step.responsible_unit_id), col(Step.unit_id))


def registration_late(step: Step) -> bool | None:
    """Whether the unit registered an on-site notice after the notice day (应在当天进行登记)."""
    if step.registered_at is None:
        return None
    return step.registered_at.date() > step.issued_at


def latest_handling_step(session: Session, case_id: int) -> Step | None:
    return session.exec(
        select(Step)
        .where(
            col(Step.case_id) == case_id,
            col(Step.kind).in_(HANDLING_KINDS),
            col(Step.status) != StepStatus.CANCELLED,
            col(Step.deleted_at).is_(None),
        )
        .order_by(col(Step.id).desc())
    ).first()


def closing_feedback(session: Session, step: Step) -> Feedback | None:
    """The confirmed, compliant feedback of the answering unit that closed the step, if any."""
    if step.status != StepStatus.CLOSED or step.kind not in HANDLING_KINDS:
        return None
    return session.exec(
        select(Feedback)
        .where(
            col(Feedback.step_id) == step.id,
            col(Feedback.unit_id) == answering_unit_id(step),
            col(Feedback.compliant).is_(True),
            col(Feedback.review) == FeedbackReview.CONFIRMED,
            col(Feedback.deleted_at).is_(None),
        )
        .order_by(col(Feedback.id).desc())
    ).first()


def done_feedback(session: Session, case_id: int) -> Feedback | None:
    """The compliant 已办结 feedback on the case's latest handling step (needed to close)."""
    step = latest_handling_step(session, case_id)
    feedback = closing_feedback(session, step) if step is not None else None
    return feedback if feedback is not None and feedback.progress == Progress.DONE else None


# --- eligibility for escalation ---------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    """A case that may go up one level, the step that makes it so, and why (in Chinese)."""

    case_id: int
    step_id: int
    reason: str


def _current_steps(case_ids: list[int] | None):
    """Per open, live case below 提级: the id of its latest live handling step at its level.

    Steps already left upward (ESCALATED) or cancelled are not current.
    """
    stmt = (
        select(col(Step.case_id), func.max(col(Step.id)).label("step_id"))
        .join(Case, col(Case.id) == col(Step.case_id))
        .where(
            col(Case.status) == CaseStatus.OPEN,
            col(Case.deleted_at).is_(None),
            col(Case.level) != Level.ESCALATED,
            col(Step.level) == col(Case.level),
            col(Step.kind).in_(HANDLING_KINDS),
            col(Step.status).in_((StepStatus.OPEN, StepStatus.CLOSED)),
            col(Step.deleted_at).is_(None),
        )
        .group_by(col(Step.case_id))
    )
    if case_ids is not None:
        stmt = stmt.where(col(Step.case_id).in_(case_ids))
    return stmt.subquery("current_step")


def eligible_for_escalation(
    session: Session, today: date, case_ids: Iterable[int] | None = None
) -> list[Eligibility]:
    """Cases that may go up one level today (the seed: 经…仍未有处置进展的，纳入提级办理范围).

    A case is eligible when its current step (the latest handling step at its level) has
    confirmed feedback from the answering unit judged 无进展, or the step is past due and still
    open, i.e. without confirmed compliant feedback (only that closes the step); feedback
    still 待核验 or returned does not count. Closed, deleted
    and already-escalated cases are never eligible. One query, whatever the number of cases.
    """
    ids = None if case_ids is None else sorted(set(case_ids))
    if ids == []:
        return []
    current = _current_steps(ids)
    answering = func.coalesce(col(Step.responsible_unit_id), col(Step.unit_id))
    # the answering unit's latest live feedback, looked up per current step through the
    # step_id index (grouping all feedback first cost 0.3 s at 100,000 cases)

    def latest(column: Any) -> Any:
        return (
            select(column)
            .where(
                col(Feedback.step_id) == col(Step.id),
                col(Feedback.unit_id) == answering,
                col(Feedback.review) == FeedbackReview.CONFIRMED,
                col(Feedback.deleted_at).is_(None),
            )
            .order_by(col(Feedback.id).desc())
            .limit(1)
            .correlate(Step)
            .scalar_subquery()
        )

    last_progress = latest(col(Feedback.progress))
    overdue = and_(col(Step.status) == StepStatus.OPEN, col(Step.due_at) < today)
    stmt = (
        select(  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
            current.c.case_id,
            col(Step.id),
            col(Step.level),
            col(Step.due_at),
            last_progress,
            latest(col(Feedback.compliant)),
            overdue.label("overdue"),
        )
        .join(Step, col(Step.id) == current.c.step_id)
        .where(or_(last_progress == Progress.NONE, overdue))
        .order_by(current.c.case_id)
    )
    result = []
    for case_id, step_id, level, due_at, progress, compliant, is_overdue in session.exec(stmt):
        reasons = []
        if progress == Progress.NONE:
            reasons.append(f"{level.label}反馈“无进展”" + ("" if compliant else "（反馈不合规）"))
        if is_overdue:
            reasons.append(f"{level.label}已逾期且无合规反馈（截止{cn_date(due_at)}）")
        result.append(Eligibility(case_id=case_id, step_id=step_id, reason="；".join(reasons)))
    return result


# --- 督办编号 -----------------------------------------------------------------------------


def format_case_no(prefix: str, year: int, seq: int) -> str:
    """`赵巷督〔2024〕第007号`."""
    return f"{prefix}〔{year}〕第{seq:03d}号"


def next_case_seq(session: Session, year: int) -> int:
    """Take the next number of `year` inside the caller's transaction (gap-free, unique).

    The counter row is created if missing (insert-or-ignore), then incremented with one
    `UPDATE … RETURNING`: the UPDATE takes the row lock on PostgreSQL (a second writer waits
    for the first to commit, like SELECT … FOR UPDATE) and the database write lock on SQLite,
    so two staff saving at once get consecutive numbers; a rolled-back case gives its
    number back because the counter rolls back with it.
    """
    dialect = session.get_bind().dialect.name
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert_(CaseCounter).values(year=year, last_seq=0).on_conflict_do_nothing())
    seq = session.execute(
        update(CaseCounter)
        .where(col(CaseCounter.year) == year)
        .values(last_seq=col(CaseCounter.last_seq) + 1)
        .returning(col(CaseCounter.last_seq))
    ).scalar_one()
    return int(seq)


# --- opening a case ---------------------------------------------------------------------


def _text(value: str | None) -> str:
    return (value or "").strip()


def _required(value: str | None, label: str) -> str:
    text = _text(value)
    if not text:
        raise ValidationError(f"请填写{label}")
    return text


def matter_title(content: str, limit: int = 30) -> str:
    """事由 from a ticket's text: its first clause that fits, never cut inside a phrase
    (the whole text when short, else up to the last 。；，! ? within `limit` characters)."""
    text = " ".join((content or "").split())
    if len(text) <= limit:
        return text.rstrip("。；，,;")
    head = text[: limit + 1]
    cut = max(head.rfind(p) for p in "。；，！？;,!?")
    return (head[:cut] if cut > 0 else text[:limit]).rstrip("。；，,;")


def _tickets_for_case(session: Session, ticket_ids: Sequence[int]) -> list[Ticket]:
    """Live tickets, none already in another open case (a matter is supervised once)."""
    tickets = []
    for ticket_id in dict.fromkeys(ticket_ids):
        ticket = get_live(session, Ticket, ticket_id, "工单", ValidationError)
        busy = session.exec(
            select(col(Case.case_no))
            .join(CaseTicket, col(CaseTicket.case_id) == col(Case.id))
            .where(
                col(CaseTicket.ticket_id) == ticket_id,
                col(Case.status) == CaseStatus.OPEN,
                col(Case.deleted_at).is_(None),
            )
        ).first()
        if busy:
            raise ValidationError(f"工单 {ticket.ticket_no} 已在督办事项 {busy} 中督办")
        tickets.append(ticket)
    return tickets


def open_case(
    session: Session,
    actor: Actor,
    *,
    scope: Scope | str | None,
    lead_unit_id: int,
    related_info: str,
    opinion: str,
    title: str = "",
    co_unit_ids: Sequence[int] = (),
    ticket_ids: Sequence[int] = (),
    scope_reason: str = "",
    source_note: str = "",
    source_date: date | None = None,
    start_level: Level = Level.WRITTEN,
    start_level_reason: str = "",
    opened_at: date | None = None,
    issue_form: bool = True,
) -> Case:
    """确定督办事项 (§三(一)1): number it, link tickets and units, and at 书面督办 send the 督办单.

    A case comes from tickets, or without one for a leader-instructed matter (then the
    source note is required). It may start at 现场 or 提级 for city-level or leader items,
    with the reason recorded.
    """
    actor.require(Perm.EDIT_CASES, "确定督办事项")
    if not scope:
        raise ValidationError("请选择协调督办范围")
    try:
        scope = Scope(scope)
    except ValueError as exc:
        raise ValidationError(f"协调督办范围无效：{scope}") from exc
    if scope == Scope.OTHER and not _text(scope_reason):
        raise ValidationError("协调督办范围为“其他需协调督办事项”时须写明理由")
    lead = _get_unit(session, lead_unit_id, "主办单位")
    related_info = _required(related_info, "相关情况")
    opinion = _required(opinion, "督办意见")
    co_ids = list(dict.fromkeys(u for u in co_unit_ids if u != lead.id))
    for unit_id in co_ids:
        _get_unit(session, unit_id, "协办单位")
    tickets = _tickets_for_case(session, ticket_ids)
    if not tickets and not _text(source_note):
        raise ValidationError("未关联工单的事项（如领导交办）须填写来源说明")
    title = _text(title) or (
        tickets[0].title or matter_title(tickets[0].content) if tickets else ""
    )
    title = _required(title, "事由")
    opened = opened_at or today()
    ctx = Ctx(session, actor, None, opened, reason=_text(start_level_reason))

    def apply() -> Case:
        seq = next_case_seq(session, opened.year)
        prefix = get_setting(session, "case_no_prefix")
        case = Case(
            case_no=format_case_no(prefix, opened.year, seq),
            year=opened.year,
            seq=seq,
            title=title[:200],
            scope=scope,
            scope_reason=_text(scope_reason),
            level=start_level,
            start_level_reason=_text(start_level_reason),
            lead_unit_id=lead.id,
            source_note=_text(source_note),
            source_date=source_date,
            related_info=related_info,
            opinion=opinion,
            opened_at=opened,
            created_by=actor.user_id,
            updated_by=actor.user_id,
        )
        session.add(case)
        session.flush()
        session.add(CaseUnit(case_id=case.id, unit_id=lead.id, role=UnitRole.LEAD))  # type: ignore[arg-type]  # ids are set: these rows were flushed
        for unit_id in co_ids:
            session.add(CaseUnit(case_id=case.id, unit_id=unit_id, role=UnitRole.CO))  # type: ignore[arg-type]  # ids are set: these rows were flushed
        for ticket in tickets:
            session.add(CaseTicket(case_id=case.id, ticket_id=ticket.id))  # type: ignore[arg-type]  # ids are set: these rows were flushed
        session.flush()
        note = f"确定督办事项 {case.case_no}（{start_level.label}）"
        if start_level != Level.WRITTEN:
            note += f"，理由：{case.start_level_reason}"
        audit.record(
            session, actor, AuditAction.CREATE, "case", case.id, new=case.case_no, note=note
        )
        ctx.case = case
        return case

    case = _transition(ctx, Action.OPEN, STATE_OF_LEVEL[start_level], apply)
    if start_level == Level.WRITTEN and issue_form:
        issue_supervision_form(session, actor, case.id, issued_at=opened)  # type: ignore[arg-type]  # ids are set: these rows were flushed
    return case


EDITABLE_FIELDS = {
    "title": "事由",
    "related_info": "相关情况",
    "opinion": "督办意见",
    "source_note": "来源说明",
    "source_date": "来源日期",
    "typical_text": "典型案例说明",
}


def update_case(
    session: Session,
    actor: Actor,
    case_id: int,
    values: dict[str, Any],
    *,
    expected_version: int | None,
) -> dict[str, tuple[Any, Any]]:
    """Edit the descriptive fields of an open case (version-checked, audited field by field)."""
    case = get_case(session, actor, case_id, for_update=True)
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"不能在此修改：{'、'.join(sorted(unknown))}")
    for key in ("title", "related_info", "opinion"):
        if key in values:
            values[key] = _required(values[key], EDITABLE_FIELDS[key])
    check_version(session, case, expected_version, f"督办事项 {case.case_no}")
    ctx = Ctx(session, actor, case, today())
    return _transition(
        ctx,
        Action.EDIT,
        case_state(case),
        lambda: apply_changes(
            session, actor, case, values, expected_version=None, label=f"督办事项 {case.case_no}"
        ),
    )


# --- steps ------------------------------------------------------------------------------


def _new_step(
    ctx: Ctx,
    kind: StepKind,
    *,
    unit_id: int | None = None,
    due_workdays: int | None = None,
    record_only: bool = False,
    note: str = "",
    **fields: Any,
) -> Step:
    """Create a step on the case at its current level; a record-only step is done at once."""
    case = ctx.case
    assert case is not None
    due = Calendar.load(ctx.session).add(ctx.on, due_workdays) if due_workdays else None
    step = Step(
        case_id=case.id,  # type: ignore[arg-type]  # ids are set: these rows were flushed
        level=case.level,
        kind=kind,
        status=StepStatus.CLOSED if record_only else StepStatus.OPEN,
        closed_at=ctx.on if record_only else None,
        unit_id=unit_id,
        issued_at=ctx.on,
        due_workdays=due_workdays,
        due_at=due.day if due else None,
        due_provisional=due.provisional if due else False,
        created_by=ctx.actor.user_id,
        updated_by=ctx.actor.user_id,
        **fields,
    )
    text = note or kind.label
    if due is not None:
        text += f"，截止{cn_due(due.day, due.provisional)}"
    return insert(ctx.session, ctx.actor, step, new=kind.label, note=text)


def _issue_step(ctx: Ctx, action: Action, kind: StepKind, **step_fields: Any) -> Step:
    """The shape of every issuing or recording action: the case stays in its state, passes
    the transition gate and gains one step (fields as `_new_step` takes them)."""
    case = ctx.case
    assert case is not None
    return _transition(ctx, action, case_state(case), lambda: _new_step(ctx, kind, **step_fields))


def _case_ctx(session: Session, actor: Actor, case_id: int, on: date | None, **kw: Any) -> Ctx:
    case = get_case(session, actor, case_id, for_update=True)
    return Ctx(session, actor, case, on or today(), **kw)


def issue_supervision_form(
    session: Session, actor: Actor, case_id: int, *, issued_at: date | None = None
) -> Step:
    """派送督办单 (§三(一)1–2): addressed to the lead unit, due 5 working days later."""
    ctx = _case_ctx(session, actor, case_id, issued_at)
    case = ctx.case
    assert case is not None
    return _issue_step(
        ctx,
        Action.ISSUE_FORM,
        StepKind.SUPERVISION_FORM,
        unit_id=case.lead_unit_id,
        due_workdays=WRITTEN_DUE_WORKDAYS,
        subject=case.title,
        body=case.opinion,
        note="派送《12345市民服务热线督办单》",
    )


def issue_onsite_notice(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    location: str,
    subject: str = "",
    issued_at: date | None = None,
    scheduled_at: datetime | None = None,
    procedure: str = "",
    attendees: str = "",
    contact_name: str = "",
    contact_phone: str = "",
    remark: str = "",
) -> Step:
    """发出《现场协调督办通知》 (§三(二)1): 事由, 地点, 时间, 流程, 出席范围, 联系人 …

    The deadline is not known yet: it is fixed at the site visit (`record_site_visit`).
    """
    ctx = _case_ctx(session, actor, case_id, issued_at)
    case = ctx.case
    assert case is not None
    location = _required(location, "协调督办地点")
    if scheduled_at is not None and scheduled_at.date() < ctx.on:
        raise ValidationError(
            f"现场督办时间 {cn_date(scheduled_at)} 早于通知日期 {cn_date(ctx.on)}"
        )
    return _issue_step(
        ctx,
        Action.ISSUE_NOTICE,
        StepKind.ONSITE_NOTICE,
        unit_id=case.lead_unit_id,
        subject=_text(subject) or case.title,
        location=location,
        scheduled_at=scheduled_at,
        body=_text(procedure),
        attendees=_text(attendees),
        contact_name=_text(contact_name),
        contact_phone=_text(contact_phone),
        remark=_text(remark),
        note=f"发出《现场协调督办通知》，地点：{location}",
    )


def register_notice_receipt(
    session: Session,
    actor: Actor,
    step_id: int,
    *,
    reported_to: str,
    tasks: Sequence[tuple[int, str]],
    venue_ready: bool,
    venue: str = "",
    registered_at: datetime | None = None,
) -> Step:
    """当天登记 (§三(二)2): on receiving the notice the unit registers it the same day, reports
    to its main leader (`reported_to`), divides the tasks by responsibility (`tasks`: unit id
    and task, one line each) and prepares the meeting venue (`venue_ready`, `venue`).

    A unit user registers at the server's time; the center may record a registration made
    by phone at its real time. A registration after the notice day is kept and flagged
    (`registration_late`).
    """
    step, case = _get_step(session, actor, step_id)
    moment = now()
    if not actor.can(Perm.EDIT_CASES):
        if registered_at is not None and registered_at.date() != moment.date():
            raise PermissionDenied("承办单位的登记时间以提交时间为准，不能填写其他日期")
        registered_at = None
    when = registered_at or moment
    if when > moment:
        raise ValidationError(f"登记时间 {when:%Y-%m-%d %H:%M} 晚于现在")
    reported_to = _required(reported_to, "报告的主要领导")
    lines = [(unit_id, _text(task)) for unit_id, task in tasks if unit_id or _text(task)]
    if not lines:
        raise ValidationError("请按职责范围分解任务（至少一个单位及其任务）")
    names = []
    for row, (unit_id, task) in enumerate(lines, start=1):
        unit = _get_unit(session, unit_id, f"任务分解第 {row} 行的单位")
        if not task:
            raise ValidationError(f"任务分解第 {row} 行（{unit.name}）：请填写任务")
        names.append(unit.name)
    venue = _text(venue)
    if venue_ready and not venue:
        raise ValidationError("已落实会议场所时请填写场所")
    ctx = Ctx(session, actor, case, when.date(), step=step)

    def apply() -> Step:
        late = when.date() > step.issued_at
        division = "；".join(f"{n}：{t}" for n, (_, t) in zip(names, lines, strict=True))
        place = (
            f"已落实（{venue}）" if venue_ready else "未落实" + (f"（{venue}）" if venue else "")
        )
        apply_changes(
            session,
            actor,
            step,
            {
                "registered_at": when,
                "reported_to": reported_to,
                "venue_ready": bool(venue_ready),
                "venue": venue,
            },
            expected_version=None,
            label="现场协调督办通知",
            note="登记收到现场协调督办通知"
            + ("（晚于通知当天）" if late else "（当天）")
            + f"，已报告主要领导{reported_to}；任务分解：{division}；会议场所{place}",
        )
        for unit_id, task in lines:
            row = NoticeTask(step_id=step.id, unit_id=unit_id, task=task, created_by=actor.user_id)  # type: ignore[arg-type]  # ids are set: these rows were flushed
            insert(session, actor, row, new=task, note="现场协调督办任务分解")
        return step

    return _transition(ctx, Action.REGISTER_NOTICE, case_state(case), apply)


def notice_tasks(session: Session, step_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    """The task division of each registered notice: step id → [(unit name, task)]."""
    if not step_ids:
        return {}
    rows = session.exec(
        select(NoticeTask.step_id, Unit.name, NoticeTask.task)
        .join(Unit, col(Unit.id) == col(NoticeTask.unit_id))
        .where(col(NoticeTask.step_id).in_(step_ids))
        .order_by(col(NoticeTask.id))
    ).all()
    found: dict[int, list[tuple[str, str]]] = {}
    for step_id, name, task in rows:
        found.setdefault(step_id, []).append((name, task))
    return found


def record_site_visit(
    session: Session,
    actor: Actor,
    step_id: int,
    *,
    visit_at: date,
    findings: str,
    responsible_unit_id: int,
    deadline: date | None = None,
    deadline_workdays: int | None = None,
) -> Step:
    """实地踏勘 (§三(二)3): findings, the responsible unit and the deadline fixed on site.

    The deadline is a date, or N working days from the visit (then recomputed if the
    holiday calendar changes). The responsible unit must be one of the case's units.
    """
    step, case = _get_step(session, actor, step_id)
    findings = _required(findings, "踏勘情况")
    if (deadline is None) == (deadline_workdays is None):
        raise ValidationError("处置时限请填写具体日期或工作日天数（二选一）")
    if deadline_workdays is not None and deadline_workdays < 1:
        raise ValidationError(f"处置时限工作日天数须为正整数：{deadline_workdays}")
    calendar = Calendar.load(session)
    if deadline is not None and not calendar.is_workday(deadline):
        # one rule for every board and KPI: deadlines fall on working days
        raise ValidationError(f"处置时限 {cn_date(deadline)} 是休息日，请选择工作日")
    due = calendar.add(visit_at, deadline_workdays) if deadline_workdays is not None else None
    due_at = due.day if due is not None else deadline
    ctx = Ctx(session, actor, case, visit_at, step=step, due_at=due_at, unit_id=responsible_unit_id)

    def apply() -> Step:
        values = {
            "visit_at": visit_at,
            "visit_findings": findings,
            "responsible_unit_id": responsible_unit_id,
            "due_at": due_at,
            "due_workdays": deadline_workdays,
            "due_provisional": due.provisional if due is not None else False,
        }
        apply_changes(
            session,
            actor,
            step,
            values,
            expected_version=None,
            label="现场协调督办通知",
            note=f"实地踏勘，明确处置时限{cn_date(due_at)}",
        )
        return step

    return _transition(ctx, Action.SITE_VISIT, case_state(case), apply)


def record_leader_instruction(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    leader: str,
    recipient: str,
    text: str,
    issued_at: date | None = None,
) -> Step:
    """区、镇领导批办 / a leader's 批示 (§三(三)1): who instructed, to whom, what, when."""
    ctx = _case_ctx(session, actor, case_id, issued_at)
    leader = _required(leader, "批示领导")
    recipient = _required(recipient, "批办对象")
    text = _required(text, "批示内容")
    return _issue_step(
        ctx,
        Action.LEADER_INSTRUCTION,
        StepKind.LEADER_INSTRUCTION,
        record_only=True,
        subject=leader,
        recipient=recipient,
        body=text,
        note=f"{leader}批办至{recipient}：{text}",
    )


def record_special_meeting(session: Session, actor: Actor, case_id: int, meeting_id: int) -> Step:
    """镇领导专题会 (§三(三)2) as a step of an escalated case, linked to the meeting."""
    meeting = get_live(session, Meeting, meeting_id, "专题会")
    ctx = _case_ctx(session, actor, case_id, meeting.held_at)
    return _issue_step(
        ctx,
        Action.SPECIAL_MEETING,
        StepKind.SPECIAL_MEETING,
        record_only=True,
        meeting_id=meeting.id,
        subject=meeting.title,
        recipient=meeting.chair,
        body=meeting.summary,
        note=f"提交镇领导专题会：{meeting.title}",
    )


def record_special_report(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    subject: str,
    text: str,
    recipient: str = "镇主要领导、镇政府分管领导",
    issued_at: date | None = None,
    analysis: str = "",
    suggestion: str = "",
) -> Step:
    """工作专报 (§三(三)3) to the town's main leaders: 情况 (`text`), 原因分析 and 建议 are the
    report's own words to the leaders, never the 督办意见 addressed to the unit."""
    ctx = _case_ctx(session, actor, case_id, issued_at)
    subject = _required(subject, "专报标题")
    text = _required(text, "专报情况")
    recipient = _required(recipient, "报送对象")
    return _issue_step(
        ctx,
        Action.SPECIAL_REPORT,
        StepKind.SPECIAL_REPORT,
        record_only=True,
        subject=subject,
        body=text,
        analysis=_text(analysis),
        suggestion=_text(suggestion),
        recipient=recipient,
        note=f"工作专报报送{recipient}：{subject}",
    )


def record_escalation_report(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    subject: str,
    reason: str,
    request: str,
    recipient: str = "镇分管领导",
    issued_at: date | None = None,
) -> Step:
    """提级办理报告 (§三(三)1 "梳理汇总后，报请镇分管领导"): only at 提级协调督办; its 提级理由
    and 请示事项 are the center's words to the leader."""
    ctx = _case_ctx(session, actor, case_id, issued_at)
    subject = _required(subject, "报告标题")
    reason = _required(reason, "提级理由")
    request = _required(request, "请示事项")
    recipient = _required(recipient, "主送领导")
    return _issue_step(
        ctx,
        Action.ESCALATION_REPORT,
        StepKind.ESCALATION_REPORT,
        record_only=True,
        subject=subject,
        report_reason=reason,
        body=request,
        recipient=recipient,
        note=f"提级办理报告报请{recipient}批办：{subject}",
    )


def issue_escalated_handling(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    requirement: str,
    issued_at: date | None = None,
) -> Step:
    """提级办理要求 (§三(三)4): the lead unit answers in writing within 5 working days."""
    ctx = _case_ctx(session, actor, case_id, issued_at)
    case = ctx.case
    assert case is not None
    requirement = _required(requirement, "处置要求")
    return _issue_step(
        ctx,
        Action.ISSUE_HANDLING,
        StepKind.ESCALATED_HANDLING,
        unit_id=case.lead_unit_id,
        due_workdays=ESCALATED_DUE_WORKDAYS,
        subject=case.title,
        body=requirement,
        note="下达提级办理要求",
    )


def report_up(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    text: str,
    recipient: str = "区领导",
    issued_at: date | None = None,
) -> Step:
    """办理情况上报区领导 (§三(三)4)."""
    ctx = _case_ctx(session, actor, case_id, issued_at)
    text = _required(text, "上报内容")
    recipient = _required(recipient, "上报对象")
    return _issue_step(
        ctx,
        Action.REPORT_UP,
        StepKind.REPORT_UP,
        record_only=True,
        recipient=recipient,
        body=text,
        note=f"办理情况上报{recipient}",
    )


# --- feedback ---------------------------------------------------------------------------


def feedback_compliant(signed: bool, stamped: bool, scanned: bool) -> bool:
    """书面反馈 is 合规 only 由单位主要领导签字并加盖单位公章 (§三(一)2), and the center can see
    both only on the attached scan: all three."""
    return bool(signed and stamped and scanned)


def answered_on_time(received: date, due: date | None) -> bool | None:
    """Received on or before the due date; None for a step without one."""
    return None if due is None else received <= due


def register_feedback(
    session: Session,
    actor: Actor,
    step_id: int,
    *,
    text: str,
    signed: bool,
    stamped: bool,
    progress: Progress | str | None,
    received_at: date | None = None,
    date_reason: str = "",
    unit_id: int | None = None,
    upload_id: int | None = None,
) -> Feedback:
    """书面反馈 (§三(一)2): 由单位主要领导签字并加盖单位公章 — and the center can trust it.

    收到日期 of a unit user is the server's date of submission: a unit cannot pass another
    date. The center records paper feedback at its real date, with a reason when that is not
    today. 签字/盖章 count (合规) only with the scan attached. Feedback a unit enters is 待核验
    until the center confirms it (`confirm_feedback`); feedback the center enters is
    confirmed at once. Only confirmed, compliant feedback of the answering unit closes the
    step and freezes its outcome (closed_at, on_time, margin in working days); anything
    else is recorded beside it. A unit user registers only for their own unit.
    """
    step, case = _get_step(session, actor, step_id)
    if not progress:
        raise ValidationError("请选择处置进展")
    try:
        progress = Progress(progress)
    except ValueError as exc:
        raise ValidationError(f"处置进展无效：{progress}") from exc
    if not actor.can(Perm.VIEW_ALL):
        if unit_id is not None and unit_id != actor.unit_id:
            raise PermissionDenied(f"当前账号（{actor.username}）只能登记本单位的反馈")
        unit_id = actor.unit_id
    received_at, date_reason = _feedback_date(actor, received_at, date_reason)
    center = actor.can(Perm.EDIT_CASES)
    unit_id = unit_id or answering_unit_id(step)
    text = _required(text, "反馈内容")
    if upload_id is not None:
        uploads.require_own_upload(session, actor, upload_id)
    ctx = Ctx(session, actor, case, received_at, step=step, unit_id=unit_id)

    def apply() -> Feedback:
        scanned = upload_id is not None
        compliant = feedback_compliant(signed, stamped, scanned)
        feedback = Feedback(
            step_id=step.id,  # type: ignore[arg-type]  # ids are set: these rows were flushed
            unit_id=unit_id,
            received_at=received_at,
            text=text,
            signed=bool(signed),
            stamped=bool(stamped),
            compliant=compliant,
            on_time=answered_on_time(received_at, step.due_at),
            progress=progress,
            upload_id=upload_id,
            review=FeedbackReview.CONFIRMED if center else FeedbackReview.PENDING,
            reviewed_at=now() if center else None,
            reviewed_by=actor.user_id if center else None,
            date_reason=date_reason,
            created_by=actor.user_id,
            updated_by=actor.user_id,
        )
        missing = [
            w
            for w, ok in (("主要领导签字", signed), ("加盖公章", stamped), ("扫描件", scanned))
            if not ok
        ]
        note = f"登记书面反馈（收到日期{cn_date(received_at)}）：{progress.label}，" + (
            "合规" if compliant else f"不合规（缺{'、'.join(missing)}）"
        )
        if date_reason:
            note += f"；收到日期说明：{date_reason}"
        note += "；城运中心登记，已核验" if center else "；待城运中心核验"
        insert(session, actor, feedback, new=progress.label, note=note)
        if center:
            _close_if_answered(session, actor, step, feedback)
        return feedback

    return _transition(ctx, Action.FEEDBACK, case_state(case), apply)


def _feedback_date(actor: Actor, received_at: date | None, reason: str) -> tuple[date, str]:
    """收到日期: the day of submission for a unit (never another date); for the center the
    date the paper arrived, with a reason when that is not today."""
    day = today()
    reason = _text(reason)
    if not actor.can(Perm.EDIT_CASES):
        if received_at is not None and received_at != day:
            raise PermissionDenied(
                f"承办单位的书面反馈以提交当天（{cn_date(day)}）为收到日期，"
                f"不能填写其他日期（{cn_date(received_at)}）"
            )
        return day, ""
    received_at = received_at or day
    if received_at != day and not reason:
        raise ValidationError(
            f"收到日期 {cn_date(received_at)} 不是今天，请写明原因（如纸质反馈邮寄收到）"
        )
    return received_at, reason if received_at != day else ""


def _close_if_answered(session: Session, actor: Actor, step: Step, feedback: Feedback) -> None:
    """Confirmed, compliant feedback of the answering unit closes its open step."""
    if (
        feedback.compliant
        and feedback.review == FeedbackReview.CONFIRMED
        and feedback.unit_id == answering_unit_id(step)
        and step.status == StepStatus.OPEN
    ):
        _freeze_outcome(session, actor, step, feedback.received_at)


def _get_feedback(session: Session, actor: Actor, feedback_id: int) -> tuple[Feedback, Step, Case]:
    feedback = session.get(Feedback, feedback_id)
    if feedback is None or feedback.deleted_at is not None:
        raise NotFound(f"书面反馈（编号 {feedback_id}）不存在或已删除")
    step, case = _get_step(session, actor, feedback.step_id)
    return feedback, step, case


def confirm_feedback(
    session: Session, actor: Actor, feedback_id: int, *, expected_version: int | None = None
) -> Feedback:
    """The center confirms a unit's feedback (核验): from now on it counts — compliant
    feedback of the answering unit closes the step, its outcome frozen by the date the unit
    submitted it, and it counts in the KPIs and the assessment."""
    feedback, step, case = _get_feedback(session, actor, feedback_id)
    check_version(session, feedback, expected_version, "书面反馈")
    ctx = Ctx(session, actor, case, today(), step=step, feedback=feedback)

    def apply() -> Feedback:
        _review(
            session, actor, feedback, FeedbackReview.CONFIRMED, "", "城运中心核验书面反馈：确认"
        )
        _close_if_answered(session, actor, step, feedback)
        return feedback

    return _transition(ctx, Action.CONFIRM_FEEDBACK, case_state(case), apply)


def return_feedback(
    session: Session,
    actor: Actor,
    feedback_id: int,
    *,
    reason: str,
    expected_version: int | None = None,
) -> Feedback:
    """The center returns a unit's feedback with a reason: it stays on record, never counts,
    and the step waits for a new answer."""
    feedback, step, case = _get_feedback(session, actor, feedback_id)
    check_version(session, feedback, expected_version, "书面反馈")
    reason = _text(reason)
    ctx = Ctx(session, actor, case, today(), step=step, feedback=feedback, reason=reason)

    def apply() -> Feedback:
        _review(
            session, actor, feedback, FeedbackReview.RETURNED, reason, f"退回书面反馈：{reason}"
        )
        return feedback

    return _transition(ctx, Action.RETURN_FEEDBACK, case_state(case), apply)


def correct_feedback_date(
    session: Session,
    actor: Actor,
    feedback_id: int,
    *,
    received_at: date,
    reason: str,
    expected_version: int | None = None,
) -> Feedback:
    """The center corrects 收到日期 of feedback still 待核验, only with a reason (audited).

    Confirmed feedback keeps its date: the step's outcome was frozen by it.
    """
    feedback, step, case = _get_feedback(session, actor, feedback_id)
    check_version(session, feedback, expected_version, "书面反馈")
    reason = _text(reason)
    ctx = Ctx(session, actor, case, received_at, step=step, feedback=feedback, reason=reason)

    def apply() -> Feedback:
        apply_changes(
            session,
            actor,
            feedback,
            {
                "received_at": received_at,
                "date_reason": reason,
                "on_time": None if step.due_at is None else received_at <= step.due_at,
            },
            expected_version=None,
            label="书面反馈",
            note=f"更正收到日期：{reason}",
        )
        return feedback

    return _transition(ctx, Action.CORRECT_FEEDBACK_DATE, case_state(case), apply)


def _review(
    session: Session,
    actor: Actor,
    feedback: Feedback,
    review: FeedbackReview,
    note_text: str,
    note: str,
) -> None:
    apply_changes(
        session,
        actor,
        feedback,
        {
            "review": review,
            "review_note": note_text,
            "reviewed_at": now(),
            "reviewed_by": actor.user_id,
        },
        expected_version=None,
        label="书面反馈",
        note=note,
    )


def pending_feedback(session: Session, case_id: int) -> list[Feedback]:
    """Feedback of the case's live steps still waiting for the center's check, oldest first."""
    return list(
        session.exec(
            select(Feedback)
            .join(Step, col(Step.id) == col(Feedback.step_id))
            .where(
                col(Step.case_id) == case_id,
                col(Step.deleted_at).is_(None),
                col(Feedback.review) == FeedbackReview.PENDING,
                col(Feedback.deleted_at).is_(None),
            )
            .order_by(col(Feedback.id))
        )
    )


def _freeze_outcome(session: Session, actor: Actor, step: Step, received: date) -> None:
    """Close the step with its outcome, written once and never recomputed (history stays)."""
    on_time = answered_on_time(received, step.due_at)
    margin = None
    if step.due_at is not None:
        margin = Calendar.load(session).between(received, step.due_at)
    apply_changes(
        session,
        actor,
        step,
        {
            "status": StepStatus.CLOSED,
            "closed_at": received,
            "on_time": on_time,
            "margin_workdays": margin,
        },
        expected_version=None,
        label=step.kind.label,
        note="收到合规书面反馈，环节完成"
        + ("" if on_time is None else ("（按时）" if on_time else "（逾期）")),
    )


# --- escalation, verification, closing, reopening, referral -----------------------------


def escalate_case(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    on: date | None = None,
    override_reason: str = "",
    expected_version: int | None = None,
) -> Case:
    """提级 (纳入提级办理范围): up one level when eligible, or with an explicit reason.

    Never automatic: staff confirm. The current step closes as ESCALATED (an answered step
    keeps its status and frozen outcome) and records why the case left it.
    """
    case = get_case(session, actor, case_id, for_update=True)
    check_version(session, case, expected_version, f"督办事项 {case.case_no}")
    day = on or today()
    found = eligible_for_escalation(session, day, [case_id])
    eligibility = found[0] if found else None
    override = _text(override_reason)
    reasons = [eligibility.reason] if eligibility else []
    if override:
        reasons.append(override if eligibility else f"经人工确认提级：{override}")
    reason = "；".join(reasons)
    next_level = case.level.next()
    target = STATE_OF_LEVEL[next_level] if next_level else case_state(case)
    ctx = Ctx(session, actor, case, day, eligibility=eligibility, reason=override, note=reason)

    def apply() -> Case:
        current = session.exec(
            select(Step)
            .where(
                col(Step.case_id) == case.id,
                col(Step.level) == case.level,
                col(Step.kind).in_(HANDLING_KINDS),
                col(Step.status).in_((StepStatus.OPEN, StepStatus.CLOSED)),
                col(Step.deleted_at).is_(None),
            )
            .order_by(col(Step.id).desc())
        ).first()
        if current is not None:
            values: dict[str, Any] = {"escalation_reason": reason}
            if current.status == StepStatus.OPEN:
                values["status"] = StepStatus.ESCALATED
            apply_changes(
                session, actor, current, values, expected_version=None, label=current.kind.label
            )
        apply_changes(
            session,
            actor,
            case,
            {"level": next_level},
            expected_version=None,
            label=f"督办事项 {case.case_no}",
            note=f"提级：{reason}",
        )
        return case

    return _transition(ctx, Action.ESCALATE, target, apply)


def verify_case(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    note: str,
    confirmed: bool = True,
    on: date | None = None,
) -> Case:
    """跟踪核实 (§三(三)4): the center checks the unit's 已办结 report on the ground.

    A confirmed verification allows closing; an unconfirmed one is recorded (audited) and
    the case stays open for a new step.
    """
    ctx = _case_ctx(session, actor, case_id, on)
    case = ctx.case
    assert case is not None
    note = _required(note, "核实情况")
    ctx.done_feedback = done_feedback(session, case.id)  # type: ignore[arg-type]  # ids are set: these rows were flushed

    def apply() -> Case:
        values: dict[str, Any] = {"verification_note": note}
        values["verified_at"] = ctx.on if confirmed else None
        apply_changes(
            session,
            actor,
            case,
            values,
            expected_version=None,
            label=f"督办事项 {case.case_no}",
            note="跟踪核实：" + ("属实，已办结" if confirmed else "核实未办结"),
        )
        return case

    return _transition(ctx, Action.VERIFY, case_state(case), apply)


def close_case(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    result_text: str,
    on: date | None = None,
    expected_version: int | None = None,
) -> Case:
    """办结: needs compliant 已办结 feedback and the center's verification; the result text
    becomes 督办情况 on the 督办单."""
    ctx = _case_ctx(session, actor, case_id, on, result_text=_text(result_text))
    case = ctx.case
    assert case is not None
    check_version(session, case, expected_version, f"督办事项 {case.case_no}")
    ctx.done_feedback = done_feedback(session, case.id)  # type: ignore[arg-type]  # ids are set: these rows were flushed

    def apply() -> Case:
        apply_changes(
            session,
            actor,
            case,
            {"status": CaseStatus.CLOSED, "closed_at": ctx.on, "result_text": ctx.result_text},
            expected_version=None,
            label=f"督办事项 {case.case_no}",
            note="办结",
        )
        return case

    return _transition(ctx, Action.CLOSE, CaseState.CLOSED, apply)


def reopen_case(
    session: Session,
    actor: Actor,
    case_id: int,
    *,
    reason: str,
    on: date | None = None,
    expected_version: int | None = None,
) -> Case:
    """重新督办 a closed case (e.g. the citizen calls again) at the level it closed at.

    The verification is cleared: closing again needs a new one.
    """
    ctx = _case_ctx(session, actor, case_id, on, reason=_text(reason))
    case = ctx.case
    assert case is not None
    check_version(session, case, expected_version, f"督办事项 {case.case_no}")

    def apply() -> Case:
        apply_changes(
            session,
            actor,
            case,
            {
                "status": CaseStatus.OPEN,
                "closed_at": None,
                "verified_at": None,
                "reopen_reason": ctx.reason,
            },
            expected_version=None,
            label=f"督办事项 {case.case_no}",
            note=f"重新督办：{ctx.reason}",
        )
        return case

    return _transition(ctx, Action.REOPEN, STATE_OF_LEVEL[case.level], apply)


def refer_case(
    session: Session, actor: Actor, case_id: int, *, reason: str, on: date | None = None
) -> Referral:
    """移交镇纪委监察办 (§三 工作要求(三)): a typical case of buck-passing, with reason and date."""
    ctx = _case_ctx(session, actor, case_id, on, reason=_text(reason))
    case = ctx.case
    assert case is not None

    def apply() -> Referral:
        referral = Referral(
            case_id=case.id,  # type: ignore[arg-type]  # ids are set: these rows were flushed
            referred_at=ctx.on,
            reason=ctx.reason,
            created_by=actor.user_id,
            updated_by=actor.user_id,
        )
        return insert(
            session, actor, referral, new=cn_date(ctx.on), note=f"移交镇纪委监察办：{ctx.reason}"
        )

    return _transition(ctx, Action.REFER, case_state(case), apply)


@dataclass(frozen=True)
class ReferralRow:
    referral: Referral
    case_id: int
    case_no: str
    title: str
    lead_unit: str


def list_referrals(session: Session, actor: Actor) -> list[ReferralRow]:
    """Every referral to the discipline office, newest first (center and leaders)."""
    actor.require(Perm.VIEW_ALL, "查看移交名单")
    rows = session.exec(
        select(Referral, col(Case.id), col(Case.case_no), col(Case.title), col(Unit.name))  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
        .join(Case, col(Case.id) == col(Referral.case_id))
        .outerjoin(Unit, col(Unit.id) == col(Case.lead_unit_id))
        .where(col(Referral.deleted_at).is_(None), col(Case.deleted_at).is_(None))
        .order_by(col(Referral.referred_at).desc(), col(Referral.id).desc())
    ).all()
    return [ReferralRow(r, cid, no, title, unit or "") for r, cid, no, title, unit in rows]


# --- deadlines after a calendar change --------------------------------------------------


def change_year_schedule(
    session: Session,
    actor: Actor,
    year: int,
    holidays: list[date],
    working_weekends: list[date],
    note: str = "",
) -> int:
    """Save a year's holiday schedule and give the open steps counted in working days their
    final (non-暂估) due dates, in the caller's one transaction. Returns the steps changed."""
    set_year_schedule(session, actor, year, holidays, working_weekends, note)
    return recompute_due_dates(session, actor)


def recompute_due_dates(session: Session, actor: Actor) -> int:
    """Recompute the due dates of open steps counted in working days (provisional → final).

    Called when an admin saves a year's holiday schedule. Closed steps are never touched:
    their frozen outcome is history. Returns how many steps changed.
    """
    if not (actor.can(Perm.MANAGE_SETTINGS) or actor.can(Perm.EDIT_CASES)):
        actor.require(Perm.MANAGE_SETTINGS, "重新计算截止日期")
    calendar = Calendar.load(session)
    changed = 0
    steps = session.exec(
        select(Step).where(
            col(Step.status) == StepStatus.OPEN,
            col(Step.due_workdays).is_not(None),
            col(Step.deleted_at).is_(None),
        )
    ).all()
    for step in steps:
        start = step.visit_at if step.kind == StepKind.ONSITE_NOTICE else step.issued_at
        if start is None:
            continue
        due = calendar.add(start, step.due_workdays)  # type: ignore[arg-type]  # the query selects steps counted in working days only
        if (due.day, due.provisional) != (step.due_at, step.due_provisional):
            apply_changes(
                session,
                actor,
                step,
                {"due_at": due.day, "due_provisional": due.provisional},
                expected_version=None,
                label=step.kind.label,
                note="节假日安排变更，重新计算截止日期",
            )
            changed += 1
    return changed


# --- views for the pages ----------------------------------------------------------------


@dataclass
class CaseFilter:
    status: CaseStatus | None = None
    level: Level | None = None
    scope: Scope | None = None
    unit_id: int | None = None
    search: str = ""
    overdue_only: bool = False
    referred_only: bool = False


@dataclass(frozen=True)
class CaseRow:
    id: int
    case_no: str
    title: str
    scope: Scope
    level: Level
    status: CaseStatus
    lead_unit: str
    opened_at: date
    closed_at: date | None
    due_at: date | None  # the earliest due date of its open steps
    due_provisional: bool
    referred: bool


def escalation_eligible(
    session: Session, actor: Actor, case_ids: Sequence[int], on: date | None = None
) -> set[int]:
    """Which of `case_ids` the actor may see are eligible for escalation (提级) today."""
    ids = list(case_ids)
    if not actor.can(Perm.VIEW_ALL):
        mine = _visible_case_ids(actor).where(col(CaseUnit.case_id).in_(ids))
        ids = list(set(session.exec(mine)))
    return {e.case_id for e in eligible_for_escalation(session, on or today(), ids)}


def list_cases(
    session: Session,
    actor: Actor,
    filters: CaseFilter | None = None,
    *,
    on: date | None = None,
    limit: int = 200,
    offset: int = 0,
) -> tuple[list[CaseRow], int]:
    """Cases the actor may see, filtered, newest first; returns (page of rows, total count)."""
    f = filters or CaseFilter()
    day = on or today()
    due = (
        select(
            col(Step.case_id),
            func.min(col(Step.due_at)).label("due_at"),
            func.max(cast(col(Step.due_provisional), Integer)).label("prov"),
        )
        .where(
            col(Step.status) == StepStatus.OPEN,
            col(Step.due_at).is_not(None),
            col(Step.deleted_at).is_(None),
        )
        .group_by(col(Step.case_id))
        .subquery("due")
    )
    referred = exists().where(
        col(Referral.case_id) == col(Case.id), col(Referral.deleted_at).is_(None)
    )
    conds: list[Any] = [col(Case.deleted_at).is_(None)]
    if not actor.can(Perm.VIEW_ALL):
        conds.append(col(Case.id).in_(_visible_case_ids(actor)))
    if f.status is not None:
        conds.append(col(Case.status) == f.status)
    if f.level is not None:
        conds.append(col(Case.level) == f.level)
    if f.scope is not None:
        conds.append(col(Case.scope) == f.scope)
    if f.unit_id is not None:
        conds.append(
            col(Case.id).in_(
                select(col(CaseUnit.case_id)).where(col(CaseUnit.unit_id) == f.unit_id)
            )
        )
    if _text(f.search):
        like = f"%{_text(f.search)}%"
        conds.append(
            or_(
                col(Case.case_no).like(like),
                col(Case.title).like(like),
                col(Case.related_info).like(like),
            )
        )
    if f.overdue_only:
        conds.append(and_(col(Case.status) == CaseStatus.OPEN, due.c.due_at < day))
    if f.referred_only:
        conds.append(referred)
    base = (
        select(  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
            col(Case.id),
            col(Case.case_no),
            col(Case.title),
            col(Case.scope),
            col(Case.level),
            col(Case.status),
            col(Unit.name),
            col(Case.opened_at),
            col(Case.closed_at),
            due.c.due_at,
            due.c.prov,
            referred.label("referred"),
        )
        .outerjoin(Unit, col(Unit.id) == col(Case.lead_unit_id))
        .outerjoin(due, due.c.case_id == col(Case.id))
        .where(*conds)
    )
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    rows = session.exec(
        base.order_by(col(Case.opened_at).desc(), col(Case.id).desc()).limit(limit).offset(offset)
    ).all()
    return [
        CaseRow(
            id=r[0],
            case_no=r[1],
            title=r[2],
            scope=r[3],
            level=r[4],
            status=r[5],
            lead_unit=r[6] or "",
            opened_at=r[7],
            closed_at=r[8],
            due_at=r[9],
            due_provisional=bool(r[10]),
            referred=bool(r[11]),
        )
        for r in rows
    ], total


@dataclass
class StepView:
    step: Step
    feedback: list[Feedback]
    unit_name: str
    responsible_unit_name: str
    tasks: list[tuple[str, str]] = field(default_factory=list)  # 当天登记的任务分解


@dataclass
class CaseDetail:
    case: Case
    state: CaseState
    units: list[tuple[Unit, UnitRole]]
    tickets: list[Ticket]
    steps: list[StepView]
    referrals: list[Referral]
    meetings: list[Meeting]
    eligibility: Eligibility | None
    done_feedback: Feedback | None
    unit_names: dict[int, str] = field(default_factory=dict)

    @property
    def open_step(self) -> Step | None:
        """The handling step waiting for the unit's feedback, if any."""
        for view in reversed(self.steps):
            if view.step.kind in HANDLING_KINDS and view.step.status == StepStatus.OPEN:
                return view.step
        return None

    @property
    def lead_unit(self) -> Unit | None:
        return next((u for u, role in self.units if role == UnitRole.LEAD), None)


def case_detail(
    session: Session, actor: Actor, case_id: int, *, on: date | None = None
) -> CaseDetail:
    """Everything the case page shows, in a handful of queries."""
    case = get_case(session, actor, case_id)
    units = [
        (unit, role)
        for unit, role in session.exec(
            select(Unit, col(CaseUnit.role))
            .join(CaseUnit, col(CaseUnit.unit_id) == col(Unit.id))
            .where(col(CaseUnit.case_id) == case_id)
            .order_by(col(CaseUnit.role).desc(), col(Unit.name))
        )
    ]
    names = {u.id: u.name for u, _ in units if u.id is not None}
    tickets = list(
        session.exec(
            select(Ticket)
            .join(CaseTicket, col(CaseTicket.ticket_id) == col(Ticket.id))
            .where(col(CaseTicket.case_id) == case_id)
            .order_by(col(Ticket.received_at))
        )
    )
    if not masking.sees_contacts(actor):  # unit and leader users: callers masked here
        safe = masking.safe_columns(session)
        tickets = [masking.mask_ticket_copy(actor, t, safe) for t in tickets]
    steps = list(
        session.exec(
            select(Step)
            .where(col(Step.case_id) == case_id, col(Step.deleted_at).is_(None))
            .order_by(col(Step.id))
        )
    )
    feedback_by_step: dict[int, list[Feedback]] = {}
    if steps:
        for fb in session.exec(
            select(Feedback)
            .where(
                col(Feedback.step_id).in_([s.id for s in steps]),
                col(Feedback.deleted_at).is_(None),
            )
            .order_by(col(Feedback.id))
        ):
            feedback_by_step.setdefault(fb.step_id, []).append(fb)
    tasks = notice_tasks(session, [s.id for s in steps if s.registered_at is not None])  # type: ignore[misc]  # ids are set: these rows were flushed
    views = [
        StepView(
            step=s,
            feedback=feedback_by_step.get(s.id, []),  # type: ignore[arg-type]  # ids are set: these rows were flushed
            unit_name=names.get(s.unit_id, "") if s.unit_id else "",
            responsible_unit_name=names.get(s.responsible_unit_id, "")
            if s.responsible_unit_id
            else "",
            tasks=tasks.get(s.id, []),  # type: ignore[arg-type]  # ids are set: these rows were flushed
        )
        for s in steps
    ]
    referrals = list(
        session.exec(
            select(Referral)
            .where(col(Referral.case_id) == case_id, col(Referral.deleted_at).is_(None))
            .order_by(col(Referral.referred_at))
        )
    )
    meetings = list(
        session.exec(
            select(Meeting)
            .join(MeetingCase, col(MeetingCase.meeting_id) == col(Meeting.id))
            .where(col(MeetingCase.case_id) == case_id, col(Meeting.deleted_at).is_(None))
            .order_by(col(Meeting.held_at))
        )
    )
    found = eligible_for_escalation(session, on or today(), [case_id])
    return CaseDetail(
        case=case,
        state=case_state(case),
        units=units,
        tickets=tickets,
        steps=views,
        referrals=referrals,
        meetings=meetings,
        eligibility=found[0] if found else None,
        done_feedback=done_feedback(session, case_id),
        unit_names=names,
    )


def feedback_uploads(session: Session, actor: Actor, case_id: int) -> dict[int, Upload]:
    """The scanned replies attached to a case's feedback, by upload id (for their download
    buttons); refused like the case itself for a unit that does not handle it."""
    get_case(session, actor, case_id)
    ids = select(col(Feedback.upload_id)).join(Step, col(Step.id) == col(Feedback.step_id))
    ids = ids.where(col(Step.case_id) == case_id, col(Feedback.deleted_at).is_(None))
    stmt = select(Upload).where(col(Upload.id).in_(ids))
    return {u.id: u for u in session.exec(stmt) if u.id is not None}


# --- the timeline -----------------------------------------------------------------------

ENTITY_LABELS = {
    "case": "事项",
    "step": "环节",
    "feedback": "书面反馈",
    "referral": "移交",
    "document": "文书",
}
FIELD_LABELS = {
    "state": "状态",
    "level": "督办类型",
    "status": "状态",
    "closed_at": "完成日期",
    "on_time": "是否按时",
    "margin_workdays": "余量（工作日）",
    "escalation_reason": "提级理由",
    "verified_at": "核实日期",
    "verification_note": "核实情况",
    "result_text": "督办情况",
    "reopen_reason": "重新督办理由",
    "due_at": "截止日期",
    "due_provisional": "暂估",
    "due_workdays": "时限（工作日）",
    "registered_at": "登记时间",
    "visit_at": "踏勘日期",
    "visit_findings": "踏勘情况",
    "responsible_unit_id": "责任单位",
    "reported_to": "报告主要领导",
    "venue_ready": "会议场所已落实",
    "venue": "会议场所",
    "review": "核验",
    "review_note": "退回理由",
    "received_at": "收到日期",
    "date_reason": "收到日期说明",
    "meeting": "专题会",
    **EDITABLE_FIELDS,
}
YES_NO_FIELDS = {"on_time", "due_provisional", "venue_ready", "signed", "stamped", "compliant"}
UNIT_FIELDS = {"responsible_unit_id", "unit_id", "lead_unit_id"}
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?")  # as audit.show writes
QUIET_FIELDS = {"reviewed_at", "reviewed_by"}  # who and when is the entry itself


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    who: str
    what: str
    detail: str


def case_timeline(session: Session, actor: Actor, case_id: int) -> list[TimelineEntry]:
    """Every step, feedback, document, state change and edit of a case, oldest first.

    Built from the audit log (who and when), the rows written in one action grouped into
    one entry, plus the registered documents (downloaded from the case's 已生成的文书 list).
    """
    get_case(session, actor, case_id)
    step_ids = list(session.exec(select(col(Step.id)).where(col(Step.case_id) == case_id)))
    feedback_ids = (
        list(session.exec(select(col(Feedback.id)).where(col(Feedback.step_id).in_(step_ids))))
        if step_ids
        else []
    )
    referral_ids = list(
        session.exec(select(col(Referral.id)).where(col(Referral.case_id) == case_id))
    )
    owners = [and_(col(AuditLog.entity) == "case", col(AuditLog.entity_id) == case_id)]
    for entity, ids in (("step", step_ids), ("feedback", feedback_ids), ("referral", referral_ids)):
        if ids:
            owners.append(and_(col(AuditLog.entity) == entity, col(AuditLog.entity_id).in_(ids)))
    rows = session.exec(select(AuditLog).where(or_(*owners)).order_by(col(AuditLog.id))).all()
    people = {
        uid: name or login
        for uid, name, login in session.exec(select(User.id, User.display_name, User.username))
    }
    words = _Words(people, dict(session.exec(select(Unit.id, Unit.name)).all()))  # type: ignore[arg-type]  # ids of stored rows are never None
    entries: list[TimelineEntry] = []
    group: list[AuditLog] = []
    for row in [*rows, None]:
        if group and (row is None or _group_key(row) != _group_key(group[0])):
            entries.append(_entry(group, words))
            group = []
        if row is not None:
            group.append(row)
    documents = session.exec(select(Document).where(col(Document.case_id) == case_id)).all()
    for doc in documents:
        entries.append(
            TimelineEntry(
                at=doc.created_at,
                who=words.person(doc.created_by, ""),
                what=f"生成文书：{doc.kind.label}",
                detail=doc.file_name,
            )
        )
    return sorted(entries, key=lambda e: e.at)


def _group_key(row: AuditLog) -> tuple[Any, ...]:
    return (row.at, row.username, row.entity, row.entity_id, row.action, row.note)


@dataclass(frozen=True)
class _Words:
    """Audit values as a reader says them: people by 姓名, units by name, 是/否, dates."""

    people: dict[int, str]
    units: dict[int, str]

    def person(self, user_id: int | None, username: str) -> str:
        if user_id is not None and self.people.get(user_id):
            return self.people[user_id]
        return "系统" if username in ("", "system") else username

    def value(self, field_name: str, raw: str | None) -> str:
        if raw is None or raw == "":
            return "（空）"
        if field_name in YES_NO_FIELDS:
            return {"True": "是", "False": "否"}.get(raw, raw)
        if field_name in UNIT_FIELDS and raw.isdigit():
            return self.units.get(int(raw), "（已删除的单位）")
        if not ISO_MOMENT.fullmatch(raw):
            return raw
        moment = datetime.fromisoformat(raw)
        return cn_date(moment) if len(raw) == 10 else f"{cn_date(moment)} {moment:%H:%M}"


def _entry(rows: list[AuditLog], words: _Words) -> TimelineEntry:
    first = rows[0]
    what = f"{first.action.label}{ENTITY_LABELS.get(first.entity, first.entity)}"
    changes = [
        f"{FIELD_LABELS.get(r.field, r.field)}：{words.value(r.field, r.old)} → "
        f"{words.value(r.field, r.new)}"
        for r in rows
        if r.field and r.action != AuditAction.CREATE and r.field not in QUIET_FIELDS
    ]
    detail = "；".join(([first.note] if first.note else []) + changes)
    return TimelineEntry(
        at=first.at, who=words.person(first.user_id, first.username), what=what, detail=detail
    )


# --- the diagram of docs/WORKFLOW.md ----------------------------------------------------


def workflow_mermaid() -> str:
    """The state machine as a mermaid state diagram, generated from `TRANSITIONS`."""
    lines = ["stateDiagram-v2"]
    for state in CaseState:
        if state != CaseState.NEW:
            lines.append(f"    {state.name}: {state.label}")
    edges: dict[tuple[CaseState, CaseState], list[str]] = {}
    for t in TRANSITIONS:
        labels = edges.setdefault((t.source, t.target), [])
        if t.action.label not in labels:
            labels.append(t.action.label)
    for (source, target), labels in edges.items():
        start = "[*]" if source == CaseState.NEW else source.name
        lines.append(f"    {start} --> {target.name}: {'、'.join(labels)}")
    return "\n".join(lines)


def workflow_markdown() -> str:
    """The generated part of docs/WORKFLOW.md: the diagram and the table of conditions."""
    return f"```mermaid\n{workflow_mermaid()}\n```\n\n{workflow_table()}\n"


def workflow_table() -> str:
    """Every transition with its permission and conditions, as a markdown table."""
    lines = ["| 当前状态 | 操作 | 下一状态 | 权限 | 条件 |", "| --- | --- | --- | --- | --- |"]
    for t in TRANSITIONS:
        perms = " 或 ".join(PERM_LABELS[p] for p in sorted(t.perms))
        lines.append(
            f"| {t.source.label} | {t.action.label} | {t.target.label} | {perms} | {t.condition or '—'} |"
        )
    return "\n".join(lines)
