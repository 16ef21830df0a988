"""催办: the center follows steps up — 临期提醒 and 逾期 lists, each chase recorded (a written
one prints a 催办通知), 签收 recorded for paper units, 延期申请 decided, and every unit's
to-do list downloaded (one xlsx per unit in a zip) or e-mailed."""

from __future__ import annotations

from datetime import datetime, time

import streamlit as st
from sqlmodel import Session

from duban import chasing, documents, mailing
from duban.clock import cn_date, now, today
from duban.enums import ChaseWay
from ui import chasing_data
from ui.common import actor, engine, literal, user_action
from ui.shared import change_stamp

TABS = ["临期提醒", "逾期", "全部在办", "登记催办与签收", "延期审批", "各单位清单"]
LINK = st.column_config.LinkColumn("查看", display_text="打开 →", width="small")

me = actor()
day = today()
stamp = change_stamp()
st.title("催办")
st.caption(
    f"{cn_date(day)} · 临期提醒：今天或下一个工作日到期且尚未反馈；逾期：已过截止日仍无合规反馈"
)
items = chasing_data.items(stamp, day, me)
soon = [i for i in items if i.due_soon]
late = [i for i in items if i.overdue]
cols = st.columns(4)
cols[0].metric("在办环节", len(items))
cols[1].metric("临期提醒", len(soon))
cols[2].metric("逾期", len(late))
cols[3].metric("待审批延期", len(pending := chasing_data.pending_extensions(stamp, me)))

notice = st.session_state.pop("chasing_notice", None)
if notice:
    st.success(notice)


def show(rows: list[chasing.Item], empty: str) -> None:
    if not rows:
        st.success(empty)
        return
    st.dataframe(
        chasing_data.items_frame(rows, with_unit=True),
        hide_index=True,
        column_config={"查看": LINK},
    )


def label(i: chasing.Item) -> str:
    return f"{i.case_no} · {i.kind.label} · {i.unit_name} · {i.days_text} · {i.sign_text}"


tabs = st.tabs(TABS, key="chasing_tab", on_change="rerun")
if tabs[0].open:
    with tabs[0]:
        show(soon, "今天和下一个工作日没有需要提醒的环节。")
if tabs[1].open:
    with tabs[1]:
        show(late, "没有逾期的环节。")
if tabs[2].open:
    with tabs[2]:
        show(items, "没有在办的督办环节。")

if tabs[3].open:
    with tabs[3]:
        by_id = {i.step_id: i for i in items}
        step_id = st.selectbox(
            "督办环节",
            list(by_id),
            format_func=lambda sid: label(by_id[sid]),
            index=None,
            placeholder="选择要催办或代登记签收的环节",
            key="chasing_step",
        )
        if step_id is not None:
            item = by_id[step_id]
            left, right = st.columns(2)
            with left, st.form("chasing_chase"):
                st.markdown("**登记催办**")
                chased_on = st.date_input("催办日期", value=day, max_value=day, format="YYYY-MM-DD")
                way = st.radio(
                    "催办方式", list(ChaseWay), format_func=lambda w: w.label, horizontal=True
                )
                reached = st.text_input("催办对象", placeholder="接听或签收催办的人，如：王科长")
                note = st.text_area("催办要求", placeholder="书面催办时印在催办通知上")
                if st.form_submit_button("登记催办", type="primary"):
                    with user_action(), Session(engine()) as session:
                        chase = chasing.record_chase(
                            session,
                            me,
                            step_id,
                            chased_on=chased_on,
                            way=way,
                            reached=reached,
                            note=note,
                        )
                        session.commit()
                        st.session_state["chasing_notice"] = f"已登记{way.label}催办"
                        if chase.document_id:
                            st.session_state["chasing_doc"] = chase.document_id
                        st.rerun()
            with right:
                if item.needs_sign and item.signed_at is None:
                    with st.form("chasing_sign"):
                        st.markdown("**代为登记签收**（承办单位以纸质方式签收时）")
                        signed_on = st.date_input(
                            "签收日期", value=day, max_value=day, format="YYYY-MM-DD"
                        )
                        signed_time = st.time_input("签收时间", value=time(9, 0))
                        if st.form_submit_button("登记签收"):
                            with user_action(), Session(engine()) as session:
                                chasing.sign_for(
                                    session,
                                    me,
                                    step_id,
                                    signed_at=datetime.combine(signed_on, signed_time),
                                )
                                session.commit()
                                st.session_state["chasing_notice"] = "已代为登记签收"
                                st.rerun()
                else:
                    st.caption(f"签收：{item.sign_text}")
        doc_id = st.session_state.get("chasing_doc")
        if doc_id:
            with user_action(), Session(engine()) as session:
                name, data = documents.document_file(session, me, doc_id)
            st.download_button(
                f"下载{literal(name)}", data, file_name=name, mime=documents.DOCX_MIME
            )

