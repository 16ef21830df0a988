"""热线考核: the 12345 platform's monthly per-unit score, reproduced from the imported tickets
and explained down to the ticket (docs/KPI.md, section 热线考核).

Per unit, over the tickets whose 诉求时间 lies in the period, in two groups (村居 and 部门):

    受理量得分 = V × unit's tickets ÷ group's tickets
    先行联系得分 = C × 是 ÷ (是 + 否)
    诉求解决得分 = S × (实际解决 + w × 解释说明) ÷ (实际解决 + 解释说明)
    市民满意得分 = M × (满意 + b × 基本满意) ÷ (满意 + 基本满意 + 不满意)
    减分 = d × tickets with 是否逾期 = 是 + the center's manual deductions
    总得分 = the four scores − 减分 (2 decimals); 排名 within the group, ties share a rank

Every weight is the setting `score_rules` (the center changes it here, audited: who, when,
old → new). The counts are one SQL aggregate per period (GROUP BY unit), the arithmetic
is exact (fractions) so equal scores really tie. A ticket that costs its unit points is
found by the same conditions the counts use (`lost_tickets`), and the points it cost add up
to the unit's loss on that indicator.

Who sees what is decided here: a unit user gets its own group's table (aggregates only) and
only its own lost-point tickets, trend and deductions.
"""

from __future__ import annotations

import ast
import csv
import io
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy import ColumnElement, and_, case, false, func, or_, select
from sqlmodel import Session, col

from duban import audit
from duban.clock import cn_date
from duban.enums import AuditAction, CallbackResult, Resolution, UnitKind
from duban.errors import NotFound, PermissionDenied, ValidationError
from duban.kpi import Period
from duban.models import AuditLog, ScoreDeduction, Ticket, Unit
from duban.permissions import Actor, Perm
from duban.records import soft_delete, table_of
from duban.settings import DEFAULTS, get_setting, set_setting

SETTING_KEY = "score_rules"
VILLAGE, DEPARTMENT = "村居", "部门"
GROUPS = (VILLAGE, DEPARTMENT)
_T = table_of(Ticket).c
_D = table_of(ScoreDeduction).c
_SPLIT = re.compile(r"[、,，;；\s]+")
DONE_STATUSES_KEY = "platform_done_statuses"

# The CLI's columns, in the order (also the first columns of the xlsx).
HEADERS = [
    "承办单位", "分组", "受理量", "受理量得分", "先行联系率", "先行联系得分", "办结量", "逾期工单量",
    "按时办结率", "减分", "实际解决数", "解释说明数", "诉求解决得分", "市民满意率", "市民满意得分",
    "总得分", "排名",
]  # fmt: skip

# The indicators a ticket can cost points on (drill-down keys → what the page calls them).
INDICATORS: dict[str, str] = {
    "contact": "先行联系",
    "solve": "诉求解决",
    "satisfaction": "市民满意",
    "overdue": "逾期减分",
}


# --- the rules ------------------------------------------------------------------------------

RULE_LABELS: dict[str, str] = {
    "volume_weight": "受理量得分满分",
    "contact_weight": "先行联系得分满分",
    "solve_weight": "诉求解决得分满分",
    "explained_credit": "解释说明折算系数 w",
    "satisfaction_weight": "市民满意得分满分",
    "basic_credit": "基本满意折算系数",
    "overdue_points": "每件逾期工单减分",
    "village_suffixes": "按名称归入村居的后缀",
    "candidate_units": "失分最多的单位列为督办线索（个）",
}
RULE_LIMITS: dict[str, float] = {"explained_credit": 1, "basic_credit": 1, "candidate_units": 50}
TEXT_RULES = frozenset({"village_suffixes"})


