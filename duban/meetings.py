"""镇领导专题会 and the routing rules they decide (§三(三)2: 明确同类事项的处置部门和处置路径).

A meeting records its date, chair, attendees, the cases discussed and its instructions. A
decision that fixes, for a class of matter (category, keywords, address pattern), the
responsible department and the handling path becomes a `RoutingRule` linked to the meeting.
When a ticket is imported or a case opened, `duban.routing.match_rules` finds the rules that
fit so the page can SUGGEST them; nothing is ever routed silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from duban import audit, cases
from duban.clock import cn_date, today
from duban.enums import AuditAction, CaseStatus, Level
from duban.errors import ValidationError
from duban.models import Case, Meeting, MeetingCase, RoutingRule, Unit
from duban.permissions import Actor, Perm
from duban.records import apply_changes, get_live, insert
from duban.routing import split_keywords


def get_meeting(session: Session, meeting_id: int) -> Meeting:
    return get_live(session, Meeting, meeting_id, "专题会")


def create_meeting(
    session: Session,
    actor: Actor,
    *,
    held_at: date,
    title: str,
    chair: str,
    attendees: str = "",
    summary: str = "",
    case_ids: Sequence[int] = (),
) -> Meeting:
    """Record a 专题会 and the cases it discussed.

    An open escalated case discussed there also gets a 镇领导专题会 step (through the
    workflow's state machine); other cases are linked to the meeting only.
    """
    actor.require(Perm.EDIT_CASES, "记录专题会")
    title = (title or "").strip()
    chair = (chair or "").strip()
    if not title:
        raise ValidationError("请填写会议名称")
    if not chair:
        raise ValidationError("请填写主持领导（分管领导）")
    if held_at > today():
        raise ValidationError(f"会议日期 {cn_date(held_at)} 晚于今天")
    meeting = Meeting(
        held_at=held_at,
        title=title,
        chair=chair,
        attendees=(attendees or "").strip(),
        summary=(summary or "").strip(),
        created_by=actor.user_id,
        updated_by=actor.user_id,
    )
    insert(
        session,
        actor,
        meeting,
        new=title,
        note=f"记录专题会：{cn_date(held_at)} {title}（主持：{chair}）",
    )
    for case_id in dict.fromkeys(case_ids):
        link_case(session, actor, meeting.id, case_id)  # type: ignore[arg-type]  # ids are set: these rows were flushed
    return meeting


def link_case(session: Session, actor: Actor, meeting_id: int, case_id: int) -> None:
    """Mark a case as discussed at a meeting (once); an escalated open case gets the step."""
    actor.require(Perm.EDIT_CASES, "关联专题会讨论事项")
    meeting = get_meeting(session, meeting_id)
    case = cases.get_case(session, actor, case_id)
    if session.get(MeetingCase, (meeting_id, case_id)) is not None:
        raise ValidationError(f"督办事项 {case.case_no} 已在该专题会的讨论事项中")
    session.add(MeetingCase(meeting_id=meeting_id, case_id=case_id))
    session.flush()
    audit.record(
        session,
        actor,
        AuditAction.UPDATE,
        "case",
        case_id,
        field="meeting",
        new=meeting.title,
        note=f"{cn_date(meeting.held_at)} 专题会“{meeting.title}”讨论本事项",
    )
    if case.status == CaseStatus.OPEN and case.level == Level.ESCALATED:
        cases.record_special_meeting(session, actor, case_id, meeting_id)


def add_routing_rule(
    session: Session,
    actor: Actor,
    meeting_id: int | None,
    *,
    name: str,
    unit_id: int | None,
    handling_path: str,
    category: str = "",
    keywords: str = "",
    address_pattern: str = "",
) -> RoutingRule:
    """A meeting decision for a class of matter: who handles it and how (同类事项)."""
    actor.require(Perm.EDIT_CASES, "录入处置规则")
    if meeting_id is not None:
        get_meeting(session, meeting_id)
    name = (name or "").strip()
    handling_path = (handling_path or "").strip()
    category, address_pattern = (category or "").strip(), (address_pattern or "").strip()
    keywords = "、".join(split_keywords(keywords))
    if not name:
        raise ValidationError("请填写事项类别名称")
    if not handling_path:
        raise ValidationError("请填写处置路径")
    if not (category or keywords or address_pattern):
        raise ValidationError("请至少填写工单分类、关键词或地址范围中的一项，用于匹配同类事项")
    if unit_id is None:
        raise ValidationError("请选择处置部门")
    unit = get_live(session, Unit, unit_id, "处置部门", ValidationError)
    rule = RoutingRule(
        meeting_id=meeting_id,
        name=name,
        category=category,
        keywords=keywords,
        address_pattern=address_pattern,
        unit_id=unit_id,
        handling_path=handling_path,
        created_by=actor.user_id,
        updated_by=actor.user_id,
    )
    return insert(session, actor, rule, new=name, note=f"处置规则：{name} → {unit.name}")


def set_rule_active(
    session: Session, actor: Actor, rule_id: int, active: bool, *, expected_version: int | None
) -> RoutingRule:
    """Retire (or restore) a rule; it stays listed with its meeting for the record."""
    actor.require(Perm.EDIT_CASES, "停用处置规则")
    rule = get_live(session, RoutingRule, rule_id, "处置规则")
    apply_changes(
        session,
        actor,
        rule,
        {"active": active},
        expected_version=expected_version,
        label=f"处置规则“{rule.name}”",
    )
    return rule


@dataclass(frozen=True)
class RuleRow:
    rule: RoutingRule
    unit_name: str
    meeting_title: str
    meeting_date: date | None


def list_rules(
    session: Session, actor: Actor, *, search: str = "", include_inactive: bool = False
) -> list[RuleRow]:
    """Rules with their department and meeting, newest first; `search` looks in every text
    (the town's rules span every unit: roles that see all units only)."""
    actor.require(Perm.VIEW_ALL, "查看处置规则")
    stmt = (
        select(RoutingRule, col(Unit.name), col(Meeting.title), col(Meeting.held_at))
        .join(Unit, col(Unit.id) == col(RoutingRule.unit_id))
        .outerjoin(Meeting, col(Meeting.id) == col(RoutingRule.meeting_id))
        .where(col(RoutingRule.deleted_at).is_(None))
        .order_by(col(RoutingRule.id).desc())
    )
    if not include_inactive:
        stmt = stmt.where(col(RoutingRule.active).is_(True))
    text = (search or "").strip()
    if text:
        like = f"%{text}%"
        stmt = stmt.where(
            or_(
                col(RoutingRule.name).like(like),
                col(RoutingRule.category).like(like),
                col(RoutingRule.keywords).like(like),
                col(RoutingRule.address_pattern).like(like),
                col(RoutingRule.handling_path).like(like),
                col(Unit.name).like(like),
            )
        )
    return [RuleRow(r, u, t or "", d) for r, u, t, d in session.exec(stmt)]


def case_rules(session: Session, actor: Actor, case_id: int) -> list[RuleRow]:
    """The routing rules decided by the 专题会 that discussed a case (shown on the case)."""
    cases.get_case(session, actor, case_id)
    discussed = select(col(MeetingCase.meeting_id)).where(col(MeetingCase.case_id) == case_id)
    stmt = (
        select(RoutingRule, col(Unit.name), col(Meeting.title), col(Meeting.held_at))
        .join(Unit, col(Unit.id) == col(RoutingRule.unit_id))
        .join(Meeting, col(Meeting.id) == col(RoutingRule.meeting_id))
        .where(
            col(RoutingRule.deleted_at).is_(None),
            col(RoutingRule.meeting_id).in_(discussed),
        )
        .order_by(col(RoutingRule.id))
    )
    return [RuleRow(r, u, t or "", d) for r, u, t, d in session.exec(stmt)]


@dataclass(frozen=True)
class MeetingRow:
    meeting: Meeting
    cases: int
    rules: int


def list_meetings(session: Session, actor: Actor) -> list[MeetingRow]:
    """Meetings, newest first, with how many cases they discussed and rules they fixed
    (the town's meetings span every unit: roles that see all units only)."""
    actor.require(Perm.VIEW_ALL, "查看专题会")
    case_counts = dict(
        session.exec(
            select(col(MeetingCase.meeting_id), func.count()).group_by(col(MeetingCase.meeting_id))
        ).all()
    )
    rule_counts = dict(
        session.exec(
            select(col(RoutingRule.meeting_id), func.count())
            .where(col(RoutingRule.deleted_at).is_(None))
            .group_by(col(RoutingRule.meeting_id))
        ).all()
    )
    meetings = session.exec(
        select(Meeting)
        .where(col(Meeting.deleted_at).is_(None))
        .order_by(col(Meeting.held_at).desc(), col(Meeting.id).desc())
    ).all()
    return [MeetingRow(m, case_counts.get(m.id, 0), rule_counts.get(m.id, 0)) for m in meetings]  # type: ignore[arg-type]  # ids are set: these rows were flushed


def meeting_cases(session: Session, meeting_id: int) -> list[Case]:
    return list(
        session.exec(
            select(Case)
            .join(MeetingCase, col(MeetingCase.case_id) == col(Case.id))
            .where(col(MeetingCase.meeting_id) == meeting_id)
            .order_by(col(Case.id))
        )
    )
