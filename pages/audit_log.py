"""操作日志: the append-only change log, filtered by user, object, action and date. Read-only.

`audit_log?entity=case&id=12` opens the trail of one record (e.g. from a case's page).
"""

import math
from datetime import date

import pandas as pd
import streamlit as st
from sqlmodel import Session

from duban import audit, readable
from duban.enums import AuditAction
from ui.common import actor, engine, user_action

PAGE_SIZE = 200
ALL = "（全部）"

st.title("操作日志")
st.caption(
    "记录每一次新增、修改、删除、流转、登录、导出、生成文书和备份：谁、何时、对象、字段、原值 → 新值。日志只能追加，任何人都不能修改或删除。"
)
me = actor()

loaded = False
with user_action():
    with Session(engine()) as session:
        names = audit.usernames(session, me)
        entities = audit.entities(session, me)
        loaded = True
if not loaded:
    st.stop()

params = st.query_params
wanted_entity = params.get("entity", "")
wanted_id = params.get("id", "")

cols = st.columns(4)
username = cols[0].selectbox("用户", [ALL, *names], key="audit_log_user", placeholder="请选择")
entity_options = [ALL, *entities]
entity = cols[1].selectbox(
    "对象",
    entity_options,
    index=entity_options.index(wanted_entity) if wanted_entity in entity_options else 0,
    format_func=lambda e: e if e == ALL else audit.entity_label(e),
    key="audit_log_entity",
    placeholder="请选择",
)
action = cols[2].selectbox(
    "操作",
    [ALL, *AuditAction],
    format_func=lambda a: a if a == ALL else a.label,
    key="audit_log_action",
    placeholder="请选择",
)
entity_id_text = cols[3].text_input(
    "记录编号", value=wanted_id if wanted_id.isdigit() else "", key="audit_log_id", max_chars=12
)
cols = st.columns(4)
date_from = cols[0].date_input("起始日期", value=None, key="audit_log_from", format="YYYY-MM-DD")
date_to = cols[1].date_input("截止日期", value=None, key="audit_log_to", format="YYYY-MM-DD")

entity_id = int(entity_id_text) if entity_id_text.strip().isdigit() else None
if entity_id_text.strip() and entity_id is None:
    st.warning("记录编号：请输入数字")
if isinstance(date_from, date) and isinstance(date_to, date) and date_to < date_from:
    st.warning("截止日期早于起始日期，没有符合条件的记录")

filters = {
    "username": None if username == ALL else username,
    "entity": None if entity == ALL else entity,
    "action": None if action == ALL else action,
    "entity_id": entity_id,
    "date_from": date_from if isinstance(date_from, date) else None,
    "date_to": date_to if isinstance(date_to, date) else None,
}
with Session(engine()) as session:
    total = audit.search(session, me, limit=1, **filters).total
pages = max(1, math.ceil(total / PAGE_SIZE))
page_no = cols[2].number_input("页码", min_value=1, max_value=pages, value=1, key="audit_log_page")
cols[3].metric("符合条件的记录", total)

with Session(engine()) as session:
    rows = readable.log_lines(
        session,
        audit.search(
            session, me, limit=PAGE_SIZE, offset=(int(page_no) - 1) * PAGE_SIZE, **filters
        ).rows,
    )

st.dataframe(
    pd.DataFrame(
        {
            "时间": [f"{r.at:%Y-%m-%d %H:%M:%S}" for r in rows],
            "用户": [r.person for r in rows],
            "操作": [r.action for r in rows],
            "对象": [r.entity for r in rows],
            "编号": [str(r.entity_id) if r.entity_id is not None else "" for r in rows],
            "字段": [r.field for r in rows],
            "原值": [r.old for r in rows],
            "新值": [r.new for r in rows],
            "说明": [r.note for r in rows],
        },
        dtype="string",
    ),
    hide_index=True,
)
st.caption(f"第 {int(page_no)} / {pages} 页，每页 {PAGE_SIZE} 条，最新的在前。")
