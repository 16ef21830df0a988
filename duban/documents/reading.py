"""Reading documents back within the actor's scope: lists, files, PDF and preview."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from duban import config, masking
from duban.enums import DocumentKind
from duban.errors import NotFound, ValidationError
from duban.models import Case, CaseUnit, Document, User
from duban.permissions import Actor, Perm


def case_unit_ids(session: Session, case: Case) -> set[int | None]:
    ids = set(session.exec(select(col(CaseUnit.unit_id)).where(col(CaseUnit.case_id) == case.id)))
    return ids | {case.lead_unit_id}


def check_document_access(session: Session, actor: Actor, doc: Document) -> None:
    """Staff and leaders read every paper; a unit reads the papers of its own cases."""
    if actor.can(Perm.RENDER_DOCUMENTS) or actor.can(Perm.VIEW_ALL):
        return
    case = session.get(Case, doc.case_id) if doc.case_id else None
    actor.require_unit(case_unit_ids(session, case) if case else set(), "查看该文书")


@dataclass(frozen=True)
class DocumentRow:
    """A registered document as the case page lists it."""

    id: int
    kind: DocumentKind
    file_name: str
    created_at: datetime
    created_by: str
    template_name: str
    step_id: int | None
    case_no: str


def document_rows(
    session: Session, *conditions: Any, limit: int | None = None
) -> list[DocumentRow]:
    """Registered documents matching `conditions`, newest first, with who made them."""
    stmt = (
        select(Document, col(User.display_name), col(User.username), col(Case.case_no))
        .join(User, col(User.id) == col(Document.created_by), isouter=True)
        .join(Case, col(Case.id) == col(Document.case_id), isouter=True)
        .where(*conditions)
        .order_by(col(Document.created_at).desc(), col(Document.id).desc())
        .limit(limit)
    )
    return [
        DocumentRow(
            id=doc.id,  # type: ignore[arg-type]  # ids are set: these rows were flushed
            kind=doc.kind,
            file_name=doc.file_name,
            created_at=doc.created_at,
            created_by=display or username or "系统",
            template_name=doc.template_name,
            step_id=doc.step_id,
            case_no=case_no or "",
        )
        for doc, display, username, case_no in session.exec(stmt)
    ]


def case_documents(session: Session, actor: Actor, case_id: int) -> list[DocumentRow]:
    """The papers registered for a case, newest first."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"督办事项（编号 {case_id}）不存在")
    actor.require_unit(case_unit_ids(session, case), "查看该事项的文书")
    return document_rows(session, col(Document.case_id) == case_id)


def recent_documents(session: Session, actor: Actor, limit: int = 30) -> list[DocumentRow]:
    """The newest papers of every case, for the 文书 page."""
    actor.require(Perm.RENDER_DOCUMENTS)
    return document_rows(session, limit=limit)


def get_document(session: Session, actor: Actor, doc_id: int) -> Document:
    doc = session.get(Document, doc_id)
    if doc is None:
        raise NotFound(f"文书（编号 {doc_id}）不存在")
    check_document_access(session, actor, doc)
    return doc


def document_file(session: Session, actor: Actor, doc_id: int) -> tuple[str, bytes]:
    """(file name, bytes) of a registered document, for a download button."""
    doc = get_document(session, actor, doc_id)
    path = config.data_dir() / doc.path
    if not path.is_file():
        raise NotFound(f"文书文件已丢失：{doc.path}（可重新生成）")
    data = path.read_bytes()
    return doc.file_name, data if masking.sees_contacts(actor) else masking.mask_docx(data)


def pdf_available() -> bool:
    """PDF is offered only where LibreOffice is installed."""
    return shutil.which("soffice") is not None


FONT_SUBSTITUTES = {
    "方正小标宋简体": ("Noto Serif CJK SC", True),
    "仿宋_GB2312": ("Noto Serif CJK SC", False),
    "楷体_GB2312": ("Noto Serif CJK SC", False),
    "宋体": ("Noto Serif CJK SC", False),
    "Times New Roman": ("Noto Serif CJK SC", False),
    "黑体": ("Noto Sans CJK SC", False),
}
"""Where the GB fonts (and Times New Roman) are absent — a Linux server with fonts-noto-cjk —
LibreOffice draws them with these (bold for 小标宋), so a PDF keeps the papers' proportions
instead of falling back to wider Latin faces; where the real fonts are installed, the
fontconfig rules below still prefer them."""


