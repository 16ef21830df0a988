"""Charts that more than one page draws (驾驶舱 and 报表), so both show one picture of a figure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt
import pandas as pd

from duban.kpi import Kpis
from duban.reports import ALERT_COLOR, BAR_COLOR, ON_TIME_ALERT


def cases_by_month(months: Sequence[tuple[int, int, int]], **bar: Any) -> alt.Chart:
    """各月新增督办事项: one bar per (year, month, count); `bar` styles the marks."""
    frame = pd.DataFrame(
        {"月份": [f"{y}-{m:02d}" for y, m, _ in months], "督办件数": [n for _, _, n in months]}
    )
    return (
        alt.Chart(frame, title="各月新增督办事项")
        .mark_bar(**bar)
        .encode(x=alt.X("月份:O", title=None), y=alt.Y("督办件数:Q"), tooltip=["月份", "督办件数"])
    )


def on_time_by_unit(units: Sequence[Kpis], *, title: str, sort: str) -> alt.Chart:
    """按时反馈率 per unit as horizontal bars, coloured like the work report's chart
    (`duban.reports.chart_on_time_by_unit`); `sort` is Altair's y-sort ("x" lowest first)."""
    frame = pd.DataFrame(
        {
            "承办单位": [u.unit_name for u in units],
            "按时反馈率": [round(100 * (u.on_time_rate.value or 0), 1) for u in units],
            "分子/分母": [
                f"{u.on_time_rate.numerator}/{u.on_time_rate.denominator}" for u in units
            ],
        }
    )
    return (
        alt.Chart(frame, title=title)
        .mark_bar()
        .encode(
            y=alt.Y("承办单位:N", sort=sort, title=None),
            x=alt.X("按时反馈率:Q", scale=alt.Scale(domain=[0, 100])),
            color=alt.condition(
                alt.datum["按时反馈率"] < ON_TIME_ALERT,
                alt.value(ALERT_COLOR),
                alt.value(BAR_COLOR),
            ),
            tooltip=["承办单位", "按时反馈率", "分子/分母"],
        )
    )
