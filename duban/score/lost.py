"""The tickets that cost their unit points, and the units losing the most (督办线索)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlmodel import Session

from duban.clock import cn_date
from duban.enums import CallbackResult, Resolution
from duban.errors import ValidationError
from duban.kpi import Period
from duban.permissions import Actor
from duban.score.counting import _T, _in_period, done_statuses, overdue
from duban.score.rules import load_rules
from duban.score.scoring import UnitScore, compute, ratio, two

# The indicators a ticket can cost points on (drill-down keys → what the page calls them).
INDICATORS: dict[str, str] = {
    "contact": "先行联系",
    "solve": "诉求解决",
    "satisfaction": "市民满意",
    "overdue": "逾期减分",
}


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


def _costs(
    period: Period, indicator: str, row: UnitScore, done: list[str]
) -> tuple[dict[str | None, Fraction | None], ColumnElement[bool]]:
    """What one ticket costs on `indicator` (by its callback result for 市民满意, else under
    None) and which tickets of the unit's period it may cost on it."""
    r, c = row.rules, row.counts
    if indicator == "contact":
        return {None: ratio(r.contact_weight, c.contact_yes + c.contact_no)}, _T.first_contact.is_(
            False
        )
    if indicator == "solve":
        each = ratio(r.solve_weight * (1 - r.explained_credit), c.solved + c.explained)
        return {None: each}, _T.resolution == Resolution.EXPLAINED.value
    if indicator == "satisfaction":
        judged = c.satisfied + c.basic + c.unsatisfied
        costs: dict[str | None, Fraction | None] = {
            CallbackResult.UNSATISFIED.value: ratio(r.satisfaction_weight, judged),
            CallbackResult.BASIC.value: ratio(r.satisfaction_weight * (1 - r.basic_credit), judged),
        }
        return costs, _T.callback_result.in_([k for k, v in costs.items() if v])
    return {None: r.overdue_points}, overdue(period, done)


def _lost(
    session: Session, period: Period, unit_id: int, indicator: str, row: UnitScore, done: list[str]
) -> list[LostTicket]:
    each, cond = _costs(period, indicator, row, done)
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
        costing = [
            cond
            for key in INDICATORS
            for each, cond in [_costs(period, key, row, done)]
            if any(each.values())
        ]
        stmt = (
            select(_T.id)
            .where(*_in_period(period), _T.unit_id == row.unit_id, or_(*costing))
            .order_by(_T.id)
        )  # one query for the four indicators: `lost_tickets` lists them one by one
        ids = list(session.connection().execute(stmt).scalars()) if costing else []
        out.append(UnitLoss(row, period, ids))
    return out
