"""The center's decisions on a case: escalation, verification, closing, reopening, referral."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from duban.cases.eligibility import eligible_for_escalation
from duban.cases.lookup import done_feedback, get_case
from duban.cases.states import HANDLING_KINDS, STATE_OF_LEVEL, Action, CaseState, case_state
from duban.cases.steps import _case_ctx
from duban.cases.transitions import Ctx, _required, _text, _transition, _update
from duban.clock import cn_date, today
from duban.enums import CaseStatus, StepStatus
from duban.models import Case, Referral, Step, Unit
from duban.permissions import Actor, Perm
from duban.records import apply_changes, check_version, insert


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

    values: dict[str, Any] = {"verification_note": note}
    values["verified_at"] = ctx.on if confirmed else None
    label = f"督办事项 {case.case_no}"
    verdict = "跟踪核实：" + ("属实，已办结" if confirmed else "核实未办结")
    return _update(ctx, Action.VERIFY, case, values, label=label, note=verdict)


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
