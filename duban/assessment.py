"""年度绩效考核: a scoring sheet per unit, from configurable rules (seed §三 (三)).

"将协调督办落实情况纳入对承办单位的年度绩效考核". The score of a unit is

    base score − Σ deductions + bonus

where every deduction is one row of a `duban.kpi` item query (an overdue step, an
escalation, a non-compliant feedback, a referral) and names its case, so a unit can check
each point it lost. The bonus is granted when the unit's 按时反馈率 reaches the threshold.
The rules live in the setting `assessment_rules`; admins edit them on the 报表 page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from itertools import chain, repeat
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from duban import formulas, kpi
from duban.clock import cn_date
from duban.errors import ValidationError
from duban.kpi import LATE, Ratio, Selection, WorkdayIndex
from duban.models import Unit
from duban.permissions import Actor, Perm
from duban.settings import DEFAULTS, get_setting, set_setting
from duban.workdays import Calendar

SETTING_KEY = "assessment_rules"


@dataclass(frozen=True)
class ScoringRules:
    """Points per event; the defaults are `duban.settings.DEFAULTS["assessment_rules"]`."""

    base_score: float  # every unit starts here
    overdue_step: float  # per step answered late, or still unanswered past its due date
    escalation: float  # per step the case had to leave upward
    noncompliant_feedback: float  # per written feedback without signature or stamp
    referral: float  # per case referred to 镇纪委监察办 (deducted from its 主办 unit)
    on_time_bonus: float  # added when the unit's 按时反馈率 reaches the threshold
    on_time_threshold: float  # percent

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ScoringRules:
        """Rules over the defaults; each value checked, a bad one named in the message."""
        unknown = sorted(set(values) - set(RULE_LABELS))
        if unknown:
            raise ValidationError(f"未知的考核规则项：{'、'.join(unknown)}")
        merged = {**DEFAULTS[SETTING_KEY], **values}
        cleaned = {}
        for name, label in RULE_LABELS.items():
            try:
                number = float(merged[name])
            except (TypeError, ValueError) as exc:
                raise ValidationError(f"考核规则“{label}”必须是数字：{merged[name]!r}") from exc
            limit = RULE_LIMITS.get(name, 100)
            if not 0 <= number <= limit:
                raise ValidationError(f"考核规则“{label}”必须在 0–{limit:g} 之间：{number:g}")
            cleaned[name] = number
        return cls(**cleaned)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


RULE_LABELS: dict[str, str] = {
    "base_score": "基础分",
    "overdue_step": "每个逾期环节扣分",
    "escalation": "每次提级扣分",
    "noncompliant_feedback": "每份不合规反馈扣分",
    "referral": "每件移交纪委监察办扣分",
    "on_time_bonus": "按时反馈率达标加分",
    "on_time_threshold": "按时反馈率达标线（%）",
}
RULE_LIMITS: dict[str, float] = {"base_score": 1000, "on_time_threshold": 100}

# The deduction rules in sheet order: rule name → 考核项目.
DEDUCTIONS = {
    "overdue_step": "逾期反馈",
    "escalation": "提级办理",
    "noncompliant_feedback": "反馈不合规",
    "referral": "移交纪委监察办",
}


def load_rules(session: Session) -> ScoringRules:
    return ScoringRules.from_dict(get_setting(session, SETTING_KEY))


def save_rules(session: Session, actor: Actor, values: dict[str, Any]) -> ScoringRules:
    """Check and store new rules (admins only, audited); the caller commits."""
    actor.require(Perm.MANAGE_SETTINGS, "修改考核规则")
    rules = ScoringRules.from_dict({**get_setting(session, SETTING_KEY), **values})
    set_setting(session, actor, SETTING_KEY, rules.to_dict())
    return rules


# --- the sheets -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreItem:
    """One line of a unit's sheet: a deduction traced to its case, or the bonus."""

    rule: str
    points: float  # negative for a deduction
    day: date | None = None
    case_id: int | None = None
    case_no: str = ""
    case_title: str = ""
    detail: str = ""

    @property
    def label(self) -> str:
        return DEDUCTIONS.get(self.rule, "按时反馈率达标加分")


