"""签收, 催办 and 延期: following each 督办单 and notice up until the unit answers.

The seed's deadlines only work if someone follows them: "跟踪督办", "督促抓好落实". This
module records that a unit received a paper (签收, timed in working days), that the center
chased it (催办: phone, written 催办通知, in-app), and that a unit asked for more time
(延期申请, approved or refused by the center). Every write is audited on the step, so it
appears in the case's timeline. An approved extension moves the step's deadline itself
(the original is kept on the request), so every on-time judgement — the frozen outcome in
`duban.cases`, the KPIs, the boards and the assessment — reads the approved deadline.

A unit's to-do list (`open_items`) uses the boards' deadline rule (`duban.boards`): a due
date on a rest day counts as the next working day; overdue means due on or before the last
working day before today. 临期提醒 is due today or on the next working day, no feedback yet.
"""

from __future__ import annotations

import io
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from sqlalchemy import and_, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from duban import audit, documents
from duban.boards import Horizon, answering_unit, effective_due, working_days_late
from duban.cases import answering_unit_id, get_case
from duban.clock import cn_date, now, today
from duban.enums import (
    AuditAction,
    CaseStatus,
    ChaseWay,
    DocumentKind,
    ExtensionStatus,
    StepKind,
    StepStatus,
)
from duban.errors import ConflictError, NotFound, PermissionDenied, ValidationError
from duban.kpi import Period, Ratio
from duban.models import (
    Case,
    Chase,
    Document,
    Extension,
    Feedback,
    Step,
    StepReceipt,
    Unit,
)
from duban.permissions import Actor, Perm
from duban.records import apply_changes, check_version, claim_version
from duban.settings import get_setting
from duban.workdays import Calendar

__all__ = [
    "SIGN_KINDS",
    "DUE_SOON_WORKDAYS",
    "MAX_EXTENSION_WORKDAYS",
    "Item",
    "UnitList",
    "UnitFigures",
    "sign_for",
    "sign_deadline",
    "record_chase",
    "request_extension",
    "decide_extension",
    "open_items",
    "unit_lists",
    "list_xlsx",
    "lists_zip",
    "write_digest",
    "pending_extensions",
    "step_chasing",
    "case_chase_count",
    "unit_figures",
]

SIGN_KINDS = (StepKind.SUPERVISION_FORM, StepKind.ONSITE_NOTICE)
"""The papers a unit signs for (签收): the 督办单 and the 现场协调督办通知."""
DUE_SOON_WORKDAYS = 1  # 临期提醒: due today or within this many working days
MAX_EXTENSION_WORKDAYS = 30


def _id(row: Step | Extension) -> int:
    """The id of a row read from the database (never None there)."""
    assert row.id is not None
    return row.id


# --- reading one step with the actor's rights ----------------------------------------------


def _load_step(session: Session, actor: Actor, step_id: int) -> tuple[Step, Case]:
    """A live step of a case the actor may see, locked for the change."""
    step = session.exec(select(Step).where(Step.id == step_id).with_for_update()).first()
    if step is None or step.deleted_at is not None:
        raise NotFound(f"督办环节（编号 {step_id}）不存在或已删除")
    return step, get_case(session, actor, step.case_id, for_update=True)


def _own_step(actor: Actor, step: Step, case: Case, what: str) -> None:
    """A unit user acts only on steps addressed to, or to be answered by, their unit."""
    if actor.can(Perm.EDIT_CASES):
        return
    actor.require(Perm.REGISTER_FEEDBACK, what)
    units = {step.unit_id, answering_unit_id(step)} - {None}
    if actor.unit_id is None or actor.unit_id not in units:
        raise PermissionDenied(
            f"当前账号（{actor.username}）只能处理本单位的督办环节，无权{what}（{case.case_no}）"
        )


def _require_open(step: Step, case: Case, what: str) -> None:
    if case.status != CaseStatus.OPEN or step.status != StepStatus.OPEN:
        raise ValidationError(
            f"{case.case_no} 的{step.kind.label}当前为“{step.status.label}”，不能{what}"
        )


def _unit_name(session: Session, unit_id: int | None) -> str:
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    return unit.name if unit is not None else "—"


# --- 签收 ----------------------------------------------------------------------------------