def fonts_conf(folder: Path) -> dict[str, str]:
    """The environment for LibreOffice with a fontconfig file applying FONT_SUBSTITUTES to
    missing fonts only (`binding="weak"` after the system configuration)."""
    rules = "".join(
        f'<match target="pattern"><test name="family"><string>{name}</string></test>'
        f'<edit name="family" mode="append" binding="weak"><string>{sub}</string></edit>'
        + ('<edit name="weight" mode="assign"><const>bold</const></edit>' if bold else "")
        + "</match>"
        for name, (sub, bold) in FONT_SUBSTITUTES.items()
    )
    path = folder / "fonts.conf"
    path.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        f'<include ignore_missing="yes">/etc/fonts/fonts.conf</include>{rules}</fontconfig>',
        encoding="utf-8",
    )
    return {**os.environ, "FONTCONFIG_FILE": str(path)}


def to_pdf_many(files: Mapping[str, bytes], *, timeout: float = 300) -> dict[str, bytes]:
    """Convert docx files to PDF with one LibreOffice run: {name.docx: pdf bytes}.

    A private LibreOffice profile per run keeps concurrent conversions from blocking each
    other on the shared user profile; missing GB fonts are drawn with Noto CJK (`fonts_conf`).
    """
    soffice = shutil.which("soffice")
    if soffice is None:
        raise ValidationError("本机未安装 LibreOffice，无法生成 PDF")
    with tempfile.TemporaryDirectory(prefix="duban-pdf-") as tmp:
        folder = Path(tmp)
        inputs = []
        for index, name in enumerate(files):
            source = folder / f"{index}.docx"
            source.write_bytes(files[name])
            inputs.append(str(source))
        command = [
            soffice,
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            "pdf",
            "--outdir",
            str(folder / "out"),
            *inputs,
        ]
        env = fonts_conf(folder)
        try:
            subprocess.run(command, capture_output=True, timeout=timeout, check=False, env=env)
        except subprocess.TimeoutExpired as exc:
            raise ValidationError("PDF 转换超时，请稍后重试") from exc
        result = {}
        for index, name in enumerate(files):
            pdf = folder / "out" / f"{index}.pdf"
            if not pdf.is_file():
                raise ValidationError(f"PDF 转换失败：{name}")
            result[name] = pdf.read_bytes()
        return result


def to_pdf(data: bytes) -> bytes:
    return to_pdf_many({"document.docx": data})["document.docx"]


def document_pdf(session: Session, actor: Actor, doc_id: int) -> tuple[str, bytes]:
    """(file name, PDF bytes) of a registered document; converted once, then kept beside it."""
    doc = get_document(session, actor, doc_id)
    path = (config.data_dir() / doc.path).with_suffix(".pdf")
    if not masking.sees_contacts(actor):  # the masked rendition is kept apart from the full one
        path = path.with_name(f"{path.stem}（脱敏）.pdf")
    if not path.is_file():
        _, data = document_file(session, actor, doc_id)
        path.write_bytes(to_pdf(data))
    return path.name, path.read_bytes()


def preview_available() -> bool:
    """A print preview needs LibreOffice (docx → PDF) and poppler's pdftoppm (PDF → PNG)."""
    return pdf_available() and shutil.which("pdftoppm") is not None


def pdf_first_page_png(pdf: bytes, *, dpi: int = 80, timeout: float = 120) -> bytes:
    """Page 1 of a PDF as a PNG (poppler's pdftoppm)."""
    with tempfile.TemporaryDirectory(prefix="duban-preview-") as tmp:
        source, target = Path(tmp) / "paper.pdf", Path(tmp) / "page"
        source.write_bytes(pdf)
        command = ["pdftoppm", "-png", "-r", str(dpi), "-singlefile", "-f", "1", "-l", "1"]
        try:
            subprocess.run(
                [*command, str(source), str(target)], capture_output=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as exc:
            raise ValidationError("预览图生成超时，请稍后重试") from exc
        png = target.with_suffix(".png")
        if not png.is_file():
            raise ValidationError("预览图生成失败（PDF 无法读取）")
        return png.read_bytes()


def document_preview(session: Session, actor: Actor, doc_id: int) -> bytes:
    """The first page of a registered document as a PNG, for the print preview beside its
    download button; made once per document file (kept beside it, like its PDF)."""
    doc = get_document(session, actor, doc_id)
    path = (config.data_dir() / doc.path).with_suffix(".png")
    if not path.is_file():
        _, pdf = document_pdf(session, actor, doc_id)
        data = pdf_first_page_png(pdf)
        partial = path.with_suffix(".png.tmp")
        partial.write_bytes(data)
        partial.replace(path)  # a reader never sees half a picture
    return path.read_bytes()


def case_choices(session: Session, actor: Actor) -> list[Case]:
    """Cases a user may print papers for, newest first."""
    actor.require(Perm.RENDER_DOCUMENTS)
    return list(
        session.exec(
            select(Case)
            .where(col(Case.deleted_at).is_(None))
            .order_by(col(Case.year).desc(), col(Case.seq).desc())
        )
    )
