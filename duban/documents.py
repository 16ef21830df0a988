"""Documents (文书): the seed's forms and papers, rendered from templates staff edit in Word.

One registry, `KINDS`, says for every kind which template file it uses, which fields a
template may use (name, meaning, example: the field reference in templates/README.md is
generated from it) and how the fields are filled from the database. Adding a kind is one
`KindSpec(...)` entry plus its template in `templates/build.py`.

Rendering goes through docxtpl with a sandboxed, autoescaping Jinja environment: values with
`& < >` or `{{ }}` print literally, `None` prints blank, and a template cannot reach Python
internals (`{{ ''.__class__.__mro__ }}` is refused at upload; at render the sandbox refuses it
or prints nothing). A rendered file is
kept under `data/documents/<year>/<case_no>/` with a readable, Windows-safe name and
registered as a `Document` row with an audit row; rendering again keeps the older files.

Public API for other modules (reports, the case page):
- `render_kind(session, kind, context) -> Rendered` — render any kind from a plain dict
  (values: str, numbers, dates, lists of dicts, `ImageSpec`); missing fields print blank.
- `register_document(session, actor, rendered, stem=…, year=…, folder=…)` — keep and register it.
- `render_document(session, actor, kind, case_id=…, step_id=…, meeting_id=…)` — a case's paper.
- `render_batch(session, actor, kind, case_ids, progress=…)` — one zip for many cases.
- `case_documents`, `recent_documents`, `document_file`, `document_pdf`, `pdf_available`,
  `to_pdf`, `batch_pdfs`; `applicable_steps` (steps a paper can be printed for).
- templates: `current_template`, `check_template`, `upload_template`, `template_versions`,
  `activate_template_version`, `restore_default_template`.
The case page shows all of this through `ui.case_documents.case_documents_panel(case_id)`.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import re
import shutil
import struct
import subprocess
import tempfile
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from docx import Document as open_docx
from docx.oxml import parse_xml
from docx.oxml.parser import element_class_lookup
from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from jinja2 import TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from lxml import etree
from sqlalchemy import func
from sqlmodel import Session, col, select

from duban import archives, audit, config, template_limits
from duban.clock import cn_date, cn_due, today
from duban.enums import (
    AuditAction,
    CaseStatus,
    DocumentKind,
    Progress,
    StepKind,
    StepStatus,
    UnitRole,
)
from duban.errors import NotFound, ValidationError
from duban.models import (
    Case,
    CaseTicket,
    CaseUnit,
    Document,
    Feedback,
    Meeting,
    MeetingCase,
    RoutingRule,
    Step,
    TemplateVersion,
    Ticket,
    Unit,
    User,
)
from duban.permissions import Actor, Perm
from duban.records import get_live, insert
from duban.settings import get_setting

DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# --- declared fields ----------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One field a template may use: `{{ name }}`, or a list of rows with `items`."""

    name: str
    label: str  # the meaning, in Chinese
    example: str = ""
    items: tuple[FieldSpec, ...] = ()  # for a list: the fields of each row (`{{ t.ticket_no }}`)
    image: bool = False  # an `ImageSpec` (a chart), placed with `{{ chart }}` in its own run

    @property
    def is_list(self) -> bool:
        return bool(self.items)


def f(name: str, label: str, example: str = "", **kw: Any) -> FieldSpec:
    return FieldSpec(name, label, example, **kw)


OFFICE_FIELDS = (
    f("office_name", "发文单位（系统设置“office_name”）", "青浦区赵巷镇城市运行管理中心"),
    f("office_contact", "城运中心联系人（系统设置“office_contact”）", "王敏"),
    f("office_phone", "城运中心联系电话（系统设置“office_phone”）", "021-59751234"),
    f("issue_date", "成文日期（环节发出日期，无环节时为生成当天）", "2024年1月24日"),
)

TICKET_ITEMS = (
    f("ticket_no", "工单编号", "20240301000123"),
    f("received_at", "诉求时间", "2024年3月1日 9:00"),
    f("address", "诉求地址", "赵巷镇示例路 88 弄 12 号"),
    f("content", "内容描述", "夜间施工噪声扰民，晚上十一点后仍在作业，影响休息"),
    f("title", "工单标题", "夜间施工噪声扰民"),
    f("category", "诉求分类", "噪声扰民"),
    f("unit", "工单承办单位", "镇生态环境办"),
)

CASE_FIELDS = (
    f("case_no", "督办编号", "赵巷督〔2024〕第007号"),
    f("case_title", "督办事项（事由）", "示例路工地夜间施工噪声扰民"),
    f("scope", "协调督办范围", "重复投诉多次，且办理工作未有明显进展的事项"),
    f("level", "督办类型（本文书对应的督办级别）", "书面督办"),
    f("opened_at", "立项日期", "2024年3月4日"),
    f("units", "承办单位（主办在前，协办注明）", "镇生态环境办（主办）、示例三村村委会（协办）"),
    f("lead_unit", "主办单位", "镇生态环境办"),
    f("co_units", "协办单位（以“、”分隔）", "示例三村村委会"),
    f("source_note", "交办来源（如领导批示内容）", "区领导批示：请赵巷镇尽快处置"),
    f("related_info", "相关情况", "该工单此前已派单 3 次，市民对办理结果不满意"),
    f("opinion", "督办意见", "请镇生态环境办会同示例三村村委会现场核查，依法处置"),
    f("result_text", "督办情况（办结时填写）", "已责令施工单位夜间停工，市民表示满意"),
    f("ticket_nos", "全部工单编号（以“、”分隔）", "20240301000123、20240305000456"),
    f("ticket_count", "工单数", "2"),
    f("tickets", "工单明细（每件工单一行/一组）", items=TICKET_ITEMS),
    f(
        "case_summary",
        "事项概况（系统根据督办事项生成的一段话）",
        "督办事项“示例路工地夜间施工噪声扰民”（赵巷督〔2024〕第007号）属于……",
    ),
)

DUE_FIELDS = (
    f("due_at", "反馈期限（暂估时注明“（暂估）”）", "2024年3月11日"),
    f("due_workdays", "反馈期限的工作日数", "5"),
)

STEP_ITEMS = (
    f("kind", "督办环节", "督办单"),
    f("level", "督办类型", "书面督办"),
    f("issued_at", "发出日期", "2024年3月4日"),
    f("unit", "承办单位", "镇生态环境办"),
    f("due_at", "反馈期限", "2024年3月11日"),
    f("status", "环节状态", "已提级"),
    f("feedback_date", "书面反馈日期", "2024年3月8日"),
    f("feedback_text", "书面反馈内容", "已约谈施工单位"),
    f("progress", "处置进展", "无进展"),
)

ONSITE_FIELDS = (
    f("subject", "协调督办事由", "示例路工地夜间施工噪声扰民"),
    f("location", "协调督办地点", "示例路 88 弄工地门口"),
    f("scheduled_at", "现场协调督办时间", "2024年3月12日 9:30"),
    f("procedure", "协调督办流程", "1. 实地踏勘；2. 听取承办单位汇报；3. 明确处置责任和时限"),
    f("attendees", "出席范围", "镇生态环境办、镇城管中队、示例三村村委会负责人"),
    f("contact_name", "联系人（未填写时取城运中心联系人）", "王敏"),
    f("contact_phone", "联系电话（未填写时取城运中心电话）", "021-59751234"),
    f("remark", "备注", "请承办单位当天登记并报告主要领导"),
)

REPORT_FIELDS = (
    f("report_title", "标题", "关于示例路工地夜间施工噪声扰民有关情况的专报"),
    f("report_body", "正文（有关情况和建议）", "该事项市民反映强烈……建议由镇城建中心牵头……"),
    f("recipient", "报送对象", "镇主要领导、镇政府分管领导"),
)

ESCALATION_FIELDS = (
    f("report_title", "标题", "关于“示例路工地夜间施工噪声扰民”提级办理的报告"),
    f("recipient", "主送（批办对象）", "镇分管领导"),
    f("steps", "督办经过（此前各督办环节，每环节一行）", items=STEP_ITEMS),
    f("escalation_reason", "提级理由", "经书面督办、现场协调督办后仍无处置进展"),
    f("request", "请示事项", "建议由镇城建中心牵头，镇城管中队配合，限期处置"),
)

RULE_ITEMS = (
    f("name", "事项类别", "小区内违章搭建"),
    f("category", "对应工单分类", "违章搭建"),
    f("keywords", "关键词", "阳光房、搭建"),
    f("unit", "处置部门", "镇城管中队"),
    f("handling_path", "处置路径", "城管中队立案查处，村居配合劝导"),
)

MEETING_CASE_ITEMS = (
    f("case_no", "督办编号", "赵巷督〔2024〕第007号"),
    f("title", "督办事项", "示例路工地夜间施工噪声扰民"),
    f("units", "承办单位", "镇生态环境办"),
    f("level", "督办类型", "提级协调督办"),
)