def sign_deadline(session: Session, issued_at: date) -> date:
    """The last day of 及时签收: `sign_within_workdays` working days after issue (setting)."""
    n = int(get_setting(session, "sign_within_workdays"))
    return Calendar.load(session).add(issued_at, n).day


def sign_for(
    session: Session, actor: Actor, step_id: int, *, signed_at: datetime | None = None
) -> StepReceipt:
    """签收 of a 督办单 or 现场协调督办通知, once per step; timeliness frozen at signing.

    A unit user signs now, for their own unit. The center records the 签收 of a unit that
    works on paper, with the time the unit reported (`signed_at`, required then). The caller
    commits.
    """
    step, case = _load_step(session, actor, step_id)
    _own_step(actor, step, case, "签收")
    if step.kind not in SIGN_KINDS:
        raise ValidationError(f"{step.kind.label}无需签收，只有督办单和现场协调督办通知需要签收")
    if step.status == StepStatus.CANCELLED:
        raise ValidationError(f"{case.case_no} 的{step.kind.label}已撤销，不能签收")
    on_behalf = actor.can(Perm.EDIT_CASES)
    if on_behalf:
        if signed_at is None:
            raise ValidationError("代为登记签收时，请填写承办单位报告的签收时间")
    elif signed_at is not None:
        raise PermissionDenied("承办单位签收以系统时间为准，不能自行填写签收时间")
    when = signed_at or now()
    if when > now():
        raise ValidationError(f"签收时间 {cn_date(when)} 晚于现在")
    if when.date() < step.issued_at:
        raise ValidationError(
            f"签收时间 {cn_date(when)} 早于{step.kind.label}发出日期 {cn_date(step.issued_at)}"
        )
    existing = session.get(StepReceipt, step_id)
    if existing is not None:
        raise ConflictError(
            f"{case.case_no} 的{step.kind.label}已于 {cn_date(existing.signed_at)} 签收，不能重复签收"
        )
    due = sign_deadline(session, step.issued_at)
    receipt = StepReceipt(
        step_id=step_id,
        unit_id=step.unit_id,
        signed_at=when,
        on_behalf=on_behalf,
        due_at=due,
        on_time=when.date() <= due,
        recorded_by=actor.user_id,
    )
    try:
        with session.begin_nested():
            session.add(receipt)
            session.flush()
    except IntegrityError as exc:  # a parallel 签收 of the same step won
        raise ConflictError(f"{case.case_no} 的{step.kind.label}已被他人签收，请刷新") from exc
    note = ("城运中心代为登记签收" if on_behalf else "承办单位签收") + (
        "（及时）" if receipt.on_time else f"（超过及时签收期限 {cn_date(due)}）"
    )
    audit.record(
        session, actor, AuditAction.UPDATE, "step", step_id, field="signed_at", new=when, note=note
    )
    return receipt


# --- 催办 ----------------------------------------------------------------------------------


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


# --- 延期申请 ------------------------------------------------------------------------------


def request_extension(
    session: Session,
    actor: Actor,
    step_id: int,
    *,
    workdays: int,
    reason: str,
    requested_on: date | None = None,
) -> Extension:
    """延期申请: before the deadline, a reason and the working days wanted.

    A unit user asks for their own steps, today; the center may record a paper request
    with its date. One request waits at a time per step. The caller commits.
    """
    step, case = _load_step(session, actor, step_id)
    _own_step(actor, step, case, "申请延期")
    _require_open(step, case, "申请延期")
    if step.due_at is None:
        raise ValidationError(f"{case.case_no} 的{step.kind.label}尚无反馈期限，无需申请延期")
    if requested_on is not None and not actor.can(Perm.EDIT_CASES):
        raise PermissionDenied("承办单位的延期申请以系统日期为准，不能自行填写申请日期")
    day = requested_on or today()
    if day > today():
        raise ValidationError(f"申请日期 {cn_date(day)} 晚于今天")
    if day > step.due_at:
        raise ValidationError(
            f"{case.case_no} 的{step.kind.label}已于 {cn_date(step.due_at)} 到期，"
            "延期须在期限届满前申请"
        )
    try:
        n = int(workdays)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"延期工作日数必须是整数：{workdays}") from exc
    if not 1 <= n <= MAX_EXTENSION_WORKDAYS:
        raise ValidationError(f"延期工作日数须在 1–{MAX_EXTENSION_WORKDAYS} 之间：{n}")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("请填写延期理由")
    waiting = session.exec(
        select(Extension).where(
            Extension.step_id == step_id,
            Extension.status == ExtensionStatus.PENDING,
            Extension.deleted_at.is_(None),  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
        )
    ).first()
    if waiting is not None:
        raise ConflictError(
            f"{case.case_no} 的{step.kind.label}已有一份待审批的延期申请"
            f"（{cn_date(waiting.requested_on)}），请等城运中心审批"
        )
    ext = Extension(
        step_id=step_id,
        unit_id=answering_unit_id(step) or case.lead_unit_id,
        requested_on=day,
        workdays=n,
        reason=reason,
        old_due_at=step.due_at,
        created_by=actor.user_id,
    )
    session.add(ext)
    session.flush()
    audit.record(
        session,
        actor,
        AuditAction.CREATE,
        "step",
        step_id,
        field="extension",
        new=f"申请延期 {n} 个工作日",
        note=f"延期申请：{n} 个工作日，理由：{reason}",
    )
    return ext


