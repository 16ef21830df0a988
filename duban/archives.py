"""Limits for every uploaded zip-based Office file (.docx, .xlsx): entries, unpacked size and
compression ratio, read from the zip's directory before anything is unpacked (issue #15).

A 0.28 MB .docx whose XML unpacks to 100 MB took 50 s and 1.8 GB to check; a zip bomb is
refused here in microseconds. Python's zipfile never unpacks more than an entry's declared
size, so the declared sizes checked here bound what a later read can produce.
"""

from __future__ import annotations

import io
import zipfile

from duban.errors import ValidationError

MAX_ENTRIES = 10_000
MAX_RATIO = 200  # unpacked ÷ packed for one entry; real Office XML stays far below
RATIO_FLOOR = 1 << 20  # entries smaller than 1 MB unpacked may compress as well as they like
TEMPLATE_UNPACKED = 50 << 20  # a .docx template: 50 MB unpacked
IMPORT_UNPACKED = 2 << 30  # a 12345 export: 2 GB unpacked (250,000 rows ≈ 0.5 GB)
UPLOAD_UNPACKED = 200 << 20  # an attachment


def check_zip(data: bytes, label: str, *, max_unpacked: int) -> None:
    """Refuse (ValidationError naming the file) a zip with too many entries, too much
    unpacked content or an entry packed beyond `MAX_RATIO`; a file that is not a zip passes
    (the caller's own check says what it is)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError):
        return
    if len(entries) > MAX_ENTRIES:
        raise ValidationError(
            f"文件“{label}”包含 {len(entries)} 个内部文件，超过上限 {MAX_ENTRIES}"
        )
    total = sum(e.file_size for e in entries)
    if total > max_unpacked:
        raise ValidationError(
            f"文件“{label}”解压后 {total / 1048576:.0f} MB，超过上限 {max_unpacked / 1048576:.0f} MB"
        )
    for entry in entries:
        if entry.file_size > RATIO_FLOOR and entry.file_size > MAX_RATIO * max(
            entry.compress_size, 1
        ):
            raise ValidationError(
                f"文件“{label}”中的 {entry.filename} 压缩比异常（疑似压缩炸弹），已拒绝"
            )