MEETING_FIELDS = (
    f("meeting_title", "会议名称", "12345 市民服务热线工作专题会纪要"),
    f("held_at", "会议日期", "2024年3月20日"),
    f("chair", "主持人（镇分管领导）", "李副镇长"),
    f("attendees", "出席人员", "镇城运中心、镇城建中心、镇城管中队负责人"),
    f("summary", "会议指示要求", "各承办单位要高度重视热线办理……"),
    f("rules", "会议明确的同类事项处置部门和路径", items=RULE_ITEMS),
    f("cases", "会议研究的督办事项", items=MEETING_CASE_ITEMS),
)

RECEIPT_FIELDS = (
    f("addressee", "承办单位（本环节的收件单位）", "镇生态环境办"),
    f("step_kind", "督办环节", "督办单"),
    f("issued_at", "督办日期（环节发出日期）", "2024年3月4日"),
    f("feedback_text", "处置情况（已登记反馈时填入，否则空白待填）", ""),
    f("feedback_date", "反馈日期（未反馈时为空白日期栏）", "　　年　　月　　日"),
    f("progress_marks", "处置进展勾选栏", "☐已办结　☐有进展　☐无进展"),
)

# 协调督办工作报告 (duban.reports builds the context; the figures' formulas: docs/KPI.md)
KPI_ITEMS = (
    f("cases", "督办件数（本期确定）", "120"),
    f("closed", "已办结（期末前）", "96"),
    f("closure_rate", "办结率", "80.0%"),
    f("due", "到期环节数", "150"),
    f("on_time", "按时反馈环节数", "138"),
    f("on_time_rate", "按时反馈率", "92.0%"),
    f("escalations", "提级次数", "9"),
    f("noncompliant", "不合规反馈份数", "4"),
    f("referrals", "移交纪委监察办件数", "1"),
    f("avg_days", "平均办结用时（工作日）", "6.5"),
)
REPORT_CASE_ITEMS = (
    f("case_no", "督办编号", "赵巷督〔2024〕第007号"),
    f("title", "督办事项", "示例路工地夜间施工噪声扰民"),
    f("units", "承办单位", "镇生态环境办、示例三村村委会"),
    f("level", "督办类型", "提级协调督办"),
    f("opened_at", "立项日期", "2024年3月4日"),
    f("status", "办理状态", "已办结"),
    f("outcome", "办理结果（典型案例为其说明）", "已办结（2024年3月20日）：已责令施工单位夜间停工"),
)
WORK_REPORT_FIELDS = (
    f("report_title", "报告标题", "2024年第一季度12345市民服务热线协调督办工作报告"),
    f("period", "统计区间", "2024年第一季度"),
    f("period_start", "统计开始日期", "2024年1月1日"),
    f("period_end", "统计结束日期", "2024年3月31日"),
    f("as_of", "统计截止日（逾期判断日）", "2024年4月2日"),
    f("overview", "总体情况（系统生成的一段话）", "2024年第一季度，共确定督办事项 120 件……"),
    f(
        "rates",
        "主要指标（比率及其分子、分母）",
        items=(
            f("name", "指标", "按时反馈率"),
            f("value", "比率", "92.0%"),
            f("numerator", "分子", "138"),
            f("denominator", "分母", "150"),
        ),
    ),
    f(
        "levels",
        "分督办类型统计（末行为合计）",
        items=(f("level", "督办类型", "书面督办"), *KPI_ITEMS),
    ),
    f(
        "scopes",
        "分督办范围件数",
        items=(f("scope", "督办范围", "市级督办事项"), f("cases", "件数", "12")),
    ),
    f(
        "units",
        "分承办单位统计（末行为合计）",
        items=(f("unit", "承办单位", "镇城建中心"), *KPI_ITEMS),
    ),
    f("escalated", "提级办理事项及办理结果", items=REPORT_CASE_ITEMS),
    f(
        "meetings",
        "召开的专题会",
        items=(
            f("held_at", "会议日期", "2024年3月20日"),
            f("title", "会议名称", "12345 热线工作专题会"),
            f("chair", "主持人", "李副镇长"),
            f("summary", "会议指示要求", "各承办单位要高度重视……"),
            f("cases", "研究事项数", "3"),
            f("rules", "明确的处置规则（概述）", "小区内违章搭建：镇城管中队"),
        ),
    ),
    f(
        "routing_rules",
        "专题会明确的同类事项处置部门和路径",
        items=(
            f("held_at", "会议日期", "2024年3月20日"),
            f("name", "事项类别", "小区内违章搭建"),
            f("unit", "处置部门", "镇城管中队"),
            f("handling_path", "处置路径", "城管中队立案查处，村居配合劝导"),
        ),
    ),
    f(
        "referrals",
        "移交镇纪委监察办的事项",
        items=(
            f("case_no", "督办编号", "赵巷督〔2024〕第007号"),
            f("title", "督办事项", "示例路工地夜间施工噪声扰民"),
            f("unit", "主办单位", "镇生态环境办"),
            f("referred_at", "移交日期", "2024年3月25日"),
            f("reason", "移交原因", "主观推诿，整改不力"),
        ),
    ),
    f("typical", "典型案例（城运中心选定并撰写说明）", items=REPORT_CASE_ITEMS),
    f("assessment_title", "考核表标题", "2024年第一季度承办单位协调督办绩效考核"),
    f("assessment_rules", "考核规则（一句话）", "基础分 100 分，每个逾期环节扣 2 分……"),
    f(
        "assessment",
        "承办单位考核得分（按排名）",
        items=(
            f("rank", "排名", "1"),
            f("unit", "承办单位", "镇城建中心"),
            f("overdue", "逾期环节数", "2"),
            f("escalations", "提级次数", "1"),
            f("noncompliant", "不合规反馈数", "0"),
            f("referrals", "移交纪委监察办数", "0"),
            f("on_time_rate", "按时反馈率", "92.0%"),
            f("deductions", "扣分", "7"),
            f("bonus", "加分", "0"),
            f("score", "得分", "93"),
        ),
    ),
    f("chart_months", "统计图：各月新增督办事项", image=True),
    f("chart_on_time", "统计图：各承办单位按时反馈率", image=True),
)


# --- the database rows one paper is printed from ------------------------------------------


@dataclass(frozen=True)
class Office:
    """The issuing office, from settings (never hard-coded in templates or code)."""

    name: str
    contact: str
    phone: str

    @classmethod
    def load(cls, session: Session) -> Office:
        return cls(
            name=get_setting(session, "office_name") or "",
            contact=get_setting(session, "office_contact") or "",
            phone=get_setting(session, "office_phone") or "",
        )


@dataclass
class CaseBundle:
    """A case with its tickets, units, steps and feedback, loaded in a few queries."""

    case: Case
    tickets: list[Ticket] = field(default_factory=list)
    units: list[tuple[int, UnitRole]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)  # oldest first, cancelled left out
    feedback: dict[int, list[Feedback]] = field(default_factory=dict)  # by step id, oldest first


@dataclass
class MeetingBundle:
    meeting: Meeting
    cases: list[CaseBundle]
    rules: list[RoutingRule]


@dataclass(frozen=True)
class Source:
    """Everything a context builder reads: the office, the unit names and the subject rows."""

    office: Office
    names: Mapping[int, str]  # unit id → name
    case: CaseBundle | None = None
    step: Step | None = None
    meeting: MeetingBundle | None = None


def unit_names(session: Session) -> dict[int, str]:
    return dict(session.exec(select(col(Unit.id), col(Unit.name))).all())  # type: ignore[arg-type]  # ids are set: these rows were flushed


def load_cases(session: Session, case_ids: Iterable[int]) -> dict[int, CaseBundle]:
    """Cases by id with everything their papers print, in five queries whatever the count."""
    ids = list(dict.fromkeys(case_ids))
    if not ids:
        return {}
    cases = session.exec(
        select(Case).where(col(Case.id).in_(ids), col(Case.deleted_at).is_(None))
    ).all()
    bundles = {c.id: CaseBundle(case=c) for c in cases}
    rows = session.exec(
        select(CaseUnit).where(col(CaseUnit.case_id).in_(ids)).order_by(col(CaseUnit.unit_id))
    )
    for link in rows:
        if link.case_id in bundles:
            bundles[link.case_id].units.append((link.unit_id, link.role))
    tickets = session.exec(
        select(col(CaseTicket.case_id), Ticket)
        .join(Ticket, col(Ticket.id) == col(CaseTicket.ticket_id))
        .where(col(CaseTicket.case_id).in_(ids), col(Ticket.deleted_at).is_(None))
        .order_by(col(Ticket.received_at), col(Ticket.id))
    )
    for case_id, ticket in tickets:
        bundles[case_id].tickets.append(ticket)
    steps = session.exec(
        select(Step)
        .where(
            col(Step.case_id).in_(ids),
            col(Step.deleted_at).is_(None),
            col(Step.status) != StepStatus.CANCELLED,
        )
        .order_by(col(Step.issued_at), col(Step.id))
    ).all()
    for step in steps:
        bundles[step.case_id].steps.append(step)
    by_step = {s.id: s.case_id for s in steps}
    if by_step:
        feedback = session.exec(
            select(Feedback)
            .where(col(Feedback.step_id).in_(list(by_step)), col(Feedback.deleted_at).is_(None))
            .order_by(col(Feedback.received_at), col(Feedback.id))
        )
        for fb in feedback:
            bundles[by_step[fb.step_id]].feedback.setdefault(fb.step_id, []).append(fb)
    return bundles  # type: ignore[return-value]  # ids are set: these rows were flushed


