"""Values as the papers write them: dates, units, ticket items, case summaries, titles."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from duban.clock import cn_date, cn_due, today
from duban.documents.docx_template import occurrences
from duban.documents.sources import CaseBundle, Office, Source
from duban.enums import CaseStatus, Level
from duban.errors import ValidationError
from duban.models import Step, Ticket


def cn_datetime(value: datetime | None) -> str:
    """`2024年3月1日 9:00`; a time of exactly midnight is taken as "date only"."""
    if value is None:
        return ""
    if value.time() == datetime.min.time():
        return cn_date(value)
    return f"{cn_date(value)} {value.hour}:{value.minute:02d}"


def due_text(step: Step | None) -> str:
    """A step's due date, marked 暂估 when the year's holiday schedule was unknown."""
    return cn_due(step.due_at, step.due_provisional) if step is not None else ""


def join(values: Iterable[str]) -> str:
    return "、".join(v for v in values if v)


def units_text(bundle: CaseBundle, names: Mapping[int, str]) -> tuple[str, str, str]:
    """(all units, lead, co-units): "镇生态环境办（主办）、示例三村村委会（协办）" when shared."""
    lead_id = bundle.case.lead_unit_id
    lead = names.get(lead_id, "") if lead_id else ""
    co = [names.get(uid, "") for uid, role in bundle.units if uid != lead_id]
    co_text = join(co)
    if not co_text:
        return lead, lead, ""
    both = join([f"{lead}（主办）" if lead else ""] + [f"{n}（协办）" for n in co if n])
    return both, lead, co_text


LONG_CONTENT = 400
"""Characters of 内容描述 above which a ticket's block may break across pages (≈ half a page
of the 督办单's 四号 cell); a shorter one is kept on one page."""


def ticket_item(ticket: Ticket, names: Mapping[int, str]) -> dict[str, Any]:
    return {
        "long": len(ticket.content) > LONG_CONTENT,
        "ticket_no": ticket.ticket_no,
        "received_at": cn_datetime(ticket.received_at),
        "address": ticket.address,
        "content": ticket.content,
        "title": ticket.title,
        "category": ticket.category,
        "unit": names.get(ticket.unit_id, "") if ticket.unit_id else ticket.unit_raw,
    }


def level_on(bundle: CaseBundle, day: date) -> Level:
    """The case's level on `day`: that of its newest step issued by then (else its level)."""
    earlier = [s for s in bundle.steps if s.issued_at <= day]
    return earlier[-1].level if earlier else bundle.case.level


NUMBER_LINE_WIDTH = 44
"""Half-width characters of numbers per line of the 回执's 工单编号 cell (123 mm of 小四,
with room for wider fallback digits)."""


def packed_lines(values: list[str], width: int = NUMBER_LINE_WIDTH) -> str:
    """Numbers joined by "、", a new line before any that would not fit whole: a word
    processor breaks long digit runs anywhere, so the lines are made here."""
    lines: list[str] = []
    for value in values:
        if lines and text_width(lines[-1] + "、" + value) * 2 <= width:
            lines[-1] += "、" + value
        else:
            lines.append(value)
    return "\n".join(lines)


def case_summary(bundle: CaseBundle, names: Mapping[int, str], day: date | None = None) -> str:
    """One paragraph describing the matter as it stood on `day` (the paper's own date), for
    the reports' 基本情况: closed by then, or at the level it had reached — never both."""
    case = bundle.case
    day = day or case.closed_at or today()
    units, _, _ = units_text(bundle, names)
    text = f"督办事项“{case.title}”（{case.case_no}）属于“{case.scope.label}”"
    if bundle.tickets:
        first, last = bundle.tickets[0].received_at, bundle.tickets[-1].received_at
        period = (
            cn_date(first) if first.date() == last.date() else f"{cn_date(first)}至{cn_date(last)}"
        )
        text += f"，共涉及 12345 工单 {len(bundle.tickets)} 件，诉求时间为{period}"
    elif case.source_note:
        text += f"，来源：{case.source_note.rstrip('。')}"
    if units:
        text += f"，承办单位为{units}"
    text += f"。{cn_date(case.opened_at)}立项督办"
    if case.status is CaseStatus.CLOSED and case.closed_at and case.closed_at <= day:
        return text + f"，{cn_date(case.closed_at)}办结。"
    return text + f"，截至{cn_date(day)}处于{level_on(bundle, day).label}阶段。"


def contact_note(office: Office) -> str:
    """ "（联系人：王敏，联系电话：021-…）" with only the parts that are set; "" when none is."""
    parts = [
        f"{label}：{value}"
        for label, value in (("联系人", office.contact), ("联系电话", office.phone))
        if value.strip()
    ]
    return f"（{'，'.join(parts)}）" if parts else ""


def office_context(source: Source, issue_day: date) -> dict[str, Any]:
    return {
        "office_name": source.office.name,
        "office_contact": source.office.contact,
        "office_phone": source.office.phone,
        "contact_note": contact_note(source.office),
        "issue_date": cn_date(issue_day),
    }


def case_context(source: Source, day: date | None = None) -> dict[str, Any]:
    bundle = require_case(source)
    case, names = bundle.case, source.names
    units, lead, co = units_text(bundle, names)
    step = source.step
    return {
        "case_no": case.case_no,
        "case_title": case.title,
        "scope": case.scope.label,
        "level": (step.level if step else case.level).label,
        "opened_at": cn_date(case.opened_at),
        "units": units,
        "lead_unit": lead,
        "co_units": co,
        "source_note": case.source_note,
        "related_info": case.related_info,
        "opinion": case.opinion,
        "result_text": case.result_text,
        "ticket_nos": join(t.ticket_no for t in bundle.tickets),
        "ticket_no_lines": packed_lines([t.ticket_no for t in bundle.tickets]),
        "ticket_count": str(len(bundle.tickets)),
        "tickets": [ticket_item(t, names) for t in bundle.tickets],
        "case_summary": case_summary(bundle, names, day),
    }


