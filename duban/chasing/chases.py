"""催办: the center chases a step by phone, in writing (催办通知) or in the app."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from duban import audit, documents
from duban.boards import effective_due
from duban.cases import answering_unit_id, get_case
from duban.chasing.access import _id, _load_step, _require_open, _unit_name
from duban.clock import cn_date, today
from duban.enums import AuditAction, ChaseWay, DocumentKind
from duban.errors import ValidationError
from duban.models import Case, Chase, Document, Step
from duban.permissions import Actor, Perm
from duban.workdays import Calendar


def _status_text(calendar: Calendar, day: date, due: date) -> str:
    """`已逾期 3 个工作日` / `今天到期` / `还剩 2 个工作日`, from the effective due date."""
    eff = effective_due(due, calendar).day
    if eff < day:
        return f"已逾期 {calendar.between(eff, day)} 个工作日"
    left = calendar.between(day, eff)
    return "今天到期" if left == 0 else f"还剩 {left} 个工作日"


def record_chase(
    session: Session,
    actor: Actor,
    step_id: int,
    *,
    chased_on: date,
    way: ChaseWay | str,
    reached: str = "",
    note: str = "",
) -> Chase:
    """Record one 催办 of an open step (center only); a written one prints a 催办通知.

    A phone chase names whom it reached. The paper is rendered from the `chase-notice`
    template, kept and registered against the case like every other paper. The caller
    commits (the paper's file is written at once, like `documents.render_document`).
    """
    actor.require(Perm.EDIT_CASES, "登记催办")
    step, case = _load_step(session, actor, step_id)
    _require_open(step, case, "催办")
    try:
        way = ChaseWay(way)
    except ValueError as exc:
        raise ValidationError(f"催办方式无效：{way}，可选：电话、书面、系统") from exc
    reached, note = (reached or "").strip(), (note or "").strip()
    if way == ChaseWay.PHONE and not reached:
        raise ValidationError("电话催办请填写接听人（催办到的人）")
    if len(reached) > 100:
        raise ValidationError("催办对象：最多 100 个字符")
    if chased_on > today():
        raise ValidationError(f"催办日期 {cn_date(chased_on)} 晚于今天")
    if chased_on < step.issued_at:
        raise ValidationError(
            f"催办日期 {cn_date(chased_on)} 早于{step.kind.label}发出日期 {cn_date(step.issued_at)}"
        )
    chase = Chase(
        step_id=step_id,
        unit_id=answering_unit_id(step) or case.lead_unit_id,
        chased_on=chased_on,
        way=way,
        reached=reached,
        note=note,
        due_at=step.due_at,
        created_by=actor.user_id,
    )
    session.add(chase)
    session.flush()
    if way == ChaseWay.WRITTEN:
        chase.document_id = _render_chase_notice(session, actor, step, case, chase).id
        session.add(chase)
    count = _chase_counts(session, [step_id]).get(step_id, 0)
    audit.record(
        session,
        actor,
        AuditAction.CREATE,
        "step",
        step_id,
        field="chase",
        new=f"{way.label}催办",
        note=f"第 {count} 次催办（{way.label}）" + (f"，接听人：{reached}" if reached else ""),
    )
    return chase


def chase_notice_context(session: Session, step: Step, case: Case, chase: Chase) -> dict:
    """The 催办通知's fields: the case, the step's deadline and this chase."""
    bundle = documents.load_case(session, case.id)  # type: ignore[arg-type]  # ids are set: these rows were flushed
    source = documents.Source(
        office=documents.Office.load(session),
        names=documents.unit_names(session),
        case=bundle,
        step=step,
    )
    calendar = Calendar.load(session)
    count = _chase_counts(session, [_id(step)]).get(_id(step), 0)
    status = _status_text(calendar, chase.chased_on, step.due_at) if step.due_at else "—"
    default_note = "请接到本通知后立即落实处置，并书面反馈处置情况"
    return {
        **documents.office_context(source, chase.chased_on),
        **documents.case_context(source),
        **documents.due_context(step),
        "chase_date": cn_date(chase.chased_on),
        "addressee": _unit_name(session, chase.unit_id),
        "step_kind": step.kind.label,
        "issued_at": cn_date(step.issued_at),
        "chase_status": status,
        "chase_count": str(count),
        "chase_note": chase.note or default_note,
    }


def _render_chase_notice(
    session: Session, actor: Actor, step: Step, case: Case, chase: Chase
) -> Document:
    rendered = documents.render_kind(
        session, DocumentKind.CHASE_NOTICE, chase_notice_context(session, step, case, chase)
    )
    return documents.register_document(
        session,
        actor,
        rendered,
        stem=f"{DocumentKind.CHASE_NOTICE.label}-{case.case_no}",
        year=case.year,
        folder=case.case_no,
        case_id=case.id,
        step_id=step.id,
    )


def _chase_counts(session: Session, step_ids: Iterable[int]) -> dict[int, int]:
    ids = list(step_ids)
    if not ids:
        return {}
    rows = session.exec(
        select(Chase.step_id, func.count())
        .where(Chase.step_id.in_(ids))  # type: ignore[attr-defined]  # sqlmodel column: mypy sees the value type on the class
        .group_by(col(Chase.step_id))
    ).all()
    return {step_id: int(n) for step_id, n in rows}


def case_chase_count(session: Session, actor: Actor, case_id: int) -> int:
    """催办次数 of a case: the chases of all its steps."""
    get_case(session, actor, case_id)
    return session.exec(
        select(func.count())
        .select_from(Chase)
        .join(Step, col(Step.id) == col(Chase.step_id))
        .where(Step.case_id == case_id)
    ).one()