def decide_extension(
    session: Session,
    actor: Actor,
    extension_id: int,
    *,
    approve: bool,
    note: str = "",
    decided_on: date | None = None,
    expected_version: int | None = None,
) -> Extension:
    """The center approves (the deadline moves by the working days asked, counted from the
    current deadline; the original stays on the request) or refuses (a reason is required).

    Approval adds the days to the step's `due_workdays` too, so a later holiday-calendar
    recomputation keeps the extension. The caller commits.
    """
    actor.require(Perm.EDIT_CASES, "审批延期申请")
    ext = session.exec(
        select(Extension).where(Extension.id == extension_id).with_for_update()
    ).first()
    if ext is None or ext.deleted_at is not None:
        raise NotFound(f"延期申请（编号 {extension_id}）不存在或已删除")
    check_version(session, ext, expected_version, "延期申请")
    if ext.status != ExtensionStatus.PENDING:
        raise ConflictError(f"该延期申请已{ext.status.label}，不能再次审批")
    step, case = _load_step(session, actor, ext.step_id)
    note = (note or "").strip()
    if not approve and not note:
        raise ValidationError("不予批准时请填写理由")
    if approve:
        _require_open(step, case, "延期")
    claim_version(session, ext, "延期申请")
    ext.status = ExtensionStatus.APPROVED if approve else ExtensionStatus.REFUSED
    ext.decided_on = decided_on or today()
    ext.decision_note = note
    ext.decided_by = actor.user_id
    if approve:
        calendar = Calendar.load(session)
        base = step.due_at or ext.old_due_at
        due = calendar.add(effective_due(base, calendar).day, ext.workdays)
        ext.new_due_at = due.day
        apply_changes(
            session,
            actor,
            step,
            {
                "due_at": due.day,
                "due_provisional": due.provisional,
                "due_workdays": None
                if step.due_workdays is None
                else step.due_workdays + ext.workdays,
            },
            expected_version=None,
            label=step.kind.label,
            note=f"批准延期 {ext.workdays} 个工作日：截止日期由 {cn_date(base)} 改为 {cn_date(due.day)}",
        )
    ext.updated_at = now()
    session.add(ext)
    session.flush()
    audit.record(
        session,
        actor,
        AuditAction.UPDATE,
        "step",
        step.id,
        field="extension",
        old=ExtensionStatus.PENDING.label,
        new=ext.status.label,
        note=(
            f"批准延期 {ext.workdays} 个工作日，原截止日期 {cn_date(ext.old_due_at)}"
            if approve
            else f"不予批准延期，截止日期仍为 {cn_date(step.due_at)}：{note}"
        ),
    )
    return ext


@dataclass(frozen=True)
class ExtensionRow:
    """A request on the center's approval list (or a step's history)."""

    id: int
    version: int
    step_id: int
    case_id: int
    case_no: str
    kind: StepKind
    unit_name: str
    requested_on: date
    workdays: int
    reason: str
    status: ExtensionStatus
    old_due_at: date
    new_due_at: date | None
    decision_note: str


