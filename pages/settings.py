"""系统设置: the working-day calendar (each year's holiday schedule), the office's details and
parameters, and data backup."""

import pandas as pd
import streamlit as st
from sqlmodel import Session

from duban import audit
from duban.backup import create_backup, list_backups
from duban.cases import change_year_schedule
from duban.clock import today
from duban.enums import AuditAction
from duban.settings import LABELS, read_settings, save_settings
from duban.workdays import Calendar, holiday_overrides, parse_day_list
from ui import chasing_settings
from ui.common import actor, engine, literal, user_action

st.title("系统设置")
tab_calendar, tab_office, tab_backup, tab_chasing = st.tabs(
    ["工作日历", "单位与参数", "数据备份", "签收与邮件"]
)

with tab_calendar:
    st.caption(
        "截止日期按“不含当天的第 N 个工作日”计算，跳过周末和法定节假日，计入调休上班日。"
        "内置日历覆盖 2004–2026 年；之后的年份请在国务院办公厅公布放假安排后录入，"
        "录入前按周末暂估，并在页面上标注“暂估”。"
    )
    this_year = today().year
    with Session(engine()) as session:
        calendar = Calendar.load(session)
        overrides = holiday_overrides(session, actor())
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
                    changed = change_year_schedule(
                        session,
                        actor(),
                        int(year),
                        parse_day_list(holidays),
                        parse_day_list(weekends),
                        note,
                    )
                    session.commit()
                st.success(f"{int(year)} 年节假日安排已保存，重新计算了 {changed} 个环节的截止日期")
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

with tab_office:
    OFFICE_KEYS = [
        "office_name",
        "office_contact",
        "office_phone",
        "case_no_prefix",
        "raw_columns_safe",
    ]
    with Session(engine()) as session:
        current = read_settings(session, actor(), [*OFFICE_KEYS, "idle_timeout_minutes"])
    with st.form("settings_office_form"):
        st.caption("单位名称、联系人和电话印在生成的文书上；督办编号形如“前缀〔2024〕第001号”。")
        values = {
            key: st.text_input(LABELS[key], value=current[key], max_chars=100)
            for key in OFFICE_KEYS
        }
        values["idle_timeout_minutes"] = st.number_input(
            LABELS["idle_timeout_minutes"],
            min_value=5,
            max_value=1440,
            value=int(current["idle_timeout_minutes"]),
            step=5,
            help="超过这段时间没有操作，登录自动失效，需要重新登录。",
        )
        if st.form_submit_button("保存", type="primary"):
            with user_action():
                with Session(engine()) as session:
                    changed = save_settings(session, actor(), values)
                    session.commit()
                st.success(
                    "已保存：" + "、".join(LABELS[k] for k in changed) if changed else "没有修改"
                )

with tab_backup:
    st.caption(
        "备份包括数据库（运行中也能得到一致的副本）以及 data/documents 与 data/uploads 中的文件，"
        "保存在 data/backups 下以备份时间命名的文件夹中，只保留最新的若干份。恢复方法见 docs/DEPLOY.md。"
    )
    if st.button("立即备份", type="primary", key="settings_backup_now"):
        with user_action():
            with st.spinner("正在备份…"):
                with Session(engine()) as session:
                    result = create_backup(session, actor())
                    session.commit()
            st.success(
                f"备份完成：{literal(result.backup.path)}（文件 {result.backup.files} 个"
                + (f"，清理旧备份 {len(result.pruned)} 份" if result.pruned else "")
                + "）"
            )
    with Session(engine()) as session:
        last = audit.latest(session, AuditAction.BACKUP, "backup")
        keep = int(read_settings(session, actor(), ["backup_keep"])["backup_keep"])
        dialect = session.get_bind().dialect.name
    if dialect != "sqlite":
        st.warning(
            "当前使用 PostgreSQL：此处只备份文件，数据库请用 pg_dump 定时备份（见 docs/DEPLOY.md）。"
        )
    st.metric("上次备份", f"{last.at:%Y-%m-%d %H:%M}" if last else "尚未备份")
    if last is not None:
        st.text(f"位置：{last.new}")
    with st.form("settings_backup_form"):
        new_keep = st.number_input(
            LABELS["backup_keep"], min_value=1, max_value=365, value=keep, step=1
        )
        if st.form_submit_button("保存"):
            with user_action():
                with Session(engine()) as session:
                    save_settings(session, actor(), {"backup_keep": int(new_keep)})
                    session.commit()
                st.success(f"已保存：保留最新的 {int(new_keep)} 份备份")
    backups = list_backups()
    if backups:
        st.subheader("已有备份")
        st.dataframe(
            pd.DataFrame(
                {
                    "时间": [f"{b.created_at:%Y-%m-%d %H:%M:%S}" for b in backups],
                    "数据库": ["已包含" if b.has_database else "需 pg_dump" for b in backups],
                    "文件数": [b.files for b in backups],
                    "位置": [str(b.path) for b in backups],
                    "说明": [b.note for b in backups],
                }
            ),
            hide_index=True,
        )

with tab_chasing:
    chasing_settings.draw()