def load_case(session: Session, case_id: int) -> CaseBundle:
    bundle = load_cases(session, [case_id]).get(case_id)
    if bundle is None:
        raise NotFound(f"督办事项（编号 {case_id}）不存在或已删除")
    return bundle


def load_meeting(session: Session, meeting_id: int) -> MeetingBundle:
    meeting = get_live(session, Meeting, meeting_id, "专题会")
    case_ids = session.exec(
        select(col(MeetingCase.case_id)).where(col(MeetingCase.meeting_id) == meeting_id)
    ).all()
    bundles = load_cases(session, case_ids)
    cases = sorted(bundles.values(), key=lambda b: (b.case.year, b.case.seq))
    rules = session.exec(
        select(RoutingRule)
        .where(col(RoutingRule.meeting_id) == meeting_id, col(RoutingRule.deleted_at).is_(None))
        .order_by(col(RoutingRule.id))
    ).all()
    return MeetingBundle(meeting=meeting, cases=cases, rules=list(rules))


def case_by_no(session: Session, case_no: str) -> Case:
    case = session.exec(
        select(Case).where(col(Case.case_no) == case_no.strip(), col(Case.deleted_at).is_(None))
    ).first()
    if case is None:
        raise NotFound(f"督办编号“{case_no}”不存在")
    return case


# --- value formatting ---------------------------------------------------------------------


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


def ticket_item(ticket: Ticket, names: Mapping[int, str]) -> dict[str, Any]:
    return {
        "ticket_no": ticket.ticket_no,
        "received_at": cn_datetime(ticket.received_at),
        "address": ticket.address,
        "content": ticket.content,
        "title": ticket.title,
        "category": ticket.category,
        "unit": names.get(ticket.unit_id, "") if ticket.unit_id else ticket.unit_raw,
    }


def case_summary(bundle: CaseBundle, names: Mapping[int, str]) -> str:
    """One paragraph describing the matter, for the reports' 基本情况."""
    case = bundle.case
    units, _, _ = units_text(bundle, names)
    text = f"督办事项“{case.title}”（{case.case_no}）属于“{case.scope.label}”"
    if bundle.tickets:
        first, last = bundle.tickets[0].received_at, bundle.tickets[-1].received_at
        period = (
            cn_date(first) if first.date() == last.date() else f"{cn_date(first)}至{cn_date(last)}"
        )
        text += f"，共涉及 12345 工单 {len(bundle.tickets)} 件，诉求时间为{period}"
    if units:
        text += f"，承办单位为{units}"
    text += f"。{cn_date(case.opened_at)}立项督办，目前处于{case.level.label}阶段"
    if case.status is CaseStatus.CLOSED:
        text += f"，已于{cn_date(case.closed_at)}办结"
    return text + "。"


def office_context(source: Source, issue_day: date | None) -> dict[str, Any]:
    return {
        "office_name": source.office.name,
        "office_contact": source.office.contact,
        "office_phone": source.office.phone,
        "issue_date": cn_date(issue_day or today()),
    }


def case_context(source: Source) -> dict[str, Any]:
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
        "ticket_count": str(len(bundle.tickets)),
        "tickets": [ticket_item(t, names) for t in bundle.tickets],
        "case_summary": case_summary(bundle, names),
    }


def due_context(step: Step | None) -> dict[str, Any]:
    workdays = step.due_workdays if step and step.due_workdays is not None else None
    return {"due_at": due_text(step), "due_workdays": "" if workdays is None else str(workdays)}


def step_item(step: Step, bundle: CaseBundle, names: Mapping[int, str]) -> dict[str, Any]:
    answers = bundle.feedback.get(step.id, [])  # type: ignore[arg-type]  # ids are set: these rows were flushed
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


# --- context builders: one per kind --------------------------------------------------------


def supervision_form_context(source: Source) -> dict[str, Any]:
    """附件1 督办单: the case, its tickets, opinion and the feedback deadline."""
    step = source.step
    context = {
        **office_context(source, step.issued_at if step else None),
        **case_context(source),
        **due_context(step),
    }
    if not context["tickets"]:  # keep the form's rows (督办编号, 承办单位) with blank ticket cells
        context["tickets"] = [dict.fromkeys((item.name for item in TICKET_ITEMS), "")]
    return context


