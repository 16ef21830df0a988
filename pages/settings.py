"""系统设置: the working-day calendar (each year's holiday schedule)."""

import pandas as pd
import streamlit as st
from sqlmodel import Session, select

from duban.clock import today
from duban.models import HolidayOverride
from duban.workdays import Calendar, parse_day_list, set_year_schedule
from ui.common import actor, engine, user_action

st.title("系统设置")
(tab_calendar,) = st.tabs(["工作日历"])

with tab_calendar:
    st.caption(
        "截止日期按“不含当天的第 N 个工作日”计算，跳过周末和法定节假日，计入调休上班日。"
        "内置日历覆盖 2004–2026 年；之后的年份请在国务院办公厅公布放假安排后录入，"
        "录入前按周末暂估，并在页面上标注“暂估”。"
    )
    this_year = today().year
    with Session(engine()) as session:
        calendar = Calendar.load(session)
        overrides = session.exec(select(HolidayOverride).order_by(HolidayOverride.day)).all()
    years = sorted({*range(this_year - 2, this_year + 3), *calendar.confirmed_years})
    status = calendar.year_status(years)
    st.dataframe(
        pd.DataFrame({"年份": [str(y) for y in years], "节假日安排": [status[y] for y in years]}),
        hide_index=True,
    )

    with st.form("settings_calendar_form"):
        year = st.number_input("年份", min_value=2004, max_value=2100, value=this_year + 1, step=1)
        holidays = st.text_area("放假日期（每行一个日期，或用 ~ 写范围，如 2027-02-06~2027-02-13）")
        weekends = st.text_area("调休上班的周末日期")
        note = st.text_input("依据（如 国办发明电〔2026〕X号）")
        if st.form_submit_button("保存该年安排", type="primary"):
            with user_action():
                with Session(engine()) as session:
                    set_year_schedule(
                        session,
                        actor(),
                        int(year),
                        parse_day_list(holidays),
                        parse_day_list(weekends),
                        note,
                    )
                    session.commit()
                st.success(f"{int(year)} 年节假日安排已保存")
                st.rerun()

    if overrides:
        st.subheader("已录入的日期")
        st.dataframe(
            pd.DataFrame(
                {
                    "日期": [o.day.isoformat() for o in overrides],
                    "类型": ["上班" if o.is_workday else "放假" for o in overrides],
                    "说明": [o.name for o in overrides],
                }
            ),
            hide_index=True,
        )
