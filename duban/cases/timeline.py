"""A case's history, read from the audit log and worded for people."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from duban.cases.lookup import get_case
from duban.cases.opening import EDITABLE_FIELDS
from duban.clock import cn_date
from duban.enums import AuditAction
from duban.models import AuditLog, Document, Feedback, Referral, Step, Unit, User
from duban.permissions import Actor

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