@dataclass(frozen=True)
class ScoreRules:
    """The weights in force (exact fractions of what the center typed)."""

    volume_weight: Fraction
    contact_weight: Fraction
    solve_weight: Fraction
    explained_credit: Fraction
    satisfaction_weight: Fraction
    basic_credit: Fraction
    overdue_points: Fraction
    village_suffixes: tuple[str, ...]
    candidate_units: int

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ScoreRules:
        """Rules over the defaults; each value checked, a bad one named in the message."""
        unknown = sorted(set(values) - set(RULE_LABELS))
        if unknown:
            raise ValidationError(f"未知的考核规则项：{'、'.join(unknown)}")
        merged = {**DEFAULTS[SETTING_KEY], **values}
        cleaned: dict[str, Any] = {}
        for name, label in RULE_LABELS.items():
            if name in TEXT_RULES:
                words = tuple(w for w in _SPLIT.split(str(merged[name] or "")) if w)
                cleaned[name] = words
                continue
            try:
                number = Fraction(str(merged[name]).strip())
            except (TypeError, ValueError, ZeroDivisionError) as exc:
                raise ValidationError(f"考核规则“{label}”必须是数字：{merged[name]}") from exc
            limit = RULE_LIMITS.get(name, 1000)
            if not 0 <= number <= limit:
                raise ValidationError(f"考核规则“{label}”必须在 0–{limit:g} 之间：{merged[name]}")
            if name == "candidate_units" and number.denominator != 1:
                raise ValidationError(f"考核规则“{label}”必须是整数：{merged[name]}")
            cleaned[name] = int(number) if name == "candidate_units" else number
        return cls(**cleaned)

    def to_dict(self) -> dict[str, Any]:
        """As stored in the setting: numbers as int or float, suffixes as one text."""
        out: dict[str, Any] = {}
        for name in RULE_LABELS:
            value = getattr(self, name)
            if name in TEXT_RULES:
                out[name] = "、".join(value)
            else:
                out[name] = int(value) if Fraction(value).denominator == 1 else float(value)
        return out

    def lines(self) -> list[tuple[str, str]]:
        """The rules in force as (rule, value) lines: the 考核规则 sheet and the page."""
        return [(RULE_LABELS[k], shown(v)) for k, v in self.to_dict().items()]


def shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def load_rules(session: Session) -> ScoreRules:
    return ScoreRules.from_dict(get_setting(session, SETTING_KEY))


def save_rules(session: Session, actor: Actor, values: dict[str, Any]) -> ScoreRules:
    """Check and store changed weights (the center and admins; audited); the caller commits."""
    actor.require(Perm.MANAGE_SCORE)
    rules = ScoreRules.from_dict({**get_setting(session, SETTING_KEY), **values})
    if rules.to_dict() != get_setting(session, SETTING_KEY):
        set_setting(session, actor, SETTING_KEY, rules.to_dict(), perm=Perm.MANAGE_SCORE)
    return rules


@dataclass(frozen=True)
class RuleChange:
    """One changed weight: who, when, old → new."""

    at: datetime
    username: str
    rule: str
    old: str
    new: str


def rule_history(session: Session, actor: Actor) -> list[RuleChange]:
    """Every change of the weights, newest first, one line per changed rule."""
    actor.require(Perm.VIEW_ALL, "查看考核规则的修改记录")
    rows = session.execute(
        select(AuditLog)
        .where(col(AuditLog.entity) == "setting", col(AuditLog.field) == SETTING_KEY)
        .order_by(col(AuditLog.id).desc())
    ).scalars()
    out = []
    for row in rows:
        old, new = _stored(row.old), _stored(row.new)
        for name, label in RULE_LABELS.items():
            before = old.get(name, DEFAULTS[SETTING_KEY][name])
            after = new.get(name, DEFAULTS[SETTING_KEY][name])
            if before != after:
                out.append(RuleChange(row.at, row.username, label, shown(before), shown(after)))
    return out


def _stored(text: str | None) -> dict[str, Any]:
    """A setting value as the audit log wrote it (`str(dict)`)."""
    try:
        value = ast.literal_eval(text or "{}")
    except (ValueError, SyntaxError):
        return {}
    return value if isinstance(value, dict) else {}


# --- counting -------------------------------------------------------------------------------


def done_statuses(session: Session) -> list[str]:
    """Platform statuses meaning handled (a ticket without 办结时间 in one counts as 办结)."""
    value = get_setting(session, DONE_STATUSES_KEY)
    items = value if isinstance(value, list) else _SPLIT.split(str(value or ""))
    return sorted({s.strip() for s in items if str(s).strip()})


def finished(period: Period, done: list[str]) -> ColumnElement[bool]:
    """办结 by the period's end: a 办结时间 before it, or no 办结时间 and a done status."""
    return or_(
        and_(_T.finished_at.is_not(None), _T.finished_at < period.end_dt),
        and_(_T.finished_at.is_(None), _T.platform_status.in_(done)),
    )