def _extension_rows(session: Session, *conds) -> list[ExtensionRow]:
    rows = session.exec(
        select(  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
            Extension, col(Step.kind), col(Case.id), col(Case.case_no), col(Unit.name)
        )
        .join(Step, col(Step.id) == col(Extension.step_id))
        .join(Case, col(Case.id) == col(Step.case_id))
        .outerjoin(Unit, Unit.id == Extension.unit_id)
        .where(Extension.deleted_at.is_(None), *conds)  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
        .order_by(Extension.requested_on, Extension.id)
    ).all()
    return [
        ExtensionRow(
            id=_id(e),
            version=e.version,
            step_id=e.step_id,
            case_id=case_id,
            case_no=case_no,
            kind=kind,
            unit_name=name or "—",
            requested_on=e.requested_on,
            workdays=e.workdays,
            reason=e.reason,
            status=e.status,
            old_due_at=e.old_due_at,
            new_due_at=e.new_due_at,
            decision_note=e.decision_note,
        )
        for e, kind, case_id, case_no, name in rows
    ]


def pending_extensions(session: Session, actor: Actor) -> list[ExtensionRow]:
    """Requests waiting for the center; a unit user sees its own unit's only."""
    conds = [Extension.status == ExtensionStatus.PENDING, Case.deleted_at.is_(None)]  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
    if not actor.can(Perm.VIEW_ALL):
        conds.append(Extension.unit_id == (actor.unit_id if actor.unit_id is not None else -1))
    return _extension_rows(session, *conds)


# --- the to-do list ------------------------------------------------------------------------

TO_SIGN = "待签收"
DUE_SOON = "即将到期"
OVERDUE = "已逾期"
CHASED = "已催办"
CATEGORIES = (TO_SIGN, DUE_SOON, OVERDUE, CHASED)


@dataclass(frozen=True)
class Item:
    """One open step a unit owes: a paper to sign for, an answer due or overdue."""

    step_id: int
    case_id: int
    case_no: str
    title: str
    kind: StepKind
    unit_id: int | None
    unit_name: str
    issued_at: date
    due_at: date | None
    provisional: bool
    workdays: int | None  # working days left (≥ 0) or overdue (< 0); None: no deadline yet
    needs_sign: bool
    signed_at: datetime | None
    sign_on_time: bool | None
    has_feedback: bool
    chases: int
    extension_pending: bool
    overdue: bool
    due_soon: bool  # 临期提醒: due today or the next working day, no feedback yet

    @property
    def unsigned(self) -> bool:
        return self.needs_sign and self.signed_at is None

    @property
    def categories(self) -> list[str]:
        flags = (self.unsigned, self.due_soon, self.overdue, self.chases > 0)
        return [name for name, on in zip(CATEGORIES, flags, strict=True) if on]

    @property
    def category_text(self) -> str:
        return "、".join(self.categories) or "办理中"

    @property
    def days_text(self) -> str:
        """剩余或逾期工作日, as a person says it."""
        if self.workdays is None:
            return "—"
        if self.workdays < 0:
            return f"逾期 {-self.workdays} 个工作日"
        return "今天到期" if self.workdays == 0 else f"剩余 {self.workdays} 个工作日"

    @property
    def sign_text(self) -> str:
        if not self.needs_sign:
            return "无需签收"
        if self.signed_at is None:
            return "未签收"
        return f"{cn_date(self.signed_at)}签收（{'及时' if self.sign_on_time else '超时'}）"

    @property
    def due_text(self) -> str:
        if self.due_at is None:
            return "—"
        return cn_date(self.due_at) + ("（暂估）" if self.provisional else "")


