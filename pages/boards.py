"""看板: 逾期 / 即将到期 / 待提级 / 承办单位, one filter bar for all four boards.

One click on a row opens its case in the same tab (on 待提级 with the escalation form open).
Picking a unit in
the units table or chart sets the unit filter, so the other boards show that unit. The
filters and the open tab live in the URL (`/boards?boards_tab=即将到期&boards_unit=镇城建中心`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from duban.boards import BoardFilter
from duban.clock import cn_date, today
from duban.enums import Level, Scope
from duban.permissions import Actor, Perm
from ui import board_data
from ui.common import actor
from ui.shared import change_stamp

TABS = ["逾期", "即将到期", "待提级", "承办单位"]
DAY = st.column_config.DateColumn(format="YYYY-MM-DD")
HIDDEN = {"case_id": None}

me: Actor = actor()
day = today()
st.title("看板")
st.caption(
    f"{cn_date(day)} · 截止日逢休息日顺延至下一个工作日 · 标“暂估”的截止日期所在年份节假日尚未录入"
)


stamp = change_stamp()
units = board_data.active_units(stamp, me)


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
        placeholder="请选择",
    )
else:  # a unit user sees their own unit only
    unit_id = me.unit_id
    cols[0].selectbox(
        "承办单位",
        [units.get(unit_id or -1, "（未关联单位）")],
        disabled=True,
        key="boards_own",
        placeholder="请选择",
    )
level = cols[1].selectbox(
    "督办类型",
    [None, *Level],
    format_func=lambda v: "全部" if v is None else v.label,
    key="boards_level",
    placeholder="请选择",
)
scope = cols[2].selectbox(
    "协调督办范围",
    [None, *Scope],
    format_func=lambda v: "全部" if v is None else v.label,
    key="boards_scope",
    placeholder="请选择",
)
since = cols[3].date_input("立案日期从", value=None, key="boards_since")
until = cols[4].date_input("立案日期至", value=None, key="boards_until")
filt = BoardFilter(unit_id, level, scope, since, until)


# --- the boards ---------------------------------------------------------------------------
def case_table(frame: pd.DataFrame, key: str, action: str = "", **config: Any) -> None:
    """A board whose rows open their case on the 督办事项 page, in this tab, on one click."""
    event = st.dataframe(
        frame,
        hide_index=True,
        key=key,
        on_select="rerun",
        selection_mode="single-row",
        column_config={**config, **HIDDEN},
    )
    rows = event.selection.rows  # type: ignore[attr-defined]
    if rows:
        params = {"case": str(frame.iloc[rows[0]]["case_id"])}
        if action:
            params["action"] = action
        st.switch_page("pages/cases.py", query_params=params)


def show_steps(frame: pd.DataFrame, empty: str, key: str) -> None:
    if frame.empty:
        st.success(empty)
        return
    st.caption("点选一行即打开该督办事项")
    case_table(frame, key, 下发日期=DAY, 截止日期=DAY)


def units_view() -> None:
    frame, ids, bars, months = board_data.units_tables(stamp, me, day, filt)
    st.caption(
        "在办督办事项：作为主办或协办的在办事项；逾期环节：须由该单位反馈且已逾期；"
        "按时反馈率 = 按时 ÷（按时 + 逾期）；及时签收率 = 及时签收 ÷（及时 + 超时或过期未签收）；"
        "催办次数、延期申请按催办、申请日期计；提级：离开该单位环节向上一级的次数；"
        "回访满意率 =（满意 + 基本满意）÷ 已回访工单。点选表格行或柱形即按该单位筛选各看板。"
    )
    st.session_state["boards_units_ids"] = ids
    percent = st.column_config.NumberColumn(format="%.1f%%")
    st.dataframe(
        frame,
        hide_index=True,
        key="boards_units_table",
        on_select=on_table_pick,
        selection_mode="single-row",
        column_config={"按时反馈率": percent, "及时签收率": percent, "回访满意率": percent},
    )
    if filt.unit_id is not None and all_units:
        st.button(
            "显示全部单位",
            on_click=lambda: st.session_state.update(boards_unit=None),
            key="boards_clear_unit",
        )
    if bars:
        st.vega_lite_chart(bars, key="boards_units_chart", on_select=on_chart_pick)
    st.vega_lite_chart(months)


tabs = st.tabs(TABS, key="boards_tab", on_change="rerun", bind="query-params")
if tabs[0].open:
    with tabs[0]:
        frame = board_data.overdue_frame(stamp, me, day, filt)
        st.caption(f"共 {len(frame)} 个逾期环节，按逾期时间从长到短排列")
        show_steps(frame, "没有逾期的督办环节。", "boards_overdue")
if tabs[1].open:
    with tabs[1]:
        frame = board_data.due_soon_frame(stamp, me, day, filt)
        st.caption(f"共 {len(frame)} 个环节今天或 2 个工作日内到期（剩余 0 表示今天到期）")
        show_steps(frame, "近 2 个工作日内没有到期的督办环节。", "boards_soon")
if tabs[2].open:
    with tabs[2]:
        frame = board_data.escalation_table(stamp, me, day, filt)
        st.caption(
            f"共 {len(frame)} 件：经督办仍未有处置进展（反馈“无进展”，或逾期且无合规反馈），"
            "可纳入提级办理范围；点选一行即打开该事项的提级表单"
        )
        if frame.empty:
            st.success("目前没有待提级的督办事项。")
        else:
            case_table(frame, "boards_escalation", "escalate", 截止日期=DAY)
if tabs[3].open:
    with tabs[3]:
        units_view()
