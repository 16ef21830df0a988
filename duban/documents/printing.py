"""Printing: any kind from a plain dict (`render_kind`); a case's paper from the rows it is
printed from, kept under data/documents and registered; many cases at once as one zip.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from duban import audit, config
from duban.clock import cn_date, today
from duban.documents.reading import case_unit_ids, to_pdf_many
from duban.documents.registry import KINDS, KindSpec, kind_spec
from duban.documents.rendering import Rendered, TemplateRef, complete, render_template, sha256
from duban.documents.sources import (
    CaseBundle,
    Office,
    Source,
    load_case,
    load_cases,
    load_meeting,
    unit_names,
)
from duban.documents.templates import current_template
from duban.enums import AuditAction, DocumentKind
from duban.errors import NotFound, ValidationError
from duban.models import Document, Meeting, MeetingCase, Step
from duban.permissions import Actor, Perm


def render_kind(
    session: Session,
    kind: DocumentKind | str,
    context: Mapping[str, Any],
    *,
    template: TemplateRef | None = None,
) -> Rendered:
    """Render a kind's current template with a plain context (no storage, no permission check).

    This is the entry point for papers whose data is not one case (the work report): build
    the context, call this, then `register_document` to keep the file.
    """
    spec = kind_spec(kind)
    ref = template or current_template(session, spec.kind)
    return Rendered(spec.kind, render_template(ref.read(), complete(spec, context)), ref)


# --- choosing the rows a case's paper is printed from ----------------------------------------


def pick_step(spec: KindSpec, bundle: CaseBundle, step_id: int | None) -> Step | None:
    """The step a paper belongs to: the one asked for, else the newest of the kind's steps."""
    if step_id is not None:
        step = next((s for s in bundle.steps if s.id == step_id), None)
        if step is None:
            raise NotFound(f"督办事项 {bundle.case.case_no} 没有编号为 {step_id} 的督办环节")
        if spec.step_kinds and step.kind not in spec.step_kinds:
            allowed = "、".join(k.label for k in spec.step_kinds)
            raise ValidationError(
                f"{spec.title}只能为以下环节生成：{allowed}（所选环节为{step.kind.label}）"
            )
        return step
    if not spec.step_kinds:
        return None
    matching = [s for s in bundle.steps if s.kind in spec.step_kinds]
    return matching[-1] if matching else None


def case_meeting_id(session: Session, bundle: CaseBundle) -> int | None:
    """The newest 专题会 that discussed the case (listed in it, or one of its steps)."""
    ids = set(
        session.exec(
            select(col(MeetingCase.meeting_id)).where(col(MeetingCase.case_id) == bundle.case.id)
        )
    )
    ids |= {s.meeting_id for s in bundle.steps if s.meeting_id}
    if not ids:
        return None
    return session.exec(
        select(col(Meeting.id))
        .where(col(Meeting.id).in_(ids), col(Meeting.deleted_at).is_(None))
        .order_by(col(Meeting.held_at).desc(), col(Meeting.id).desc())
    ).first()


def applicable_steps(kind: DocumentKind | str, bundle: CaseBundle) -> list[Step]:
    """The steps of a case a paper can be printed for, newest first (for a picker)."""
    spec = kind_spec(kind)
    return [s for s in reversed(bundle.steps) if s.kind in spec.step_kinds]


def paper_steps(
    session: Session, actor: Actor, kind: DocumentKind | str, case_id: int
) -> list[tuple[int, str, date]]:
    """The steps of a case the actor may see that a paper of `kind` can be printed for:
    (step id, step kind label, issued date), newest first."""
    bundle = load_case(session, case_id)
    actor.require_unit(case_unit_ids(session, bundle.case), "查看该事项的文书")
    steps = applicable_steps(kind, bundle)
    return [(s.id, s.kind.label, s.issued_at) for s in steps if s.id is not None]


# --- storing and registering ------------------------------------------------------------------

_WINDOWS_BAD = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{p}{n}" for p in ("COM", "LPT") for n in range(1, 10)}  # fmt: skip