def open_items(
    session: Session, actor: Actor, day: date, *, unit_id: int | None = None
) -> list[Item]:
    """Every open step of an open case a unit owes: with a deadline, or awaiting 签收.

    A unit user gets their own unit's whatever `unit_id` asks; the center any unit or all.
    Sorted by unit, then the most urgent first (overdue, then by due date).
    """
    if not actor.can(Perm.VIEW_ALL):
        unit_id = actor.unit_id if actor.unit_id is not None else -1
    calendar = Calendar.load(session)
    horizon = Horizon.of(day, calendar)
    soon_through = calendar.add(day, DUE_SOON_WORKDAYS).day
    unit = answering_unit()
    has_feedback = (
        select(func.count())
        .select_from(Feedback)
        .where(Feedback.step_id == Step.id, Feedback.deleted_at.is_(None))  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
        .correlate(Step)
        .scalar_subquery()
    )
    stmt = (
        select(  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
            col(Step.id),
            col(Case.id),
            col(Case.case_no),
            col(Case.title),
            col(Step.kind),
            unit.label("unit_id"),
            col(Unit.name),
            col(Step.issued_at),
            col(Step.due_at),
            col(Step.due_provisional),
            col(StepReceipt.signed_at),
            col(StepReceipt.on_time),
            has_feedback,
        )
        .join(Case, col(Case.id) == col(Step.case_id))
        .outerjoin(Unit, Unit.id == unit)
        .outerjoin(StepReceipt, StepReceipt.step_id == Step.id)
        .where(
            Case.deleted_at.is_(None),  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
            Case.status == CaseStatus.OPEN,
            Step.deleted_at.is_(None),  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
            Step.status == StepStatus.OPEN,
            Step.issued_at <= day,  # as of a past day: what was owed then
            or_(Step.due_at.is_not(None), Step.kind.in_(SIGN_KINDS)),  # type: ignore[union-attr,attr-defined]  # sqlmodel columns: mypy sees the value types on the class
        )
    )
    if unit_id is not None:
        stmt = stmt.where(unit == unit_id)
    raw = session.exec(stmt).all()
    step_ids = [r[0] for r in raw]
    chases = _chase_counts(session, step_ids)
    waiting = (
        set(
            session.exec(
                select(Extension.step_id).where(
                    Extension.step_id.in_(step_ids),  # type: ignore[attr-defined]  # sqlmodel column: mypy sees the value type on the class
                    Extension.status == ExtensionStatus.PENDING,
                    Extension.deleted_at.is_(None),  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
                )
            )
        )
        if step_ids
        else set()
    )
    late = working_days_late(
        calendar, day, (r[8] for r in raw if r[8] is not None and r[8] <= horizon.overdue_through)
    )
    items = []
    for sid, cid, no, title, kind, uid, uname, issued, due, prov, signed, sign_ok, fb in raw:
        overdue = due is not None and due <= horizon.overdue_through
        workdays = None
        if due is not None:
            if overdue:
                eff, n = late[due]
                workdays = -n
            else:
                eff = effective_due(due, calendar)
                workdays = calendar.between(day, eff.day)
            prov = bool(prov) or eff.provisional
        items.append(
            Item(
                step_id=sid,
                case_id=cid,
                case_no=no,
                title=title,
                kind=kind,
                unit_id=uid,
                unit_name=uname or "—",
                issued_at=issued,
                due_at=due,
                provisional=bool(prov),
                workdays=workdays,
                needs_sign=kind in SIGN_KINDS,
                signed_at=signed,
                sign_on_time=sign_ok,
                has_feedback=bool(fb),
                chases=chases.get(sid, 0),
                extension_pending=sid in waiting,
                overdue=overdue,
                due_soon=(not overdue and due is not None and due <= soon_through and not fb),
            )
        )
    items.sort(
        key=lambda i: (
            i.unit_name,
            not i.overdue,
            i.due_at is None,
            i.due_at or date.max,
            i.case_no,
        )
    )
    return items


@dataclass
class UnitList:
    """One unit's to-do list (待办清单) on a day."""

    unit_id: int | None
    unit_name: str
    items: list[Item] = field(default_factory=list)

    @property
    def open(self) -> int:
        return len(self.items)

    @property
    def overdue(self) -> int:
        return sum(i.overdue for i in self.items)

    @property
    def due_soon(self) -> int:
        return sum(i.due_soon for i in self.items)

    @property
    def unsigned(self) -> int:
        return sum(i.unsigned for i in self.items)

    @property
    def chased(self) -> int:
        return sum(i.chases > 0 for i in self.items)

    def line(self) -> str:
        """The digest's line: `UNIT open=N overdue=N due_soon=N`."""
        return f"{self.unit_name} open={self.open} overdue={self.overdue} due_soon={self.due_soon}"


def unit_lists(session: Session, actor: Actor, day: date) -> list[UnitList]:
    """Every unit that owes something, with its items, by unit name."""
    lists: dict[int | None, UnitList] = {}
    for item in open_items(session, actor, day):
        lists.setdefault(item.unit_id, UnitList(item.unit_id, item.unit_name)).items.append(item)
    return sorted(lists.values(), key=lambda u: u.unit_name)


LIST_COLUMNS = (
    "类别",
    "督办编号",
    "督办事项",
    "环节",
    "发出日期",
    "截止日期",
    "剩余或逾期工作日",
    "签收",
    "催办次数",
    "延期申请",
)


