"""协调督办工作报告 (seed §三 (三)): the data of a report for any period, its charts, its docx.

"镇城运中心形成协调督办工作报告，报送区镇领导、党政办、相关承办单位". A report holds the
overview figures, a table per level and per unit, the escalated matters with their
outcome, the special meetings and the routing rules they fixed, the referrals to
镇纪委监察办, the typical cases staff picked (with their text), the unit assessment, and
two charts. All figures come from `duban.kpi`, so the report, the 报表 page and the
assessment agree by construction.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import date
from functools import cache
from itertools import groupby
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from duban import kpi
from duban.assessment import Assessment, ScoringRules, assess, points
from duban.clock import cn_date, today
from duban.documents import ImageSpec, register_document, render_kind
from duban.enums import CaseStatus, DocumentKind, Level, Scope
from duban.errors import ValidationError
from duban.kpi import Kpis, Period, Selection
from duban.models import Case, CaseUnit, Meeting, MeetingCase, RoutingRule, Step, Unit
from duban.permissions import Actor, Perm
from duban.records import apply_changes, get_live
from duban.settings import get_setting
from duban.workdays import Calendar

log = logging.getLogger(__name__)

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei")
BAR_COLOR, ALERT_COLOR = "#2f6db5", "#c0392b"
ON_TIME_ALERT = 80  # %: a unit's 按时反馈率 bar below this is drawn in ALERT_COLOR


# --- the report's content ---------------------------------------------------------------------


@dataclass(frozen=True)
class CaseLine:
    """A case as the report lists it."""

    case_id: int
    case_no: str
    title: str
    units: str
    level: Level
    opened_at: date
    status: CaseStatus
    closed_at: date | None
    outcome: str  # 督办情况 / 跟踪核实 / 典型案例 text, as the list needs


@dataclass(frozen=True)
class MeetingLine:
    held_at: date
    title: str
    chair: str
    summary: str
    cases: int
    rules: list[tuple[str, str, str]]  # (事项类别, 处置部门, 处置路径)


@dataclass(frozen=True)
class ReferralLine:
    case_no: str
    title: str
    unit: str
    referred_at: date
    reason: str


@dataclass
class WorkReport:
    selection: Selection
    overall: Kpis
    levels: dict[Level, Kpis]
    units: list[Kpis]
    months: list[tuple[int, int, int]]
    escalated: list[CaseLine]
    meetings: list[MeetingLine]
    referrals: list[ReferralLine]
    typical: list[CaseLine]
    assessment: Assessment

    @property
    def period(self) -> Period:
        return self.selection.period

    @property
    def title(self) -> str:
        return f"{self.period.label}12345市民服务热线协调督办工作报告"


def build_report(
    session: Session, period: Period, *, as_of: date | None = None, calendar: Calendar | None = None
) -> WorkReport:
    """Everything a report for `period` shows, judged on `as_of` (default: today)."""
    calendar = calendar or Calendar.load(session)
    sel = Selection(period, as_of=as_of or today())
    figures = kpi.compute(session, sel, calendar, with_levels=True)
    assert figures.levels is not None
    return WorkReport(
        selection=sel,
        overall=figures.overall,
        levels=figures.levels,
        units=figures.units,
        months=kpi.cases_by_month(session, sel),
        escalated=escalated_matters(session, period),
        meetings=meetings_held(session, period),
        referrals=referral_lines(session, sel),
        typical=typical_cases(session, period),
        # The report prints each unit's totals, not the items behind them (those are on
        # the 报表 page and in its xlsx export): count them, don't list them.
        assessment=assess(session, sel, calendar=calendar, computed=figures, detail=False),
    )


# What a CaseLine needs of a case: a few columns, not the ORM entity (a district's year
# lists ≈ 5,000 escalated cases).
LINE_COLUMNS = (
    col(Case.id),
    col(Case.case_no),
    col(Case.title),
    col(Case.level),
    col(Case.opened_at),
    col(Case.status),
    col(Case.closed_at),
    col(Case.result_text),
    col(Case.verification_note),
    col(Case.typical_text),
)


def _lines(session: Session, criteria: list[Any], outcome) -> list[CaseLine]:
    """The cases meeting `criteria`, by opening date, as report lines with their units (主办
    first, joined by 、): one query, a row per case and unit."""
    rows = session.execute(
        select(*LINE_COLUMNS, col(Unit.name).label("unit_name"))  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
        .outerjoin(CaseUnit, col(CaseUnit.case_id) == col(Case.id))
        .outerjoin(Unit, col(Unit.id) == col(CaseUnit.unit_id))
        .where(*criteria)
        # "lead" > "co": 主办 first
        .order_by(
            col(Case.opened_at),
            col(Case.case_no),
            col(Case.id),
            col(CaseUnit.role).desc(),
            col(Unit.name),
        )
    ).all()
    lines: list[CaseLine] = []
    for _, group in groupby(rows, key=lambda row: row.id):
        c, *more = group
        names = [r.unit_name for r in (c, *more) if r.unit_name is not None]
        lines.append(
            CaseLine(
                case_id=c.id,
                case_no=c.case_no,
                title=c.title,
                units="、".join(names),
                level=c.level,
                opened_at=c.opened_at,
                status=c.status,
                closed_at=c.closed_at,
                outcome=outcome(c),
            )
        )
    return lines


def case_outcome(case: Any) -> str:
    """办理结果 of a case (a `Case`, or a row of its columns): closed with its 督办情况 and
    跟踪核实, or still open."""
    if case.status == CaseStatus.CLOSED:
        text = f"已办结（{cn_date(case.closed_at)}）"
        if case.result_text:
            text += f"：{case.result_text}"
        if case.verification_note:
            text += f"。跟踪核实：{case.verification_note}"
        return text
    return "督办中"


def escalated_matters(session: Session, period: Period) -> list[CaseLine]:
    """提级办理事项: cases at 提级 with a 提级-level step in the period, or opened there."""
    in_period = select(col(Step.case_id)).where(
        col(Step.level) == Level.ESCALATED,
        col(Step.deleted_at).is_(None),
        col(Step.issued_at) >= period.start,
        col(Step.issued_at) <= period.end,
    )
    criteria = [
        col(Case.deleted_at).is_(None),
        col(Case.level) == Level.ESCALATED,
        or_(
            col(Case.id).in_(in_period),
            col(Case.opened_at).between(period.start, period.end),
        ),
    ]
    return _lines(session, criteria, case_outcome)


def meetings_held(session: Session, period: Period) -> list[MeetingLine]:
    """专题会 held in the period, with the routing rules each one fixed."""
    meetings = session.exec(
        select(Meeting)
        .where(
            col(Meeting.deleted_at).is_(None),
            col(Meeting.held_at) >= period.start,
            col(Meeting.held_at) <= period.end,
        )
        .order_by(col(Meeting.held_at), col(Meeting.id))
    ).all()
    ids = [m.id for m in meetings]
    rules: dict[int, list[tuple[str, str, str]]] = {}
    for meeting_id, name, unit, path in session.exec(
        select(
            col(RoutingRule.meeting_id),
            col(RoutingRule.name),
            col(Unit.name),
            col(RoutingRule.handling_path),
        )
        .join(Unit, col(Unit.id) == col(RoutingRule.unit_id))
        .where(col(RoutingRule.meeting_id).in_(ids), col(RoutingRule.deleted_at).is_(None))
        .order_by(col(RoutingRule.id))
    ).all():
        rules.setdefault(meeting_id, []).append((name, unit, path))  # type: ignore[arg-type]  # ids are set: these rows were flushed
    counts = dict(
        session.exec(
            select(col(MeetingCase.meeting_id), func.count())
            .where(col(MeetingCase.meeting_id).in_(ids))
            .group_by(col(MeetingCase.meeting_id))
        ).all()
    )
    return [
        MeetingLine(
            held_at=m.held_at,
            title=m.title,
            chair=m.chair,
            summary=m.summary,
            cases=counts.get(m.id, 0),  # type: ignore[arg-type]  # ids are set: these rows were flushed
            rules=rules.get(m.id, []),  # type: ignore[arg-type]  # ids are set: these rows were flushed
        )
        for m in meetings
    ]


def referral_lines(session: Session, sel: Selection) -> list[ReferralLine]:
    rows = kpi.items(session, kpi.referrals(sel))
    names = dict(session.exec(select(col(Unit.id), col(Unit.name))).all())
    return [
        ReferralLine(r.case_no, r.title, names.get(r.unit_id, ""), r.referred_at, r.reason)
        for r in sorted(rows, key=lambda r: (r.referred_at, r.case_no))
    ]


def typical_cases(session: Session, period: Period) -> list[CaseLine]:
    """典型案例 picked by staff, for cases opened or closed in the period."""
    criteria = [
        col(Case.deleted_at).is_(None),
        col(Case.typical_text) != "",
        or_(
            col(Case.opened_at).between(period.start, period.end),
            col(Case.closed_at).between(period.start, period.end),
        ),
    ]
    return _lines(session, criteria, lambda c: c.typical_text)


# --- 典型案例: staff pick a case for the report, with a text ------------------------------


def mark_typical(
    session: Session, actor: Actor, case_id: int, text: str, *, expected_version: int | None
) -> Case:
    """Make a case a 典型案例 of the work report, with the text the report prints."""
    actor.require(Perm.EDIT_CASES, "选定典型案例")
    case = get_live(session, Case, case_id, "督办事项")
    cleaned = (text or "").strip()
    if not cleaned:
        raise ValidationError(f"典型案例说明不能为空（督办编号 {case.case_no}）")
    if len(cleaned) > 2000:
        raise ValidationError(f"典型案例说明最多 2000 字（督办编号 {case.case_no}）")
    apply_changes(
        session,
        actor,
        case,
        {"typical_text": cleaned},
        expected_version=expected_version,
        label=f"督办事项 {case.case_no}",
        note="选为典型案例",
    )
    return case


def unmark_typical(
    session: Session, actor: Actor, case_id: int, *, expected_version: int | None
) -> Case:
    """Take a case off the typical cases (its text stays in the audit log)."""
    actor.require(Perm.EDIT_CASES, "取消典型案例")
    case = get_live(session, Case, case_id, "督办事项")
    apply_changes(
        session,
        actor,
        case,
        {"typical_text": ""},
        expected_version=expected_version,
        label=f"督办事项 {case.case_no}",
        note="取消典型案例",
    )
    return case


# --- charts -----------------------------------------------------------------------------------


@cache
def cjk_font() -> str | None:
    """The name of an installed font that has Chinese glyphs (fonts-noto-cjk), or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    log.warning("no CJK font found (install fonts-noto-cjk); chart labels may not render")
    return None


