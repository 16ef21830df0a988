"""Uploaded files (scanned feedback, attachments): checked by content, stored by hash.

A file is accepted only if its bytes are what an allowed kind looks like (magic bytes, or
the zip parts of an Office file, or decodable text for CSV) — never by its name. It is
kept once under `data/uploads/<aa>/<sha256>.<ext>` (the same scan uploaded twice is one
file and one `Upload` row); the user's file name is kept, sanitised, for display and
download only, so it can never point outside the data folder or trip up Windows.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from sqlmodel import Session, col, select

from duban import archives, config
from duban.errors import PermissionDenied, ValidationError
from duban.models import Upload, User
from duban.permissions import Actor, Perm
from duban.records import insert

DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # §三 scans: 20 MB is plenty for a signed, stamped page
SCAN_KINDS = ("pdf", "jpeg", "png")  # what a 书面反馈 scan may be


@dataclass(frozen=True)
class Kind:
    code: str
    label: str
    extension: str
    content_type: str


KINDS: dict[str, Kind] = {
    k.code: k
    for k in (
        Kind("pdf", "PDF", ".pdf", "application/pdf"),
        Kind("jpeg", "JPG 图片", ".jpg", "image/jpeg"),
        Kind("png", "PNG 图片", ".png", "image/png"),
        Kind(
            "xlsx",
            "Excel 表格（.xlsx）",
            ".xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        Kind(
            "docx",
            "Word 文档（.docx）",
            ".docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        Kind("csv", "CSV 文本", ".csv", "text/csv"),
    )
}

WINDOWS_RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
UNSAFE_CHARS = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
MAX_NAME_LENGTH = 120


def detect_kind(data: bytes) -> str | None:
    """The kind of a file judged by its bytes alone, or None if it is none of `KINDS`."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"PK\x03\x04"):
        return _office_kind(data)
    if _is_csv_text(data):
        return "csv"
    return None


def _office_kind(data: bytes) -> str | None:
    """An Office Open XML package: xlsx has xl/workbook.xml, docx has word/document.xml."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "word/document.xml" in names:
        return "docx"
    return None


def _is_csv_text(data: bytes) -> bool:
    """Plain text in UTF-8 (with or without BOM) or GB18030, no NUL bytes, with a separator."""
    if not data or b"\x00" in data:
        return False
    sample = data[:65536]
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            # a cut in the middle of a multi-byte character at the sample's end is fine
            try:
                text = sample[:-4].decode(encoding)
            except UnicodeDecodeError:
                continue
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
        if text and printable / len(text) > 0.98 and ("," in text or "\t" in text):
            return True
    return False


def sanitize_name(name: str, extension: str = "") -> str:
    """A display/download name that is safe everywhere.

    Drops any directory part (`../../etc/passwd` → `passwd`, `C:\\x\\a.pdf` → `a.pdf`),
    replaces characters Windows forbids, trims dots and spaces at the end, prefixes
    reserved device names (`CON.pdf` → `_CON.pdf`), shortens long names, and makes the
    extension the one the content proved (`scan.exe` holding a PDF → `scan.pdf`).
    """
    text = unicodedata.normalize("NFC", name or "")
    text = PureWindowsPath(PurePosixPath(text.replace("\\", "/")).name).name
    text = UNSAFE_CHARS.sub("_", text).strip().rstrip(". ")
    stem, ext = os.path.splitext(text)
    if extension:
        same = ext.lower() == extension or (extension == ".jpg" and ext.lower() == ".jpeg")
        ext = ext if same else extension
    stem = stem.strip().rstrip(". ") or "file"
    if stem.split(".")[0].upper() in WINDOWS_RESERVED:
        stem = "_" + stem
    return stem[: MAX_NAME_LENGTH - len(ext)] + ext


def upload_path(upload: Upload) -> Path:
    """Where an upload's bytes are on disk (inside the data folder)."""
    return config.data_dir() / upload.path


def read_upload(upload: Upload) -> bytes:
    return upload_path(upload).read_bytes()


def store_upload(
    session: Session,
    actor: Actor,
    *,
    name: str,
    data: bytes,
    allowed: tuple[str, ...] = SCAN_KINDS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Upload:
    """Check and keep an uploaded file; the same content again from the same user returns
    their existing row. Another user's identical file gets a row of its own (the bytes on disk
    are shared), so nobody is handed another unit's row or file name.

    Refuses (ValidationError naming the file) an empty or oversized file or one whose
    content is not an allowed kind. The file is written before the caller commits; if the
    transaction rolls back, the next upload of the same bytes reuses it.
    """
    if not any(actor.can(p) for p in (Perm.REGISTER_FEEDBACK, Perm.EDIT_CASES)):
        actor.require(Perm.REGISTER_FEEDBACK, "上传文件")
    unknown = set(allowed) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown upload kinds: {sorted(unknown)}")
    shown = name or "未命名文件"
    if not data:
        raise ValidationError(f"文件“{shown}”是空文件")
    if len(data) > max_bytes:
        raise ValidationError(
            f"文件“{shown}”大小 {len(data) / 1048576:.1f} MB，超过上限 {max_bytes / 1048576:.0f} MB"
        )
    kind = detect_kind(data)
    if kind not in allowed:
        wanted = "、".join(KINDS[k].label for k in allowed)
        found = f"实际为{KINDS[kind].label}" if kind else "无法识别的文件内容"
        raise ValidationError(f"文件“{shown}”的类型不符（{found}），只接受：{wanted}")
    if kind in ("xlsx", "docx"):
        archives.check_zip(data, shown, max_unpacked=archives.UPLOAD_UNPACKED)
    digest = hashlib.sha256(data).hexdigest()
    mine = select(Upload).where(
        col(Upload.sha256) == digest, col(Upload.created_by) == actor.user_id
    )
    existing = session.exec(mine).first()
    if existing is not None:
        if not upload_path(existing).exists():
            _write(upload_path(existing), data)
        return existing
    spec = KINDS[kind]
    relative = f"uploads/{digest[:2]}/{digest}{spec.extension}"
    _write(config.data_path(*relative.split("/")), data)
    upload = Upload(
        sha256=digest,
        original_name=sanitize_name(shown, spec.extension),
        content_type=spec.content_type,
        size=len(data),
        path=relative,
        created_by=actor.user_id,
    )
    return insert(
        session,
        actor,
        upload,
        new=upload.original_name,
        note=f"上传文件（{spec.label}，{len(data)} 字节）",
    )


def _write(path: Path, data: bytes) -> None:
    """Write atomically: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def require_own_upload(session: Session, actor: Actor, upload_id: int) -> Upload:
    """The upload a caller names, if the actor may attach it: the center any, a unit user
    only one uploaded by someone of their own unit (an id from another unit is refused)."""
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise ValidationError(f"扫描件（编号 {upload_id}）不存在")
    if actor.can(Perm.VIEW_ALL):
        return upload
    owner = session.get(User, upload.created_by) if upload.created_by is not None else None
    if owner is None or owner.unit_id is None or owner.unit_id != actor.unit_id:
        raise PermissionDenied(f"当前账号（{actor.username}）只能使用本单位上传的扫描件")
    return upload