def list_xlsx(unit_list: UnitList, day: date) -> bytes:
    """One unit's list as an xlsx: a title row, the header, one row per item (text cells)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "待办清单"
    ws.append([f"{unit_list.unit_name} 督办待办清单（截至{cn_date(day)}）"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(list(LIST_COLUMNS))
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for i in unit_list.items:
        ws.append(
            [
                i.category_text,
                i.case_no,
                i.title,
                i.kind.label,
                cn_date(i.issued_at),
                i.due_text,
                i.days_text,
                i.sign_text,
                i.chases,
                "待审批" if i.extension_pending else "—",
            ]
        )
    for letter, width in zip("ABCDEFGHIJ", (20, 24, 36, 18, 16, 18, 18, 26, 10, 10), strict=True):
        ws.column_dimensions[letter].width = width
    for row in ws.iter_rows(min_row=3):
        for cell in row:
            cell.alignment = Alignment(vertical="top", wrap_text=True)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def list_file_name(unit_list: UnitList, day: date) -> str:
    return f"{documents.safe_name(unit_list.unit_name)}-待办清单-{day.isoformat()}.xlsx"


def lists_zip(
    lists: list[UnitList], day: date, progress: Callable[[int, int], None] | None = None
) -> bytes:
    """Every unit's list as one xlsx each, in one zip; `progress(done, total)` after each."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, unit_list in enumerate(lists, 1):
            zf.writestr(list_file_name(unit_list, day), list_xlsx(unit_list, day))
            if progress is not None:
                progress(n, len(lists))
    return buffer.getvalue()


def write_digest(lists: list[UnitList], day: date, folder: Path) -> list[Path]:
    """Write one xlsx per unit into `folder` (created); an existing file is replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for unit_list in lists:
        path = folder / list_file_name(unit_list, day)
        path.write_bytes(list_xlsx(unit_list, day))
        paths.append(path)
    return paths


# --- what the step, the case page and the boards show ----------------------------------------


@dataclass(frozen=True)
class StepChasing:
    """签收, 催办 and 延期 of one step, for the case page."""

    needs_sign: bool
    receipt: StepReceipt | None
    chases: list[Chase]
    extensions: list[ExtensionRow]

    @property
    def sign_text(self) -> str:
        if not self.needs_sign:
            return "—"
        r = self.receipt
        if r is None:
            return "未签收"
        how = "代为登记" if r.on_behalf else "单位签收"
        return (
            f"{cn_date(r.signed_at)} {r.signed_at:%H:%M} {how}（{'及时' if r.on_time else '超时'}）"
        )


def step_chasing(session: Session, actor: Actor, case_id: int) -> dict[int, StepChasing]:
    """Step id → its 签收, 催办 and 延期, for every step of a case the actor may see."""
    get_case(session, actor, case_id)
    steps = session.exec(
        select(col(Step.id), col(Step.kind)).where(
            col(Step.case_id) == case_id, col(Step.deleted_at).is_(None)
        )
    ).all()
    ids = [sid for sid, _ in steps]
    if not ids:
        return {}
    receipts = {
        r.step_id: r
        for r in session.exec(select(StepReceipt).where(StepReceipt.step_id.in_(ids)))  # type: ignore[attr-defined]  # sqlmodel column: mypy sees the value type on the class
    }
    chases: dict[int, list[Chase]] = defaultdict(list)
    for c in session.exec(
        select(Chase)
        .where(col(Chase.step_id).in_(ids))
        .order_by(col(Chase.chased_on), col(Chase.id))
    ):
        chases[c.step_id].append(c)
    exts: dict[int, list[ExtensionRow]] = defaultdict(list)
    for e in _extension_rows(session, Extension.step_id.in_(ids)):  # type: ignore[attr-defined]  # sqlmodel column: mypy sees the value type on the class
        exts[e.step_id].append(e)
    return {
        sid: StepChasing(kind in SIGN_KINDS, receipts.get(sid), chases[sid], exts[sid])
        for sid, kind in steps
        if sid is not None
    }


@dataclass
class UnitFigures:
    """A unit's 签收, 催办 and 延期 figures over a period (formulas in docs/KPI.md)."""

    unit_id: int | None
    unit_name: str = "合计"
    papers: int = 0  # 督办单 and notices issued in the period
    signed_on_time: int = 0
    signed_late: int = 0  # signed after the 及时签收 day, or still unsigned past it
    sign_pending: int = 0  # unsigned, the 及时签收 day not yet past
    chases: int = 0  # 催办 recorded in the period
    extensions: int = 0  # 延期申请 made in the period
    extensions_approved: int = 0
    extensions_refused: int = 0

    @property
    def sign_rate(self) -> Ratio:
        """及时签收率: signed on time ÷ (signed on time + late); pending not yet judged."""
        return Ratio(self.signed_on_time, self.signed_on_time + self.signed_late)


