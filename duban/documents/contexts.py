"""One context builder per kind, what the 专报 and 提级 forms start from, and the office setup."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlmodel import Session

from duban.clock import cn_date
from duban.documents.formatting import (
    case_context,
    case_summary,
    cn_datetime,
    due_context,
    join,
    level_on,
    office_context,
    require_case,
    require_step,
    sentence,
    step_item,
    title_lines,
    units_text,
)
from duban.documents.sources import CaseBundle, Source, load_case, unit_names
from duban.enums import DocumentKind, Progress, StepKind
from duban.errors import ValidationError
from duban.models import Setting, Step
from duban.permissions import Actor, Perm
from duban.settings import get_setting, set_setting


def form_step(bundle: CaseBundle, step: Step | None) -> Step | None:
    """The step a 督办单 is dated and due by: its own 督办单 step, else (a case that began at
    现场 or 提级) the case's first handling step."""
    if step is not None:
        return step
    return next((s for s in bundle.steps if s.kind in FEEDBACK_STEPS), None)


def supervision_form_context(source: Source) -> dict[str, Any]:
    """附件1 督办单: the case, its tickets (none: no empty ticket boxes), opinion, deadline."""
    bundle = require_case(source)
    step = form_step(bundle, source.step)
    day = step.issued_at if step else bundle.case.opened_at
    return {
        **office_context(source, day),
        **case_context(source, day),
        **due_context(step),
    }


def onsite_notice_context(source: Source) -> dict[str, Any]:
    """附件2 现场协调督办通知: the notice step's own fields."""
    step = require_step(source, "现场协调督办通知")
    case = require_case(source).case
    return {
        **office_context(source, step.issued_at),
        **case_context(source, step.issued_at),
        **due_context(step),
        "subject": step.subject or case.title,
        "location": step.location,
        "scheduled_at": cn_datetime(step.scheduled_at),
        "procedure": step.body,
        "attendees": step.attendees,
        "contact_name": step.contact_name or source.office.contact,
        "contact_phone": step.contact_phone or source.office.phone,
        "remark": step.remark,
    }


def special_report_context(source: Source) -> dict[str, Any]:
    """工作专报 to the main leaders: the 专报 step's own 情况, 原因分析 and 建议, dated by it."""
    step = require_step(source, "工作专报")
    return {
        **office_context(source, step.issued_at),
        **case_context(source, step.issued_at),
        "report_title": title_lines(step.subject),
        "situation": step.body,
        "analysis": step.analysis,
        "suggestion": step.suggestion,
        "recipient": step.recipient or "镇主要领导、镇政府分管领导",
    }


def escalation_report_context(source: Source) -> dict[str, Any]:
    """提级办理报告 (only for a case that reached 提级 and has its report step): the
    supervision up to the report's date, why it goes up, what the leader is asked."""
    bundle = require_case(source)
    if source.step is None:
        raise ValidationError(
            f"督办事项 {bundle.case.case_no} 未进入提级协调督办或尚未填写提级办理报告"
            "（提级理由、请示事项），无法生成提级办理报告"
        )
    step, day = source.step, source.step.issued_at
    earlier = [s for s in bundle.steps if s.id != step.id and s.issued_at <= day]
    title = step.subject or f"关于“{bundle.case.title}”提级办理的报告"
    return {
        **office_context(source, day),
        **case_context(source, day),
        "report_title": title_lines(title),
        "recipient": step.recipient or "镇分管领导",
        "steps": [step_item(s, bundle, source.names, day) for s in earlier],
        "escalation_reason": step.report_reason,
        "request": step.body,
    }


CN_NUMBERS = "一二三四五六七八九十"


def ordinal(n: int) -> str:
    """1 → 一, 12 → 十二 (numbering of 议定事项)."""
    if n <= 10:
        return CN_NUMBERS[n - 1]
    tens, ones = divmod(n, 10)
    return (
        (CN_NUMBERS[tens - 1] if tens > 1 else "") + "十" + (CN_NUMBERS[ones - 1] if ones else "")
    )


def minutes_title(title: str) -> str:
    """ "…专题会纪要": 纪要 after 专题会 (before a "（第1次）"), or at the end."""
    title = (title or "").strip() or "12345市民服务热线工作专题会"
    if "纪要" in title:
        return title
    if "专题会" in title:
        return title.replace("专题会", "专题会纪要", 1)
    return f"{title}纪要"


def meeting_minutes_context(source: Source) -> dict[str, Any]:
    """专题会纪要: instructions, the decisions (同类事项 routing) and the cases discussed."""
    if source.meeting is None:
        case = source.case.case.case_no if source.case else ""
        raise ValidationError(f"督办事项 {case} 尚未列入专题会，无法生成专题会纪要")
    meeting, names = source.meeting.meeting, source.names
    rules = source.meeting.rules
    decisions = [
        f"（{ordinal(i)}）{r.name}类事项，由{names.get(r.unit_id, '')}负责处置"
        + (f"，处置路径：{sentence(r.handling_path)}" if r.handling_path.strip() else "。")
        for i, r in enumerate(rules, start=1)
    ]
    return {
        **office_context(source, meeting.held_at),
        "meeting_title": title_lines(minutes_title(meeting.title)),
        "held_at": cn_date(meeting.held_at),
        "chair": meeting.chair,
        "attendees": meeting.attendees,
        "summary": meeting.summary,
        "decisions": [{"text": text} for text in decisions],
        "rules": [
            {
                "name": r.name,
                "category": r.category,
                "keywords": r.keywords,
                "unit": names.get(r.unit_id, ""),
                "handling_path": r.handling_path,
            }
            for r in rules
        ],
        "cases": [
            {
                "case_no": b.case.case_no,
                "title": b.case.title,
                "units": units_text(b, names)[0],
                "level": level_on(b, meeting.held_at).label,
            }
            for b in source.meeting.cases
        ],
    }