def overdue(period: Period, done: list[str]) -> ColumnElement[bool]:
    """是否逾期: the platform's word when the export has it; else 办结时间 after 办理时限, or,
    for a ticket still open, 办理时限 before the period's end. A ticket handled (done status)
    without a 办结时间 cannot be judged and is not overdue."""
    return case(
        (_T.overdue.is_not(None), _T.overdue),
        (_T.platform_due_at.is_(None), false()),
        (_T.finished_at.is_not(None), _T.finished_at > _T.platform_due_at),
        (_T.platform_status.in_(done), false()),
        else_=_T.platform_due_at < period.end_dt,
    )


def _in_period(period: Period) -> list[ColumnElement[bool]]:
    return [
        _T.deleted_at.is_(None),
        _T.unit_id.is_not(None),
        _T.received_at >= period.start_dt,
        _T.received_at < period.end_dt,
    ]


def _n(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


@dataclass(frozen=True)
class Counts:
    """What the score is computed from, per unit and period."""

    tickets: int = 0
    contact_yes: int = 0
    contact_no: int = 0
    solved: int = 0
    explained: int = 0
    satisfied: int = 0
    basic: int = 0
    unsatisfied: int = 0
    finished: int = 0
    finished_late: int = 0  # 办结 and overdue
    open_late: int = 0  # not 办结 by the period's end and overdue


def count(session: Session, period: Period, done: list[str]) -> dict[int, Counts]:
    """The counts of every unit with tickets in the period: one aggregate query."""
    late, closed = overdue(period, done), finished(period, done)
    stmt = (
        select(
            _T.unit_id,
            func.count(),
            _n(_T.first_contact.is_(True)),
            _n(_T.first_contact.is_(False)),
            _n(_T.resolution == Resolution.SOLVED.value),
            _n(_T.resolution == Resolution.EXPLAINED.value),
            _n(_T.callback_result == CallbackResult.SATISFIED.value),
            _n(_T.callback_result == CallbackResult.BASIC.value),
            _n(_T.callback_result == CallbackResult.UNSATISFIED.value),
            _n(closed),
            _n(and_(closed, late)),
            _n(and_(~closed, late)),
        )
        .where(*_in_period(period))
        .group_by(_T.unit_id)
    )
    return {
        row[0]: Counts(*(int(v or 0) for v in row[1:]))
        for row in session.connection().execute(stmt)
    }


def manual_points(session: Session, period: Period) -> dict[int, Fraction]:
    """Manual deductions per unit, dated in the period (live ones)."""
    stmt = (
        select(_D.unit_id, _D.points)
        .where(_D.deleted_at.is_(None), _D.day >= period.start, _D.day <= period.end)
        .order_by(_D.id)
    )
    out: dict[int, Fraction] = {}
    for unit_id, points in session.connection().execute(stmt):
        out[unit_id] = out.get(unit_id, Fraction(0)) + Fraction(str(points))
    return out


# --- scoring --------------------------------------------------------------------------------


def ratio(numerator: Fraction | int, denominator: int) -> Fraction | None:
    return Fraction(numerator, 1) / denominator if denominator else None


@dataclass(frozen=True)
class UnitScore:
    """One unit's row of the report, with every figure it is computed from."""

    unit_id: int
    unit_name: str
    group: str
    counts: Counts
    group_tickets: int
    volume_score: Fraction
    contact_score: Fraction
    solve_score: Fraction
    satisfaction_score: Fraction
    overdue_points: Fraction
    manual_points: Fraction
    total: Decimal
    rank: int | None  # None: no tickets in the period, not ranked
    rules: ScoreRules

    @property
    def deduction(self) -> Fraction:
        return self.overdue_points + self.manual_points

    @property
    def overdue(self) -> int:
        return self.counts.finished_late + self.counts.open_late

    @property
    def contact_rate(self) -> Fraction | None:
        c = self.counts
        return ratio(c.contact_yes, c.contact_yes + c.contact_no)

    @property
    def solved_rate(self) -> Fraction | None:
        c = self.counts
        return ratio(c.solved, c.solved + c.explained)

    @property
    def explained_rate(self) -> Fraction | None:
        c = self.counts
        return ratio(c.explained, c.solved + c.explained)

    @property
    def satisfaction_rate(self) -> Fraction | None:
        """市民满意率: (满意 + 基本满意) ÷ (满意 + 基本满意 + 不满意), as 回访满意率."""
        c = self.counts
        return ratio(c.satisfied + c.basic, c.satisfied + c.basic + c.unsatisfied)

    @property
    def on_time_rate(self) -> Fraction | None:
        """按时办结率: 办结 not overdue ÷ (办结 + overdue still open)."""
        c = self.counts
        return ratio(c.finished - c.finished_late, c.finished + c.open_late)

    def lost(self) -> dict[str, Fraction]:
        """Points the unit's tickets cost it, per indicator (what `lost_tickets` lists)."""
        r, c = self.rules, self.counts
        contact = ratio(r.contact_weight * c.contact_no, c.contact_yes + c.contact_no)
        solve = ratio(
            r.solve_weight * (1 - r.explained_credit) * c.explained, c.solved + c.explained
        )
        judged = c.satisfied + c.basic + c.unsatisfied
        sat = ratio(
            r.satisfaction_weight * (c.unsatisfied + (1 - r.basic_credit) * c.basic), judged
        )
        return {
            "contact": contact or Fraction(0),
            "solve": solve or Fraction(0),
            "satisfaction": sat or Fraction(0),
            "overdue": self.deduction,
        }

    @property
    def lost_total(self) -> Fraction:
        return sum(self.lost().values(), Fraction(0))

    def cells(self) -> list[Any]:
        """The CLI's row (HEADERS): rates one decimal with %, scores two decimals."""
        c = self.counts
        return [
            self.unit_name, self.group, c.tickets, two(self.volume_score),
            percent(self.contact_rate), two(self.contact_score), c.finished, self.overdue,
            percent(self.on_time_rate), two(self.deduction), c.solved, c.explained,
            two(self.solve_score), percent(self.satisfaction_rate), two(self.satisfaction_score),
            f"{self.total:.2f}", "—" if self.rank is None else self.rank,
        ]  # fmt: skip


def rounded(value: Fraction, places: int = 2) -> Decimal:
    """Exact half-up rounding of a fraction (no binary float in between)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def two(value: Fraction) -> str:
    return f"{rounded(value):.2f}"


def percent(value: Fraction | None) -> str:
    """87.5% (one decimal); — when the denominator is 0."""
    return "—" if value is None else f"{rounded(value * 100, 1):.1f}%"


def group_of(unit: Unit, rules: ScoreRules) -> str:
    """村居: the unit's kind, or a name ending in one of the village suffixes; else 部门."""
    if unit.kind is UnitKind.VILLAGE or unit.name.endswith(rules.village_suffixes):
        return VILLAGE
    return DEPARTMENT


def score_units(
    counts: dict[int, Counts],
    manual: dict[int, Fraction],
    units: list[Unit],
    rules: ScoreRules,
) -> list[UnitScore]:
    """The rows of both groups, ranked: pure arithmetic over the counts."""
    listed = [
        (u.id, u)
        for u in units
        if u.id is not None
        and (u.id in counts or u.id in manual or (u.deleted_at is None and u.active))
    ]
    group = {uid: group_of(u, rules) for uid, u in listed}
    group_tickets = dict.fromkeys(GROUPS, 0)
    for uid, _ in listed:
        group_tickets[group[uid]] += counts.get(uid, Counts()).tickets
    rows = []
    r = rules
    for uid, u in listed:
        c = counts.get(uid, Counts())
        g = group[uid]
        volume = ratio(r.volume_weight * c.tickets, group_tickets[g]) or Fraction(0)
        contact = ratio(r.contact_weight * c.contact_yes, c.contact_yes + c.contact_no)
        solve = ratio(
            r.solve_weight * (c.solved + r.explained_credit * c.explained), c.solved + c.explained
        )
        sat = ratio(
            r.satisfaction_weight * (c.satisfied + r.basic_credit * c.basic),
            c.satisfied + c.basic + c.unsatisfied,
        )
        late = r.overdue_points * (c.finished_late + c.open_late)
        by_hand = manual.get(uid, Fraction(0))
        parts = volume + (contact or 0) + (solve or 0) + (sat or 0)
        rows.append(
            UnitScore(
                unit_id=uid,
                unit_name=u.name,
                group=g,
                counts=c,
                group_tickets=group_tickets[g],
                volume_score=volume,
                contact_score=contact or Fraction(0),
                solve_score=solve or Fraction(0),
                satisfaction_score=sat or Fraction(0),
                overdue_points=late,
                manual_points=by_hand,
                total=rounded(parts - late - by_hand),
                rank=None,
                rules=rules,
            )
        )
    return rank(rows)


def rank(rows: list[UnitScore]) -> list[UnitScore]:
    """Within each group, highest total first; equal totals share a rank (1, 2, 2, 4).
    Units without tickets in the period are listed after them, unranked."""
    out: list[UnitScore] = []
    for g in GROUPS:
        ranked = sorted(
            (s for s in rows if s.group == g and s.counts.tickets),
            key=lambda s: (-s.total, s.unit_name),
        )
        place = 0
        for i, s in enumerate(ranked):
            if i == 0 or s.total != ranked[i - 1].total:
                place = i + 1
            out.append(replace(s, rank=place))
        out += sorted(
            (s for s in rows if s.group == g and not s.counts.tickets), key=lambda s: s.unit_name
        )
    return out


@dataclass(frozen=True)
class Scorecard:
    """The report of one period, as the actor may see it."""

    period: Period
    rules: ScoreRules
    rows: list[UnitScore]
    own_unit_id: int | None = None  # a unit user's unit (its row is highlighted)
    previous: dict[int, UnitScore] = field(default_factory=dict)  # the period before

    def group(self, name: str) -> list[UnitScore]:
        return [r for r in self.rows if r.group == name]

    @property
    def groups(self) -> list[str]:
        return [g for g in GROUPS if self.group(g)]

    def row(self, unit_id: int) -> UnitScore | None:
        return next((r for r in self.rows if r.unit_id == unit_id), None)

    def change(self, unit_id: int) -> tuple[Decimal | None, int | None]:
        """(总得分 now − before, 排名 before − now: positive = moved up); (None, None) unless
        the unit is ranked in both periods (had tickets in each)."""
        now_row, before = self.row(unit_id), self.previous.get(unit_id)
        if now_row is None or before is None or now_row.rank is None or before.rank is None:
            return None, None
        return now_row.total - before.total, before.rank - now_row.rank


def previous_period(period: Period) -> Period:
    """The month before a month; otherwise the same number of days just before."""
    if period == Period.month(period.start.year, period.start.month):
        last = period.start - timedelta(days=1)
        return Period.month(last.year, last.month)
    days = (period.end - period.start).days + 1
    return Period(period.start - timedelta(days=days), period.start - timedelta(days=1))


def compute(session: Session, period: Period, rules: ScoreRules | None = None) -> list[UnitScore]:
    """Every unit's row for the period (no visibility rules: the CLI and the services')."""
    rules = rules or load_rules(session)
    units = list(session.execute(select(Unit)).scalars())
    done = done_statuses(session)
    return score_units(count(session, period, done), manual_points(session, period), units, rules)


def _visible(actor: Actor, rows: list[UnitScore], session: Session) -> list[UnitScore]:
    """All rows for readers of every unit; a unit user's own group only."""
    if actor.can(Perm.VIEW_ALL):
        return rows
    if actor.unit_id is None:
        raise PermissionDenied(f"当前账号（{actor.username}）未关联承办单位，无法查看热线考核")
    unit = session.get(Unit, actor.unit_id)
    if unit is None:
        raise NotFound("本账号关联的承办单位不存在")
    own = group_of(unit, load_rules(session))
    return [r for r in rows if r.group == own]


def scorecard(session: Session, actor: Actor, period: Period) -> Scorecard:
    """The 热线考核 of the period with the change against the period before, as `actor` may
    see it."""
    rules = load_rules(session)
    rows = _visible(actor, compute(session, period, rules), session)
    before = _visible(actor, compute(session, previous_period(period), rules), session)
    own = None if actor.can(Perm.VIEW_ALL) else actor.unit_id
    return Scorecard(period, rules, rows, own, {r.unit_id: r for r in before})


@dataclass(frozen=True)
class TrendPoint:
    period: Period
    total: Decimal | None  # None: the unit had no tickets that month (not ranked)
    rank: int | None


def trend(
    session: Session, actor: Actor, unit_id: int, last: Period, months: int = 12
) -> list[TrendPoint]:
    """The unit's 总得分 and 排名 month by month, the `months` months up to `last`'s end."""
    actor.require_unit({unit_id}, "查看其他单位的考核趋势")
    rules = load_rules(session)
    y, m = last.end.year, last.end.month
    out = []
    for _ in range(months):
        period = Period.month(y, m)
        row = next((r for r in compute(session, period, rules) if r.unit_id == unit_id), None)
        if row is None or row.rank is None:
            out.append(TrendPoint(period, None, None))
        else:
            out.append(TrendPoint(period, row.total, row.rank))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


# --- the tickets that cost points --------------------------------------------------------------


@dataclass(frozen=True)
class LostTicket:
    """A ticket that cost its unit points on one indicator, and how many."""

    ticket_id: int
    ticket_no: str
    received_at: datetime
    address: str
    content: str
    why: str
    points: Fraction


def lost_tickets(
    session: Session, actor: Actor, period: Period, unit_id: int, indicator: str
) -> list[LostTicket]:
    """The unit's tickets that cost it points on `indicator` (INDICATORS), oldest first; the
    points add up to `UnitScore.lost()[indicator]` less the manual deductions."""
    actor.require_unit({unit_id}, "查看其他单位的失分工单")
    if indicator not in INDICATORS:
        raise ValidationError(f"未知的考核指标：{indicator}")
    rules = load_rules(session)
    done = done_statuses(session)
    row = next((r for r in compute(session, period, rules) if r.unit_id == unit_id), None)
    if row is None:
        return []
    return _lost(session, period, unit_id, indicator, row, done)


def _lost(
    session: Session, period: Period, unit_id: int, indicator: str, row: UnitScore, done: list[str]
) -> list[LostTicket]:
    r, c = row.rules, row.counts
    late = overdue(period, done)
    each: dict[str | None, Fraction | None]
    if indicator == "contact":
        each = {None: ratio(r.contact_weight, c.contact_yes + c.contact_no)}
        cond: ColumnElement[bool] = _T.first_contact.is_(False)
    elif indicator == "solve":
        each = {None: ratio(r.solve_weight * (1 - r.explained_credit), c.solved + c.explained)}
        cond = _T.resolution == Resolution.EXPLAINED.value
    elif indicator == "satisfaction":
        judged = c.satisfied + c.basic + c.unsatisfied
        each = {
            CallbackResult.UNSATISFIED.value: ratio(r.satisfaction_weight, judged),
            CallbackResult.BASIC.value: ratio(r.satisfaction_weight * (1 - r.basic_credit), judged),
        }
        cond = _T.callback_result.in_(list(each))
    else:
        each = {None: r.overdue_points}
        cond = late
    stmt = (
        select(
            _T.id,
            _T.ticket_no,
            _T.received_at,
            _T.address,
            _T.content,
            _T.callback_result,
            _T.platform_due_at,
            _T.finished_at,
            _T.overdue,
        )  # fmt: skip
        .where(*_in_period(period), _T.unit_id == unit_id, cond)
        .order_by(_T.received_at, _T.id)
    )
    out = []
    for t in session.connection().execute(stmt):
        points = each.get(t.callback_result) if indicator == "satisfaction" else each[None]
        if not points:
            continue
        out.append(
            LostTicket(
                t.id,
                t.ticket_no,
                t.received_at,
                t.address,
                t.content[:60],
                _why(indicator, t),
                points,
            )  # fmt: skip
        )
    return out


def _why(indicator: str, t: Any) -> str:
    if indicator == "contact":
        return "未先行联系"
    if indicator == "solve":
        return "办理结果为解释说明"
    if indicator == "satisfaction":
        return (
            "回访不满意"
            if t.callback_result == CallbackResult.UNSATISFIED.value
            else "回访基本满意"
        )
    if t.overdue is not None:
        return "平台标记逾期"
    if t.finished_at is not None:
        return f"办结于 {cn_date(t.finished_at)}，晚于办理时限 {cn_date(t.platform_due_at)}"
    return f"办理时限 {cn_date(t.platform_due_at)} 已过，统计期末仍未办结"


# --- manual deductions --------------------------------------------------------------------------


def add_deduction(
    session: Session, actor: Actor, unit_id: int, day: date, points: Any, reason: str
) -> ScoreDeduction:
    """Record a manual deduction (the center), audited; the caller commits."""
    actor.require(Perm.MANAGE_SCORE)
    unit = session.get(Unit, unit_id)
    if unit is None or unit.deleted_at is not None:
        raise NotFound(f"承办单位不存在：{unit_id}")
    try:
        value = Fraction(str(points).strip())
    except (ValueError, ZeroDivisionError) as exc:
        raise ValidationError(f"扣分：必须是数字（{points}）") from exc
    if not 0 < value <= 100:
        raise ValidationError(f"扣分：必须大于 0、不超过 100（{points}）")
    text = " ".join(str(reason or "").split())
    if not text:
        raise ValidationError("扣分事由：不能为空")
    if len(text) > 200:
        raise ValidationError("扣分事由：最多 200 个字")
    row = ScoreDeduction(
        unit_id=unit_id,
        day=day,
        points=float(value),
        reason=text,
        created_by=actor.user_id,
        created_by_name=actor.name,
    )
    session.add(row)
    session.flush()
    audit.record(
        session, actor, AuditAction.CREATE, "scorededuction", row.id, field="points",
        new=f"{unit.name} {day.isoformat()} 扣 {shown(float(value))} 分：{text}",
    )  # fmt: skip
    return row


def remove_deduction(session: Session, actor: Actor, deduction_id: int, version: int) -> None:
    """Withdraw a manual deduction (soft delete, audited); a stale version is refused."""
    actor.require(Perm.MANAGE_SCORE)
    row = session.get(ScoreDeduction, deduction_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"扣分记录不存在：{deduction_id}")
    soft_delete(session, actor, row, expected_version=version, label=f"扣分记录（{row.reason}）")


@dataclass(frozen=True)
class DeductionLine:
    id: int
    version: int
    unit_name: str
    day: date
    points: float
    reason: str
    who: str
    at: datetime


def deductions(session: Session, actor: Actor, period: Period) -> list[DeductionLine]:
    """The live manual deductions dated in the period (a unit user: its own)."""
    stmt = (
        select(ScoreDeduction, col(Unit.name))
        .join(Unit, col(Unit.id) == col(ScoreDeduction.unit_id))
        .where(
            col(ScoreDeduction.deleted_at).is_(None),
            col(ScoreDeduction.day) >= period.start,
            col(ScoreDeduction.day) <= period.end,
        )
        .order_by(col(ScoreDeduction.day), col(ScoreDeduction.id))
    )
    if not actor.can(Perm.VIEW_ALL):
        stmt = stmt.where(col(ScoreDeduction.unit_id) == (actor.unit_id or -1))
    return [
        DeductionLine(
            d.id, d.version, name, d.day, d.points, d.reason, d.created_by_name, d.created_at
        )
        for d, name in session.execute(stmt)
    ]


# --- the units losing the most points (督办线索) --------------------------------------------------


@dataclass(frozen=True)
class UnitLoss:
    """A unit among those losing the most points, with the tickets that cost them."""

    row: UnitScore
    period: Period
    ticket_ids: list[int]

    @property
    def reason(self) -> str:
        parts = [f"{INDICATORS[k]} −{two(v)}" for k, v in self.row.lost().items() if v]
        return (
            f"{self.period.label}热线考核失分 {two(self.row.lost_total)} 分"
            f"（{'、'.join(parts)}），{self.row.group}组排名第 {self.row.rank} 位，"
            f"总得分 {self.row.total:.2f}"
        )


def losing_units(session: Session, as_of: datetime) -> list[UnitLoss]:
    """The `candidate_units` units whose tickets cost them the most points over the last 30
    days up to `as_of` (units with lost-point tickets only), most lost first."""
    rules = load_rules(session)
    if not rules.candidate_units:
        return []
    period = Period(as_of.date() - timedelta(days=29), as_of.date())
    done = done_statuses(session)
    rows = [
        r
        for r in compute(session, period, rules)
        if r.counts.tickets and r.lost_total - r.manual_points > 0
    ]
    rows.sort(key=lambda r: (-r.lost_total, r.unit_name))
    out = []
    for row in rows[: rules.candidate_units]:
        ids = sorted(
            {
                t.ticket_id
                for key in INDICATORS
                for t in _lost(session, period, row.unit_id, key, row, done)
            }
        )
        out.append(UnitLoss(row, period, ids))
    return out


# --- export -----------------------------------------------------------------------------------

XLSX_HEADERS = [
    "排名", "承办单位", "受理量", "受理量得分", "先行联系率", "先行联系得分", "办结量", "逾期工单量",
    "按时办结率", "减分情况", "实际解决数", "实际解决率", "解释说明数", "解释说明率", "诉求解决得分",
    "市民满意率", "市民满意得分", "总得分",
]  # fmt: skip


def report_row(s: UnitScore) -> list[Any]:
    """A row of the town's 热线报表 layout."""
    c = s.counts
    late = f"逾期 {s.overdue} 件扣 {two(s.overdue_points)}"
    if s.manual_points:
        late += f"；人工扣分 {two(s.manual_points)}"
    return [
        "—" if s.rank is None else s.rank, s.unit_name, c.tickets, float(rounded(s.volume_score)),
        percent(s.contact_rate), float(rounded(s.contact_score)), c.finished, s.overdue,
        percent(s.on_time_rate), late if s.deduction else "—", c.solved, percent(s.solved_rate),
        c.explained, percent(s.explained_rate), float(rounded(s.solve_score)),
        percent(s.satisfaction_rate), float(rounded(s.satisfaction_score)), float(s.total),
    ]  # fmt: skip


def to_csv(rows: list[UnitScore]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADERS)
    writer.writerows(r.cells() for r in rows)
    return buffer.getvalue()


def to_xlsx(
    rows: list[UnitScore], period: Period, rules: ScoreRules, lines: list[DeductionLine]
) -> bytes:
    """One sheet per group in the report's layout, then 考核规则: the rules in force, the
    formulas and the manual deductions counted."""
    wb = Workbook()
    wb.remove(wb.active)
    for g in GROUPS:
        members = [r for r in rows if r.group == g]
        if members:
            _table(
                wb.create_sheet(g),
                f"热线报表（{g}） {period.label}",
                XLSX_HEADERS,
                [report_row(r) for r in members],
            )
    ws = wb.create_sheet("考核规则")
    body: list[list[Any]] = [[label, value] for label, value in rules.lines()]
    body += [[], ["计分公式", ""]] + [[f, ""] for f in formulas(rules)]
    body += [[], ["人工扣分", ""]] + [
        [f"{d.unit_name} {d.day.isoformat()} {d.reason}（{d.who}）", shown(d.points)] for d in lines
    ]
    _table(ws, f"考核规则（{period.label}适用）", ["规则", "取值"], body)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def formulas(rules: ScoreRules) -> list[str]:
    """The formulas in words, with the weights in force."""
    d = rules.to_dict()
    return [
        f"受理量得分 = {shown(d['volume_weight'])} × 本单位受理量 ÷ 本组受理量",
        f"先行联系得分 = {shown(d['contact_weight'])} × 先行联系“是” ÷ （“是” + “否”）；均无为 0",
        f"诉求解决得分 = {shown(d['solve_weight'])} × （实际解决 + {shown(d['explained_credit'])} × "
        "解释说明） ÷ （实际解决 + 解释说明）；均无为 0",
        f"市民满意得分 = {shown(d['satisfaction_weight'])} × （满意 + {shown(d['basic_credit'])} × "
        "基本满意） ÷ （满意 + 基本满意 + 不满意）；未回访不计；均无为 0",
        f"减分 = {shown(d['overdue_points'])} × 逾期工单量 + 人工扣分",
        "总得分 = 四项得分之和 − 减分（保留两位小数）；组内按总得分排名，同分同名次",
    ]


def _table(ws: Any, title: str, headers: list[str], rows: list[list[Any]]) -> None:
    """Title in row 1, headers in row 2, data below; columns sized for Chinese text."""
    ws.append([title])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(headers)
    for cell in ws[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    for row in rows:
        ws.append(row)
    for i, header in enumerate(headers, start=1):
        width = max([len(str(header))] + [len(str(r[i - 1])) for r in rows if len(r) >= i])
        ws.column_dimensions[get_column_letter(i)].width = min(60, 2 * width + 2)
    ws.freeze_panes = "A3"


def export_xlsx(session: Session, actor: Actor, period: Period) -> bytes:
    """The page's download: the actor's scorecard in the report layout (audited)."""
    card = scorecard(session, actor, period)
    data = to_xlsx(card.rows, period, card.rules, deductions(session, actor, period))
    audit.record(session, actor, AuditAction.EXPORT, "score", None, new=period.label)
    return data
