"""The boards' data (看板 and 首页) as the pages show it, shared by every session until the
data changes (`ui.shared`): frames and chart specs, built once per state of the data."""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd
import pyarrow as pa
from sqlmodel import Session

from duban import boards
from duban.boards import BoardFilter, EscalationRow, StepRow
from duban.permissions import Actor
from duban.units import live_units, unit_name
from duban.workdays import Calendar
from ui.common import engine
from ui.shared import Stamp, shared_data

URGENT = 5  # rows per list on 首页


def summary(stamp: Stamp, who: Actor, day: date, filt: BoardFilter) -> boards.Summary:
    """首页's numbers and lists, as far as `who` may see them."""
    return _summary(stamp, day, filt.pinned_to(who), who)


# The boards scope themselves by the actor (`BoardFilter.pinned_to`), and what they return
# depends on the actor only through that pinned filter: the cached functions below are keyed
# by it and take the actor unhashed (`_who`), so users with the same view share one result.


@shared_data
def _summary(stamp: Stamp, day: date, scoped: BoardFilter, _who: Actor) -> boards.Summary:
    with Session(engine()) as session:
        return boards.summary(session, _who, day, scoped, URGENT)


@shared_data
def active_units(stamp: Stamp, _who: Actor) -> dict[int, str]:
    """The units the boards list (the same for every role: see `duban.units`)."""
    with Session(engine()) as session:
        return live_units(session, _who, active_only=True)


def case_link(case_id: int, action: str | None = None) -> str:
    """The URL of a case on the 督办事项 page (`action=escalate` opens the escalation form)."""
    return f"/cases?case={case_id}" + (f"&action={action}" if action else "")


def step_frame(rows: list[StepRow], days_label: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "督办编号": [r.case_no for r in rows],
            "事由": [r.title for r in rows],
            "督办类型": [r.level.label for r in rows],
            "环节": [r.kind.label for r in rows],
            "承办单位": [r.unit_name for r in rows],
            "下发日期": [r.issued_at for r in rows],
            "截止日期": [r.due_at for r in rows],
            "暂估": ["暂估" if r.provisional else "" for r in rows],
            days_label: [r.workdays for r in rows],
            "最近反馈": [r.last_feedback for r in rows],
            "查看": [case_link(r.case_id) for r in rows],
        }
    )


def escalation_frame(rows: list[EscalationRow]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "督办编号": [r.case_no for r in rows],
            "事由": [r.title for r in rows],
            "当前级别": [r.level.label for r in rows],
            "可提至": [r.next_level.label if r.next_level else "" for r in rows],
            "承办单位": [r.unit_name for r in rows],
            "截止日期": [r.due_at for r in rows],
            "暂估": ["暂估" if r.provisional else "" for r in rows],
            "理由": [r.reason for r in rows],
            "查看": [case_link(r.case_id) for r in rows],
            "提级": [case_link(r.case_id, "escalate") for r in rows],
        }
    )


# --- each board's data, shared by everyone until the data changes (ui/shared.py) ----------


def overdue_frame(stamp: Stamp, who: Actor, day: date, filt: BoardFilter) -> pd.DataFrame:
    return _overdue_frame(stamp, day, filt.pinned_to(who), who)


@shared_data
def _overdue_frame(stamp: Stamp, day: date, scoped: BoardFilter, _who: Actor) -> pd.DataFrame:
    with Session(engine()) as session:
        rows = boards.overdue_board(session, _who, day, Calendar.load(session), scoped)
    return step_frame(rows, "逾期工作日")


def due_soon_frame(stamp: Stamp, who: Actor, day: date, filt: BoardFilter) -> pd.DataFrame:
    return _due_soon_frame(stamp, day, filt.pinned_to(who), who)


@shared_data
def _due_soon_frame(stamp: Stamp, day: date, scoped: BoardFilter, _who: Actor) -> pd.DataFrame:
    with Session(engine()) as session:
        rows = boards.due_soon_board(session, _who, day, Calendar.load(session), scoped)
    return step_frame(rows, "剩余工作日")


def escalation_table(stamp: Stamp, who: Actor, day: date, filt: BoardFilter) -> pd.DataFrame:
    return _escalation_table(stamp, day, filt.pinned_to(who), who)


