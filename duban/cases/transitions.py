"""The state machine as data: case states, actions, guards and the `TRANSITIONS` table.

Every service goes through `_transition`, which finds the row, checks the actor and the
conditions, and only then changes anything. `docs/WORKFLOW.md` is generated from the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, col, select

from duban import audit
from duban.cases.eligibility import Eligibility
from duban.cases.lookup import case_unit_ids
from duban.cases.states import (
    HANDLING_KINDS,
    OPEN_STATES,
    STATE_OF_LEVEL,
    Action,
    CaseState,
    case_state,
)
from duban.clock import cn_date, now, today
from duban.enums import AuditAction, FeedbackReview, Level, StepKind, StepStatus
from duban.errors import TransitionError, ValidationError
from duban.models import Case, Feedback, Step
from duban.permissions import PERM_LABELS, Actor, Perm
from duban.records import apply_changes

T = TypeVar("T")
Row = TypeVar("Row", bound=SQLModel)
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


def _update(
    ctx: Ctx, action: Action, row: Row, values: dict[str, Any], *, label: str, note: str
) -> Row:
    """Write `values` to `row` (audited under `label`, with `note`) once the table allows
    `action`; the case stays in its state."""
    assert ctx.case is not None

    def apply() -> Row:
        apply_changes(
            ctx.session, ctx.actor, row, values, expected_version=None, label=label, note=note
        )
        return row

    return _transition(ctx, action, case_state(ctx.case), apply)


def _touch(row: Any, actor: Actor) -> None:
    row.version += 1
    row.updated_at = now()
    row.updated_by = actor.user_id


def _text(value: str | None) -> str:
    return (value or "").strip()


def _required(value: str | None, label: str) -> str:
    text = _text(value)
    if not text:
        raise ValidationError(f"请填写{label}")
    return text


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
