"""用户管理 (admins): accounts, roles, units, enabling/disabling, unlocking, password reset."""

import pandas as pd
import streamlit as st
from sqlmodel import Session

from duban import auth
from duban.clock import now
from duban.enums import Role
from duban.units import live_units
from ui.common import actor, engine, literal, user_action
from ui.gate import new_password_inputs

st.title("用户管理")
me = actor()


def done(message: str) -> None:
    """Show `message` after the rerun that redraws the table with the change."""
    st.session_state["users_flash"] = message
    st.session_state.pop("users_edit_seen", None)
    st.rerun()


flash = st.session_state.pop("users_flash", None)
if flash:
    st.success(flash)

loaded = False
with user_action():
    with Session(engine()) as session:
        users = auth.list_users(session, me)
        unit_names = live_units(session, me)
        loaded = True
if not loaded:
    st.stop()

ROLE_OPTIONS = list(Role)
UNIT_OPTIONS: list[int | None] = [None, *unit_names]


def unit_label(unit_id: int | None) -> str:
    return "（无）" if unit_id is None else unit_names.get(unit_id, f"单位 {unit_id}")


def status(user) -> str:
    if not user.active:
        return "已停用"
    if user.locked_until is not None and user.locked_until > now():
        return f"锁定至 {user.locked_until:%H:%M}"
    return "正常"


st.dataframe(
    pd.DataFrame(
        {
            "用户名": [u.username for u in users],
            "姓名": [u.display_name for u in users],
            "角色": [u.role.label for u in users],
            "所属单位": [unit_label(u.unit_id) if u.unit_id else "" for u in users],
            "可见联系方式": ["是" if u.can_see_contacts else "" for u in users],
            "状态": [status(u) for u in users],
            "上次登录": [
                f"{u.last_login_at:%Y-%m-%d %H:%M}" if u.last_login_at else "" for u in users
            ],
        }
    ),
    hide_index=True,
)
st.caption(
    f"角色：管理员（全部功能、设置、用户）；城运中心（办理工单与督办、生成文书、查看诉求人联系方式）；"
    f"承办单位（只看本单位事项，登记反馈）；领导（查看全部、录入批示，经授权可见联系方式）。"
    f"密码至少 {auth.MIN_PASSWORD_LENGTH} 个字符；连续 {auth.MAX_FAILED_LOGINS} 次输错锁定 "
    f"{auth.LOCK_MINUTES} 分钟。"
)

tab_new, tab_edit, tab_password = st.tabs(["新建用户", "修改用户", "重置密码"])

with tab_new:
    with st.form("users_new_form", clear_on_submit=True):
        username = st.text_input("用户名", max_chars=50)
        display_name = st.text_input("姓名", max_chars=50)
        role = st.selectbox(
            "角色", ROLE_OPTIONS, format_func=lambda r: r.label, placeholder="请选择"
        )
        unit_id = st.selectbox(
            "所属单位（承办单位账号必填）",
            UNIT_OPTIONS,
            format_func=unit_label,
            placeholder="请选择",
        )
        contacts = st.checkbox("允许查看诉求人联系方式（仅对领导账号有效）")
        password, confirm = new_password_inputs("初始密码")
        if st.form_submit_button("创建用户", type="primary"):
            if password != confirm:
                st.error("两次输入的密码不一致")
            else:
                with user_action():
                    with Session(engine()) as session:
                        created = auth.create_user(
                            session,
                            me,
                            username,
                            password,
                            role,
                            unit_id=unit_id,
                            display_name=display_name,
                            can_see_contacts=contacts,
                        )
                        name = created.username
                        session.commit()
                    done(f"已创建用户 {literal(name)}")

by_id = {u.id: u for u in users}

with tab_edit:
    chosen = st.selectbox(
        "选择用户",
        list(by_id),
        format_func=lambda i: by_id[i].username,
        key="users_edit_user",
        placeholder="请选择",
    )
    if chosen is not None:
        user = by_id[chosen]
        # the version the admin saw first: a save based on it is refused if someone else
        # changed the account in between (never a silent overwrite)
        seen = st.session_state.get("users_edit_seen")
        if seen is None or seen[0] != user.id:
            st.session_state["users_edit_seen"] = seen = (user.id, user.version)
        with st.form("users_edit_form"):
            new_name = st.text_input("姓名", value=user.display_name, max_chars=50)
            new_role = st.selectbox(
                "角色",
                ROLE_OPTIONS,
                index=ROLE_OPTIONS.index(user.role),
                format_func=lambda r: r.label,
                placeholder="请选择",
            )
            new_unit = st.selectbox(
                "所属单位",
                UNIT_OPTIONS,
                index=UNIT_OPTIONS.index(user.unit_id) if user.unit_id in UNIT_OPTIONS else 0,
                format_func=unit_label,
                placeholder="请选择",
            )
            new_contacts = st.checkbox(
                "允许查看诉求人联系方式（仅对领导账号有效）", value=user.can_see_contacts
            )
            new_active = st.checkbox("启用（取消勾选即停用，停用后不能登录）", value=user.active)
            if st.form_submit_button("保存修改", type="primary"):
                with user_action():
                    with Session(engine()) as session:
                        changes = auth.update_user(
                            session,
                            me,
                            user.id,
                            {
                                "display_name": new_name,
                                "role": new_role,
                                "unit_id": new_unit,
                                "can_see_contacts": new_contacts,
                                "active": new_active,
                            },
                            expected_version=seen[1],
                        )
                        session.commit()
                    done(
                        f"已保存 {literal(user.username)} 的 {len(changes)} 项修改"
                        if changes
                        else "没有修改"
                    )
        if user.locked_until is not None and user.locked_until > now():
            if st.button(f"解除 {literal(user.username)} 的锁定", key="users_unlock"):
                with user_action():
                    with Session(engine()) as session:
                        auth.unlock_user(session, me, user.id)
                        session.commit()
                    done(f"已解除 {literal(user.username)} 的锁定")

with tab_password:
    with st.form("users_password_form", clear_on_submit=True):
        target = st.selectbox(
            "选择用户", list(by_id), format_func=lambda i: by_id[i].username, placeholder="请选择"
        )
        new_password, confirm_password = new_password_inputs("新密码")
        st.caption("重置后该用户已登录的会话立即失效，锁定同时解除。")
        if st.form_submit_button("重置密码", type="primary"):
            if new_password != confirm_password:
                st.error("两次输入的密码不一致")
            elif target is not None:
                with user_action():
                    with Session(engine()) as session:
                        auth.reset_password(session, me, target, new_password)
                        session.commit()
                    done(f"已重置 {literal(by_id[target].username)} 的密码，锁定已解除")
