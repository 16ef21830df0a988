"""The document actions of one case, shown on the case detail page: print a paper, download
earlier ones (docx, and PDF where LibreOffice is installed).

Session keys are prefixed `case_documents_<case id>_` so two cases never share a widget.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from sqlalchemy import Engine
from sqlmodel import Session

from duban.clock import cn_date
from duban.documents import (
    DOCX_MIME,
    KINDS,
    document_file,
    document_pdf,
    pdf_available,
    render_document,
)
from duban.enums import DocumentKind
from duban.permissions import Actor, Perm
from ui.case_data import case_papers, paper_steps
from ui.common import actor, engine, user_action
from ui.shared import Stamp

CASE_KINDS = [kind for kind, spec in KINDS.items() if spec.build is not None]


def file_loader(eng: Engine, me: Actor, doc_id: int, pdf: bool = False) -> Callable[[], bytes]:
    """Bytes of a document read (or converted) only when its download button is clicked."""

    def load() -> bytes:
        with Session(eng) as session:
            reader = document_pdf if pdf else document_file
            return reader(session, me, doc_id)[1]

    return load


def download_buttons(doc_id: int, file_name: str, key: str) -> None:
    """下载 docx (and PDF where it can be made) for one registered document."""
    eng, me = engine(), actor()
    cols = st.columns(2)
    cols[0].download_button(
        "下载 Word",
        data=file_loader(eng, me, doc_id),
        file_name=file_name,
        mime=DOCX_MIME,
        key=f"{key}_docx_{doc_id}",
        icon=":material/description:",
    )
    if pdf_available():
        cols[1].download_button(
            "下载 PDF",
            data=file_loader(eng, me, doc_id, pdf=True),
            file_name=file_name.rsplit(".", 1)[0] + ".pdf",
            mime="application/pdf",
            key=f"{key}_pdf_{doc_id}",
            icon=":material/print:",
        )


def render_controls(case_id: int, key: str, stamp: Stamp) -> None:
    """Choose a kind (and the step it belongs to) and print it."""
    kind = st.selectbox(
        "文书类型",
        CASE_KINDS,
        format_func=lambda k: DocumentKind(k).label,
        key=f"{key}_kind",
        placeholder="请选择",
    )
    spec = KINDS[kind]
    step_id = None
    if spec.step_kinds:
        steps = paper_steps(stamp, actor(), kind, case_id)
        if steps:
            labels = {i: f"{label}（{cn_date(issued)}发出）" for i, label, issued in steps}
            step_id = st.selectbox(
                "对应督办环节",
                list(labels),
                format_func=lambda i: labels[i],
                key=f"{key}_step_{kind}",
                placeholder="请选择",
            )
    st.caption(spec.description)
    if st.button("生成文书", key=f"{key}_render", type="primary"):
        with user_action(), Session(engine()) as session:
            doc = render_document(session, actor(), kind, case_id=case_id, step_id=step_id)
            session.commit()
            st.session_state[f"{key}_last"] = (doc.id, doc.file_name)
    last = st.session_state.get(f"{key}_last")
    if last:
        st.success(f"已生成：{last[1]}")
        download_buttons(last[0], last[1], f"{key}_last")


def case_documents_panel(case_id: int, stamp: Stamp) -> None:
    """Everything about a case's papers: print a new one, list and download earlier ones.
    `stamp`: the data's state as the case page read it (`ui.shared.change_stamp`)."""
    me = actor()
    key = f"case_documents_{case_id}"
    if me.can(Perm.RENDER_DOCUMENTS):
        # drawn only when opened (opening reruns the page), like the case's action forms
        box = st.expander("生成文书", key=f"{key}_open", on_change="rerun")
        if box.open:
            with box, user_action():
                render_controls(case_id, key, stamp)
    st.markdown("**已生成的文书**")
    with user_action():
        rows = case_papers(stamp, me, case_id)
        if not rows:
            st.caption("尚未生成文书")
        for row in rows:
            with st.container(border=True):
                st.markdown(
                    f"{row.kind.label} · `{row.file_name}`  \n"
                    f"{row.created_at:%Y-%m-%d %H:%M} {row.created_by} · 模板 {row.template_name}"
                )
                download_buttons(row.id, row.file_name, key)
