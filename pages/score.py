"""热线考核: the platform's per-unit score of a period (a month by default), both groups ranked
with every indicator and the change against the previous period, a unit's trend, and the
tickets that cost a unit points on an indicator. The center keeps the weights and the manual
deductions here. Numbers and visibility come from `duban.score`; session keys `score_`.
"""

from __future__ import annotations

from datetime import date

import altair as alt
import streamlit as st
from sqlmodel import Session

from duban import score
from duban.clock import cn_date, today
from duban.kpi import Period
from duban.permissions import Perm
from ui import score_data
from ui.common import actor, engine, literal, user_action
from ui.shared import change_stamp

me = actor()
st.title("热线考核")

# --- period -------------------------------------------------------------------------------------

cols = st.columns([1.6, 1, 1, 2.4])
kind = cols[0].segmented_control(
    "统计区间", ["月度", "自定义"], default="月度", required=True, key="score_kind"
)
period: Period | None = None
with user_action():
    if kind == "月度":
        year = cols[1].selectbox(
            "年份",
            list(range(today().year, today().year - 6, -1)),
            key="score_year",
            placeholder="请选择",
        )
        month = cols[2].selectbox(
            "月份",
            range(1, 13),
            index=today().month - 1,
            format_func=lambda m: f"{m}月",
            key="score_month",
            placeholder="请选择",
        )
        period = Period.month(year, month)
    else:
        picked = cols[1].date_input(
            "起止日期",
            value=(date(today().year, today().month, 1), today()),
            key="score_range",
            format="YYYY-MM-DD",
        )
        days = list(picked) if isinstance(picked, tuple) else [picked]
        period = Period(days[0], days[-1])
if period is None:
    st.stop()

stamp = change_stamp()
card = None
with user_action():
    card = score_data.scorecard(stamp, me, period.start, period.end)
if card is None:
    st.stop()
before = score.previous_period(period)
st.caption(
    f"统计区间：{period.label}（{cn_date(period.start)}—{cn_date(period.end)}），按诉求时间计；"
    f"较上期：与{before.label}比较。比率为 — 表示分母为 0；无工单的单位列出但不排名。"
    "计分公式见下方“考核规则”。"
)
if card.own_unit_id is not None:
    own = card.row(card.own_unit_id)
    if own is not None:
        rank = "未排名" if own.rank is None else f"第 {own.rank} 名"
        st.info(
            f"本单位：{literal(own.unit_name)}（{own.group}组），总得分 {own.total:.2f}，{rank}"
        )

# --- the two rankings ------------------------------------------------------------------------------

for group in card.groups:
    st.subheader(f"{group}排名")
    st.dataframe(score_data.group_frame(card, group), hide_index=True, width="stretch")


def _export() -> bytes:
    """The xlsx, built when the button is clicked (the export is audited)."""
    with Session(engine()) as session:
        data = score.export_xlsx(session, me, period)
        session.commit()
    return data


st.download_button(
    "导出 xlsx（报表格式，含考核规则）",
    _export,
    file_name=f"热线考核_{period.start.isoformat()}_{period.end.isoformat()}.xlsx",
    mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    key="score_export",
)


# --- one unit: lost-point tickets and trend ----------------------------------------------------------

st.subheader("失分工单与趋势")
names = {r.unit_id: r.unit_name for r in card.rows}
choices = [card.own_unit_id] if card.own_unit_id in names else list(names)
if not choices:
    st.info("本区间没有可考核的承办单位")
    st.stop()
c1, c2 = st.columns([1.4, 3])
if len(choices) == 1:  # a unit user: its own unit only
    unit_id = choices[0]
    c1.markdown(f"承办单位：**{literal(names[unit_id])}**")
else:
    unit_id = c1.selectbox(
        "承办单位", choices, format_func=names.get, key="score_unit", placeholder="请选择"
    )
