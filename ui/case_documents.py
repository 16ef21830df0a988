"""The document actions of one case, shown on the case detail page: print a paper, download
earlier ones (docx, and PDF where LibreOffice is installed) with a print preview of their
first page beside the buttons; before the first paper, the issuing office's setup step.

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
    Office,
    document_file,
    document_pdf,
    document_preview,
    office_setup_needed,
    pdf_available,
    preview_available,
    render_document,
    save_office,
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


def show_preview(doc_id: int) -> None:
    """The first page of a document as a picture (made once per file, then read from disk)."""
    with user_action(), st.spinner("正在生成预览…"), Session(engine()) as session:
        png = document_preview(session, actor(), doc_id)
        st.image(png, caption="打印预览（第 1 页）", width=260)


def download_buttons(doc_id: int, file_name: str, key: str, *, remember: bool = False) -> None:
    """下载 docx (and PDF where it can be made) for one registered document, and its print
    preview where LibreOffice is installed when the user asks for it: a first preview takes
    LibreOffice seconds, and the download must not wait for it. With `remember` the switch
    keeps its state for the next paper printed here (a clerk who checks every paper turns
    it on once)."""
    eng, me = engine(), actor()
    left, right = st.columns([3, 2])
    with left:
        buttons(eng, me, doc_id, file_name, key)
    with right:
        switch = f"{key}_preview" if remember else f"{key}_preview_{doc_id}"
        if preview_available() and st.toggle("打印预览", key=switch):
            show_preview(doc_id)


def buttons(eng: Engine, me: Actor, doc_id: int, file_name: str, key: str) -> None:
    """The two download buttons; the bytes are read (or converted) only when clicked."""
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
        download_buttons(last[0], last[1], f"{key}_last", remember=True)


def office_setup(key: str) -> bool:
    """The setup step before the first paper: the issuing office's name, contact and phone
    (printed on every paper). Admins fill it in here; others are told who can. True when
    papers may be printed."""
    me = actor()
    with Session(engine()) as session:
        if not office_setup_needed(session):
            return True
        office = Office.load(session)
    if not me.can(Perm.MANAGE_SETTINGS):
        st.warning(
            "发文单位的联系人、联系电话尚未设置：文书将省略联系人一句。"
            "请管理员在“系统设置 → 单位与参数”中填写。"
        )
        return True
    st.info("首次生成文书前，请确认发文单位信息（印在每份文书上，可在“系统设置”中修改）。")
    with st.form(f"{key}_office"):
        name = st.text_input("发文单位名称", value=office.name)
        contact = st.text_input("联系人", value=office.contact, placeholder="如：王敏")
        phone = st.text_input("联系电话", value=office.phone, placeholder="如：021-59751234")
        if st.form_submit_button("保存并继续", type="primary"):
            with user_action(), Session(engine()) as session:
                save_office(session, me, name=name, contact=contact, phone=phone)
                session.commit()
                st.rerun()
    return False


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
                if office_setup(key):
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