def progress_marks(progress: Progress | None) -> str:
    return "　".join(f"{'☑' if p is progress else '☐'}{p.label}" for p in Progress)


def feedback_receipt_context(source: Source) -> dict[str, Any]:
    """书面反馈回执: the step's facts printed, the unit's answer left to fill in (or copied)."""
    bundle = require_case(source)
    step = require_step(source, "需书面反馈的督办")
    answers = bundle.feedback.get(step.id, [])  # type: ignore[arg-type]  # ids are set: these rows were flushed
    last = answers[-1] if answers else None
    return {
        **office_context(source, step.issued_at),
        **case_context(source, step.issued_at),
        **due_context(step),
        "addressee": source.names.get(step.unit_id, "") if step.unit_id else "",
        "step_kind": step.kind.label,
        "issued_at": cn_date(step.issued_at),
        "feedback_text": last.text if last else "",
        "feedback_date": cn_date(last.received_at) if last else "　　年　　月　　日",
        "progress_marks": progress_marks(last.progress if last else None),
    }


# --- what the 专报 and 提级 forms start from ---------------------------------------------------


def history_text(bundle: CaseBundle, names: Mapping[int, str], day: date) -> str:
    """The supervision so far in one sentence per step, up to `day` (for the prefills)."""
    parts = []
    for step in bundle.steps:
        if step.issued_at > day or step.kind not in FEEDBACK_STEPS:
            continue
        item = step_item(step, bundle, names, day)
        text = f"{item['issued_at']}{step.kind.label}" + (
            f"至{item['unit']}" if item["unit"] else ""
        )
        if item["progress"]:
            text += f"，{item['feedback_date']}反馈“{item['progress']}”"
        elif step.due_at and step.due_at < day:
            text += f"，至期限{item['due_at']}未收到合规反馈"
        parts.append(text)
    return "；".join(parts)


def paper_prefill(
    session: Session, actor: Actor, case_id: int, kind: DocumentKind | str, day: date
) -> dict[str, str]:
    """What the 专报 or 提级办理报告 form starts from: the facts, the escalation reasons the
    steps recorded and a suggestion naming the units — never the 督办意见 sent to the unit.
    Keys: subject, recipient and, for the 专报, situation / analysis / suggestion; for the
    提级办理报告, reason / request."""
    actor.require(Perm.RENDER_DOCUMENTS)
    bundle = load_case(session, case_id)
    names = unit_names(session)
    case = bundle.case
    _, lead, co = units_text(bundle, names)
    lead = lead or "主办单位"
    helpers = f"，{co}配合" if co else "，相关部门配合"
    history = history_text(bundle, names, day)
    reasons = join(dict.fromkeys(s.escalation_reason for s in bundle.steps if s.escalation_reason))
    reasons = reasons.replace("、", "；") if reasons else case.start_level_reason
    if DocumentKind(kind) is DocumentKind.SPECIAL_REPORT:
        situation = case_summary(bundle, names, day)
        if history:
            situation += f"督办经过：{sentence(history)}"
        return {
            "subject": f"关于{case.title}有关情况的专报",
            "recipient": "镇主要领导、镇政府分管领导",
            "situation": situation,
            "analysis": sentence(reasons),
            "suggestion": f"建议由镇政府分管领导协调，明确{lead}牵头{helpers}，"
            "在5个工作日内落实具体处置方案和措施，城运中心跟踪核实并报告办理结果。",
        }
    return {
        "subject": f"关于“{case.title}”提级办理的报告",
        "recipient": "镇分管领导",
        "reason": sentence(reasons or history),
        "request": f"建议由镇分管领导批办，明确{lead}牵头{helpers}，在5个工作日内"
        "落实具体处置方案和措施，书面反馈处置情况。",
    }


OFFICE_KEYS = ("office_name", "office_contact", "office_phone")


def office_setup_needed(session: Session) -> bool:
    """Whether the issuing office's name, contact and phone were never saved: papers print
    them, so the first paper waits for this setup step (`save_office`)."""
    return any(session.get(Setting, key) is None for key in OFFICE_KEYS) or not all(
        str(get_setting(session, key) or "").strip() for key in OFFICE_KEYS
    )


def save_office(session: Session, actor: Actor, *, name: str, contact: str, phone: str) -> None:
    """The setup step: the office's name, contact and phone, all three required (audited)."""
    values = {"office_name": name, "office_contact": contact, "office_phone": phone}
    labels = {"office_name": "发文单位名称", "office_contact": "联系人", "office_phone": "联系电话"}
    missing = [labels[k] for k, v in values.items() if not (v or "").strip()]
    if missing:
        raise ValidationError(f"请填写{'、'.join(missing)}（文书上印出，不能为空）")
    for key, value in values.items():
        set_setting(session, actor, key, value.strip())


FEEDBACK_STEPS = (
    StepKind.SUPERVISION_FORM,
    StepKind.ONSITE_NOTICE,
    StepKind.LEADER_INSTRUCTION,
    StepKind.SPECIAL_MEETING,
    StepKind.ESCALATED_HANDLING,
)