def safe_name(text: str, limit: int = 100) -> str:
    """A file or folder name Windows accepts, keeping Chinese and 〔〕 readable."""
    name = _WINDOWS_BAD.sub("_", text).strip().rstrip(". ")
    name = name[:limit].rstrip(". ") or "文书"
    if name.split(".")[0].upper() in _WINDOWS_RESERVED:
        name = f"_{name}"
    return name


def write_new_file(folder: Path, stem: str, suffix: str, data: bytes) -> Path:
    """Write `stem.suffix`, or `stem-第N版.suffix` when earlier versions exist (never overwrite)."""
    folder.mkdir(parents=True, exist_ok=True)
    version = 1
    while True:
        name = f"{stem}{suffix}" if version == 1 else f"{stem}-第{version}版{suffix}"
        path = folder / name
        try:
            with path.open("xb") as fh:
                fh.write(data)
            return path
        except FileExistsError:
            version += 1


def register_document(
    session: Session,
    actor: Actor,
    rendered: Rendered,
    *,
    stem: str,
    year: int,
    folder: str,
    case_id: int | None = None,
    step_id: int | None = None,
    meeting_id: int | None = None,
) -> Document:
    """Keep a rendered file under data/documents/<year>/<folder>/ and register it (audited).

    The caller commits. `stem` is the readable name without extension, e.g.
    "督办单-赵巷督〔2024〕第007号"; a second rendering becomes "…-第2版.docx".
    """
    actor.require(Perm.RENDER_DOCUMENTS)
    base = config.data_dir()
    path = write_new_file(
        base / "documents" / str(year) / safe_name(folder), safe_name(stem), ".docx", rendered.data
    )
    doc = Document(
        kind=rendered.kind,
        case_id=case_id,
        step_id=step_id,
        meeting_id=meeting_id,
        template_name=rendered.template.name,
        template_sha256=rendered.template.sha256,
        file_name=path.name,
        path=path.relative_to(base).as_posix(),
        sha256=sha256(rendered.data),
        created_by=actor.user_id,
    )
    session.add(doc)
    session.flush()
    audit.record(
        session,
        actor,
        AuditAction.RENDER,
        "document",
        doc.id,
        field=rendered.kind.value,
        new=path.name,
        note=f"{rendered.kind.label}，模板 {rendered.template.name}",
    )
    return doc


def case_source(
    session: Session,
    spec: KindSpec,
    bundle: CaseBundle,
    *,
    office: Office,
    names: Mapping[int, str],
    step_id: int | None = None,
    meeting_id: int | None = None,
) -> Source:
    step = pick_step(spec, bundle, step_id)
    meeting = None
    if spec.meeting:
        mid = meeting_id or case_meeting_id(session, bundle)
        meeting = load_meeting(session, mid) if mid else None
    return Source(office=office, names=names, case=bundle, step=step, meeting=meeting)


def _render_case(
    session: Session,
    actor: Actor,
    spec: KindSpec,
    source: Source,
    template: TemplateRef,
    template_bytes: bytes,
) -> tuple[Document, bytes]:
    """Render a case's paper and register it; the row and the file's bytes."""
    assert spec.build is not None and source.case is not None
    case = source.case.case
    data = render_template(template_bytes, complete(spec, spec.build(source)))
    doc = register_document(
        session,
        actor,
        Rendered(spec.kind, data, template),
        stem=f"{spec.title}-{case.case_no}",
        year=case.year,
        folder=case.case_no,
        case_id=case.id,
        step_id=source.step.id if source.step else None,
        meeting_id=source.meeting.meeting.id if source.meeting else None,
    )
    return doc, data


