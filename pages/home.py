"""首页: for a leader who opens the app for 30 seconds — today's numbers, then the three most
urgent lists (longest overdue, due soonest, waiting to go up a level), each row a link to
its case. A unit user sees their own unit only."""

from __future__ import annotations

import streamlit as st

from duban.boards import BoardFilter
from duban.clock import cn_date, cn_due, today
from duban.enums import Level
from ui.board_data import URGENT, summary
from ui.common import actor, literal
from ui.shared import change_stamp

me = actor()
day = today()
st.title("12345 热线督办台账")
st.caption(f"今天是 {cn_date(day)} · 当前用户：{literal(me.name)}")

data = summary(change_stamp(), me, day, BoardFilter())
numbers, overdue, soon, eligible = data.numbers, data.overdue, data.due_soon, data.eligible

cols = st.columns(7)
cols[0].metric("在办督办事项", numbers.open_cases)
for col, level in zip(cols[1:4], Level, strict=True):
    col.metric(level.label, numbers.open_by_level[level])
cols[4].metric("逾期环节", numbers.overdue_steps)
cols[5].metric("即将到期", numbers.due_soon_steps, help="今天或 2 个工作日内到期的督办环节")
cols[6].metric("待提级", data.eligible_count)


def case_link(case_id: int, case_no: str, title: str, note: str) -> None:
    label = f"{literal(case_no)} {literal(title)}"
    st.page_link("pages/cases.py", label=label, query_params={"case": str(case_id)})
    st.caption(note)


def more(tab: str, count: int) -> None:
    if count > URGENT:
        st.page_link(
            "pages/boards.py", label=f"查看全部 {count} 项 →", query_params={"boards_tab": tab}
        )


left, middle, right = st.columns(3)
with left:
    st.subheader("逾期最久")
    for r in overdue:
        case_link(
            r.case_id,
            r.case_no,
            r.title,
            f"{r.unit_name} · {r.kind.label}截止 {cn_due(r.due_at, r.provisional)} · "
            f"逾期 {r.workdays} 个工作日 · {r.last_feedback}",
        )
    if not overdue:
        st.success("没有逾期的督办环节。")
    more("逾期", numbers.overdue_steps)
with middle:
    st.subheader("即将到期")
    for r in soon:
        when = "今天到期" if r.workdays == 0 else f"还剩 {r.workdays} 个工作日"
        case_link(
            r.case_id,
            r.case_no,
            r.title,
            f"{r.unit_name} · {r.kind.label}截止 {cn_due(r.due_at, r.provisional)} · {when}",
        )
    if not soon:
        st.success("近 2 个工作日内没有到期的督办环节。")
    more("即将到期", numbers.due_soon_steps)
with right:
    st.subheader("待提级")
    for r in eligible:
        target = r.next_level.label if r.next_level else ""
        case_link(r.case_id, r.case_no, r.title, f"{r.unit_name} · 可提至{target} · {r.reason}")
    if not eligible:
        st.success("目前没有待提级的督办事项。")
    more("待提级", data.eligible_count)