if tabs[4].open:
    with tabs[4]:
        if not pending:
            st.success("没有待审批的延期申请。")
        for ext in pending:
            with st.container(border=True):
                st.markdown(
                    f"**{literal(ext.case_no)}** · {ext.kind.label} · {literal(ext.unit_name)}"
                )
                st.caption(
                    f"{cn_date(ext.requested_on)}申请延期 {ext.workdays} 个工作日 · "
                    f"原截止日期 {cn_date(ext.old_due_at)} · 理由：{literal(ext.reason)}"
                )
                with st.form(f"chasing_ext_{ext.id}", border=False):
                    note = st.text_input("审批意见", placeholder="不予批准时必须填写理由")
                    ok, no = st.columns(2)
                    approve = ok.form_submit_button("批准", type="primary")
                    refuse = no.form_submit_button("不予批准")
                    if approve or refuse:
                        with user_action(), Session(engine()) as session:
                            decided = chasing.decide_extension(
                                session,
                                me,
                                ext.id,
                                approve=approve,
                                note=note,
                                expected_version=ext.version,
                            )
                            session.commit()
                            st.session_state["chasing_notice"] = (
                                f"已批准，新截止日期 {cn_date(decided.new_due_at)}"
                                if approve
                                else "已不予批准，截止日期不变"
                            )
                            st.rerun()

if tabs[5].open:
    with tabs[5]:
        st.caption(
            "每个有在办环节的承办单位一个 Excel 文件（待签收、即将到期、已逾期、已催办及其他在办环节）。"
        )
        if st.button("生成全部单位清单（zip）", key="chasing_zip"):
            with user_action(), Session(engine()) as session:
                lists = chasing.unit_lists(session, me, day)
                bar = st.progress(0.0, text="正在生成…")
                data = chasing.lists_zip(
                    lists,
                    day,
                    lambda n, total: bar.progress(n / total, text=f"已生成 {n}/{total} 个单位"),
                )
                st.session_state["chasing_zip_data"] = data
        if "chasing_zip_data" in st.session_state:
            st.download_button(
                "下载待办清单（zip）",
                st.session_state["chasing_zip_data"],
                file_name=f"各单位待办清单-{day.isoformat()}.zip",
                mime="application/zip",
            )
        st.divider()
        if st.button("按邮箱发送各单位清单", key="chasing_mail"):
            with user_action(), Session(engine()) as session:
                lists = chasing.unit_lists(session, me, day)
                bar = st.progress(0.0, text="正在发送…")
                results = mailing.send_unit_lists(
                    session,
                    me,
                    lists,
                    day,
                    lambda n, total: bar.progress(n / total, text=f"已处理 {n}/{total} 个单位"),
                )
                session.commit()
                sent = sum(r.sent for r in results)
                st.success(f"已发送 {sent} 个单位（{now():%H:%M}）")
                for r in results:
                    if not r.sent:
                        st.warning(f"{literal(r.unit_name)}：{literal(r.message)}")
