"""看板: 逾期 / 即将到期 / 待提级 / 承办单位, one filter bar for all four boards.

Every row links to its case (`/cases?case=ID`; 提级 to `&action=escalate`). Picking a unit in
the units table or chart sets the unit filter, so the other boards show that unit. The
filters and the open tab live in the URL (`/boards?boards_tab=即将到期&boards_unit=镇城建中心`).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from sqlmodel import Session, select

from duban import boards
from duban.boards import BoardFilter, EscalationRow, StepRow
from duban.clock import cn_date, today
from duban.enums import Level, Scope
from duban.models import Unit
from duban.permissions import Actor, Perm
from duban.workdays import Calendar
from ui.common import actor, engine

TABS = ["逾期", "即将到期", "待提级", "承办单位"]
DAY = st.column_config.DateColumn(format="YYYY-MM-DD")
LINK = st.column_config.LinkColumn("查看", display_text="打开 →", width="small")

me: Actor = actor()
day = today()
st.title("看板")
st.caption(
    f"{cn_date(day)} · 截止日逢休息日顺延至下一个工作日 · 标“暂估”的截止日期所在年份节假日尚未录入"
)

with Session(engine()) as session:
    units = dict(
        session.exec(
            select(Unit.id, Unit.name)
            .where(Unit.deleted_at.is_(None), Unit.active)  # type: ignore[union-attr]
            .order_by(Unit.name)
        ).all()
    )


def pick_unit(unit_id: int | None) -> None:
    """Set the unit filter (from the units table or chart); the other boards follow it."""
    if unit_id in units:
        st.session_state["boards_unit"] = unit_id


def on_table_pick() -> None:
    rows = st.session_state["boards_units_table"]["selection"]["rows"]
    ids = st.session_state.get("boards_units_ids", [])
    if rows and rows[0] < len(ids):
        pick_unit(ids[rows[0]])


def on_chart_pick() -> None:
    points = st.session_state["boards_units_chart"]["selection"].get("unit", [])
    if points:
        pick_unit(points[0].get("unit_id"))


# --- filters ------------------------------------------------------------------------------
all_units = me.can(Perm.VIEW_ALL)
cols = st.columns([3, 2, 3, 2, 2])
if all_units:
    unit_id = cols[0].selectbox(
        "承办单位",
        [None, *units],
        format_func=lambda u: "全部单位" if u is None else units[u],
        key="boards_unit",
        bind="query-params",
    )
else:  # a unit user sees their own unit only
    unit_id = me.unit_id
    cols[0].selectbox(
        "承办单位", [units.get(unit_id or -1, "（未关联单位）")], disabled=True, key="boards_own"
    )
level = cols[1].selectbox(
    "督办类型",
    [None, *Level],
    format_func=lambda v: "全部" if v is None else v.label,
    key="boards_level",
)
scope = cols[2].selectbox(
    "协调督办范围",
    [None, *Scope],
    format_func=lambda v: "全部" if v is None else v.label,
    key="boards_scope",
)
since = cols[3].date_input("立案日期从", value=None, key="boards_since")
until = cols[4].date_input("立案日期至", value=None, key="boards_until")
filt = BoardFilter(unit_id, level, scope, since, until).pinned_to(me)


# --- the boards ---------------------------------------------------------------------------
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
            "查看": [r.link for r in rows],
        }
    )


def show_steps(rows: list[StepRow], days_label: str, empty: str, key: str) -> None:
    if not rows:
        st.success(empty)
        return
    st.dataframe(
        step_frame(rows, days_label),
        hide_index=True,
        key=key,
        column_config={"下发日期": DAY, "截止日期": DAY, "查看": LINK},
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
            "查看": [r.link for r in rows],
            "提级": [r.escalate_link for r in rows],
        }
    )


tabs = st.tabs(TABS, key="boards_tab", on_change="rerun", bind="query-params")
with Session(engine()) as session:
    calendar = Calendar.load(session)
    if tabs[0].open:
        with tabs[0]:
            rows = boards.overdue_board(session, day, calendar, filt)
            st.caption(f"共 {len(rows)} 个逾期环节，按逾期时间从长到短排列")
            show_steps(rows, "逾期工作日", "没有逾期的督办环节。", "boards_overdue")
    if tabs[1].open:
        with tabs[1]:
            rows = boards.due_soon_board(session, day, calendar, filt)
            st.caption(f"共 {len(rows)} 个环节今天或 2 个工作日内到期（剩余 0 表示今天到期）")
            show_steps(rows, "剩余工作日", "近 2 个工作日内没有到期的督办环节。", "boards_soon")
    if tabs[2].open:
        with tabs[2]:
            rows = boards.escalation_board(session, day, filt)
            st.caption(
                f"共 {len(rows)} 件：经督办仍未有处置进展（反馈“无进展”，或逾期且无合规反馈），"
                "可纳入提级办理范围；点“提级 →”打开下一级的督办表单"
            )
            if rows:
                st.dataframe(
                    escalation_frame(rows),
                    hide_index=True,
                    key="boards_escalation",
                    column_config={
                        "截止日期": DAY,
                        "查看": LINK,
                        "提级": st.column_config.LinkColumn("提级", display_text="提级 →"),
                    },
                )
            else:
                st.success("目前没有待提级的督办事项。")
    if tabs[3].open:
        with tabs[3]:
            unit_rows = boards.unit_board(session, day, calendar, filt)
            trend = boards.month_trend(session, day, filt)
            st.caption(
                "在办督办事项：作为主办或协办的在办事项；逾期环节：须由该单位反馈且已逾期；"
                "按时反馈率 = 按时 ÷（按时 + 逾期）；提级：离开该单位环节向上一级的次数；"
                "回访满意率 =（满意 + 基本满意）÷ 已回访工单。点选表格行或柱形即按该单位筛选各看板。"
            )
            st.session_state["boards_units_ids"] = [r.unit_id for r in unit_rows]
            frame = pd.DataFrame(
                {
                    "承办单位": [r.unit_name for r in unit_rows],
                    "在办督办事项": [r.open_cases for r in unit_rows],
                    "逾期环节": [r.overdue_steps for r in unit_rows],
                    "按时反馈率": [
                        None if r.on_time.value is None else r.on_time.value * 100
                        for r in unit_rows
                    ],
                    "按时/应反馈": [
                        f"{r.on_time.numerator}/{r.on_time.denominator}" for r in unit_rows
                    ],
                    "提级": [r.escalations for r in unit_rows],
                    "移交纪委": [r.referrals for r in unit_rows],
                    "回访满意率": [
                        None if r.satisfaction.value is None else r.satisfaction.value * 100
                        for r in unit_rows
                    ],
                    "满意/已回访": [
                        f"{r.satisfaction.numerator}/{r.satisfaction.denominator}"
                        for r in unit_rows
                    ],
                }
            )
            percent = st.column_config.NumberColumn(format="%.1f%%")
            st.dataframe(
                frame,
                hide_index=True,
                key="boards_units_table",
                on_select=on_table_pick,
                selection_mode="single-row",
                column_config={"按时反馈率": percent, "回访满意率": percent},
            )
            if filt.unit_id is not None and all_units:
                st.button(
                    "显示全部单位",
                    on_click=lambda: st.session_state.update(boards_unit=None),
                    key="boards_clear_unit",
                )
            bars = pd.DataFrame(
                [
                    {"unit_id": r.unit_id, "承办单位": r.unit_name, "指标": name, "数量": n}
                    for r in unit_rows
                    for name, n in (("在办督办事项", r.open_cases), ("逾期环节", r.overdue_steps))
                    if r.open_cases or r.overdue_steps
                ]
            )
            if not bars.empty:
                pick = alt.selection_point(name="unit", fields=["unit_id"])
                chart = (
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
                )
                st.altair_chart(chart, key="boards_units_chart", on_select=on_chart_pick)
            months = pd.DataFrame(
                [
                    {"月份": m.month, "指标": name, "数量": n}
                    for m in trend
                    for name, n in (("新立案", m.opened), ("到期环节", m.due), ("逾期环节", m.late))
                ]
            )
            who = units.get(filt.unit_id, "全部单位") if filt.unit_id else "全部单位"
            st.altair_chart(
                alt.Chart(months, title=f"按月趋势（{who}）")
                .mark_line(point=True)
                .encode(
                    x=alt.X("月份:O", title=None),
                    y=alt.Y("数量:Q", title="数量"),
                    color=alt.Color("指标:N", title=None),
                    tooltip=["月份", "指标", "数量"],
                )
            )
