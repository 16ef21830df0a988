"""首页: today's headline numbers."""

import streamlit as st
from sqlmodel import Session

from duban.boards import headline
from duban.clock import cn_date, today
from duban.enums import Level
from duban.workdays import Calendar
from ui.common import actor, engine

st.title("12345 热线督办台账")
st.caption(f"今天是 {cn_date(today())} · 当前用户：{actor().username}")

with Session(engine()) as session:
    numbers = headline(session, today(), Calendar.load(session))

cols = st.columns(5)
cols[0].metric("在办督办事项", numbers.open_cases)
for col, level in zip(cols[1:4], Level, strict=True):
    col.metric(level.label, numbers.open_by_level[level])
cols[4].metric("逾期环节", numbers.overdue_steps)
st.metric("即将到期（2 个工作日内）", numbers.due_soon_steps)
