"""待办: a unit user's first page — what the unit owes, the action one click away.

待签收 (签收 here), 即将到期 and 已逾期 (登记反馈 on the case page, or 申请延期 here before the
deadline), 已催办. The lists come from `duban.chasing.open_items`, scoped to the user's unit.
"""

from __future__ import annotations

import streamlit as st
from sqlmodel import Session

from duban import chasing
from duban.clock import cn_date, today
from ui import chasing_data
from ui.common import actor, engine, literal, user_action
from ui.shared import change_stamp

me = actor()
day = today()
st.title("待办")
st.caption(f"{cn_date(day)} · 本单位需签收、反馈的督办环节；截止日逢休息日顺延至下一个工作日")

items = chasing_data.items(change_stamp(), day, me)
SECTIONS = [
    (chasing.TO_SIGN, "没有待签收的督办单或通知。"),
    (chasing.DUE_SOON, "今天和下一个工作日没有到期的环节。"),
    (chasing.OVERDUE, "没有逾期的环节。"),
    (chasing.CHASED, "没有被催办的环节。"),
]
groups = {name: [i for i in items if name in i.categories] for name, _ in SECTIONS}
cols = st.columns(5)
cols[0].metric("在办环节", len(items))
for col, (name, _) in zip(cols[1:], SECTIONS, strict=True):
    col.metric(name, len(groups[name]))


def sign(step_id: int) -> None:
    with user_action(), Session(engine()) as session:
        receipt = chasing.sign_for(session, me, step_id)
        session.commit()
        st.session_state["todo_notice"] = (
            f"已签收（{cn_date(receipt.signed_at)} {receipt.signed_at:%H:%M}，"
            + ("及时" if receipt.on_time else "超过及时签收期限")
            + "）"
        )


def extension_form(item: chasing.Item, section: str) -> None:
    with st.popover("申请延期", disabled=item.extension_pending or item.overdue):
        with st.form(f"todo_ext_{section}_{item.step_id}", border=False):
            days = st.number_input(
                "需延长的工作日数", min_value=1, max_value=chasing.MAX_EXTENSION_WORKDAYS, value=3
            )
            reason = st.text_area("延期理由", placeholder="写明需要延期的原因")
            if st.form_submit_button("提交延期申请"):
                with user_action(), Session(engine()) as session:
                    chasing.request_extension(
                        session, me, item.step_id, workdays=int(days), reason=reason
                    )
                    session.commit()
                    st.session_state["todo_notice"] = "延期申请已提交，等待城运中心审批"
                    st.rerun()


notice = st.session_state.pop("todo_notice", None)
if notice:
    st.success(notice)

for n, (name, empty) in enumerate(SECTIONS):
    st.subheader(f"{name}（{len(groups[name])}）")
    if not groups[name]:
        st.caption(empty)
    for item in groups[name]:
        with st.container(border=True, key=f"todo_item_{n}_{item.step_id}"):
            text, action = st.columns([5, 2])
            text.markdown(f"**{literal(item.case_no)}** {literal(item.title)}")
            text.caption(
                f"{item.kind.label} · 发出 {cn_date(item.issued_at)} · 截止 {item.due_text} · "
                f"{item.days_text} · {item.sign_text} · 催办 {item.chases} 次"
                + (" · 延期申请待审批" if item.extension_pending else "")
            )
            with action:
                if name == chasing.TO_SIGN:
                    st.button(
                        "签收",
                        key=f"todo_sign_{item.step_id}",
                        type="primary",
                        on_click=sign,
                        args=(item.step_id,),
                    )
                else:
                    st.page_link(
                        "pages/cases.py",
                        label="登记反馈 →",
                        query_params={"case": str(item.case_id)},
                    )
                    if item.due_at is not None:
                        extension_form(item, name)
