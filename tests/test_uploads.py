"""Uploaded scans (书面反馈扫描件): type by content, size limit, safe names, stored by hash."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from docx import Document as DocxDocument
from openpyxl import Workbook
from sqlalchemy import func
from sqlmodel import select

from duban.enums import Role
from duban.errors import PermissionDenied, ValidationError
from duban.models import Upload
from duban.permissions import Actor
from duban.uploads import detect_kind, read_upload, sanitize_name, store_upload, upload_path
from tests.factories import sample_file

CLERK = Actor(user_id=None, username="clerk", role=Role.CENTER)
PDF = sample_file("pdf")
PNG = sample_file("png")
JPEG = sample_file("jpeg")


def xlsx_bytes() -> bytes:
    buf = io.BytesIO()
    Workbook().save(buf)
    return buf.getvalue()


def docx_bytes() -> bytes:
    buf = io.BytesIO()
    DocxDocument().save(buf)
    return buf.getvalue()


def plain_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("evil.exe", b"MZ")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PDF, "pdf"),
        (PNG, "png"),
        (JPEG, "jpeg"),
        (xlsx_bytes(), "xlsx"),
        (docx_bytes(), "docx"),
        ("工单编号,诉求时间\n0012,2024-01-02\n".encode(), "csv"),
        ("工单编号,诉求时间\n0012,2024-01-02\n".encode("gb18030"), "csv"),
        (b"MZ\x90\x00\x03\x00\x00\x00", None),
        (plain_zip(), None),
        (b"<html><script>alert(1)</script></html>", None),
    ],
)
def test_the_kind_is_judged_by_content(data, kind):
    assert detect_kind(data) == kind


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("扫描件.pdf", "扫描件.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\a\\回执.pdf", "回执.pdf"),
        ('a<b>c:d"e|f?g*h.pdf', "a_b_c_d_e_f_g_h.pdf"),
        ("CON.pdf", "_CON.pdf"),
        ("lpt1.tar.pdf", "_lpt1.tar.pdf"),
        ("report.pdf. . ", "report.pdf"),
        ("scan.exe", "scan.pdf"),  # the content decides the extension
        ("", "file.pdf"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_names_are_sanitised_for_every_platform(name, safe):
    assert sanitize_name(name, ".pdf") == safe


def test_a_scan_is_stored_once_by_hash_inside_the_data_folder(session, data_dir: Path):
    """书面反馈 scans are kept under data/uploads/ by hash; the same file twice is one row."""
    first = store_upload(session, CLERK, name="../回执.pdf", data=PDF)
    again = store_upload(session, CLERK, name="另一个名字.pdf", data=PDF)
    session.commit()
    assert again.id == first.id
    assert session.exec(select(func.count()).select_from(Upload)).one() == 1
    path = upload_path(first)
    assert path.is_relative_to(data_dir / "uploads")
    assert path.name == f"{first.sha256}.pdf"
    assert (first.original_name, first.content_type, first.size) == (
        "回执.pdf",
        "application/pdf",
        len(PDF),
    )
    assert read_upload(first) == PDF


def test_a_file_of_another_type_is_refused_whatever_its_name(session, data_dir: Path):
    with pytest.raises(ValidationError, match="类型不符（实际为PNG 图片）"):
        store_upload(session, CLERK, name="回执.png", data=PNG, allowed=("pdf",))
    with pytest.raises(ValidationError, match="无法识别的文件内容"):
        store_upload(session, CLERK, name="回执.pdf", data=b"MZ\x90\x00 not a pdf")
    assert not (data_dir / "uploads").exists()


def test_size_limit_and_empty_files_are_refused(session):
    with pytest.raises(ValidationError, match="超过上限 1 MB"):
        store_upload(session, CLERK, name="大.pdf", data=PDF + b"0" * (1 << 20), max_bytes=1 << 20)
    with pytest.raises(ValidationError, match="空文件"):
        store_upload(session, CLERK, name="空.pdf", data=b"")


def test_the_default_limit_is_twenty_megabytes(session):
    store_upload(session, CLERK, name="ok.pdf", data=PDF + b"0" * (20 * 1024 * 1024 - len(PDF)))
    with pytest.raises(ValidationError, match="超过上限 20 MB"):
        store_upload(session, CLERK, name="big.pdf", data=PDF + b"0" * (20 * 1024 * 1024))


def test_leaders_cannot_upload(session):
    with pytest.raises(PermissionDenied):
        store_upload(session, Actor(None, "l", Role.LEADER), name="a.pdf", data=PDF)
