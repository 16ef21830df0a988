"""领导驾驶舱: one page for a projector — today's open work, the period's key rates, the
months, the units that need attention and the escalated matters.

Figures from `duban.kpi` (same formulas as 报表 and the work report) and `duban.boards`
(today's open and overdue steps). Session keys are prefixed `cockpit_`.
"""

import pandas as pd
import streamlit as st
from sqlmodel import Session

from duban import kpi, reports
from duban.assessment import assess, points
from duban.boards import headline
from duban.clock import cn_date, today
from duban.kpi import Period, Selection
from duban.workdays import Calendar
from ui import charts
from ui.common import actor, engine

st.markdown(
    "<style>[data-testid='stMetricValue']{font-size:2.6rem}"
    "[data-testid='stMetricLabel'] p{font-size:1.1rem}</style>",
    unsafe_allow_html=True,
)
me = actor()
day = today()
choices = {
    "本年": Period.year(day.year),
    "本季度": Period.quarter(day.year, (day.month - 1) // 3 + 1),
    "本月": Period.month(day.year, day.month),
}
head = st.columns([3, 1])
head[0].title("领导驾驶舱")
label = head[1].segmented_control(
    "统计区间", list(choices), default="本年", required=True, key="cockpit_period"
)
period = choices[label]
sel = Selection(period, as_of=day)

with Session(engine()) as session:
    calendar = Calendar.load(session)
    now_numbers = headline(session, me, day, calendar)
    figures = kpi.compute(session, sel, calendar)
    months = kpi.cases_by_month(session, sel)
    escalated = reports.escalated_matters(session, period)
    scores = assess(session, sel, calendar=calendar, computed=figures)
o = figures.overall

st.caption(f"{cn_date(day)} · 统计区间 {period.label}（{cn_date(period.start)}起）")

cols = st.columns(4)
cols[0].metric("在办督办事项", now_numbers.open_cases, border=True)
cols[1].metric("逾期未反馈环节", now_numbers.overdue_steps, border=True)
cols[2].metric("2 个工作日内到期", now_numbers.due_soon_steps, border=True)
cols[3].metric(f"{label}新增督办", o.cases, border=True)

cols = st.columns(4)
for col, (name, ratio) in zip(
    cols,
    [
        ("按时反馈率", o.on_time_rate),
        ("办结率", o.closure_rate),
        ("提级率", o.escalation_rate),
        ("回访满意率", o.satisfaction_rate),
    ],
    strict=True,
):
    col.metric(name, ratio.percent(), border=True)
    col.caption(f"{ratio.numerator} / {ratio.denominator}")

left, right = st.columns(2)
with left:
    st.altair_chart(charts.cases_by_month(months, color=reports.BAR_COLOR), width="stretch")
with right:
    measured = sorted(
        (u for u in figures.units if u.on_time_rate.denominator),
        key=lambda u: (u.on_time_rate.value or 0, u.unit_name),
    )[:10]
    if measured:
        st.altair_chart(
            charts.on_time_by_unit(measured, title="按时反馈率最低的单位（%）", sort="x"),
            width="stretch",
        )
    else:
        st.info("本期没有到期的督办环节。")

left, right = st.columns(2)
with left:
    st.subheader("提级办理事项")
    if escalated:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "督办编号": c.case_no,
                        "督办事项": c.title,
                        "承办单位": c.units,
                        "办理结果": c.outcome,
                    }
                    for c in escalated
                ]
            ),
            hide_index=True,
        )
    else:
        st.info("本期无提级办理事项。")
with right:
    st.subheader("考核得分靠后的单位")
    bottom = [s for s in reversed(scores.sheets) if s.items][:5]
    if bottom:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "承办单位": s.unit_name,
                        "得分": points(s.score),
                        "逾期环节": s.count("overdue_step"),
                        "提级": s.count("escalation"),
                        "排名": s.rank,
                    }
                    for s in bottom
                ]
            ),
            hide_index=True,
        )
    else:
        st.info("本期没有扣分的单位。")
