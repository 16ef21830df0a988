"""Registering a unit's written feedback, and the center's review of it."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from duban import uploads
from duban.cases.lookup import _get_step, answering_unit_id
from duban.cases.states import Action, case_state
from duban.cases.transitions import Ctx, _required, _text, _transition, _update
from duban.clock import cn_date, now, today
from duban.enums import FeedbackReview, Progress, StepStatus
from duban.errors import NotFound, PermissionDenied, ValidationError
from duban.models import Case, Feedback, Step
from duban.permissions import Actor, Perm
from duban.records import apply_changes, check_version, insert
from duban.workdays import Calendar


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

    values = {
        "received_at": received_at,
        "date_reason": reason,
        "on_time": None if step.due_at is None else received_at <= step.due_at,
    }
    note = f"更正收到日期：{reason}"
    return _update(ctx, Action.CORRECT_FEEDBACK_DATE, feedback, values, label="书面反馈", note=note)


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
