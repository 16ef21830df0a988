"""热线考核 page data (shared until the data changes): the scorecard of a period with the change
against the previous one, one unit's trend and lost-point tickets, the rules and deductions.

Every function takes the acting user: `duban.score` decides what a unit user may see.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlmodel import Session

from duban import score
from duban.clock import cn_date
from duban.kpi import Period
from duban.permissions import Actor, Perm
from ui.common import engine
from ui.shared import Stamp, shared_data


@shared_data
def scorecard(stamp: Stamp, who: Actor, start: date, end: date) -> score.Scorecard:
    with Session(engine()) as session:
        return score.scorecard(session, who, Period(start, end))


@shared_data
def lost(
    stamp: Stamp, who: Actor, start: date, end: date, unit_id: int, indicator: str
) -> pd.DataFrame:
    """The tickets that cost the unit points on the indicator, as the drill-down table."""
    with Session(engine()) as session:
        found = score.lost_tickets(session, who, Period(start, end), unit_id, indicator)
    return pd.DataFrame(
        {
            "工单编号": [t.ticket_no for t in found],
            "诉求时间": [cn_date(t.received_at) for t in found],
            "诉求地址": [t.address or "—" for t in found],
            "内容描述": [t.content or "—" for t in found],
            "失分原因": [t.why for t in found],
            "失分": [score.two(t.points) for t in found],
        }
    )


@shared_data
def trend(stamp: Stamp, who: Actor, unit_id: int, start: date, end: date) -> pd.DataFrame:
    """总得分 and 排名 of the unit over the twelve months up to the period's end."""
    with Session(engine()) as session:
        points = score.trend(session, who, unit_id, Period(start, end))
    return pd.DataFrame(
        {
            "月份": [f"{p.period.start.year}-{p.period.start.month:02d}" for p in points],
            "总得分": [None if p.total is None else float(p.total) for p in points],
            "排名": ["—" if p.rank is None else str(p.rank) for p in points],
        }
    )


@shared_data
def rules_and_deductions(
    stamp: Stamp, who: Actor, start: date, end: date
) -> tuple[score.ScoreRules, list[score.RuleChange], list[score.DeductionLine]]:
    with Session(engine()) as session:
        rules = score.load_rules(session)
        history = score.rule_history(session, who) if who.can(Perm.VIEW_ALL) else []
        lines = score.deductions(session, who, Period(start, end))
    return rules, history, lines


def group_frame(card: score.Scorecard, group: str) -> pd.DataFrame:
    """One group's table: every indicator of the report, then the change against last period."""
    rows = []
    for r in card.group(group):
        cells = dict(zip(score.HEADERS, r.cells(), strict=True))
        total, places = card.change(r.unit_id)
        cells["较上期"] = "—" if total is None else f"{total:+.2f}"
        cells["名次变化"] = (
            "—"
            if places is None
            else "持平"
            if places == 0
            else f"{'↑' if places > 0 else '↓'}{abs(places)}"
        )
        cells["排名"] = str(cells["排名"])
        del cells["分组"]
        rows.append(cells)
    frame = pd.DataFrame(rows)
    order = [
        "排名",
        "承办单位",
        *[h for h in score.HEADERS if h not in ("排名", "承办单位", "分组")],
    ]
    return frame[[*order, "较上期", "名次变化"]] if rows else frame
