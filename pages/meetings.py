"""专题会与处置规则: 镇领导专题会 records and the routing rules their decisions fixed
(§三(三)2: 明确同类事项的处置部门和处置路径)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlmodel import Session

from duban import cases, meetings
from duban.cases import CaseFilter
from duban.clock import cn_date, today
from duban.enums import CaseStatus, Level
from duban.permissions import Actor, Perm
from duban.units import live_units
from ui.common import actor, engine, literal, user_action

me: Actor = actor()
can_edit = me.can(Perm.EDIT_CASES)
st.title("专题会与处置规则")
flash = st.session_state.pop("meetings_flash", None)
if flash:
    st.success(flash)


def done(message: str) -> None:
    st.session_state["meetings_flash"] = message
    st.rerun()


with Session(engine()) as session:
    rows = meetings.list_meetings(session, me)
    unit_names = live_units(session, me)
tab_meetings, tab_rules = st.tabs(["专题会", "处置规则"])

with tab_meetings:
    if rows:
        st.dataframe(
            pd.DataFrame(
                {
                    "日期": [cn_date(r.meeting.held_at) for r in rows],
                    "会议": [r.meeting.title for r in rows],
                    "主持": [r.meeting.chair for r in rows],
                    "讨论事项": [r.cases for r in rows],
                    "处置规则": [r.rules for r in rows],
                }
            ),
            hide_index=True,
        )
        picked = st.selectbox(
            "查看专题会", [r.meeting.id for r in rows],
            format_func=lambda i: next(
                f"{cn_date(r.meeting.held_at)} {r.meeting.title}" for r in rows if r.meeting.id == i
            ),
            key="meetings_pick",
         placeholder="请选择")  # fmt: skip
        meeting = next(r.meeting for r in rows if r.meeting.id == picked)
        with Session(engine()) as session:
            discussed = meetings.meeting_cases(session, meeting.id)  # type: ignore[arg-type]
            decided = [
                r for r in meetings.list_rules(session, me, include_inactive=True)
                if r.rule.meeting_id == meeting.id
            ]  # fmt: skip
        with st.container(border=True):
            st.markdown(
                f"**{literal(meeting.title)}**　{cn_date(meeting.held_at)}　主持：{literal(meeting.chair)}"
            )
            if meeting.attendees:
                st.markdown(f"**参会：** {literal(meeting.attendees)}")
            if meeting.summary:
                st.markdown(f"**指示要求：** {literal(meeting.summary)}")
            for case in discussed:
                st.page_link(
                    "pages/cases.py", label=literal(f"{case.case_no} {case.title}"),
                    query_params={"case": str(case.id)},
                )  # fmt: skip
            for r in decided:
                state = "" if r.rule.active else "（已停用）"
                st.markdown(
                    f"- 规则：**{literal(r.rule.name)}**{state} → {r.unit_name}：{literal(r.rule.handling_path)}"
                )
        if can_edit:
            with st.form("meetings_rule_form"):
                st.markdown("**录入本次会议明确的处置规则（同类事项的处置部门和处置路径）**")
                name = st.text_input("事项类别名称")
                c1, c2, c3 = st.columns(3)
                category = c1.text_input("工单分类（与台账分类一致）")
                keywords = c2.text_input("关键词（任一命中，用、分隔）")
                pattern = c3.text_input("地址范围（可用 * 通配）")
                unit_id = st.selectbox(
                    "处置部门", list(unit_names), format_func=unit_names.get, index=None,
                    placeholder="请选择处置部门",
                )  # fmt: skip
                path = st.text_area("处置路径")
                if st.form_submit_button("保存规则", type="primary"):
                    with user_action():
                        with Session(engine()) as session:
                            meetings.add_routing_rule(
                                session, me, meeting.id, name=name, category=category,
                                keywords=keywords, address_pattern=pattern,
                                unit_id=unit_id,  # type: ignore[arg-type]
                                handling_path=path,
                            )  # fmt: skip
                            session.commit()
                        done(f"处置规则“{literal(name)}”已保存")
    else:
        st.info("尚无专题会记录")

    if can_edit:
        st.subheader("记录专题会")
        with Session(engine()) as session:
            include_all = st.checkbox("可选择所有在办事项（默认只列提级协调督办事项）")
            filters = CaseFilter(
                status=CaseStatus.OPEN, level=None if include_all else Level.ESCALATED
            )
            open_cases, _ = cases.list_cases(session, me, filters, limit=1000)
        case_labels = {c.id: f"{c.case_no} {c.title}（{c.level.label}）" for c in open_cases}
        with st.form("meetings_new_form"):
            title = st.text_input("会议名称", value="热线工作专题会")
            c1, c2 = st.columns(2)
            held = c1.date_input("会议日期", value=today(), max_value=today())
            chair = c2.text_input("主持（镇分管领导）")
            attendees = st.text_area("参会单位和人员")
            summary = st.text_area("指示要求和决定")
            chosen = st.multiselect(
                "讨论的督办事项",
                list(case_labels),
                format_func=case_labels.get,
                placeholder="请选择（可多选）",
            )
            if st.form_submit_button("保存专题会", type="primary"):
                with user_action():
                    with Session(engine()) as session:
                        meetings.create_meeting(
                            session, me, held_at=held, title=title, chair=chair,
                            attendees=attendees, summary=summary, case_ids=chosen,
                        )  # fmt: skip
                        session.commit()
                    done(f"专题会“{literal(title)}”已保存")

with tab_rules:
    c1, c2 = st.columns([3, 1])
    search = c1.text_input(
        "搜索规则（名称、分类、关键词、地址、部门、路径）", key="meetings_search"
    )
    inactive = c2.checkbox("包括已停用", key="meetings_inactive")
    with Session(engine()) as session:
        rules = meetings.list_rules(session, me, search=search, include_inactive=inactive)
    if rules:
        st.dataframe(
            pd.DataFrame(
                {
                    "事项类别": [r.rule.name for r in rules],
                    "工单分类": [r.rule.category for r in rules],
                    "关键词": [r.rule.keywords for r in rules],
                    "地址范围": [r.rule.address_pattern for r in rules],
                    "处置部门": [r.unit_name for r in rules],
                    "处置路径": [r.rule.handling_path for r in rules],
                    "来源专题会": [
                        f"{cn_date(r.meeting_date)} {r.meeting_title}" if r.meeting_date else ""
                        for r in rules
                    ],
                    "状态": ["启用" if r.rule.active else "停用" for r in rules],
                }
            ),
            hide_index=True,
        )
        if can_edit:
            with st.form("meetings_toggle_form"):
                rule_id = st.selectbox(
                    "启用/停用规则", [r.rule.id for r in rules],
                    format_func=lambda i: next(r.rule.name for r in rules if r.rule.id == i),
                 placeholder="请选择")  # fmt: skip
                if st.form_submit_button("切换启用状态"):
                    rule = next(r.rule for r in rules if r.rule.id == rule_id)
                    with user_action():
                        with Session(engine()) as session:
                            meetings.set_rule_active(
                                session, me, rule.id, not rule.active,  # type: ignore[arg-type]
                                expected_version=rule.version,
                            )  # fmt: skip
                            session.commit()
                        done(f"规则“{literal(rule.name)}”已{'停用' if rule.active else '启用'}")
    else:
        st.info("没有符合条件的处置规则")
