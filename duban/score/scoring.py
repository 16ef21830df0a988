"""The exact arithmetic of the scores, ranks within a group, the scorecard a user sees, trend."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from duban.enums import UnitKind
from duban.errors import NotFound, PermissionDenied
from duban.kpi import Period
from duban.models import Unit
from duban.permissions import Actor, Perm
from duban.score.counting import Counts, count, done_statuses, manual_points
from duban.score.rules import DEPARTMENT, GROUPS, VILLAGE, ScoreRules, load_rules


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
