"""系统设置 → 签收与邮件: the 及时签收 time limit, the mail server (with a test button) and
each unit's e-mail addresses for its to-do list. Drawn inside the settings page's tab."""

from __future__ import annotations

import streamlit as st
from sqlmodel import Session

from duban import mailing
from duban.settings import LABELS, read_settings, save_settings
from ui import board_data
from ui.common import actor, engine, literal, user_action
from ui.shared import change_stamp


def draw() -> None:
    me = actor()
    with Session(engine()) as session:
        sign_days = int(
            read_settings(session, me, ["sign_within_workdays"])["sign_within_workdays"]
        )
        config = mailing.smtp_config(session)
        addresses = mailing.unit_addresses(session)
    with st.form("settings_sign_form"):
        days = st.number_input(
            LABELS["sign_within_workdays"],
            min_value=1,
            max_value=10,
            value=sign_days,
            help="督办单、现场协调督办通知发出后，在这么多个工作日内签收为“及时签收”。",
        )
        if st.form_submit_button("保存"):
            with user_action(), Session(engine()) as session:
                save_settings(session, me, {"sign_within_workdays": int(days)})
                session.commit()
                st.success(f"已保存：发出后 {int(days)} 个工作日内签收为及时签收")

    st.subheader("邮件服务器")
    st.caption(
        "填写后可在“催办 → 各单位清单”或用 `python -m duban digest --send` 把待办清单发到各单位邮箱。"
    )
    with st.form("settings_smtp_form"):
        host = st.text_input(
            LABELS["smtp_host"], value=config.host, placeholder="如 smtp.example.gov.cn"
        )
        port = st.number_input(LABELS["smtp_port"], min_value=1, max_value=65535, value=config.port)
        options: list[str] = list(mailing.SECURITY)
        security = st.selectbox(
            LABELS["smtp_security"],
            options,
            index=options.index(config.security) if config.security in options else 0,
            format_func=lambda code: mailing.SECURITY.get(code, code),
            placeholder="请选择",
        )
        sender = st.text_input(
            LABELS["smtp_sender"],
            value=config.sender,
            placeholder="如 zhaoxiang12345@example.gov.cn",
        )
        if st.form_submit_button("保存邮件设置", type="primary"):
            with user_action(), Session(engine()) as session:
                changed = mailing.save_smtp_settings(
                    session,
                    me,
                    host=host,
                    port=int(port),
                    security=security or "none",
                    sender=sender,
                )
                session.commit()
                st.success(
                    "已保存：" + "、".join(LABELS[k] for k in changed) if changed else "没有修改"
                )
    with st.form("settings_smtp_test"):
        to = st.text_input("测试收件人", placeholder="填写一个邮箱，发送一封测试邮件")
        if st.form_submit_button("发送测试邮件"):
            with user_action(), Session(engine()) as session:
                mailing.send_test_mail(session, me, to)
                st.success(f"测试邮件已发送至 {literal(to)}")

    st.subheader("承办单位邮箱")
    units = board_data.active_units(change_stamp(), me)
    unit_id = st.selectbox(
        "承办单位",
        list(units),
        format_func=lambda uid: units.get(uid, "—"),
        index=None,
        placeholder="选择单位",
        key="settings_mail_unit",
    )
    if unit_id is not None:
        with st.form("settings_unit_mail"):
            text = st.text_input(
                "邮箱地址",
                value=", ".join(addresses.get(unit_id, [])),
                placeholder="多个地址用逗号分隔",
            )
            if st.form_submit_button("保存邮箱"):
                with user_action(), Session(engine()) as session:
                    saved = mailing.set_unit_addresses(session, me, unit_id, text)
                    session.commit()
                    st.success(f"已保存 {len(saved)} 个邮箱地址")
