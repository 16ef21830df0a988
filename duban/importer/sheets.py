"""Reading the file (Excel or CSV) and recognising its header row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

import python_calamine
from sqlalchemy import select
from sqlmodel import Session

from duban import archives
from duban.errors import ValidationError
from duban.importer.fields import CENTER_HEADERS, FIELD_LABELS, IGNORE, SYNONYMS, ImportRefused
from duban.importer.values import cell_text
from duban.models import ColumnMapping
from duban.text import normalize_header

HEADER_SEARCH_ROWS = 10
# --- reading the file --------------------------------------------------------------------

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")


@dataclass
class Sheet:
    name: str
    rows: list[list[Any]]  # rows[i] is the row Excel shows as i + 1


def read_sheets(data: bytes, file_name: str) -> Iterator[Sheet]:
    """The sheets of an .xlsx/.xls workbook or the one table of a .csv, or ImportRefused."""
    if not data.strip():
        raise ImportRefused(f"文件“{file_name}”是空的，没有可导入的内容")
    if data.startswith(OLE_MAGIC) and ENCRYPTED_STREAM in data:
        raise ImportRefused(
            f"文件“{file_name}”已加密（设置了打开密码），无法读取；"
            "请在 Excel/WPS 中取消密码后另存，再导入"
        )
    if data.startswith((OLE_MAGIC, ZIP_MAGIC)):
        yield from _excel_sheets(data, file_name)
        return
    yield Sheet(name=PurePath(file_name).stem, rows=_csv_rows(data, file_name))


def _excel_sheets(data: bytes, file_name: str) -> Iterator[Sheet]:
    try:
        archives.check_zip(data, file_name, max_unpacked=archives.IMPORT_UNPACKED)
    except ValidationError as exc:
        raise ImportRefused(str(exc)) from exc
    try:
        workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = workbook.sheet_names
    except Exception as exc:  # calamine raises several types for a damaged file
        raise ImportRefused(_damaged(file_name, exc)) from exc
    for name in names:
        try:
            rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except Exception as exc:
            raise ImportRefused(_damaged(file_name, exc)) from exc
        yield Sheet(name=name, rows=rows)


def _damaged(file_name: str, exc: Exception) -> str:
    text = str(exc).lower()
    if "password" in text or "encrypt" in text:
        return f"文件“{file_name}”已加密（设置了打开密码），请取消密码后另存，再导入"
    return f"文件“{file_name}”已损坏或不是有效的 Excel 文件，无法读取；请从 12345 平台重新导出"


def decode_text(data: bytes, file_name: str) -> str:
    """CSV bytes as text: UTF-8 (with or without BOM), else GBK/GB18030."""
    if b"\x00" in data[:4096]:
        raise ImportRefused(f"文件“{file_name}”不是文本格式的 CSV，也不是 Excel 文件，无法读取")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportRefused(f"文件“{file_name}”的编码无法识别（支持 UTF-8、GBK/GB18030）")


def _csv_rows(data: bytes, file_name: str) -> list[list[Any]]:
    text = decode_text(data, file_name)
    sample = text[:8192]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    rows: list[list[Any]] = []
    for record in reader:
        # a quoted cell with line breaks spans several lines: pad so rows[i] ↔ line i + 1
        while len(rows) < reader.line_num - 1:
            rows.append([])
        rows.append(record)
    return rows


# --- header recognition -------------------------------------------------------------------


def _synonym_index() -> dict[str, tuple[str, int]]:
    index: dict[str, tuple[str, int]] = {}
    for name, words in SYNONYMS.items():
        for rank, word in enumerate(words):
            index.setdefault(normalize_header(word).lower(), (name, rank))
    return index


SYNONYM_INDEX = _synonym_index()
CENTER_KEYS = frozenset(normalize_header(h).lower() for h in CENTER_HEADERS)


def header_key(text: Any) -> str:
    """The lookup key of a header cell: half-width, no white space, lower case."""
    return normalize_header(cell_text(text)).lower()


@dataclass
class Layout:
    """Where things are in a sheet: the header row and what each column means."""

    header_row: int  # index into Sheet.rows
    fields: dict[str, int]  # field → column index
    headers: list[str]  # the file's header text per column
    raw_columns: list[int]  # columns kept in Ticket.raw

    def header_of(self, name: str) -> str:
        return self.headers[self.fields[name]] if name in self.fields else FIELD_LABELS[name]


def recognise(cells: list[Any], mappings: dict[str, str]) -> Layout | None:
    """Map a candidate header row; None unless it has both 工单编号 and 诉求时间 columns."""
    best: dict[str, tuple[int, int]] = {}  # field → (rank, column)
    headers = [" ".join(cell_text(c).split()) for c in cells]
    raw_columns: list[int] = []
    for col, text in enumerate(headers):
        key = header_key(text)
        if not key:
            continue
        if key in mappings:
            target, rank = mappings[key], -1
            if target == IGNORE:
                continue
        elif key in SYNONYM_INDEX:
            target, rank = SYNONYM_INDEX[key]
        elif key in CENTER_KEYS:
            continue
        else:
            raw_columns.append(col)
            continue
        if target not in best or rank < best[target][0]:
            if target in best:
                raw_columns.append(best[target][1])
            best[target] = (rank, col)
        else:
            raw_columns.append(col)
    if "ticket_no" not in best or "received_at" not in best:
        return None
    fields = {name: col for name, (_, col) in best.items()}
    return Layout(header_row=0, fields=fields, headers=headers, raw_columns=sorted(raw_columns))


def find_layout(sheet: Sheet, mappings: dict[str, str]) -> Layout | None:
    """The header within the first rows (a title row, even merged, may sit above it)."""
    for index, cells in enumerate(sheet.rows[:HEADER_SEARCH_ROWS]):
        layout = recognise(cells, mappings)
        if layout is not None:
            layout.header_row = index
            return layout
    return None


def load_mappings(session: Session) -> dict[str, str]:
    rows = session.execute(select(ColumnMapping)).scalars()
    return {header_key(m.header): m.field for m in rows}


def locate(data: bytes, file_name: str, mappings: dict[str, str]) -> tuple[Sheet, Layout]:
    """The first sheet with a recognisable header, or ImportRefused saying what is missing."""
    seen_any = False
    for sheet in read_sheets(data, file_name):
        if any(any(cell_text(c).strip() for c in row) for row in sheet.rows):
            seen_any = True
        layout = find_layout(sheet, mappings)
        if layout is not None:
            return sheet, layout
    if not seen_any:
        raise ImportRefused(f"文件“{file_name}”中没有任何数据")
    names = "、".join(SYNONYMS["ticket_no"]) + "；" + "、".join(SYNONYMS["received_at"])
    raise ImportRefused(
        f"文件“{file_name}”的前 {HEADER_SEARCH_ROWS} 行中找不到“工单编号”和“诉求时间”两列表头"
        f"（可识别的名称：{names}），请检查是否选错了文件，或在“列映射”中指定"
    )
