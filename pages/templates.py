"""文书模板: download the current template of a kind, upload an edited one (checked before it is
used), see the versions, use an earlier one again or go back to the default."""

from __future__ import annotations

import streamlit as st
from sqlmodel import Session

from duban import auth
from duban.documents import (
    DOCX_MIME,
    KINDS,
    activate_template_version,
    default_template,
    describe,
    restore_default_template,
    template_listing,
    upload_template,
)
from duban.enums import DocumentKind
from duban.permissions import Perm
from ui.common import actor, engine, literal, user_action

st.title("文书模板")
me = actor()
if not me.can(Perm.MANAGE_TEMPLATES):
    st.error("当前账号无权管理文书模板")
    st.stop()

NOTICE = "templates_notice"
UPLOADS = "templates_upload_round"  # bumped after an accepted upload to clear the uploader

kind = st.selectbox(
    "文书类型",
    list(KINDS),
    format_func=lambda k: DocumentKind(k).label,
    key="templates_kind",
    placeholder="请选择",
)
spec = KINDS[kind]
st.caption(spec.description)

with Session(engine()) as session:
    current, versions = template_listing(session, me, kind)
    users = auth.display_names(session, me)

notice = st.session_state.pop(NOTICE, None)
if notice:
    st.success(notice)

st.markdown(f"**当前使用：{literal(describe(current))}**（{literal(current.name)}）")
left, right = st.columns(2)
left.download_button(
    "下载当前模板",
    data=current.read(),
    file_name=f"{spec.title}模板-{describe(current)}.docx",
    mime=DOCX_MIME,
    key="templates_download",
    icon=":material/download:",
)
if current.version is not None:
    right.download_button(
        "下载默认模板",
        data=default_template(kind).read(),
        file_name=f"{spec.title}模板-默认.docx",
        mime=DOCX_MIME,
        key="templates_download_default",
    )

with st.expander("模板可用的字段（在 Word/WPS 中写作 {{ 字段名 }}）"):
    rows = []
    for field in spec.fields:
        rows.append({"字段": field.name, "含义": field.label, "示例": field.example})
        rows += [
            {"字段": f"{field.name}[].{item.name}", "含义": item.label, "示例": item.example}
            for item in field.items
        ]
    st.dataframe(rows, hide_index=True, width="stretch")
    st.caption(
        "表格行重复：`{%tr for t in tickets %}` … `{%tr endfor %}`；每个标签须在同一段文字格式内。"
        "详见 templates/README.md。"
    )

st.subheader("上传修改后的模板")
upload = st.file_uploader(
    "选择 .docx 文件",
    type=["docx"],
    key=f"templates_upload_{kind}_{st.session_state.get(UPLOADS, 0)}",
)
if st.button("检查并启用", key="templates_upload_button", disabled=upload is None, type="primary"):
    with user_action(), Session(engine()) as session:
        row = upload_template(session, me, kind, upload.name, upload.getvalue())
        session.commit()
        st.session_state[UPLOADS] = st.session_state.get(UPLOADS, 0) + 1
        st.session_state[NOTICE] = f"模板已通过检查，{spec.title}现使用第{row.version}版"
        st.rerun()

st.subheader("版本")
if not versions:
    st.caption("尚未上传过模板，正在使用默认模板")
else:
    st.dataframe(
        [
            {
                "版本": f"第{v.version}版",
                "上传的文件": v.file_name,
                "上传人": users.get(v.created_by) or "系统",
                "上传时间": f"{v.created_at:%Y-%m-%d %H:%M}",
                "状态": "当前使用"
                if v.id == current.version_id
                else ("可用" if v.active else "已停用"),
            }
            for v in versions
        ],
        hide_index=True,
        width="stretch",
    )
    labels = {v.id: f"第{v.version}版（{v.file_name}）" for v in versions}
    chosen = st.selectbox(
        "选择版本",
        list(labels),
        format_func=labels.get,
        key="templates_version",
        placeholder="请选择",
    )
    if st.button("启用所选版本", key="templates_activate", disabled=chosen == current.version_id):
        with user_action(), Session(engine()) as session:
            activate_template_version(session, me, chosen)
            session.commit()
            st.session_state[NOTICE] = f"{spec.title}现使用{labels[chosen]}"
            st.rerun()

if st.button("恢复默认模板", key="templates_restore", disabled=current.version is None):
    with user_action(), Session(engine()) as session:
        restore_default_template(session, me, kind)
        session.commit()
        st.session_state[NOTICE] = f"{spec.title}已恢复为默认模板（已上传的版本仍保留，可再次启用）"
        st.rerun()
