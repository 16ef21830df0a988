"""我的账户: who I am, my recent logins, and changing my own password."""

import pandas as pd
import streamlit as st
from sqlmodel import Session

from duban import auth
from duban.units import unit_name
from ui.common import actor, engine, user_action
from ui.gate import new_password_inputs, renew_after_password_change

st.title("我的账户")
me = actor()

with Session(engine()) as session:
    user = auth.own_account(session, me)
    unit = unit_name(session, me, me.unit_id)
    logins = auth.login_history(session, me) if user is not None else []

st.dataframe(
    pd.DataFrame(
        {
            "项目": ["用户名", "姓名", "角色", "所属单位", "上次登录", "密码修改时间"],
            "内容": [
                me.username,
                user.display_name if user else "",
                me.role.label,
                unit or "",
                f"{user.last_login_at:%Y-%m-%d %H:%M}" if user and user.last_login_at else "",
                f"{user.password_changed_at:%Y-%m-%d %H:%M}"
                if user and user.password_changed_at
                else "",
            ],
        }
    ),
    hide_index=True,
)

if user is None:
    st.info("当前身份不是登录账号，没有可修改的密码。")
    st.stop()

st.subheader("修改密码")
with st.form("account_password_form", clear_on_submit=True):
    old = st.text_input("原密码", type="password", max_chars=auth.MAX_PASSWORD_LENGTH)
    new, confirm = new_password_inputs("新密码")
    submitted = st.form_submit_button("修改密码", type="primary")
if submitted:
    if new != confirm:
        st.error("两次输入的新密码不一致")
    else:
        with user_action():
            with Session(engine()) as session:
                auth.change_own_password(session, me, old, new)
                session.commit()
            # this tab stays logged in (with a new session); other sessions of this account end
            renew_after_password_change(me)
            st.success("密码已修改")

if logins:
    st.subheader("最近的登录记录")
    st.dataframe(
        pd.DataFrame(
            {
                "时间": [f"{row.at:%Y-%m-%d %H:%M:%S}" for row in logins],
                "事件": [row.action.label for row in logins],
                "说明": [row.note for row in logins],
            }
        ),
        hide_index=True,
    )