def render_document(
    session: Session,
    actor: Actor,
    kind: DocumentKind | str,
    *,
    case_id: int | None = None,
    step_id: int | None = None,
    meeting_id: int | None = None,
) -> Document:
    """Render, keep and register one paper of a case (or the minutes of a meeting).

    The step defaults to the newest step of the kind's step kinds; the meeting of 专题会纪要
    to the newest meeting that discussed the case. The caller commits.
    """
    actor.require(Perm.RENDER_DOCUMENTS)
    spec = kind_spec(kind)
    if spec.build is None:
        raise ValidationError(f"{spec.title}不是按督办事项生成的文书")
    office, names = Office.load(session), unit_names(session)
    template = current_template(session, spec.kind)
    if case_id is None:
        if not (spec.meeting and meeting_id):
            raise ValidationError(f"生成{spec.title}需要指定督办事项")
        meeting = load_meeting(session, meeting_id)
        source = Source(office=office, names=names, meeting=meeting)
        held = meeting.meeting.held_at
        rendered = Rendered(
            spec.kind,
            render_template(template.read(), complete(spec, spec.build(source))),
            template,
        )
        return register_document(
            session,
            actor,
            rendered,
            stem=f"{spec.title}-{cn_date(held)}",
            year=held.year,
            folder="专题会",
            meeting_id=meeting_id,
        )
    bundle = load_case(session, case_id)
    source = case_source(
        session, spec, bundle, office=office, names=names, step_id=step_id, meeting_id=meeting_id
    )
    return _render_case(session, actor, spec, source, template, template.read())[0]


@dataclass
class BatchResult:
    """One zip of many cases' papers, and the cases left out with the reason."""

    file_name: str
    data: bytes
    documents: list[Document]
    skipped: list[str]


ProgressCallback = Callable[[int, int, str], None]


def render_batch(
    session: Session,
    actor: Actor,
    kind: DocumentKind | str,
    case_ids: list[int],
    *,
    progress: ProgressCallback | None = None,
) -> BatchResult:
    """Render one paper per case (each kept and registered) and zip them together.

    `progress(done, total, case_no)` is called after each case. A case that cannot have the
    paper (no on-site notice yet, deleted) is left out and named in 未生成清单.txt. Files
    written before a failure are removed again; the caller commits.
    """
    actor.require(Perm.RENDER_DOCUMENTS)
    spec = kind_spec(kind)
    if not spec.batch or spec.build is None:
        allowed = "、".join(s.title for s in KINDS.values() if s.batch)
        raise ValidationError(f"{spec.title}不支持批量生成，可批量生成：{allowed}")
    if not case_ids:
        raise ValidationError("请至少选择一个督办事项")
    office, names = Office.load(session), unit_names(session)
    template = current_template(session, spec.kind)
    template_bytes = template.read()
    bundles = load_cases(session, case_ids)
    documents: list[Document] = []
    skipped: list[str] = []
    buffer = io.BytesIO()
    try:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            for done, case_id in enumerate(case_ids, start=1):
                bundle = bundles.get(case_id)
                label = bundle.case.case_no if bundle else f"编号 {case_id}"
                if bundle is None:
                    skipped.append(f"{label}：督办事项不存在或已删除")
                else:
                    source = case_source(session, spec, bundle, office=office, names=names)
                    try:
                        doc, data = _render_case(
                            session, actor, spec, source, template, template_bytes
                        )
                    except ValidationError as exc:
                        reason = str(exc)
                        skipped.append(reason if label in reason else f"{label}：{reason}")
                    else:
                        documents.append(doc)
                        archive.writestr(doc.file_name, data)
                if progress:
                    progress(done, len(case_ids), label)
            if skipped:
                archive.writestr("未生成清单.txt", "\r\n".join(skipped) + "\r\n")
    except BaseException:
        for doc in documents:
            (config.data_dir() / doc.path).unlink(missing_ok=True)
        raise
    name = f"{spec.title}-{len(documents)}份-{today():%Y%m%d}.zip"
    return BatchResult(file_name=name, data=buffer.getvalue(), documents=documents, skipped=skipped)


def batch_pdfs(batch: BatchResult) -> BatchResult:
    """The same zip with a PDF beside every document (one LibreOffice run for all)."""
    files = {d.file_name: (config.data_dir() / d.path).read_bytes() for d in batch.documents}
    pdfs = to_pdf_many(files) if files else {}
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(batch.data)) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as target,
    ):
        for info in source.infolist():
            target.writestr(info, source.read(info))
        for name, pdf in pdfs.items():
            target.writestr(str(Path(name).with_suffix(".pdf")), pdf)
    return BatchResult(batch.file_name, buffer.getvalue(), batch.documents, batch.skipped)