indicator = c2.segmented_control(
    "考核指标",
    list(score.INDICATORS),
    format_func=score.INDICATORS.get,
    default="contact",
    required=True,
    key="score_indicator",
)
row = card.row(unit_id)
if row is not None and indicator:
    lost_points = row.lost()[indicator]
    note = ""
    if indicator == "overdue" and row.manual_points:
        note = f"（其中人工扣分 {score.two(row.manual_points)} 分，见下方扣分记录）"
    st.markdown(
        f"**{literal(row.unit_name)}** · {score.INDICATORS[indicator]}失分 "
        f"{score.two(lost_points)} 分{note}"
    )
    with user_action():
        frame = score_data.lost(stamp, me, period.start, period.end, unit_id, indicator)
        if frame.empty:
            st.caption("没有因该指标失分的工单")
        else:
            st.dataframe(frame, hide_index=True, width="stretch")
    with user_action():
        points = score_data.trend(stamp, me, unit_id, period.start, period.end)
        chart = (
            alt.Chart(points, title=f"{row.unit_name} 近 12 个月总得分")
            .mark_line(point=True)
            .encode(
                x=alt.X("月份:O", title=None),
                y=alt.Y("总得分:Q"),
                tooltip=["月份", "总得分", "排名"],
            )
        )
        st.altair_chart(chart, width="stretch")

# --- rules and deductions -------------------------------------------------------------------------

rules, history, lines = score_data.rules_and_deductions(stamp, me, period.start, period.end)
st.subheader("人工扣分")
if lines:
    st.dataframe(
        {
            "承办单位": [d.unit_name for d in lines],
            "日期": [cn_date(d.day) for d in lines],
            "扣分": [score.shown(d.points) for d in lines],
            "事由": [d.reason for d in lines],
            "登记人": [d.who or "—" for d in lines],
            "登记时间": [cn_date(d.at) for d in lines],
        },
        hide_index=True,
        width="stretch",
    )
else:
    st.caption("本区间没有人工扣分")

if me.can(Perm.MANAGE_SCORE):
    with st.form("score_deduction_form", clear_on_submit=True):
        f1, f2, f3 = st.columns([1.4, 1, 0.8])
        target = f1.selectbox("扣分单位", list(names), format_func=names.get, placeholder="请选择")
        day = f2.date_input("扣分日期", value=min(today(), period.end), format="YYYY-MM-DD")
        points_text = f3.text_input("扣分", placeholder="例如 1 或 0.5")
        reason = st.text_input("扣分事由", placeholder="例如：工单推诿被区通报")
        if st.form_submit_button("登记扣分"):
            with user_action():
                with Session(engine()) as session:
                    score.add_deduction(session, me, target, day, points_text, reason)
                    session.commit()
                st.rerun()
    if lines:
        w1, w2 = st.columns([3, 1])
        gone = w1.selectbox(
            "撤销扣分",
            lines,
            format_func=lambda d: (
                f"{d.unit_name} {cn_date(d.day)} 扣 {score.shown(d.points)} 分：{d.reason}"
            ),
            key="score_withdraw",
            placeholder="请选择",
        )
        if w2.button("撤销", key="score_withdraw_go"):
            with user_action():
                with Session(engine()) as session:
                    score.remove_deduction(session, me, gone.id, gone.version)
                    session.commit()
                st.rerun()

with st.expander("考核规则"):
    for formula in score.formulas(rules):
        st.markdown(f"- {literal(formula)}")
    if me.can(Perm.MANAGE_SCORE):
        with st.form("score_rules_form"):
            values = {}
            current = rules.to_dict()
            grid = st.columns(3)
            for i, (key, label) in enumerate(score.RULE_LABELS.items()):
                values[key] = grid[i % 3].text_input(label, value=score.shown(current[key]))
            if st.form_submit_button("保存考核规则"):
                with user_action():
                    with Session(engine()) as session:
                        score.save_rules(session, me, values)
                        session.commit()
                    st.rerun()
    else:
        st.dataframe(
            {"规则": [k for k, _ in rules.lines()], "取值": [v for _, v in rules.lines()]},
            hide_index=True,
        )
    if history:
        st.markdown("**修改记录**")
        st.dataframe(
            {
                "时间": [f"{cn_date(h.at)} {h.at:%H:%M}" for h in history],
                "修改人": [h.username for h in history],
                "规则": [h.rule for h in history],
                "原值": [h.old for h in history],
                "新值": [h.new for h in history],
            },
            hide_index=True,
            width="stretch",
        )