def unit_figures(
    session: Session,
    period: Period,
    *,
    as_of: date | None = None,
    unit_ids: list[int] | None = None,
) -> dict[int | None, UnitFigures]:
    """Per unit (and `None`: all units) 及时签收, 催办次数 and 延期 over `period`.

    A paper counts for its addressee; a chase and an extension for the unit that must answer
    the step. Cancelled steps and deleted cases are left out.
    """
    as_of = as_of or today()
    calendar = Calendar.load(session)
    n_days = int(get_setting(session, "sign_within_workdays"))
    names = dict(session.exec(select(Unit.id, Unit.name)).all())
    out: dict[int | None, UnitFigures] = {}

    def row(unit_id: int | None) -> UnitFigures:
        if unit_id not in out:
            out[unit_id] = UnitFigures(unit_id, names.get(unit_id, "—") if unit_id else "合计")
        return out[unit_id]

    live = and_(
        Case.deleted_at.is_(None),  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
        Step.deleted_at.is_(None),  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
        col(Step.status) != StepStatus.CANCELLED,
    )
    unit_of_paper = func.coalesce(Step.unit_id, Case.lead_unit_id)
    papers = (
        select(unit_of_paper, col(Step.issued_at), col(StepReceipt.on_time))
        .join(Case, col(Case.id) == col(Step.case_id))
        .outerjoin(StepReceipt, col(StepReceipt.step_id) == col(Step.id))
        .where(
            live,
            Step.kind.in_(SIGN_KINDS),  # type: ignore[attr-defined]  # sqlmodel column: mypy sees the value type on the class
            Step.issued_at >= period.start,
            Step.issued_at <= period.end,
        )
    )
    if unit_ids:
        papers = papers.where(unit_of_paper.in_(unit_ids))
    deadlines: dict[date, date] = {}
    for unit_id, issued, on_time in session.exec(papers).all():
        if on_time is None:
            if issued not in deadlines:
                deadlines[issued] = calendar.add(issued, n_days).day
            verdict = "signed_late" if deadlines[issued] < as_of else "sign_pending"
        else:
            verdict = "signed_on_time" if on_time else "signed_late"
        for key in (unit_id, None):
            r = row(key)
            r.papers += 1
            setattr(r, verdict, getattr(r, verdict) + 1)

    unit = answering_unit()
    chases = (
        select(unit, func.count())
        .select_from(Chase)
        .join(Step, col(Step.id) == col(Chase.step_id))
        .join(Case, col(Case.id) == col(Step.case_id))
        .where(live, Chase.chased_on >= period.start, Chase.chased_on <= period.end)
        .group_by(unit)
    )
    extensions = (
        select(unit, Extension.status, func.count())
        .select_from(Extension)
        .join(Step, col(Step.id) == col(Extension.step_id))
        .join(Case, col(Case.id) == col(Step.case_id))
        .where(
            live,
            Extension.deleted_at.is_(None),  # type: ignore[union-attr]  # sqlmodel column: mypy sees the value type on the class
            Extension.requested_on >= period.start,
            Extension.requested_on <= period.end,
        )
        .group_by(unit, Extension.status)
    )
    if unit_ids:
        chases, extensions = chases.where(unit.in_(unit_ids)), extensions.where(unit.in_(unit_ids))
    for unit_id, n in session.exec(chases).all():
        for key in (unit_id, None):
            row(key).chases += int(n)
    for unit_id, status, n in session.exec(extensions).all():
        for key in (unit_id, None):
            r = row(key)
            r.extensions += int(n)
            if status == ExtensionStatus.APPROVED:
                r.extensions_approved += int(n)
            elif status == ExtensionStatus.REFUSED:
                r.extensions_refused += int(n)
    row(None)
    return out