def _figure(width_in: float, height_in: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=200, layout="constrained")
    font = cjk_font()
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    return fig, {"family": family}


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def chart_cases_by_month(months: list[tuple[int, int, int]]) -> bytes:
    """Bars: cases opened per month (PNG, Agg backend, no network)."""
    fig, font = _figure(6.2, 2.8)
    ax = fig.add_subplot()
    labels = [f"{y}年{m}月" if i == 0 or m == 1 else f"{m}月" for i, (y, m, _) in enumerate(months)]
    values = [n for _, _, n in months]
    bars = ax.bar(range(len(values)), values, color=BAR_COLOR)
    ax.bar_label(bars, fontsize=8, **{"fontfamily": font["family"]})
    ax.set_xticks(range(len(values)), labels, fontsize=8, fontfamily=font["family"])
    ax.set_title("各月新增督办事项（件）", fontsize=11, fontfamily=font["family"])
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_ylim(0, max(values + [1]) * 1.2)
    ax.tick_params(axis="y", labelsize=8)
    return _png(fig)


def chart_on_time_by_unit(units: list[Kpis]) -> bytes:
    """Horizontal bars: 按时反馈率 per unit that had steps due (PNG)."""
    measured = sorted(
        (u for u in units if u.on_time_rate.denominator),
        key=lambda u: (u.on_time_rate.value or 0, u.unit_name),
    )
    fig, font = _figure(6.2, max(1.6, 0.3 * len(measured) + 0.8))
    ax = fig.add_subplot()
    names = [u.unit_name for u in measured]
    rates = [100 * (u.on_time_rate.value or 0) for u in measured]
    colors = [ALERT_COLOR if r < ON_TIME_ALERT else BAR_COLOR for r in rates]
    bars = ax.barh(range(len(rates)), rates, color=colors)
    ax.bar_label(bars, labels=[u.on_time_rate.percent() for u in measured], fontsize=7, padding=2)
    ax.set_yticks(range(len(rates)), names, fontsize=8, fontfamily=font["family"])
    ax.set_xlim(0, 112)
    ax.set_xlabel("按时反馈率（%）", fontsize=9, fontfamily=font["family"])
    ax.set_title("各承办单位按时反馈率", fontsize=11, fontfamily=font["family"])
    ax.spines[["top", "right"]].set_visible(False)
    if not measured:
        ax.text(50, 0, "本期无到期的督办环节", ha="center", fontfamily=font["family"])
    return _png(fig)


