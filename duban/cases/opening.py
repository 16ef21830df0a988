"""Opening a case (立项) from tickets, and editing its fields."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from duban import audit
from duban.cases.lookup import _get_unit, get_case
from duban.cases.numbering import format_case_no, next_case_seq
from duban.cases.states import STATE_OF_LEVEL, Action, case_state
from duban.cases.steps import issue_supervision_form
from duban.cases.transitions import Ctx, _required, _text, _transition
from duban.clock import today
from duban.enums import AuditAction, CaseStatus, Level, Scope, UnitRole
from duban.errors import ValidationError
from duban.models import Case, CaseTicket, CaseUnit, Ticket
from duban.permissions import Actor, Perm
from duban.records import apply_changes, check_version, get_live
from duban.settings import get_setting


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