def onsite_notice_context(source: Source) -> dict[str, Any]:
    """附件2 现场协调督办通知: the notice step's own fields."""
    step = require_step(source, "现场协调督办通知")
    case = require_case(source).case
    return {
        **office_context(source, step.issued_at),
        **case_context(source),
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
    """工作专报 to the main leaders; title, text and addressees from the 专报 step if any."""
    step = source.step
    case = require_case(source).case
    return {
        **office_context(source, step.issued_at if step else None),
        **case_context(source),
        "report_title": (step.subject if step else "") or f"关于“{case.title}”有关情况的专报",
        "report_body": (step.body if step else "") or case.opinion,
        "recipient": (step.recipient if step else "") or "镇主要领导、镇政府分管领导",
    }


def escalation_report_context(source: Source) -> dict[str, Any]:
    """提级办理报告: the supervision so far, why it goes up, what the leader is asked."""
    bundle = require_case(source)
    case, step = bundle.case, source.step
    earlier = [s for s in bundle.steps if step is None or s.id != step.id]
    reasons = join(s.escalation_reason for s in earlier if s.escalation_reason)
    return {
        **office_context(source, step.issued_at if step else None),
        **case_context(source),
        "report_title": (step.subject if step else "") or f"关于“{case.title}”提级办理的报告",
        "recipient": (step.recipient if step else "") or "镇分管领导",
        "steps": [step_item(s, bundle, source.names) for s in earlier],
        "escalation_reason": reasons or case.start_level_reason,
        "request": (step.body if step else "") or case.opinion,
    }


def meeting_minutes_context(source: Source) -> dict[str, Any]:
    """专题会纪要: instructions, routing decisions (同类事项) and the cases discussed."""
    if source.meeting is None:
        case = source.case.case.case_no if source.case else ""
        raise ValidationError(f"督办事项 {case} 尚未列入专题会，无法生成专题会纪要")
    meeting, names = source.meeting.meeting, source.names
    return {
        **office_context(source, meeting.held_at),
        "meeting_title": meeting.title or "12345 市民服务热线工作专题会纪要",
        "held_at": cn_date(meeting.held_at),
        "chair": meeting.chair,
        "attendees": meeting.attendees,
        "summary": meeting.summary,
        "rules": [
            {
                "name": r.name,
                "category": r.category,
                "keywords": r.keywords,
                "unit": names.get(r.unit_id, ""),
                "handling_path": r.handling_path,
            }
            for r in source.meeting.rules
        ],
        "cases": [
            {
                "case_no": b.case.case_no,
                "title": b.case.title,
                "units": units_text(b, names)[0],
                "level": b.case.level.label,
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
        **case_context(source),
        **due_context(step),
        "addressee": source.names.get(step.unit_id, "") if step.unit_id else "",
        "step_kind": step.kind.label,
        "issued_at": cn_date(step.issued_at),
        "feedback_text": last.text if last else "",
        "feedback_date": cn_date(last.received_at) if last else "　　年　　月　　日",
        "progress_marks": progress_marks(last.progress if last else None),
    }


# --- the registry ---------------------------------------------------------------------------

ContextBuilder = Callable[[Source], dict[str, Any]]


@dataclass(frozen=True)
class KindSpec:
    """A kind of document: its template, its fields and how they are filled."""

    kind: DocumentKind
    description: str  # one line for the template README and the pages
    fields: tuple[FieldSpec, ...]
    build: ContextBuilder | None = None  # None: the caller supplies the context (render_kind)
    step_kinds: tuple[StepKind, ...] = ()  # the steps the paper is printed for (newest used)
    batch: bool = False  # offered in the batch zip of many cases
    meeting: bool = False  # printed from a 专题会

    @property
    def template(self) -> str:
        return f"{self.kind.value}.docx"

    @property
    def title(self) -> str:
        return self.kind.label

    def field_names(self) -> set[str]:
        return {fs.name for fs in self.fields}


FEEDBACK_STEPS = (
    StepKind.SUPERVISION_FORM,
    StepKind.ONSITE_NOTICE,
    StepKind.LEADER_INSTRUCTION,
    StepKind.SPECIAL_MEETING,
    StepKind.ESCALATED_HANDLING,
)

KINDS: dict[DocumentKind, KindSpec] = {
    spec.kind: spec
    for spec in (
        KindSpec(
            DocumentKind.SUPERVISION_FORM,
            "《工作机制》附件1“12345 市民服务热线督办单”，书面督办时派送承办单位；多件工单逐件列出。",
            OFFICE_FIELDS + CASE_FIELDS + DUE_FIELDS,
            supervision_form_context,
            step_kinds=(StepKind.SUPERVISION_FORM,),
            batch=True,
        ),
        KindSpec(
            DocumentKind.ONSITE_NOTICE,
            "《工作机制》附件2“12345 市民服务热线现场协调督办通知”，取自现场协调督办环节填写的事由、地点、流程等。",
            OFFICE_FIELDS + CASE_FIELDS + DUE_FIELDS + ONSITE_FIELDS,
            onsite_notice_context,
            step_kinds=(StepKind.ONSITE_NOTICE,),
            batch=True,
        ),
        KindSpec(
            DocumentKind.SPECIAL_REPORT,
            "工作专报：市民反映强烈、影响面广的重大诉求事项，报镇主要领导、镇政府分管领导。",
            OFFICE_FIELDS + CASE_FIELDS + REPORT_FIELDS,
            special_report_context,
            step_kinds=(StepKind.SPECIAL_REPORT,),
        ),
        KindSpec(
            DocumentKind.ESCALATION_REPORT,
            "提级办理报告：城运中心梳理汇总督办经过，报请镇分管领导批办。",
            OFFICE_FIELDS + CASE_FIELDS + ESCALATION_FIELDS,
            escalation_report_context,
            step_kinds=(StepKind.LEADER_INSTRUCTION, StepKind.ESCALATED_HANDLING),
        ),
        KindSpec(
            DocumentKind.MEETING_MINUTES,
            "专题会纪要：镇分管领导专题会的指示要求、同类事项的处置部门和处置路径、研究的督办事项。",
            OFFICE_FIELDS + MEETING_FIELDS,
            meeting_minutes_context,
            meeting=True,
        ),
        KindSpec(
            DocumentKind.FEEDBACK_RECEIPT,
            "书面反馈回执：承办单位填写处置情况，由单位主要领导签字并加盖单位公章后反馈城运中心。",
            OFFICE_FIELDS + CASE_FIELDS + DUE_FIELDS + RECEIPT_FIELDS,
            feedback_receipt_context,
            step_kinds=FEEDBACK_STEPS,
            batch=True,
        ),
        KindSpec(
            DocumentKind.WORK_REPORT,
            "协调督办工作报告：某一期间（月、季、年或任意区间）的督办情况、指标、提级事项、专题会、移交纪委监察办事项、典型案例、考核得分和统计图，报送区镇领导、党政办和承办单位（由 duban.reports 生成）。",
            OFFICE_FIELDS + WORK_REPORT_FIELDS,
        ),
    )
}
"""Every kind the application renders; the template README is generated from it."""


def kind_spec(kind: DocumentKind | str) -> KindSpec:
    try:
        return KINDS[DocumentKind(kind)]
    except (KeyError, ValueError):
        valid = "、".join(f"{k.value}（{k.label}）" for k in KINDS)
        raise ValidationError(f"未知的文书类型“{kind}”，可选：{valid}") from None


# --- rendering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageSpec:
    """A picture for a template field (a chart): PNG/JPEG bytes and the printed width."""

    data: bytes
    width_mm: float


@dataclass(frozen=True)
class TemplateRef:
    """The template a kind renders with now: the committed default or an uploaded version."""

    kind: DocumentKind
    name: str  # the name registered on each Document
    path: Path
    sha256: str
    version: int | None = None  # None: the committed default
    version_id: int | None = None

    def read(self) -> bytes:
        return self.path.read_bytes()


@dataclass(frozen=True)
class Rendered:
    kind: DocumentKind
    data: bytes
    template: TemplateRef


class SourceCache:
    """A small LRU keyed by template source text (a batch repeats the same source)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self.items: OrderedDict[str, Any] = OrderedDict()

    def get(self, source: str, make: Callable[[str], Any]) -> Any:
        value = self.items.get(source)
        if value is None:
            value = self.items[source] = make(source)
            if len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


class DocumentEnvironment(SandboxedEnvironment):
    """Sandboxed and autoescaping; `None` prints blank; compiled sources are reused.

    docxtpl compiles the document's XML on every render; a batch renders the same XML
    hundreds of times, so the compiled template is cached by its source text.
    """

    def __init__(self) -> None:
        super().__init__(autoescape=True, finalize=lambda v: "" if v is None else v)
        self.compiled = SourceCache()

    def from_string(self, source: Any, globals: Any = None, template_class: Any = None) -> Any:
        if globals is not None or template_class is not None or not isinstance(source, str):
            return super().from_string(source, globals, template_class)
        return self.compiled.get(source, super().from_string)


ENV = DocumentEnvironment()
PATCHED = SourceCache()


# What docxtpl's post-processing looks for (see `Template`).
_PARAGRAPH = re.compile(r"<w:p(?: [^>]*)?>.*?</w:p>", re.DOTALL)  # docxtpl's own pattern
_BODY_START = re.compile(r'<w:body((?: xmlns:[\w.-]+="[^"]*")*)>')
_XMLNS = re.compile(r' xmlns:([\w.-]+)="([^"]*)"')
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_DOCPR = "{http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing}docPr"


class Template(DocxTemplate):
    """docxtpl 0.20's rendering, with the same output for less work on long documents.

    docxtpl post-processes the rendered XML at a cost per paragraph and per table row: a
    year's work report (≈5,000 table rows, ≈21,000 paragraphs) spent several times as long
    there as in Jinja. Each override below gives exactly what docxtpl's method gives
    (requirements.txt pins docxtpl; tests/test_documents.py compares document.xml with
    plain `DocxTemplate`'s, byte for byte, for long tables, merged cells, column loops,
    line breaks and pictures, so a docxtpl upgrade that changes its output is caught):
    - `patch_xml`, a pure function of the template's XML, is done once per template;
    - line breaks (`\\a` `\\t` `\\n` `\\f`) are resolved only in the paragraphs that hold one;
    - the table grid check sums cells one by one only in rows with merged cells;
    - the rendered body is parsed inside the document's own root (`parse_in_document`),
      so it is not moved between lxml documents afterwards (a walk over every node);
    - picture ids are renumbered walking the tree instead of through XPath.
    """

    new_root: Any = None  # the document parsed around the rendered body, when that worked

    def patch_xml(self, src_xml: str) -> str:
        return PATCHED.get(src_xml, super().patch_xml)

    def render_xml_part(self, src_xml: str, part: Any, context: Any, jinja_env: Any = None) -> str:
        """docxtpl's `render_xml_part` with `str.replace` for its line-break regexes."""
        src_xml = re.sub(r"<w:p([ >])", r"\n<w:p\1", src_xml)
        try:
            self.current_rendering_part = part
            env = jinja_env or ENV
            dst_xml = env.from_string(src_xml).render(context)
        except TemplateError as exc:
            lineno: int | None = getattr(exc, "lineno", None)
            if lineno is not None:
                first = max(lineno - 4, 0)
                lines = src_xml.splitlines()[first : first + 7]
                exc.docx_context = [re.sub(r"<[^>]+>", "", line) for line in lines]  # type: ignore[attr-defined]  # the message's context rides on jinja's exception
            raise
        dst_xml = dst_xml.replace("\n<w:p ", "<w:p ").replace("\n<w:p>", "<w:p>")
        for escaped, tag in (("{_{", "{{"), ("}_}", "}}"), ("{_%", "{%"), ("%_}", "%}")):
            dst_xml = dst_xml.replace(escaped, tag)
        return self.resolve_listing(dst_xml)

    def resolve_listing(self, xml: str) -> str:
        """docxtpl's, applied only to the paragraphs that hold a break to resolve.

        docxtpl runs its regexes over every paragraph (`_PARAGRAPH` matches, left to right).
        The end of any `</w:p>` is never inside such a match (a match ends at the first
        `</w:p>` after its start), so searching from the last one before a break finds the
        very match docxtpl resolves that break in.
        """
        hits = sorted(at for char in "\t\a\n\f" for at in occurrences(xml, char))
        if not hits:
            return xml
        resolve = super().resolve_listing  # on one paragraph: exactly its own match
        pieces: list[Any] = []
        done = 0
        for hit in hits:
            if hit < done:  # in the paragraph just resolved
                continue
            close = xml.rfind("</w:p>", done, hit)
            paragraph = _PARAGRAPH.search(xml, done if close < 0 else close + len("</w:p>"))
            if paragraph is None or paragraph.start() > hit:  # outside any paragraph
                continue
            pieces += (xml[done : paragraph.start()], resolve(paragraph[0]))
            done = paragraph.end()
        pieces.append(xml[done:])
        return "".join(pieces)

    def parse_in_document(self, xml: str) -> Any:
        """The document's root with the rendered body in place, parsed as docxtpl parses the
        body (`recover=True`); None when that is not certain to give the same tree (then
        docxtpl's way is taken)."""
        root = self.docx.element
        start = _BODY_START.match(xml)
        if start is None or any(root.nsmap.get(p) != uri for p, uri in _XMLNS.findall(start[1])):
            return None
        shell = etree.tostring(root, encoding="unicode")  # the template: small
        head, tail = shell.find("<w:body>"), shell.rfind("</w:body>")
        if head < 0 or tail < 0:
            return None
        parser = etree.XMLParser(recover=True)
        parser.set_element_class_lookup(element_class_lookup)  # python-docx's classes
        whole = shell[:head] + "<w:body>" + xml[start.end() :] + shell[tail + len("</w:body>") :]
        try:
            new = etree.fromstring(whole, parser=parser)
        except etree.XMLSyntaxError:
            return None
        return None if len(parser.error_log) else new

    def fix_tables(self, xml: str) -> Any:
        self.new_root = self.parse_in_document(xml)
        if self.new_root is None:
            tree = etree.fromstring(xml, parser=etree.XMLParser(recover=True))
        else:
            tree = self.new_root.find(f"{_W}body")
        fix_table_grids(tree)
        return tree

    def fix_docpr_ids(self, tree: Any) -> None:
        pictures = list(tree.iter(_DOCPR))
        for elt in pictures:
            self.docx_ids_index += 1
            elt.attrib["id"] = str(self.docx_ids_index)
        if self.new_root is not None:
            drop_redundant_namespaces([elt.getparent() for elt in pictures])

    def map_tree(self, tree: Any) -> None:
        if self.new_root is None:
            super().map_tree(tree)
        else:
            self.docx.part._element = self.docx._element = self.new_root


def occurrences(text: str, char: str) -> Iterable[int]:
    """Every index of `char` in `text` (str.find: far quicker than a regex on megabytes)."""
    at = text.find(char)
    while at >= 0:
        yield at
        at = text.find(char, at + 1)


def drop_redundant_namespaces(pictures: list[Any]) -> None:
    """Pictures (`wp:inline`, `wp:anchor`) without the namespace declarations their document
    already makes, as docxtpl's move of the whole body leaves them.

    A picture's XML (docxtpl's InlineImage) declares its namespaces again; lxml drops such
    declarations from what it moves into a document, so moving in a copy of each picture
    does it. A picture inside an earlier one (a text box) moved in with it.
    """
    if not pictures:
        return
    root = pictures[0].getroottree().getroot()
    for picture in pictures:
        parent = picture.getparent()
        if parent is not None and picture.getroottree().getroot() is root:
            parent.replace(picture, copy.deepcopy(picture))


def fix_table_grids(tree: Any) -> None:
    """docxtpl's `fix_tables` on a parsed body: each table's grid made to fit its widest row.

    The same arithmetic; a row's cells are summed one by one (for `gridSpan`) only in the
    rows that have a merged cell, the other rows count their cells.
    """
    ns = "{" + tree.nsmap["w"] + "}"
    tr, tc, tc_pr, grid_span = ns + "tr", ns + "tc", ns + "tcPr", ns + "gridSpan"

    def cell_len(total: int, cell: Any) -> int:
        props = cell.find(tc_pr)
        span = None if props is None else props.find(grid_span)
        return total + (int(span.get(ns + "val")) if span is not None else 1)

    for table in tree.iter(ns + "tbl"):
        grid = table.find(ns + "tblGrid")
        columns = grid.findall(ns + "gridCol")
        rows, merged = [], set()
        for element in table.iter(tr, grid_span):  # one walk for both
            if element.tag == tr:
                rows.append(element)
            else:  # gridSpan → tcPr → tc → tr
                merged.add(element.getparent().getparent().getparent())
        counts = [len(list(row.iterchildren(tc))) for row in rows]
        to_add = max(max(counts, default=0) - len(columns), 0)
        if to_add > 0:
            width = sum(float(c.get(ns + "w")) for c in columns if c.get(ns + "w") is not None)
            if width > 0:
                old_average = width / len(columns)
                new_average = width / (len(columns) + to_add)
                for c in columns:
                    c.set(ns + "w", str(int(float(c.get(ns + "w")) * new_average / old_average)))
                for _ in range(to_add):
                    etree.SubElement(grid, ns + "gridCol", {ns + "w": str(int(new_average))})
        columns = grid.findall(ns + "gridCol")
        widest = 0
        for row, count in zip(rows, counts, strict=True):
            if row in merged:
                count = functools.reduce(cell_len, row.findall(tc), 0)
            widest = max(widest, count)
        to_remove = len(columns) - widest
        if to_remove > 0:
            removed_width = 0.0
            for c in columns[-to_remove:]:
                removed_width += float(c.get(ns + "w"))
                grid.remove(c)
            left = grid.findall(ns + "gridCol")
            extra = int(removed_width / len(left)) if left else 0
            for c in left:
                c.set(ns + "w", str(int(float(c.get(ns + "w")) + extra)))


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_TO_CLEAN = re.compile("[\x00-\x08\x0a-\x1f\ufffe\uffff]")  # the above, \n and \r


def clean_text(value: str) -> str:
    """Text as a template prints it: XML-invalid characters dropped, each line a paragraph.

    docxtpl turns "\\a" into a new paragraph with the same formatting, so multi-line
    fields keep the first-line indent of the body style on every paragraph.
    """
    if _TO_CLEAN.search(value) is None:  # most values: nothing to do
        return value
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return _XML_INVALID.sub("", text).replace("\n", "\a")


def prepare(value: Any, tpl: DocxTemplate) -> Any:
    """A context value made printable: text cleaned, dates in Chinese, images placed."""
    if value is None:
        return ""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, ImageSpec):
        return InlineImage(tpl, io.BytesIO(value.data), width=Mm(value.width_mm))
    if isinstance(value, Enum):
        return getattr(value, "label", value.value)
    if isinstance(value, date):
        return cn_datetime(value) if isinstance(value, datetime) else cn_date(value)
    if isinstance(value, Mapping):  # a table row: mostly text, cleaned without a detour
        return {k: clean_text(v) if type(v) is str else prepare(v, tpl) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [prepare(v, tpl) for v in value]
    return value


def complete(spec: KindSpec, context: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared field present (a missing one prints blank, a missing list is empty)."""
    full: dict[str, Any] = {fs.name: [] if fs.is_list else "" for fs in spec.fields}
    full.update(context)
    return full


def render_template(template: bytes, context: Mapping[str, Any]) -> bytes:
    """Render docx template bytes with a context in the sandbox; the result as bytes."""
    tpl = Template(io.BytesIO(template))
    tpl.init_docx()
    ctx = {key: prepare(value, tpl) for key, value in context.items()}
    try:
        tpl.render(ctx, jinja_env=ENV, autoescape=True)
    except SecurityError as exc:
        raise ValidationError(f"模板含有不允许的表达式，已拒绝渲染：{exc}") from exc
    except Exception as exc:  # noqa: BLE001 - a template's fault of any kind is told, not crashed
        raise ValidationError(f"模板无法渲染（{type(exc).__name__}）：{exc}") from exc
    out = io.BytesIO()
    tpl.save(out)
    return out.getvalue()


def render_kind(
    session: Session,
    kind: DocumentKind | str,
    context: Mapping[str, Any],
    *,
    template: TemplateRef | None = None,
) -> Rendered:
    """Render a kind's current template with a plain context (no storage, no permission check).

    This is the entry point for papers whose data is not one case (the work report): build
    the context, call this, then `register_document` to keep the file.
    """
    spec = kind_spec(kind)
    ref = template or current_template(session, spec.kind)
    return Rendered(spec.kind, render_template(ref.read(), complete(spec, context)), ref)


# --- choosing the rows a case's paper is printed from ----------------------------------------


def pick_step(spec: KindSpec, bundle: CaseBundle, step_id: int | None) -> Step | None:
    """The step a paper belongs to: the one asked for, else the newest of the kind's steps."""
    if step_id is not None:
        step = next((s for s in bundle.steps if s.id == step_id), None)
        if step is None:
            raise NotFound(f"督办事项 {bundle.case.case_no} 没有编号为 {step_id} 的督办环节")
        if spec.step_kinds and step.kind not in spec.step_kinds:
            allowed = "、".join(k.label for k in spec.step_kinds)
            raise ValidationError(
                f"{spec.title}只能为以下环节生成：{allowed}（所选环节为{step.kind.label}）"
            )
        return step
    if not spec.step_kinds:
        return None
    matching = [s for s in bundle.steps if s.kind in spec.step_kinds]
    return matching[-1] if matching else None


def case_meeting_id(session: Session, bundle: CaseBundle) -> int | None:
    """The newest 专题会 that discussed the case (listed in it, or one of its steps)."""
    ids = set(
        session.exec(
            select(col(MeetingCase.meeting_id)).where(col(MeetingCase.case_id) == bundle.case.id)
        )
    )
    ids |= {s.meeting_id for s in bundle.steps if s.meeting_id}
    if not ids:
        return None
    return session.exec(
        select(col(Meeting.id))
        .where(col(Meeting.id).in_(ids), col(Meeting.deleted_at).is_(None))
        .order_by(col(Meeting.held_at).desc(), col(Meeting.id).desc())
    ).first()


def applicable_steps(kind: DocumentKind | str, bundle: CaseBundle) -> list[Step]:
    """The steps of a case a paper can be printed for, newest first (for a picker)."""
    spec = kind_spec(kind)
    return [s for s in reversed(bundle.steps) if s.kind in spec.step_kinds]


def paper_steps(
    session: Session, actor: Actor, kind: DocumentKind | str, case_id: int
) -> list[tuple[int, str, date]]:
    """The steps of a case the actor may see that a paper of `kind` can be printed for:
    (step id, step kind label, issued date), newest first."""
    bundle = load_case(session, case_id)
    actor.require_unit(case_unit_ids(session, bundle.case), "查看该事项的文书")
    steps = applicable_steps(kind, bundle)
    return [(s.id, s.kind.label, s.issued_at) for s in steps if s.id is not None]


# --- storing and registering ------------------------------------------------------------------

_WINDOWS_BAD = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)}  # fmt: skip


def safe_name(text: str, limit: int = 100) -> str:
    """A file or folder name Windows accepts, keeping Chinese and 〔〕 readable."""
    name = _WINDOWS_BAD.sub("_", text).strip().rstrip(". ")
    name = name[:limit].rstrip(". ") or "文书"
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = f"_{name}"
    return name


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_new_file(folder: Path, stem: str, suffix: str, data: bytes) -> Path:
    """Write `stem.suffix`, or `stem-第N版.suffix` when earlier versions exist (never overwrite)."""
    folder.mkdir(parents=True, exist_ok=True)
    version = 1
    while True:
        name = f"{stem}{suffix}" if version == 1 else f"{stem}-第{version}版{suffix}"
        path = folder / name
        try:
            with path.open("xb") as fh:
                fh.write(data)
            return path
        except FileExistsError:
            version += 1


def register_document(
    session: Session,
    actor: Actor,
    rendered: Rendered,
    *,
    stem: str,
    year: int,
    folder: str,
    case_id: int | None = None,
    step_id: int | None = None,
    meeting_id: int | None = None,
) -> Document:
    """Keep a rendered file under data/documents/<year>/<folder>/ and register it (audited).

    The caller commits. `stem` is the readable name without extension, e.g.
    "督办单-赵巷督〔2024〕第007号"; a second rendering becomes "…-第2版.docx".
    """
    actor.require(Perm.RENDER_DOCUMENTS)
    base = config.data_dir()
    path = write_new_file(
        base / "documents" / str(year) / safe_name(folder), safe_name(stem), ".docx", rendered.data
    )
    doc = Document(
        kind=rendered.kind,
        case_id=case_id,
        step_id=step_id,
        meeting_id=meeting_id,
        template_name=rendered.template.name,
        template_sha256=rendered.template.sha256,
        file_name=path.name,
        path=path.relative_to(base).as_posix(),
        sha256=sha256(rendered.data),
        created_by=actor.user_id,
    )
    session.add(doc)
    session.flush()
    audit.record(
        session,
        actor,
        AuditAction.RENDER,
        "document",
        doc.id,
        field=rendered.kind.value,
        new=path.name,
        note=f"{rendered.kind.label}，模板 {rendered.template.name}",
    )
    return doc


def case_source(
    session: Session,
    spec: KindSpec,
    bundle: CaseBundle,
    *,
    office: Office,
    names: Mapping[int, str],
    step_id: int | None = None,
    meeting_id: int | None = None,
) -> Source:
    step = pick_step(spec, bundle, step_id)
    meeting = None
    if spec.meeting:
        mid = meeting_id or case_meeting_id(session, bundle)
        meeting = load_meeting(session, mid) if mid else None
    return Source(office=office, names=names, case=bundle, step=step, meeting=meeting)


def _render_case(
    session: Session,
    actor: Actor,
    spec: KindSpec,
    source: Source,
    template: TemplateRef,
    template_bytes: bytes,
) -> tuple[Document, bytes]:
    """Render a case's paper and register it; the row and the file's bytes."""
    assert spec.build is not None and source.case is not None
    case = source.case.case
    data = render_template(template_bytes, complete(spec, spec.build(source)))
    doc = register_document(
        session,
        actor,
        Rendered(spec.kind, data, template),
        stem=f"{spec.title}-{case.case_no}",
        year=case.year,
        folder=case.case_no,
        case_id=case.id,
        step_id=source.step.id if source.step else None,
        meeting_id=source.meeting.meeting.id if source.meeting else None,
    )
    return doc, data


def render_document(
    session: Session,
    actor: Actor,
    kind: DocumentKind | str,
    *,
    case_id: int | None = None,
    step_id: int | None = None,
    meeting_id: int | None = None,
) -> Document:
    """Render, keep and register one paper of a case (or the minutes of a meeting).

    The step defaults to the newest step of the kind's step kinds; the meeting of 专题会纪要
    to the newest meeting that discussed the case. The caller commits.
    """
    actor.require(Perm.RENDER_DOCUMENTS)
    spec = kind_spec(kind)
    if spec.build is None:
        raise ValidationError(f"{spec.title}不是按督办事项生成的文书")
    office, names = Office.load(session), unit_names(session)
    template = current_template(session, spec.kind)
    if case_id is None:
        if not (spec.meeting and meeting_id):
            raise ValidationError(f"生成{spec.title}需要指定督办事项")
        meeting = load_meeting(session, meeting_id)
        source = Source(office=office, names=names, meeting=meeting)
        held = meeting.meeting.held_at
        rendered = Rendered(
            spec.kind,
            render_template(template.read(), complete(spec, spec.build(source))),
            template,
        )
        return register_document(
            session,
            actor,
            rendered,
            stem=f"{spec.title}-{cn_date(held)}",
            year=held.year,
            folder="专题会",
            meeting_id=meeting_id,
        )
    bundle = load_case(session, case_id)
    source = case_source(
        session, spec, bundle, office=office, names=names, step_id=step_id, meeting_id=meeting_id
    )
    return _render_case(session, actor, spec, source, template, template.read())[0]


@dataclass
class BatchResult:
    """One zip of many cases' papers, and the cases left out with the reason."""

    file_name: str
    data: bytes
    documents: list[Document]
    skipped: list[str]


ProgressCallback = Callable[[int, int, str], None]


def render_batch(
    session: Session,
    actor: Actor,
    kind: DocumentKind | str,
    case_ids: list[int],
    *,
    progress: ProgressCallback | None = None,
) -> BatchResult:
    """Render one paper per case (each kept and registered) and zip them together.

    `progress(done, total, case_no)` is called after each case. A case that cannot have the
    paper (no on-site notice yet, deleted) is left out and named in 未生成清单.txt. Files
    written before a failure are removed again; the caller commits.
    """
    actor.require(Perm.RENDER_DOCUMENTS)
    spec = kind_spec(kind)
    if not spec.batch or spec.build is None:
        allowed = "、".join(s.title for s in KINDS.values() if s.batch)
        raise ValidationError(f"{spec.title}不支持批量生成，可批量生成：{allowed}")
    if not case_ids:
        raise ValidationError("请至少选择一个督办事项")
    office, names = Office.load(session), unit_names(session)
    template = current_template(session, spec.kind)
    template_bytes = template.read()
    bundles = load_cases(session, case_ids)
    documents: list[Document] = []
    skipped: list[str] = []
    buffer = io.BytesIO()
    try:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for done, case_id in enumerate(case_ids, start=1):
                bundle = bundles.get(case_id)
                label = bundle.case.case_no if bundle else f"编号 {case_id}"
                if bundle is None:
                    skipped.append(f"{label}：督办事项不存在或已删除")
                else:
                    source = case_source(session, spec, bundle, office=office, names=names)
                    try:
                        doc, data = _render_case(
                            session, actor, spec, source, template, template_bytes
                        )
                    except ValidationError as exc:
                        reason = str(exc)
                        skipped.append(reason if label in reason else f"{label}：{reason}")
                    else:
                        documents.append(doc)
                        archive.writestr(doc.file_name, data)
                if progress:
                    progress(done, len(case_ids), label)
            if skipped:
                archive.writestr("未生成清单.txt", "\r\n".join(skipped) + "\r\n")
    except BaseException:
        for doc in documents:
            (config.data_dir() / doc.path).unlink(missing_ok=True)
        raise
    name = f"{spec.title}-{len(documents)}份-{today():%Y%m%d}.zip"
    return BatchResult(file_name=name, data=buffer.getvalue(), documents=documents, skipped=skipped)


# --- reading documents back -------------------------------------------------------------------


def case_unit_ids(session: Session, case: Case) -> set[int | None]:
    ids = set(session.exec(select(col(CaseUnit.unit_id)).where(col(CaseUnit.case_id) == case.id)))
    return ids | {case.lead_unit_id}


def check_document_access(session: Session, actor: Actor, doc: Document) -> None:
    """Staff and leaders read every paper; a unit reads the papers of its own cases."""
    if actor.can(Perm.RENDER_DOCUMENTS) or actor.can(Perm.VIEW_ALL):
        return
    case = session.get(Case, doc.case_id) if doc.case_id else None
    actor.require_unit(case_unit_ids(session, case) if case else set(), "查看该文书")


@dataclass(frozen=True)
class DocumentRow:
    """A registered document as the case page lists it."""

    id: int
    kind: DocumentKind
    file_name: str
    created_at: datetime
    created_by: str
    template_name: str
    step_id: int | None
    case_no: str


def document_rows(
    session: Session, *conditions: Any, limit: int | None = None
) -> list[DocumentRow]:
    """Registered documents matching `conditions`, newest first, with who made them."""
    stmt = (
        select(Document, col(User.display_name), col(User.username), col(Case.case_no))
        .join(User, col(User.id) == col(Document.created_by), isouter=True)
        .join(Case, col(Case.id) == col(Document.case_id), isouter=True)
        .where(*conditions)
        .order_by(col(Document.created_at).desc(), col(Document.id).desc())
        .limit(limit)
    )
    return [
        DocumentRow(
            id=doc.id,  # type: ignore[arg-type]  # ids are set: these rows were flushed
            kind=doc.kind,
            file_name=doc.file_name,
            created_at=doc.created_at,
            created_by=display or username or "系统",
            template_name=doc.template_name,
            step_id=doc.step_id,
            case_no=case_no or "",
        )
        for doc, display, username, case_no in session.exec(stmt)
    ]


def case_documents(session: Session, actor: Actor, case_id: int) -> list[DocumentRow]:
    """The papers registered for a case, newest first."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"督办事项（编号 {case_id}）不存在")
    actor.require_unit(case_unit_ids(session, case), "查看该事项的文书")
    return document_rows(session, col(Document.case_id) == case_id)


def recent_documents(session: Session, actor: Actor, limit: int = 30) -> list[DocumentRow]:
    """The newest papers of every case, for the 文书 page."""
    actor.require(Perm.RENDER_DOCUMENTS)
    return document_rows(session, limit=limit)


def get_document(session: Session, actor: Actor, doc_id: int) -> Document:
    doc = session.get(Document, doc_id)
    if doc is None:
        raise NotFound(f"文书（编号 {doc_id}）不存在")
    check_document_access(session, actor, doc)
    return doc


def document_file(session: Session, actor: Actor, doc_id: int) -> tuple[str, bytes]:
    """(file name, bytes) of a registered document, for a download button."""
    doc = get_document(session, actor, doc_id)
    path = config.data_dir() / doc.path
    if not path.is_file():
        raise NotFound(f"文书文件已丢失：{doc.path}（可重新生成）")
    return doc.file_name, path.read_bytes()


def pdf_available() -> bool:
    """PDF is offered only where LibreOffice is installed."""
    return shutil.which("soffice") is not None


def to_pdf_many(files: Mapping[str, bytes], *, timeout: float = 300) -> dict[str, bytes]:
    """Convert docx files to PDF with one LibreOffice run: {name.docx: pdf bytes}.

    A private LibreOffice profile per run keeps concurrent conversions from blocking each
    other on the shared user profile.
    """
    soffice = shutil.which("soffice")
    if soffice is None:
        raise ValidationError("本机未安装 LibreOffice，无法生成 PDF")
    with tempfile.TemporaryDirectory(prefix="duban-pdf-") as tmp:
        folder = Path(tmp)
        inputs = []
        for index, name in enumerate(files):
            source = folder / f"{index}.docx"
            source.write_bytes(files[name])
            inputs.append(str(source))
        command = [
            soffice,
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder / "out"),
            *inputs,
        ]
        try:
            subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ValidationError("PDF 转换超时，请稍后重试") from exc
        result = {}
        for index, name in enumerate(files):
            pdf = folder / "out" / f"{index}.pdf"
            if not pdf.is_file():
                raise ValidationError(f"PDF 转换失败：{name}")
            result[name] = pdf.read_bytes()
        return result


def to_pdf(data: bytes) -> bytes:
    return to_pdf_many({"document.docx": data})["document.docx"]


def document_pdf(session: Session, actor: Actor, doc_id: int) -> tuple[str, bytes]:
    """(file name, PDF bytes) of a registered document; converted once, then kept beside it."""
    doc = get_document(session, actor, doc_id)
    path = (config.data_dir() / doc.path).with_suffix(".pdf")
    if not path.is_file():
        _, data = document_file(session, actor, doc_id)
        path.write_bytes(to_pdf(data))
    return path.name, path.read_bytes()


def batch_pdfs(batch: BatchResult) -> BatchResult:
    """The same zip with a PDF beside every document (one LibreOffice run for all)."""
    files = {d.file_name: (config.data_dir() / d.path).read_bytes() for d in batch.documents}
    pdfs = to_pdf_many(files) if files else {}
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(batch.data)) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as target,
    ):
        for info in source.infolist():
            target.writestr(info, source.read(info))
        for name, pdf in pdfs.items():
            target.writestr(str(Path(name).with_suffix(".pdf")), pdf)
    return BatchResult(batch.file_name, buffer.getvalue(), batch.documents, batch.skipped)


def case_choices(session: Session, actor: Actor) -> list[Case]:
    """Cases a user may print papers for, newest first."""
    actor.require(Perm.RENDER_DOCUMENTS)
    return list(
        session.exec(
            select(Case)
            .where(col(Case.deleted_at).is_(None))
            .order_by(col(Case.year).desc(), col(Case.seq).desc())
        )
    )


# --- templates: current, upload with validation, versions, restore ---------------------------


def default_template(kind: DocumentKind | str) -> TemplateRef:
    spec = kind_spec(kind)
    path = DEFAULT_TEMPLATES / spec.template
    if not path.is_file():
        raise NotFound(f"默认模板文件缺失：templates/{spec.template}")
    return TemplateRef(spec.kind, spec.template, path, sha256(path.read_bytes()))


def current_template(session: Session, kind: DocumentKind | str) -> TemplateRef:
    """The newest active uploaded version of a kind's template, else the committed default."""
    spec = kind_spec(kind)
    row = session.exec(
        select(TemplateVersion)
        .where(col(TemplateVersion.kind) == spec.kind, col(TemplateVersion.active).is_(True))
        .order_by(col(TemplateVersion.version).desc())
    ).first()
    if row is None:
        return default_template(spec.kind)
    return TemplateRef(
        spec.kind,
        Path(row.path).name,
        config.data_dir() / row.path,
        row.sha256,
        version=row.version,
        version_id=row.id,
    )


def template_versions(session: Session, kind: DocumentKind | str) -> list[TemplateVersion]:
    """Uploaded versions of a kind's template, newest first."""
    spec = kind_spec(kind)
    return list(
        session.exec(
            select(TemplateVersion)
            .where(col(TemplateVersion.kind) == spec.kind)
            .order_by(col(TemplateVersion.version).desc())
        )
    )


def template_xml(data: bytes) -> str:
    """The Jinja source docxtpl renders: body, headers and footers, runs merged into tags."""
    tpl = DocxTemplate(io.BytesIO(data))
    doc = open_docx(io.BytesIO(data))
    xml = tpl.patch_xml(tpl.xml_to_string(doc.element.body))
    for rel in doc.part.rels.values():
        if rel.reltype in (tpl.HEADER_URI, tpl.FOOTER_URI) and rel.target_part.blob:
            xml += tpl.patch_xml(tpl.xml_to_string(parse_xml(rel.target_part.blob)))
    return re.sub(r"<w:p([ >])", r"\n<w:p\1", xml)  # one paragraph per line, as docxtpl renders


def nearby_text(xml: str, lineno: int | None) -> str:
    """The document text of the paragraph with a Jinja error (and the one before it)."""
    if not lineno:
        return ""
    lines = xml.splitlines()
    around = " ".join(lines[max(lineno - 2, 0) : lineno])
    text = re.sub(r"<[^>]+>", "", around)
    return re.sub(r"\s+", " ", text).strip()[:80]


def explain(exc: TemplateSyntaxError) -> str:
    """Jinja's English syntax message in the words staff editing in Word understand."""
    message = exc.message or ""
    block = re.search(r"innermost block that needs to be closed is '(\w+)'", message)
    if block:
        return f"“{{% {block[1]} %}}”缺少配对的“{{% end{block[1]} %}}”"
    tag = re.search(r"Encountered unknown tag '(\w+)'", message)
    if tag:
        return f"未知的标签“{tag[1]}”（或缺少与之配对的开始标签）"
    if "'end of print statement'" in message or message.startswith("unexpected '}'"):
        return "“{{”与“}}”不成对，或标签内有多余的文字"
    if "end of statement block" in message:
        return "“{%”与“%}”不成对，或标签内有多余的文字"
    return message


def private_names(tree: nodes.Template) -> set[str]:
    """Attribute names starting with "_" (the way into Python internals), e.g. __class__."""
    found = {n.attr for n in tree.find_all(nodes.Getattr) if n.attr.startswith("_")}
    found |= {
        n.arg.value
        for n in tree.find_all(nodes.Getitem)
        if isinstance(n.arg, nodes.Const) and str(n.arg.value).startswith("_")
    }
    found |= {n.name for n in tree.find_all(nodes.Name) if n.name.startswith("_")}
    found |= {
        str(n.args[0].value)
        for n in tree.find_all(nodes.Filter)
        if n.name == "attr" and n.args and isinstance(n.args[0], nodes.Const)
        and str(n.args[0].value).startswith("_")
    }  # fmt: skip
    return found


def unknown_item_fields(spec: KindSpec, tree: nodes.Template) -> list[str]:
    """`{{ t.xyz }}` inside `{% for t in tickets %}` where tickets' rows have no field xyz."""
    lists = {fs.name: fs for fs in spec.fields if fs.is_list}
    problems = []
    for loop in tree.find_all(nodes.For):
        if not (isinstance(loop.iter, nodes.Name) and loop.iter.name in lists):
            continue
        if not isinstance(loop.target, nodes.Name):
            continue
        declared = lists[loop.iter.name]
        valid = {item.name for item in declared.items}
        used = {
            n.attr
            for body in loop.body
            for n in body.find_all(nodes.Getattr)
            if isinstance(n.node, nodes.Name) and n.node.name == loop.target.name
        }
        for name in sorted(used - valid):
            choices = "、".join(f"{i.name}（{i.label}）" for i in declared.items)
            problems.append(
                f"{loop.iter.name}（{declared.label}）的每一行没有字段“{loop.target.name}.{name}”，"
                f"可用：{choices}"
            )
    return problems


SAMPLE_PNG_SIZE = 8


def sample_png() -> bytes:
    """A tiny white PNG, so a template's image fields can be test-rendered at upload."""
    size = SAMPLE_PNG_SIZE

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    pixels = b"".join(b"\x00" + b"\xff" * 3 * size for _ in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def sample_context(spec: KindSpec) -> dict[str, Any]:
    """The declared fields filled with their examples (two rows per list)."""
    context: dict[str, Any] = {}
    for fs in spec.fields:
        if fs.image:
            context[fs.name] = ImageSpec(sample_png(), 20)
        elif fs.is_list:
            row = {item.name: item.example for item in fs.items}
            context[fs.name] = [row, dict(row)]
        else:
            context[fs.name] = fs.example
    return context


def check_template(kind: DocumentKind | str, data: bytes, file_name: str = "") -> list[str]:
    """Why an uploaded template cannot be accepted (an empty list: it can).

    It must be a real .docx, its Jinja must parse, it may use only the kind's fields (the
    unknown ones are named with the list of valid ones), it may not touch Python internals,
    and it must render with example values in a child process with time, memory and output
    limits (`duban.template_limits`); its zip is checked first (`duban.archives`).
    """
    spec = kind_spec(kind)
    if file_name and not file_name.lower().endswith(".docx"):
        return [f"只接受 .docx 文件，收到的是“{file_name}”"]
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return ["这是旧版 Word（.doc）文件，请在 Word/WPS 中“另存为” .docx 后再上传"]
    if not zipfile.is_zipfile(io.BytesIO(data)):
        return ["文件不是有效的 .docx 文档（无法打开），请用 Word/WPS 另存为 .docx 后再上传"]
    try:
        archives.check_zip(data, file_name or "模板", max_unpacked=archives.TEMPLATE_UNPACKED)
    except ValidationError as exc:
        return [str(exc)]
    try:
        xml = template_xml(data)
    except Exception:  # noqa: BLE001 - any failure to open means "not a Word document"
        return [
            "文件不是有效的 Word 文档（.docx 内容损坏或是其他格式），请用 Word/WPS 另存为 .docx 后再上传"
        ]
    try:
        tree = ENV.parse(xml)
    except TemplateSyntaxError as exc:
        where = nearby_text(xml, exc.lineno)
        return [f"模板标签语法错误：{explain(exc)}" + (f"（附近文字：“{where}”）" if where else "")]
    problems = []
    private = private_names(tree)
    if private:
        problems.append(f"模板含有不允许的表达式（访问内部属性：{'、'.join(sorted(private))}）")
    unknown = {
        name
        for name in meta.find_undeclared_variables(tree) - spec.field_names() - set(ENV.globals)
        if not name.startswith("_")
    }
    if unknown:
        valid = "、".join(f"{fs.name}（{fs.label}）" for fs in spec.fields)
        problems.append(f"模板使用了未知的字段：{'、'.join(sorted(unknown))}。可用的字段：{valid}")
    problems += unknown_item_fields(spec, tree)
    if problems:
        return problems
    return template_limits.trial_render(spec.kind.value, data)


def upload_template(
    session: Session, actor: Actor, kind: DocumentKind | str, file_name: str, data: bytes
) -> TemplateVersion:
    """Validate an edited template and make it the kind's current version (audited).

    Refused with every problem listed; nothing is stored then. The caller commits.
    """
    actor.require(Perm.MANAGE_TEMPLATES)
    spec = kind_spec(kind)
    problems = check_template(spec.kind, data, file_name)
    if problems:
        raise ValidationError(
            f"模板“{file_name}”未通过检查：\n" + "\n".join(f"- {p}" for p in problems)
        )
    digest = sha256(data)
    if current_template(session, spec.kind).sha256 == digest:
        raise ValidationError(f"上传的模板与当前使用的{spec.title}模板完全相同，未作改动")
    last = session.exec(
        select(func.max(col(TemplateVersion.version))).where(col(TemplateVersion.kind) == spec.kind)
    ).one()
    version = (last or 0) + 1
    base = config.data_dir()
    path = base / "templates" / spec.kind.value / f"{spec.kind.value}-v{version}.docx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    row = TemplateVersion(
        kind=spec.kind,
        version=version,
        file_name=file_name[:255],
        path=path.relative_to(base).as_posix(),
        sha256=digest,
        created_by=actor.user_id,
    )
    return insert(
        session,
        actor,
        row,
        field=spec.kind.value,
        new=f"第{version}版",
        note=f"上传{spec.title}模板“{file_name}”",
    )


def activate_template_version(session: Session, actor: Actor, version_id: int) -> None:
    """Use an earlier uploaded version again: it and no newer version stays active."""
    actor.require(Perm.MANAGE_TEMPLATES)
    row = session.get(TemplateVersion, version_id)
    if row is None:
        raise NotFound(f"模板版本（编号 {version_id}）不存在")
    before = current_template(session, row.kind)
    for other in template_versions(session, row.kind):
        if other.id == row.id or other.version > row.version:
            other.active = other.id == row.id
            session.add(other)
    session.flush()
    audit.record(
        session,
        actor,
        AuditAction.UPDATE,
        "templateversion",
        row.id,
        field=row.kind.value,
        old=describe(before),
        new=f"第{row.version}版",
        note=f"启用{row.kind.label}模板第{row.version}版",
    )


def restore_default_template(session: Session, actor: Actor, kind: DocumentKind | str) -> None:
    """Go back to the committed default; uploaded versions stay listed (inactive)."""
    actor.require(Perm.MANAGE_TEMPLATES)
    spec = kind_spec(kind)
    before = current_template(session, spec.kind)
    if before.version is None:
        raise ValidationError(f"{spec.title}已在使用默认模板")
    for row in template_versions(session, spec.kind):
        if row.active:
            row.active = False
            session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        AuditAction.UPDATE,
        "templateversion",
        before.version_id,
        field=spec.kind.value,
        old=describe(before),
        new="默认模板",
        note=f"恢复{spec.title}默认模板",
    )


def describe(ref: TemplateRef) -> str:
    return "默认模板" if ref.version is None else f"第{ref.version}版"