def due_context(step: Step | None) -> dict[str, Any]:
    workdays = step.due_workdays if step and step.due_workdays is not None else None
    return {"due_at": due_text(step), "due_workdays": "" if workdays is None else str(workdays)}


def step_item(
    step: Step, bundle: CaseBundle, names: Mapping[int, str], day: date | None = None
) -> dict[str, Any]:
    """One step as a paper lists it; feedback received after `day` is not known yet."""
    answers = [
        a
        for a in bundle.feedback.get(step.id, [])  # type: ignore[arg-type]  # ids are set: these rows were flushed
        if day is None or a.received_at <= day
    ]
    last = answers[-1] if answers else None
    return {
        "kind": step.kind.label,
        "level": step.level.label,
        "issued_at": cn_date(step.issued_at),
        "unit": names.get(step.unit_id, "") if step.unit_id else "",
        "due_at": due_text(step),
        "status": step.status.label,
        "feedback_date": cn_date(last.received_at) if last else "",
        "feedback_text": last.text if last else "",
        "progress": last.progress.label if last else "",
    }


def require_case(source: Source) -> CaseBundle:
    if source.case is None:
        raise ValidationError("该文书需要指定督办事项")
    return source.case


def require_step(source: Source, what: str) -> Step:
    if source.step is None:
        raise ValidationError(
            f"督办事项 {require_case(source).case.case_no} 尚无{what}环节，无法生成该文书"
        )
    return source.step


# --- titles ---------------------------------------------------------------------------------

TITLE_WIDTH = 19.5
"""A title line's room in 二号 characters (156 mm ÷ 22 pt ≈ 20, less a little for safety)."""

TITLE_WORDS = (
    "12345市民服务热线",
    "12345热线",
    "市民服务热线",
    "协调督办",
    "工作报告",
    "提级办理",
    "有关情况",
    "工作专报",
    "专题会纪要",
    "工作专题会",
    "绩效考核",
    "承办单位",
)
"""Words a title line never breaks inside (GB/T 9704 7.3.3: 回行时词意完整)."""

TITLE_BREAK_BEFORE = (
    "12345", "协调督办工作报告", "工作报告", "提级办理的报告", "有关情况的专报", "的报告",
    "的专报", "专题会纪要", "工作专题会", "纪要", "“", "（",
)  # fmt: skip
TITLE_BREAK_AFTER = ("关于", "季度", "年度", "上半年", "下半年", "”", "）", "〕", "、", "，")


def text_width(text: str) -> float:
    """Width in full-width characters: ASCII (digits of 12345, years) counts a half."""
    return sum(0.5 if ord(ch) < 0x2000 else 1.0 for ch in text)


def title_breaks(title: str) -> list[int]:
    """Positions a title may break at: sense boundaries outside the protected words."""
    inside: set[int] = set()
    for word in TITLE_WORDS:
        for at in occurrences(title, word[0]):
            if title.startswith(word, at):
                inside.update(range(at + 1, at + len(word)))
    found: set[int] = set()
    for word in TITLE_BREAK_BEFORE:
        found.update(at for at in occurrences(title, word[0]) if title.startswith(word, at))
    for word in TITLE_BREAK_AFTER:
        found.update(
            at + len(word) for at in occurrences(title, word[0]) if title.startswith(word, at)
        )
    found |= {m.end() for m in re.finditer(r"\d{4}年(?:\d{1,2}月)?", title)}
    return sorted(at for at in found if 0 < at < len(title) and at not in inside)


def title_shape_cost(widths: list[float]) -> float:
    """How far lines are from GB/T 9704's 梯形 (each line longer than the one above) or
    菱形 (the middle one longest); among good shapes, the more even the better."""
    if len(widths) == 1:
        return 0.0
    rising = all(a <= b for a, b in zip(widths, widths[1:], strict=False))
    diamond = len(widths) == 3 and widths[1] >= max(widths[0], widths[2])
    falling = all(a >= b for a, b in zip(widths, widths[1:], strict=False))
    penalty = 0.0 if rising or diamond else (8.0 if falling else 30.0)
    return penalty + max(widths) - min(widths)


def title_lines(title: str, width: float = TITLE_WIDTH) -> str:
    """A title broken at sense boundaries into 梯形/菱形 lines, joined by "\\n" (each line
    prints as its own centred paragraph); a title that fits stays one line, and one with no
    sense boundary that helps is left to the word processor."""
    title = title.strip()
    if text_width(title) <= width:
        return title
    breaks = title_breaks(title)
    best: tuple[float, tuple[int, ...]] | None = None
    for count in (1, 2):
        for cut in itertools.combinations(breaks, count):
            edges = (0, *cut, len(title))
            widths = [text_width(title[a:b]) for a, b in itertools.pairwise(edges)]
            if max(widths) > width:
                continue
            cost = title_shape_cost(widths) + 10 * count  # fewer lines first
            if best is None or cost < best[0]:
                best = (cost, cut)
        if best is not None:
            break
    if best is None:
        return title
    edges = (0, *best[1], len(title))
    return "\n".join(title[a:b] for a, b in itertools.pairwise(edges))


def sentence(text: str) -> str:
    """Text ending in exactly one full stop (joined texts never print "。。")."""
    text = (text or "").strip().rstrip("。.；;，,、 ")
    return f"{text}。" if text else ""
