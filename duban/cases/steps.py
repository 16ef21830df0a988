"""Issuing and recording a case's steps: 督办单, 现场协调督办通知 (its receipt and site visit),
领导批办, 专题会, 专报, 提级报告, 提级办理 and 上报.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from duban.cases.lookup import _get_step, _get_unit, get_case
from duban.cases.states import ESCALATED_DUE_WORKDAYS, WRITTEN_DUE_WORKDAYS, Action, case_state
from duban.cases.transitions import Ctx, _required, _text, _transition, _update
from duban.clock import cn_date, cn_due, now, today
from duban.enums import StepKind, StepStatus
from duban.errors import PermissionDenied, ValidationError
from duban.models import Meeting, NoticeTask, Step, Unit
from duban.permissions import Actor, Perm
from duban.records import apply_changes, get_live, insert
from duban.workdays import Calendar


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

    values = {
        "visit_at": visit_at,
        "visit_findings": findings,
        "responsible_unit_id": responsible_unit_id,
        "due_at": due_at,
        "due_workdays": deadline_workdays,
        "due_provisional": due.provisional if due is not None else False,
    }
    note = f"实地踏勘，明确处置时限{cn_date(due_at)}"
    return _update(ctx, Action.SITE_VISIT, step, values, label="现场协调督办通知", note=note)


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