@shared_data
def _escalation_table(stamp: Stamp, day: date, scoped: BoardFilter, _who: Actor) -> pd.DataFrame:
    with Session(engine()) as session:
        return escalation_frame(boards.escalation_board(session, _who, day, scoped))


def units_tables(
    stamp: Stamp, who: Actor, day: date, filt: BoardFilter
) -> tuple[pd.DataFrame, list[int], dict, dict]:
    """The units table, its unit ids (row → unit for a click), the two charts' specs."""
    return _units_tables(stamp, day, filt.pinned_to(who), who)


@shared_data
def _units_tables(
    stamp: Stamp, day: date, filt: BoardFilter, _who: Actor
) -> tuple[pd.DataFrame, list[int], dict, dict]:
    with Session(engine()) as session:
        unit_rows = boards.unit_board(session, _who, day, Calendar.load(session), filt)
        trend = boards.month_trend(session, _who, day, filt)
        name = unit_name(session, _who, filt.unit_id) if filt.unit_id else None
    who_label = name or "全部单位"
    frame = pd.DataFrame(
        {
            "承办单位": [r.unit_name for r in unit_rows],
            "在办督办事项": [r.open_cases for r in unit_rows],
            "逾期环节": [r.overdue_steps for r in unit_rows],
            "按时反馈率": percents([r.on_time.value for r in unit_rows]),
            "按时/应反馈": [f"{r.on_time.numerator}/{r.on_time.denominator}" for r in unit_rows],
            "提级": [r.escalations for r in unit_rows],
            "移交纪委": [r.referrals for r in unit_rows],
            "回访满意率": percents([r.satisfaction.value for r in unit_rows]),
            "满意/已回访": [
                f"{r.satisfaction.numerator}/{r.satisfaction.denominator}" for r in unit_rows
            ],
        }
    )
    bars = pd.DataFrame(
        [
            {"unit_id": r.unit_id, "承办单位": r.unit_name, "指标": name, "数量": n}
            for r in unit_rows
            for name, n in (("在办督办事项", r.open_cases), ("逾期环节", r.overdue_steps))
            if r.open_cases or r.overdue_steps
        ]
    )
    months = pd.DataFrame(
        [
            {"月份": m.month, "指标": name, "数量": n}
            for m in trend
            for name, n in (("新立案", m.opened), ("到期环节", m.due), ("逾期环节", m.late))
        ]
    )
    return frame, [r.unit_id for r in unit_rows], bar_spec(bars), trend_spec(months, who_label)


def percents(values: list[float | None]) -> pd.Series:
    """Rates as percentages; a unit with nothing to judge shows an empty cell, not "None"."""
    return pd.Series([None if v is None else v * 100 for v in values], dtype="float64")


def bar_spec(bars: pd.DataFrame) -> dict:
    """各单位在办与逾期, clickable (the point selection `unit` sets the unit filter); built
    and validated by Altair once per state of the data, drawn from the plain spec."""
    if bars.empty:
        return {}
    pick = alt.selection_point(name="unit", fields=["unit_id"])
    spec = (
        alt.Chart(bars, title="各单位在办与逾期")
        .mark_bar()
        .encode(
            y=alt.Y("承办单位:N", sort="-x", title=None),
            x=alt.X("数量:Q", title="数量"),
            color=alt.Color("指标:N", title=None),
            yOffset="指标:N",
            tooltip=["承办单位", "指标", "数量"],
        )
        .add_params(pick)
        .to_dict()
    )
    return arrow_datasets(spec)


def trend_spec(months: pd.DataFrame, who: str) -> dict:
    spec = (
        alt.Chart(months, title=f"按月趋势（{who}）")
        .mark_line(point=True)
        .encode(
            x=alt.X("月份:O", title=None),
            y=alt.Y("数量:Q", title="数量"),
            color=alt.Color("指标:N", title=None),
            tooltip=["月份", "指标", "数量"],
        )
        .to_dict()
    )
    return arrow_datasets(spec)


def arrow_datasets(spec: dict) -> dict:
    """The spec with its datasets already in Arrow IPC, the form the browser receives:
    `st.vega_lite_chart` passes bytes through, where records would be converted again on
    every view of the shared spec."""
    datasets = {
        name: ipc_bytes(pa.Table.from_pylist(rows))
        for name, rows in spec.get("datasets", {}).items()
    }
    return {**spec, "datasets": datasets} if datasets else spec


def ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()
