"""文书: pick cases, print a kind of paper, download it (one file, or one zip for many)."""

from __future__ import annotations

import streamlit as st
from sqlmodel import Session

from duban.documents import (
    KINDS,
    batch_pdfs,
    case_choices,
    pdf_available,
    recent_documents,
    render_batch,
    render_document,
)
from duban.enums import CaseStatus, DocumentKind
from duban.permissions import Perm
from ui.case_documents import CASE_KINDS, download_buttons, office_setup
from ui.common import actor, engine, literal, user_action

st.title("文书")
me = actor()
if not me.can(Perm.RENDER_DOCUMENTS):
    st.error("当前账号无权生成文书")
    st.stop()

RESULT = "documents_result"
if not office_setup("documents"):
    st.stop()

with Session(engine()) as session:
    cases = case_choices(session, me)

show_closed = st.checkbox("包含已办结的事项", key="documents_closed")
choices = {c.id: c for c in cases}
already = set(st.session_state.get("documents_cases", []))  # stays pickable when filtered out
shown = [
    cid
    for cid, c in choices.items()
    if show_closed or c.status is CaseStatus.OPEN or cid in already
]
st.button(
    f"全选列表中的 {len(shown)} 个事项",
    key="documents_all",
    on_click=lambda: st.session_state.update(documents_cases=list(shown)),
    disabled=not shown,
)
picked: list[int] = st.multiselect(
    "督办事项（可多选）",
    shown,
    format_func=lambda cid: (
        f"{choices[cid].case_no} {choices[cid].title}（{choices[cid].level.label}）"
    ),
    key="documents_cases",
    placeholder="输入督办编号或事由查找",
)
kind = st.selectbox(
    "文书类型",
    CASE_KINDS,
    format_func=lambda k: DocumentKind(k).label,
    key="documents_kind",
    placeholder="请选择",
)
spec = KINDS[kind]
st.caption(spec.description)
batch = len(picked) > 1
with_pdf = False
if batch:
    if not spec.batch:
        batchable = "、".join(s.title for s in KINDS.values() if s.batch)
        st.info(f"{spec.title}需逐件生成；可批量生成的文书：{batchable}")
    elif pdf_available():
        with_pdf = st.checkbox("压缩包中同时附上 PDF", key="documents_pdf")

disabled = not picked or (batch and not spec.batch)
if st.button("生成文书", key="documents_render", type="primary", disabled=disabled):
    st.session_state.pop(RESULT, None)
    with user_action(), Session(engine()) as session:
        if batch:
            bar = st.progress(0.0, text="正在生成…")
            result = render_batch(
                session,
                me,
                kind,
                picked,
                progress=lambda done, total, label: bar.progress(
                    done / total, text=f"{done}/{total} {label}"
                ),
            )
            session.commit()
            if with_pdf:
                with st.spinner("正在转换 PDF…"):
                    result = batch_pdfs(result)
            bar.empty()
            st.session_state[RESULT] = ("batch", spec.title, result)
        else:
            doc = render_document(session, me, kind, case_id=picked[0])
            session.commit()
            st.session_state[RESULT] = ("single", doc.id, doc.file_name)

result = st.session_state.get(RESULT)
if result and result[0] == "single":
    _, doc_id, file_name = result
    st.success(f"已生成：{literal(file_name)}")
    download_buttons(doc_id, file_name, "documents_result", remember=True)
elif result:
    _, title, batch_result = result
    count = len(batch_result.documents)
    st.success(f"已生成 {count} 份{title}，已分别存档到各督办事项")
    for line in batch_result.skipped:
        st.warning(f"未生成：{line}")
    st.download_button(
        "下载压缩包",
        data=batch_result.data,
        file_name=batch_result.file_name,
        mime="application/zip",
        key="documents_zip",
        icon=":material/folder_zip:",
    )

st.divider()
st.subheader("最近生成的文书")
with Session(engine()) as session:
    recent = recent_documents(session, me)
if not recent:
    st.caption("尚未生成文书")
else:
    st.dataframe(
        [
            {
                "时间": f"{r.created_at:%Y-%m-%d %H:%M}",
                "督办编号": r.case_no,
                "文书": r.kind.label,
                "文件名": r.file_name,
                "生成人": r.created_by,
            }
            for r in recent
        ],
        hide_index=True,
        width="stretch",
    )