# --- the template context --------------------------------------------------------------------


def _n(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def overview_text(report: WorkReport) -> str:
    """The opening paragraph: the period's numbers in one sentence each, with denominators."""
    o = report.overall
    lv = "、".join(f"{level.label} {o.by_level[level]} 件" for level in Level)
    parts = [
        f"{report.period.label}，共确定督办事项 {o.cases} 件（其中{lv}），"
        f"已办结 {o.closed} 件，办结率 {o.closure_rate.percent()}；"
        f"经督办后提级 {o.escalated_cases} 件，提级率 {o.escalation_rate.percent()}。",
        f"到期督办环节 {o.steps_on_time + o.steps_late} 个，按时书面反馈 {o.steps_on_time} 个，"
        f"按时反馈率 {o.on_time_rate.percent()}；现场协调督办通知 {o.notices} 份，"
        f"当天登记 {o.notices_registered} 份，及时登记率 {o.registration_rate.percent()}；"
        f"不合规反馈 {o.noncompliant_feedback} 份。",
        f"期间受理工单 {o.tickets} 件，重复投诉率 {o.repeat_rate.percent()}，"
        f"回访满意率 {o.satisfaction_rate.percent()}（未回访不计入）；"
        f"召开专题会 {len(report.meetings)} 次，移交镇纪委监察办 {o.referrals} 件。",
    ]
    return "".join(parts)


def kpi_cells(k: Kpis) -> dict[str, str]:
    """One table row of figures, as text (the same columns for levels, units and the total)."""
    return {
        "cases": str(k.cases),
        "closed": str(k.closed),
        "closure_rate": k.closure_rate.percent(),
        "due": str(k.steps_on_time + k.steps_late),
        "on_time": str(k.steps_on_time),
        "on_time_rate": k.on_time_rate.percent(),
        "escalations": str(k.escalations),
        "noncompliant": str(k.noncompliant_feedback),
        "referrals": str(k.referrals),
        "avg_days": _n(k.avg_workdays_to_close),
    }


def report_context(session: Session, report: WorkReport, images: dict[str, Any]) -> dict[str, Any]:
    """The template's fields (declared as the work-report kind in `duban.documents`)."""
    o, result = report.overall, report.assessment
    return {
        "office_name": get_setting(session, "office_name"),
        "office_contact": get_setting(session, "office_contact"),
        "office_phone": get_setting(session, "office_phone"),
        "issue_date": cn_date(today()),
        "report_title": report.title,
        "period": report.period.label,
        "period_start": cn_date(report.period.start),
        "period_end": cn_date(report.period.end),
        "as_of": cn_date(report.selection.as_of),
        "overview": overview_text(report),
        "rates": [
            {
                "name": name,
                "value": ratio.percent(),
                "numerator": str(ratio.numerator),
                "denominator": str(ratio.denominator),
            }
            for name, ratio in rate_table(o)
        ],
        "levels": [{"level": lv.label, **kpi_cells(k)} for lv, k in report.levels.items()]
        + [{"level": "合计", **kpi_cells(o)}],
        "scopes": [{"scope": s.label, "cases": str(o.by_scope[s])} for s in Scope],
        "units": [{"unit": u.unit_name, **kpi_cells(u)} for u in report.units if u.supervised]
        + [{"unit": "合计", **kpi_cells(o)}],
        "escalated": [_case_row(c) for c in report.escalated],
        "meetings": [
            {
                "held_at": cn_date(m.held_at),
                "title": m.title,
                "chair": m.chair,
                "summary": m.summary,
                "cases": str(m.cases),
                "rules": "；".join(f"{name}：{unit}" for name, unit, _ in m.rules) or "无",
            }
            for m in report.meetings
        ],
        "routing_rules": [
            {"held_at": cn_date(m.held_at), "name": name, "unit": unit, "handling_path": path}
            for m in report.meetings
            for name, unit, path in m.rules
        ],
        "referrals": [
            {
                "case_no": r.case_no,
                "title": r.title,
                "unit": r.unit,
                "referred_at": cn_date(r.referred_at),
                "reason": r.reason,
            }
            for r in report.referrals
        ],
        "typical": [_case_row(c) for c in report.typical],
        "assessment_title": result.title,
        "assessment_rules": rules_text(result.rules),
        "assessment": [
            {
                "rank": str(s.rank),
                "unit": s.unit_name,
                "overdue": str(s.count("overdue_step")),
                "escalations": str(s.count("escalation")),
                "noncompliant": str(s.count("noncompliant_feedback")),
                "referrals": str(s.count("referral")),
                "on_time_rate": s.on_time.percent(),
                "deductions": str(points(s.deductions)),
                "bonus": str(points(s.bonus)),
                "score": str(points(s.score)),
            }
            for s in result.sheets
        ],
        **images,
    }


def rules_text(rules: ScoringRules) -> str:
    """The scoring rules in one sentence, printed above the score table."""
    p = points
    return (
        f"基础分 {p(rules.base_score)} 分；每个逾期环节扣 {p(rules.overdue_step)} 分，"
        f"每次提级扣 {p(rules.escalation)} 分，每份不合规反馈扣 {p(rules.noncompliant_feedback)} 分，"
        f"每件移交镇纪委监察办扣 {p(rules.referral)} 分；按时反馈率达到 "
        f"{p(rules.on_time_threshold)}% 的加 {p(rules.on_time_bonus)} 分。"
    )


def rate_table(k: Kpis) -> list[tuple[str, kpi.Ratio]]:
    """The six rates of the overview table, named as docs/KPI.md names them."""
    return [
        ("按时反馈率", k.on_time_rate),
        ("及时登记率", k.registration_rate),
        ("办结率", k.closure_rate),
        ("提级率", k.escalation_rate),
        ("重复投诉率", k.repeat_rate),
        ("回访满意率", k.satisfaction_rate),
    ]


def _case_row(c: CaseLine) -> dict[str, str]:
    return {
        "case_no": c.case_no,
        "title": c.title,
        "units": c.units,
        "level": c.level.label,
        "opened_at": cn_date(c.opened_at),
        "status": c.status.label,
        "outcome": c.outcome,
    }


# Column headers of the per-level / per-unit tables (docx template, 报表 page, 驾驶舱).
KPI_HEADERS: dict[str, str] = {
    "cases": "督办件数",
    "closed": "已办结",
    "closure_rate": "办结率",
    "due": "到期环节",
    "on_time": "按时反馈",
    "on_time_rate": "按时反馈率",
    "escalations": "提级次数",
    "noncompliant": "不合规反馈",
    "referrals": "移交纪委",
    "avg_days": "平均办结用时（工作日）",
}


def kpi_table(rows: list[Kpis], first: str = "承办单位") -> list[dict[str, str]]:
    """Rows of figures under Chinese headers, for the pages' tables."""
    return [
        {
            first: row.unit_name,
            **{KPI_HEADERS[k]: v for k, v in kpi_cells(row).items()},
            "及时登记率": row.registration_rate.percent(),
            "重复投诉率": row.repeat_rate.percent(),
            "回访满意率": row.satisfaction_rate.percent(),
        }
        for row in rows
    ]


# --- the document -------------------------------------------------------------------------------

CHART_WIDTH_MM = 150


@dataclass(frozen=True)
class ReportFile:
    """A generated report: its name, its bytes, and the `Document` row that registers it."""

    file_name: str
    content: bytes
    document_id: int | None


def render_work_report(
    session: Session, actor: Actor, period: Period, *, as_of: date | None = None
) -> ReportFile:
    """Build, render, keep and register the 协调督办工作报告 for a period; the caller commits.

    The file lands under data/documents/<year>/工作报告/ like every other paper.
    """
    actor.require(Perm.RENDER_DOCUMENTS, "生成协调督办工作报告")
    report = build_report(session, period, as_of=as_of)
    images = {
        "chart_months": ImageSpec(chart_cases_by_month(report.months), CHART_WIDTH_MM),
        "chart_on_time": ImageSpec(chart_on_time_by_unit(report.units), CHART_WIDTH_MM),
    }
    rendered = render_kind(
        session, DocumentKind.WORK_REPORT, report_context(session, report, images)
    )
    doc = register_document(
        session,
        actor,
        rendered,
        stem=f"协调督办工作报告-{period.label}",
        year=period.start.year,
        folder="工作报告",
    )
    return ReportFile(doc.file_name, rendered.data, doc.id)
