"""新建督办 (确定督办事项): from tickets chosen in the ledger or a candidate group, or without
a ticket for a leader-instructed matter. Routing rules of past 专题会 are SUGGESTED here.

Other pages hand over a selection with
`st.session_state["case_new_prefill"] = {"ticket_ids": [...], "scope": code, "title", "reason"}`.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st
from sqlmodel import Session

from duban import cases, routing
from duban import tickets as ticket_ledger
from duban.clock import cn_date, today
from duban.enums import Level, Scope
from duban.permissions import Actor
from duban.units import live_units
from ui.common import actor, engine, literal, user_action

me: Actor = actor()
st.title("新建督办")

prefill = st.session_state.pop("case_new_prefill", None)
if prefill:
    st.session_state["case_new_ticket_ids"] = list(dict.fromkeys(prefill.get("ticket_ids") or []))
    if prefill.get("scope"):
        st.session_state["case_new_scope"] = Scope(prefill["scope"])
    for key in ("title", "reason"):
        if prefill.get(key):
            st.session_state[f"case_new_{key}"] = prefill[key]
ticket_ids: list[int] = st.session_state.setdefault("case_new_ticket_ids", [])

with Session(engine()) as session:
    unit_names = live_units(session, me, active_only=True)
    tickets = ticket_ledger.live_tickets(session, me, ticket_ids)
    suggestions: dict[int, tuple] = {}
    for t in tickets:
        for rule in routing.match_rules(
            session, category=t.category, content=t.content, address=t.address
        ):
            suggestions.setdefault(rule.id, (rule, []))[1].append(t.ticket_no)  # type: ignore[index]

# --- tickets ------------------------------------------------------------------------------
st.subheader("关联工单")
with st.form("case_new_add_tickets"):
    numbers = st.text_input("按工单编号添加（多个用逗号或空格分隔）")
    if st.form_submit_button("添加工单"):
        with Session(engine()) as session:
            found, missing = ticket_ledger.ticket_ids_by_number(session, me, numbers)
        if missing:
            st.error(f"未找到工单：{'、'.join(missing)}")
        else:
            st.session_state["case_new_ticket_ids"] = list(
                dict.fromkeys([*ticket_ids, *found.values()])
            )
            st.rerun()
if tickets:
    st.dataframe(
        pd.DataFrame(
            {
                "工单编号": [t.ticket_no for t in tickets],
                "诉求时间": [t.received_at.strftime("%Y-%m-%d %H:%M") for t in tickets],
                "承办单位": [unit_names.get(t.unit_id, t.unit_raw) for t in tickets],  # type: ignore[arg-type]
                "分类": [t.category for t in tickets],
                "诉求地址": [t.address for t in tickets],
                "内容描述": [t.content for t in tickets],
            }
        ),
        hide_index=True,
    )
    if st.button("清空工单", key="case_new_clear"):
        st.session_state["case_new_ticket_ids"] = []
        st.rerun()
else:
    st.caption("未关联工单：适用于区、镇领导批示交办等无工单的事项，须填写来源说明。")

# --- routing-rule suggestions (never applied silently) -------------------------------------
if suggestions:
    st.subheader("专题会处置规则建议")
    for rule, numbers_hit in suggestions.values():
        with st.container(border=True):
            st.markdown(
                f"**{literal(rule.name)}** → 处置部门：**{unit_names.get(rule.unit_id, '')}**　"
                f"处置路径：{literal(rule.handling_path)}　（匹配工单：{'、'.join(numbers_hit)}）"
            )
            if st.button("采用该部门为主办单位", key=f"case_new_rule_{rule.id}"):
                st.session_state["case_new_lead"] = rule.unit_id
                st.session_state["case_new_rule_note"] = (
                    f"按处置规则“{rule.name}”：{rule.handling_path}"
                )
                st.rerun()

# --- the case -----------------------------------------------------------------------------
st.subheader("督办事项")
if tickets and st.session_state.get("case_new_title_of") != ticket_ids[:1]:
    # 事由 from the first ticket's words, until the user writes their own
    if not st.session_state.get("case_new_title"):
        st.session_state["case_new_title"] = (tickets[0].title or tickets[0].content)[:60]
    st.session_state["case_new_title_of"] = ticket_ids[:1]
default_lead = tickets[0].unit_id if tickets and tickets[0].unit_id in unit_names else None
if st.session_state.get("case_new_lead") is None and default_lead is not None:
    st.session_state["case_new_lead"] = default_lead
with st.form("case_new_form"):
    scope = st.selectbox(
        "协调督办范围", list(Scope), format_func=lambda s: s.label, index=None,
        placeholder="请选择协调督办范围", key="case_new_scope",
    )  # fmt: skip
    scope_reason = st.text_input("范围说明（选“其他需协调督办事项”时必填）")
    title = st.text_input("事由（简要名称）", key="case_new_title")
    c1, c2 = st.columns(2)
    lead = c1.selectbox(
        "主办单位", list(unit_names), format_func=unit_names.get, index=None,
        placeholder="请选择主办单位", key="case_new_lead",
    )  # fmt: skip
    co = c2.multiselect(
        "协办单位", list(unit_names), format_func=unit_names.get, placeholder="可多选，也可不选",
        key="case_new_co",
    )  # fmt: skip
    related = st.text_area(
        "相关情况",
        value=st.session_state.get("case_new_reason", ""),
        help="综合诉求内容、承办单位办理情况、回访市民反馈情况等",
    )
    opinion = st.text_area(
        "督办意见", value=st.session_state.get("case_new_rule_note", ""),
        help="对承办单位的处置要求",
    )  # fmt: skip
    c3, c4 = st.columns([3, 1])
    source = c3.text_input("来源说明（如 区领导批示内容）")
    source_day: date | None = c4.date_input("来源日期", value=None, max_value=today())
    start = st.radio(
        "起始督办类型", list(Level), format_func=lambda lv: lv.label, horizontal=True,
        help="一般从书面督办开始；市级督办、领导批示交办事项可直接现场协调或提级，须写明理由",
    )  # fmt: skip
    start_reason = st.text_input("直接现场协调或提级的理由")
    opened = st.date_input("立项日期", value=today(), max_value=today())
    submitted = st.form_submit_button("确定督办事项", type="primary")

if submitted:
    with user_action():
        with Session(engine()) as session:
            case = cases.open_case(
                session,
                me,
                scope=scope,
                lead_unit_id=lead,  # type: ignore[arg-type]
                co_unit_ids=co,
                ticket_ids=ticket_ids,
                title=title,
                scope_reason=scope_reason,
                related_info=related,
                opinion=opinion,
                source_note=source,
                source_date=source_day,
                start_level=start,
                start_level_reason=start_reason,
                opened_at=opened,
            )
            session.commit()
            case_id, case_no = case.id, case.case_no
        for key in [k for k in st.session_state if str(k).startswith("case_new_")]:
            del st.session_state[key]
        st.session_state["cases_flash"] = f"已确定督办事项 {case_no}（{cn_date(opened)}）"
        st.switch_page("pages/cases.py", query_params={"case": str(case_id)})
