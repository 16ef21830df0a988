"""Bounded checks of uploaded Office files (issue #15): a template's trial render runs in a
child process with time, memory and output limits; every .docx/.xlsx has its zip checked
(entries, unpacked size, ratio) before anything unpacks it."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from sqlmodel import select

from duban import archives, template_limits
from duban.documents import check_template, upload_template
from duban.enums import Role
from duban.errors import ValidationError
from duban.importer import ImportRefused, import_tickets
from duban.models import TemplateVersion, Upload
from duban.permissions import SYSTEM, Actor
from duban.uploads import store_upload
from tests.test_templates import FORM, edited


def bomb(base: bytes, name: str = "word/media/padding.bin", size: int = 100 << 20) -> bytes:
    """`base` with one more entry that packs `size` zero bytes into about size/1000."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr(name, b"\0" * size, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def test_nested_loops_are_stopped_by_the_time_limit(monkeypatch):
    monkeypatch.setattr(template_limits, "TIME_LIMIT", 3)
    template = edited(
        FORM, "{% for i in range(99999) %}{% for j in range(99999) %}x{% endfor %}{% endfor %}"
    )
    started = time.monotonic()
    problems = check_template(FORM, template, "循环.docx")
    assert time.monotonic() - started < 10
    assert problems == ["用示例数据试生成超过 3 秒，已中止（模板中的循环过多或过大）"]


def test_a_template_that_writes_megabytes_is_refused(session):
    template = edited(FORM, "{{ 'x' * 10**7 }}")
    with pytest.raises(ValidationError, match="超过上限 5 MB"):
        upload_template(session, SYSTEM, FORM, "大.docx", template)
    assert session.exec(select(TemplateVersion)).all() == []


def test_a_template_zip_bomb_is_refused_before_unpacking():
    packed = bomb(edited(FORM))
    started = time.monotonic()
    problems = check_template(FORM, packed, "炸弹.docx")
    assert time.monotonic() - started < 2
    assert len(problems) == 1 and "超过上限 50 MB" in problems[0]


def test_a_well_behaved_template_still_passes():
    assert check_template(FORM, edited(FORM, "备注：{{ case_no }}"), "正常.docx") == []


def test_an_xlsx_bomb_is_refused_by_the_importer_and_as_an_upload(session):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["工单编号", "诉求时间"])
    buffer = io.BytesIO()
    wb.save(buffer)
    packed = bomb(buffer.getvalue(), "xl/media/padding.bin", 300 << 20)
    with pytest.raises(ImportRefused, match="压缩比异常"):
        import_tickets(session, SYSTEM, packed, "工单.xlsx")
    clerk = Actor(user_id=None, username="clerk", role=Role.CENTER)
    with pytest.raises(ValidationError, match="超过上限 200 MB"):
        store_upload(session, clerk, name="附件.xlsx", data=packed, allowed=("xlsx",),
                     max_bytes=50 << 20)  # fmt: skip
    assert session.exec(select(Upload)).all() == []


def test_too_many_entries_are_refused():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n in range(archives.MAX_ENTRIES + 1):
            z.writestr(f"x/{n}", b"")
    with pytest.raises(ValidationError, match="内部文件"):
        archives.check_zip(out.getvalue(), "多.docx", max_unpacked=archives.TEMPLATE_UNPACKED)