@dataclass
class UnitSheet:
    """A unit's score. Its deductions are either listed one by one in `items` (each traced to
    its case), or only counted in `counted` (`assess(detail=False)`); both give the same
    counts, points and score — `counted` adds up its points exactly as the listed items
    would be added up, so even fractional rules round alike."""

    unit_id: int
    unit_name: str
    base: float
    on_time: Ratio
    items: list[ScoreItem] = field(default_factory=list)
    rank: int = 0
    counted: dict[str, tuple[int, float]] = field(default_factory=dict)  # rule → (n, points each)

    def count(self, rule: str) -> int:
        listed = sum(1 for item in self.items if item.rule == rule)
        return self.counted.get(rule, (0, 0.0))[0] + listed

    def points(self, rule: str) -> float:
        n, each = self.counted.get(rule, (0, 0.0))
        return sum(chain(repeat(each, n), (i.points for i in self.items if i.rule == rule)))

    def _counted_points(self) -> Iterator[float]:
        """The counted deductions' points in the order listed items would have them."""
        return chain.from_iterable(repeat(each, n) for n, each in self.counted.values())

    @property
    def deductions(self) -> float:
        listed = (item.points for item in self.items if item.points < 0)
        return -sum(chain(self._counted_points(), listed))

    @property
    def bonus(self) -> float:
        return sum(item.points for item in self.items if item.points > 0)

    @property
    def score(self) -> float:
        return self.base - self.deductions + self.bonus


@dataclass
class Assessment:
    selection: Selection
    rules: ScoringRules
    sheets: list[UnitSheet]  # by rank
    detailed: bool = True  # False: deductions counted, not listed (`assess(detail=False)`)

    @property
    def title(self) -> str:
        return f"{self.selection.period.label}承办单位协调督办绩效考核"


def assess(
    session: Session,
    sel: Selection,
    rules: ScoringRules | None = None,
    calendar: Calendar | None = None,
    *,
    computed: kpi.KpiReport | None = None,
    detail: bool = True,
) -> Assessment:
    """Score every active unit (and any inactive one with deductions) over the selection.

    `computed` is the selection's `kpi.compute` result when the caller already has it.
    `detail=False` counts the deductions instead of listing them: the numbers of late steps,
    escalations, non-compliant feedback and referrals per unit are `computed`'s per-unit
    figures — the same item queries, grouped by unit in SQL — so the sheets hold the same
    counts, points, scores and ranks without loading and describing every item (at a
    district's year, ≈ 40,000 rows). The work report prints only those totals; the 报表
    page and `to_xlsx` need the items.
    """
    rules = rules or load_rules(session)
    calendar = calendar or Calendar.load(session)
    if computed is None or not computed.by_unit:
        computed = kpi.compute(session, sel, calendar)
    figures = {row.unit_id: row for row in computed.units}
    units = session.exec(
        select(Unit).where(col(Unit.deleted_at).is_(None)).order_by(col(Unit.name))
    ).all()
    sheets: dict[int, UnitSheet] = {}
    for unit in units:
        if unit.active or unit.id in figures:
            on_time = figures[unit.id].on_time_rate if unit.id in figures else Ratio(0, 0)
            sheets[unit.id] = UnitSheet(unit.id, unit.name, rules.base_score, on_time)  # type: ignore[arg-type,index]  # ids are set: these rows were flushed
    if sel.unit_ids:
        sheets = {k: v for k, v in sheets.items() if k in sel.unit_ids}
    if detail:
        for item_unit, item in _deductions(session, sel, rules, calendar):
            if item_unit in sheets:
                sheets[item_unit].items.append(item)
    else:
        for unit_id, sheet in sheets.items():
            if unit_id in figures:
                sheet.counted = _counted(figures[unit_id], rules)
    for sheet in sheets.values():
        rate = sheet.on_time.value
        if rules.on_time_bonus and rate is not None and rate * 100 >= rules.on_time_threshold:
            sheet.items.append(
                ScoreItem(
                    rule="on_time_bonus",
                    points=rules.on_time_bonus,
                    detail=f"按时反馈率 {sheet.on_time}，达到 {rules.on_time_threshold:g}%",
                )
            )
    ranked = sorted(sheets.values(), key=lambda s: (-s.score, s.unit_name))
    for position, sheet in enumerate(ranked, start=1):
        same = position > 1 and ranked[position - 2].score == sheet.score
        sheet.rank = ranked[position - 2].rank if same else position
    return Assessment(selection=sel, rules=rules, sheets=ranked, detailed=detail)


# The per-unit figure (`kpi.Kpis`) that counts each deduction rule's items: the same item
# query `_deductions` lists (late steps of `steps_due`, `escalations`, ...), grouped by unit.
COUNTED_BY = {
    "overdue_step": "steps_late",
    "escalation": "escalations",
    "noncompliant_feedback": "noncompliant_feedback",
    "referral": "referrals",
}


def _counted(figures: kpi.Kpis, rules: ScoringRules) -> dict[str, tuple[int, float]]:
    """rule → (deductions, points each) in sheet order; a rule worth 0 points lists nothing,
    as `_deductions` drops its items."""
    out = {}
    for rule, figure in COUNTED_BY.items():
        n, each = getattr(figures, figure), -getattr(rules, rule)
        if n and each:
            out[rule] = (n, each)
    return out


def _deductions(
    session: Session, sel: Selection, rules: ScoringRules, calendar: Calendar
) -> list[tuple[int, ScoreItem]]:
    """Every deduction of the selection as (unit id, item), from the KPI item queries."""
    out: list[tuple[int, ScoreItem]] = []
    late = [row for row in kpi.items(session, kpi.steps_due(sel)) if row.outcome == LATE]
    first_due = min((row.due_at for row in late), default=sel.as_of)
    index = WorkdayIndex.build(calendar, min(first_due, sel.as_of), max(first_due, sel.as_of))
    for row in late:
        if row.margin_workdays is not None:
            detail = f"{row.kind.label}截止{cn_date(row.due_at)}，逾期 {-row.margin_workdays} 个工作日反馈"
        else:
            late_by = index.between(row.due_at, sel.as_of)
            detail = (
                f"{row.kind.label}截止{cn_date(row.due_at)}，至{cn_date(sel.as_of)}"
                f"未收到合规反馈（已逾期 {late_by} 个工作日）"
            )
        out.append((row.unit_id, _item("overdue_step", rules, row, row.due_at, detail)))
    for row in kpi.items(session, kpi.escalations(sel)):
        detail = f"{row.level.label}{row.kind.label}后提级" + (
            f"：{row.escalation_reason}" if row.escalation_reason else ""
        )
        out.append((row.unit_id, _item("escalation", rules, row, row.issued_at, detail)))
    for row in kpi.items(session, kpi.noncompliant_feedback(sel)):
        missing = "、".join(
            name for name, ok in (("主要领导签字", row.signed), ("单位公章", row.stamped)) if not ok
        )
        detail = f"{row.kind.label}的书面反馈缺少{missing or '签章'}"
        out.append(
            (row.unit_id, _item("noncompliant_feedback", rules, row, row.received_at, detail))
        )
    for row in kpi.items(session, kpi.referrals(sel)):
        out.append(
            (row.unit_id, _item("referral", rules, row, row.referred_at, row.reason or "移交监督"))
        )
    return [(unit, item) for unit, item in out if unit is not None and item.points]


def _item(rule: str, rules: ScoringRules, row: Any, day: date, detail: str) -> ScoreItem:
    return ScoreItem(
        rule=rule,
        points=-getattr(rules, rule),
        day=day,
        case_id=row.case_id,
        case_no=row.case_no,
        case_title=row.title,
        detail=detail,
    )


# --- export ---------------------------------------------------------------------------------

SUMMARY_HEADERS = [
    "排名",
    "承办单位",
    "基础分",
    "逾期环节数",
    "逾期扣分",
    "提级次数",
    "提级扣分",
    "不合规反馈数",
    "不合规扣分",
    "移交纪委监察办数",
    "移交扣分",
    "按时反馈率",
    "加分",
    "得分",
]
ITEM_HEADERS = ["序号", "考核项目", "督办编号", "事由", "日期", "说明", "分值"]


def summary_rows(result: Assessment) -> list[list[Any]]:
    """The summary table (also printed in the work report), one row per unit."""
    rows = []
    for s in result.sheets:
        row: list[Any] = [s.rank, s.unit_name, points(s.base)]
        for rule in DEDUCTIONS:
            row += [s.count(rule), points(s.points(rule))]
        row += [s.on_time.percent(), points(s.bonus), points(s.score)]
        rows.append(row)
    return rows


def points(value: float) -> float | int:
    """2.0 → 2, 2.5 → 2.5: whole points print without a decimal."""
    return int(value) if float(value).is_integer() else round(value, 2)


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique Excel sheet name (≤ 31 characters, none of []:*?/\\)."""
    base = re.sub(r"[\[\]:*?/\\]", "_", name).strip("'") or "单位"
    candidate, n = base[:31], 2
    while candidate in taken:
        suffix = f"({n})"
        candidate, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(candidate)
    return candidate


def to_xlsx(result: Assessment) -> bytes:
    """汇总 sheet, the rules, then one sheet per unit with every item traced to its case."""
    if not result.detailed:
        raise ValueError("to_xlsx lists every item: score with assess(detail=True)")
    wb = Workbook()
    summary = wb.active
    summary.title = "汇总"
    _table(summary, result.title, SUMMARY_HEADERS, summary_rows(result))
    rules = wb.create_sheet("考核规则")
    _table(
        rules,
        "考核规则",
        ["规则", "分值"],
        [[RULE_LABELS[k], points(v)] for k, v in result.rules.to_dict().items()],
    )
    taken = {"汇总", "考核规则"}
    for s in sorted(result.sheets, key=lambda x: x.unit_name):
        ws = wb.create_sheet(sheet_name(s.unit_name, taken))
        body: list[list[Any]] = [
            [
                i,
                item.label,
                item.case_no,
                item.case_title,
                item.day.isoformat() if item.day else "",
                item.detail,
                points(item.points),
            ]
            for i, item in enumerate(s.items, start=1)
        ]
        body += [
            [],
            ["", "基础分", "", "", "", "", points(s.base)],
            ["", "扣分合计", "", "", "", "", points(-s.deductions)],
            ["", "加分合计", "", "", "", "", points(s.bonus)],
            ["", "得分", "", "", "", f"排名第 {s.rank} 位", points(s.score)],
        ]
        _table(ws, f"{s.unit_name} {result.title}", ITEM_HEADERS, body)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _table(ws: Any, title: str, headers: list[str], rows: list[list[Any]]) -> None:
    """Title in row 1, headers in row 2, data below; columns sized for Chinese text."""
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(headers)
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
    for row in rows:
        ws.append(row)
        for cell in ws[ws.max_row]:
            formulas.harden(cell)
    for i, header in enumerate(headers, start=1):
        width = max([len(str(header))] + [len(str(r[i - 1])) for r in rows if len(r) >= i])
        ws.column_dimensions[get_column_letter(i)].width = min(60, 2 * width + 2)
    ws.freeze_panes = "A3"
