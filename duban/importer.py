"""12345 export → tickets: read the file, normalise each row, validate, upsert by 工单编号.

The city platform's export changes shape from year to year (a title row above the header,
other column names, dates as cells or as text, ids as numbers). This module turns any of
those into `Ticket` rows, and never guesses silently:

- a column is recognised by a synonym or by a mapping the user saved (`ColumnMapping`);
  unknown columns are kept per ticket in `Ticket.raw` and listed in the report;
- a row that cannot be read is rejected with the row number Excel shows, the column and
  the reason; the others are imported in the caller's one transaction;
- a file that cannot be read at all (encrypted, corrupt, empty, no 工单编号/诉求时间 header)
  is refused whole before anything is written (`ImportRefused`).

Upsert by `ticket_no`: platform fields are refreshed, the center's own fields (notes,
tags, repeat group, case links) are never touched. The unit is special: the center may
correct a ticket's unit in the ledger. A correction is recognised without extra state: a
ticket whose `unit_id` is set and differs from the unit its stored `unit_raw` resolves to
was corrected by the center, and a re-import keeps that `unit_id` (it still refreshes
`unit_raw`, the platform's word).

History: each changed field of an updated ticket gets its own audit row; a new ticket's
creation is the batch's audit row, which the ticket references by `import_batch_id`
(`tickets.ticket_history` reads it back as the ticket's first entry).

Speed: Excel is read with python-calamine, new rows and audit rows go to the driver at once
(`duban.bulk`: executemany on SQLite, COPY on PostgreSQL), updates are Core bulk statements,
existing tickets are fetched by number in chunks.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gc
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import PurePath
from typing import Any

import python_calamine
from sqlalchemy import insert, select, update
from sqlmodel import Session
from sqlmodel import col as column_of

from duban import archives, audit, bulk
from duban.clock import SHANGHAI, now
from duban.enums import AuditAction, CallbackResult, UnitKind
from duban.errors import ValidationError
from duban.meetings import RouteSuggestion, suggest_routes
from duban.models import AuditLog, ColumnMapping, ImportBatch, Ticket, Unit
from duban.permissions import Actor, Perm
from duban.records import get_live, table_of
from duban.text import normalize_address, normalize_header

TICKET_TABLE = table_of(Ticket)
AUDIT_TABLE = table_of(AuditLog)
HEADER_SEARCH_ROWS = 10
CHUNK = 900  # ids per IN (...) query: under every database's parameter limit
EXACT_FLOAT_DIGITS = 15  # Excel keeps 15 significant digits of a number

# The seed's words for each ticket field (also the export's headers).
FIELD_LABELS: dict[str, str] = {
    "ticket_no": "工单编号",
    "received_at": "诉求时间",
    "title": "标题",
    "address": "诉求地址",
    "content": "内容描述",
    "unit": "承办单位",
    "category": "问题分类",
    "caller": "诉求人",
    "phone": "联系电话",
    "platform_due_at": "办理时限",
    "platform_status": "工单状态",
    "callback_result": "回访结果",
    "resolved": "是否解决",
    "city_supervised": "市级督办",
}

# Header synonyms per field, most specific first (an earlier synonym wins a tie).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "ticket_no": ("工单编号", "工单号", "工单ID", "编号"),
    "received_at": (
        "诉求时间",
        "来电时间",
        "受理时间",
        "登记时间",
        "创建时间",
        "区交办时间",
        "派单时间",
    ),
    "title": ("标题", "工单标题", "诉求标题"),
    "address": ("诉求地址", "反映地址", "事发地址", "详细地址", "事件发生地", "地址"),
    "content": ("内容描述", "诉求内容", "反映内容", "问题描述"),
    "unit": ("承办单位", "主办单位", "处理单位", "责任单位"),
    "category": ("问题分类", "诉求分类", "业务类别"),
    "caller": ("诉求人", "来电人", "求助人", "联系人"),
    "phone": ("联系电话", "来电号码", "手机号"),
    "platform_due_at": ("办理时限", "处理时限", "截止时间", "区交办办结期限"),
    "platform_status": ("工单状态", "办理状态", "状态"),
    "callback_result": ("回访结果", "回访满意度", "市民满意度", "满意度", "市民评价"),
    "resolved": ("是否解决", "解决情况"),
    "city_supervised": ("市级督办", "是否市级督办"),
}

# Columns of our own export that hold the center's fields: never read back from a file.
CENTER_HEADERS = ("核定承办单位", "备注", "标签", "重复组")

# Fields a user may map an unknown header to (the column-mapping form).
MAPPABLE_FIELDS = tuple(FIELD_LABELS)
IGNORE = ""  # a ColumnMapping.field meaning "drop this column"

# Callback wording seen on platforms → the four canonical values.
CALLBACK_WORDS: dict[str, CallbackResult] = {
    "满意": CallbackResult.SATISFIED,
    "非常满意": CallbackResult.SATISFIED,
    "很满意": CallbackResult.SATISFIED,
    "基本满意": CallbackResult.BASIC,
    "比较满意": CallbackResult.BASIC,
    "较满意": CallbackResult.BASIC,
    "一般": CallbackResult.BASIC,
    "理解": CallbackResult.BASIC,
    "不满意": CallbackResult.UNSATISFIED,
    "很不满意": CallbackResult.UNSATISFIED,
    "非常不满意": CallbackResult.UNSATISFIED,
    "未回访": CallbackResult.NONE,
    "无需回访": CallbackResult.NONE,
    "不需回访": CallbackResult.NONE,
    "拒绝回访": CallbackResult.NONE,
    "未联系上": CallbackResult.NONE,
    "联系不上": CallbackResult.NONE,
}
YES_WORDS = frozenset({"是", "已解决", "解决", "y", "yes", "true", "1", "√", "市级督办"})
NO_WORDS = frozenset({"否", "未解决", "部分解决", "不解决", "退单", "n", "no", "false", "0", "×"})

# Maximum lengths of the text columns (the database would refuse longer values).
MAX_LENGTHS = {
    "ticket_no": 64,
    "title": 200,
    "address": 300,
    "category": 100,
    "caller": 100,
    "phone": 50,
    "unit": 200,
    "platform_status": 50,
}

# Platform fields a re-import refreshes (when the file has their column).
PLATFORM_FIELDS = (
    "received_at",
    "title",
    "address",
    "content",
    "category",
    "caller",
    "phone",
    "platform_due_at",
    "platform_status",
    "callback_result",
    "resolved",
    "city_supervised",
)
DATE_HINT = "可用格式：2024-01-24 09:30、2024/1/24 9:30、2024年1月24日 9时30分、20240124"


class ImportRefused(ValidationError):
    """The file as a whole cannot be imported; nothing was written."""


class CellError(ValueError):
    """One cell cannot be read; the message (Chinese) says why."""


@dataclass(frozen=True)
class Reject:
    """A row left out of the import: Excel row number, the file's column header, the reason."""

    row: int
    column: str
    reason: str
    ticket_no: str = ""

    def line(self) -> str:
        return f"第 {self.row} 行 [{self.column}] {self.reason}"


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    file_name: str
    sha256: str
    dry_run: bool
    sheet: str = ""
    header_row: int = 0  # as Excel shows it
    columns: dict[str, str] = field(default_factory=dict)  # field → the file's header
    unknown_headers: list[str] = field(default_factory=list)  # kept in Ticket.raw
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_empty: int = 0
    rejects: list[Reject] = field(default_factory=list)
    unknown_units: list[str] = field(default_factory=list)
    created_units: list[str] = field(default_factory=list)
    changes: list[tuple[str, str, str, str]] = field(default_factory=list)  # no, field, old, new
    batch_id: int | None = None
    previous_imports: list[str] = field(default_factory=list)  # same file imported before
    route_suggestions: list[RouteSuggestion] = field(default_factory=list)  # 专题会 rules that fit

    @property
    def rejected(self) -> int:
        return len({r.row for r in self.rejects})

    def summary_line(self) -> str:
        """The CLI's contract: the last line of `import-tickets`."""
        return (
            f"inserted={self.inserted} updated={self.updated} "
            f"unchanged={self.unchanged} rejected={self.rejected}"
        )


# --- value parsing -----------------------------------------------------------------------

_FULLWIDTH = {0x3000: " "} | {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_FULLWIDTH_ALNUM = {0x3000: " "} | {
    c: c - 0xFEE0 for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]
}
_EXCEL_EPOCH = datetime(1899, 12, 30)
_CN_DATETIME = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]*(\d{1,2})\s*[:：时点]\s*(?:(\d{1,2})\s*(?:[:：分]\s*(?:(\d{1,2})(?:\.\d+)?\s*秒?)?)?)?)?$"
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?$")
_SERIAL = re.compile(r"^\d{5}(\.\d+)?$")
_SCIENTIFIC = re.compile(r"^\d+(\.\d+)?[eE]\+?\d+$")


def tidy(value: Any) -> str:
    """A short text cell: full-width digits/letters/spaces to ASCII, white space folded.

    Chinese punctuation (，。) is kept: NFKC would turn it into ASCII and change the text.
    """
    return " ".join(cell_text(value).translate(_FULLWIDTH_ALNUM).split())


def tidy_long(value: Any) -> str:
    """A long text cell (内容描述): like `tidy`, but line breaks inside are kept."""
    text = cell_text(value).translate(_FULLWIDTH_ALNUM).replace("\r\n", "\n")
    return "\n".join(" ".join(line.split()) for line in text.strip().split("\n"))


def cell_text(value: Any) -> str:
    """Any cell as text: integral floats without `.0`, dates ISO, None as ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def parse_ticket_no(value: Any) -> str:
    """工单编号 as text. A number cell is only exact up to 15 digits; beyond, refuse it."""
    if isinstance(value, float):
        if not value.is_integer() or len(str(int(abs(value)))) > EXACT_FLOAT_DIGITS:
            raise CellError(
                "工单编号以数字格式保存，超过 15 位的数字 Excel 已丢失精度（显示为 1.2E+17 一类），"
                "请在导出文件中把该列设为文本后重新导出"
            )
        return str(int(value))
    text = "".join(cell_text(value).translate(_FULLWIDTH).split()).lstrip("'")
    if _SCIENTIFIC.match(text):
        raise CellError(f"工单编号“{text}”是科学计数法，原编号已丢失，请把该列设为文本后重新导出")
    if len(text) > MAX_LENGTHS["ticket_no"]:
        raise CellError(f"工单编号超过 {MAX_LENGTHS['ticket_no']} 个字符")
    return text


def _round_second(value: datetime) -> datetime:
    if value.microsecond:
        value = value.replace(microsecond=0) + timedelta(seconds=value.microsecond >= 500_000)
    return value


def from_serial(value: float) -> datetime:
    """An Excel serial day number (1900 system) as a datetime, to the second."""
    if not 1 <= value < 2_958_466:  # 9999-12-31
        raise CellError(f"无法识别的日期“{cell_text(value)}”（{DATE_HINT}）")
    return _EXCEL_EPOCH + timedelta(seconds=round(value * 86400))


def parse_datetime(value: Any) -> datetime | None:
    """A date cell in any of the shapes platforms export; None for an empty cell.

    Accepts Excel date cells, Excel serial numbers, `2024-01-24 09:30`, `2024/1/24 9:30`,
    `2024年1月24日 9时30分`, `20240124` (and full-width digits in all of them).
    """
    if isinstance(value, datetime):
        return _round_second(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, bool):
        raise CellError(f"无法识别的日期“{cell_text(value)}”（{DATE_HINT}）")
    if isinstance(value, int | float):
        return from_serial(float(value))
    text = cell_text(value).translate(_FULLWIDTH).strip()
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(SHANGHAI).replace(tzinfo=None)
        return _round_second(parsed)
    if _SERIAL.match(text) and not _COMPACT.match(text):
        return from_serial(float(text))
    match = _COMPACT.match(text) or _CN_DATETIME.match(text)
    if match:
        parts = [int(p) if p else 0 for p in match.groups()]
        try:
            return datetime(*parts)  # type: ignore[arg-type]  # the pattern's groups are a datetime's ints
        except ValueError:
            pass
    raise CellError(f"无法识别的日期“{text}”（{DATE_HINT}）")


def parse_callback(value: Any) -> CallbackResult | None:
    """回访 wording → one of 满意 / 基本满意 / 不满意 / 未回访 (None when empty)."""
    text = normalize_header(cell_text(value))
    if not text:
        return None
    if text in CALLBACK_WORDS:
        return CALLBACK_WORDS[text]
    for member in CallbackResult:
        if text == member.value:
            return member
    known = "、".join(CALLBACK_WORDS)
    raise CellError(f"无法识别的回访结果“{text}”（可识别：{known}）")


def parse_resolved(value: Any) -> bool | None:
    text = normalize_header(cell_text(value)).lower()
    if not text:
        return None
    if text in YES_WORDS:
        return True
    if text in NO_WORDS:
        return False
    raise CellError(f"无法识别的“是否解决”取值“{text}”（请填 是 或 否）")


def parse_flag(value: Any) -> bool:
    text = normalize_header(cell_text(value)).lower()
    if not text or text in NO_WORDS:
        return False
    if text in YES_WORDS:
        return True
    raise CellError(f"无法识别的“市级督办”取值“{text}”（请填 是 或 否）")


def _bounded(field_name: str, reader: Callable[[Any], str]) -> Callable[[Any], str]:
    limit = MAX_LENGTHS.get(field_name)

    def read(value: Any) -> str:
        text = reader(value)
        if limit is not None and len(text) > limit:
            raise CellError(f"内容超过 {limit} 个字符")
        return text

    return read


PARSERS: dict[str, Callable[[Any], Any]] = {
    "ticket_no": parse_ticket_no,
    "received_at": parse_datetime,
    "platform_due_at": parse_datetime,
    "callback_result": parse_callback,
    "resolved": parse_resolved,
    "city_supervised": parse_flag,
    "content": tidy_long,
}
for _name in ("title", "address", "unit", "category", "caller", "phone", "platform_status"):
    PARSERS[_name] = _bounded(_name, tidy)
PARSERS["phone"] = _bounded("phone", lambda v: "".join(tidy(v).split()))


# --- units -------------------------------------------------------------------------------


def unit_key(name: str) -> str:
    """How unit names are compared: half-width, no white space."""
    return normalize_header(name)


class UnitResolver:
    """Unit name → id: exact name first, then a known alias; an ambiguous alias is unknown."""

    def __init__(self, units: Iterable[Unit]) -> None:
        self.by_name: dict[str, int] = {}
        by_alias: dict[str, set[int]] = defaultdict(set)
        for unit in units:
            if unit.deleted_at is not None:
                continue
            self.by_name[unit_key(unit.name)] = unit.id  # type: ignore[assignment]  # ids are set: these rows were flushed
            for alias in unit.aliases or []:
                by_alias[unit_key(alias)].add(unit.id)  # type: ignore[arg-type]  # ids are set: these rows were flushed
        self.by_alias = {k: next(iter(v)) for k, v in by_alias.items() if len(v) == 1}
        self._seen: dict[str, int | None] = {}

    @classmethod
    def load(cls, session: Session) -> UnitResolver:
        return cls(session.execute(select(Unit)).scalars())

    def resolve(self, raw: str) -> int | None:
        if raw in self._seen:
            return self._seen[raw]
        key = unit_key(raw)
        found = (self.by_name.get(key) or self.by_alias.get(key)) if key else None
        self._seen[raw] = found
        return found


def guess_unit_kind(name: str) -> UnitKind:
    """The kind of a unit created from an export's name (`--create-units`), from its suffix."""
    if "大居" in name:
        return UnitKind.COMMUNITY
    if name.endswith(("村委会", "村", "居委会", "居委", "居")):
        return UnitKind.VILLAGE
    if name.endswith(("公司", "集团", "中心医院", "学校")):
        return UnitKind.ENTERPRISE
    return UnitKind.DEPARTMENT


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


# --- rows --------------------------------------------------------------------------------


@dataclass
class Parsed:
    """One data row of the file, read into ticket values."""

    row: int  # as Excel shows it
    values: dict[str, Any]
    raw: dict[str, str]


UNIQUE_FIELDS = frozenset({"ticket_no", "received_at"})  # not worth remembering per value


def _remembering(parser: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A parser that reads each distinct cell value once (units, statuses, dates repeat a lot)."""
    memo: dict[tuple[type, Any], Any] = {}

    def read(value: Any) -> Any:
        key = (type(value), value)  # the type too: True == 1.0 as dict keys
        try:
            return memo[key]
        except KeyError:
            result = memo[key] = parser(value)
            return result

    return read


def parse_rows(sheet: Sheet, layout: Layout, report: ImportReport) -> list[Parsed]:
    """Read every data row; empty rows are skipped, bad cells become rejects."""
    plan = [
        (col, name, PARSERS[name] if name in UNIQUE_FIELDS else _remembering(PARSERS[name]),
         layout.headers[col])
        for name, col in layout.fields.items()
    ]  # fmt: skip
    raw_plan = [(col, layout.headers[col] or f"第{col + 1}列") for col in layout.raw_columns]
    no_col = layout.fields["ticket_no"]
    parsed: list[Parsed] = []
    for index in range(layout.header_row + 1, len(sheet.rows)):
        cells = sheet.rows[index]
        if not any(c is not None and c != "" and str(c).strip() for c in cells):
            report.skipped_empty += 1
            continue
        width = len(cells)
        values: dict[str, Any] = {}
        problems: list[Reject] = []
        for col, name, parser, header in plan:
            try:
                values[name] = parser(cells[col] if col < width else "")
            except CellError as exc:
                problems.append(Reject(index + 1, header, str(exc)))
        number = values.get("ticket_no", "")
        if not number and "ticket_no" in values:
            problems.append(Reject(index + 1, layout.headers[no_col], "缺少工单编号"))
        if values.get("received_at", 0) is None:
            problems.append(Reject(index + 1, layout.header_of("received_at"), "缺少诉求时间"))
        if problems:
            shown = number or tidy(cells[no_col] if no_col < width else "")
            report.rejects.extend(
                Reject(p.row, p.column, p.reason, ticket_no=shown) for p in problems
            )
            if number:
                parsed.append(Parsed(index + 1, {"ticket_no": number, "_bad": True}, {}))
            continue
        raw = {}
        for col, header in raw_plan:
            if col < width:
                text = cell_text(cells[col]).strip()
                if text:
                    raw[header] = text
        parsed.append(Parsed(index + 1, values, raw))
    return _reject_duplicates(parsed, layout, report)


def _reject_duplicates(parsed: list[Parsed], layout: Layout, report: ImportReport) -> list[Parsed]:
    """A number twice in one file contradicts itself: every such row is rejected."""
    rows_by_no: dict[str, list[int]] = defaultdict(list)
    for item in parsed:
        rows_by_no[item.values["ticket_no"]].append(item.row)
    column = layout.header_of("ticket_no")
    for number, rows in rows_by_no.items():
        if len(rows) < 2:
            continue
        for row in rows:
            others = "、".join(f"第 {r} 行" for r in rows if r != row)
            report.rejects.append(
                Reject(
                    row,
                    column,
                    f"工单编号 {number} 在本文件中重复出现（另见{others}），内容相互矛盾，均未导入",
                    ticket_no=number,
                )
            )
    duplicated = {no for no, rows in rows_by_no.items() if len(rows) > 1}
    return [
        p for p in parsed if not p.values.get("_bad") and p.values["ticket_no"] not in duplicated
    ]


# --- the import --------------------------------------------------------------------------


def import_tickets(
    session: Session,
    actor: Actor,
    data: bytes,
    file_name: str,
    *,
    dry_run: bool = False,
    create_units: bool = False,
) -> ImportReport:
    """Import a 12345 export; the caller commits (one transaction for the whole file).

    A dry run computes the same report and writes nothing. Raises ImportRefused (before
    any write) when the file as a whole cannot be read.
    """
    actor.require(Perm.IMPORT_TICKETS)
    with _paused_gc():
        return _import(session, actor, data, file_name, dry_run=dry_run, create_units=create_units)


@contextlib.contextmanager
def _paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector during an import.

    Reading 100,000 rows allocates millions of small objects that are all still alive; each
    automatic collection would walk them all again (this alone more than doubled the time
    of parsing and planning). Reference counting frees what the import drops; the few
    cycles (ORM state) are collected as soon as the collector runs again.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _import(
    session: Session,
    actor: Actor,
    data: bytes,
    file_name: str,
    *,
    dry_run: bool,
    create_units: bool,
) -> ImportReport:
    name = PurePath(file_name).name or "未命名文件"
    report = ImportReport(file_name=name, sha256=hashlib.sha256(data).hexdigest(), dry_run=dry_run)
    sheet, layout = locate(data, name, load_mappings(session))
    report.sheet, report.header_row = sheet.name, layout.header_row + 1
    report.columns = {f: layout.headers[c] for f, c in layout.fields.items()}
    report.unknown_headers = [layout.headers[c] or f"第{c + 1}列" for c in layout.raw_columns]
    parsed = parse_rows(sheet, layout, report)
    del sheet  # the raw cells are no longer needed: free them before the database work
    if not parsed and not report.rejects:
        raise ImportRefused(f"文件“{name}”只有表头，没有工单数据")
    report.previous_imports = [
        f"{b.created_at:%Y-%m-%d %H:%M}（批次 {b.id}）"
        for b in session.execute(
            select(ImportBatch).where(column_of(ImportBatch.sha256) == report.sha256)
        )
        .scalars()
        .all()
    ]
    resolver = UnitResolver.load(session)
    names = {p.values["unit"] for p in parsed if p.values.get("unit")}
    unknown = sorted({unit_key(n): n for n in names if resolver.resolve(n) is None}.values())
    if create_units and unknown:
        report.created_units = unknown
        if not dry_run:
            _create_units(session, actor, unknown)
            resolver = UnitResolver.load(session)
    else:
        report.unknown_units = unknown
    existing = _existing(session, [p.values["ticket_no"] for p in parsed])
    inserts, updates = _plan(parsed, existing, resolver, layout, report)
    report.inserted, report.updated = len(inserts), len(updates)
    report.route_suggestions = suggest_routes(session, inserts)
    if not dry_run:
        _write(session, actor, report, inserts, updates)
    return report


def _create_units(session: Session, actor: Actor, names: list[str]) -> None:
    for name in names:
        unit = Unit(name=name, kind=guess_unit_kind(name))
        session.add(unit)
        session.flush()
        audit.record(
            session, actor, AuditAction.CREATE, "unit", unit.id, field="name", new=name,
            note="导入工单时按 --create-units 新建",
        )  # fmt: skip


EXISTING_COLUMNS = ("id", "ticket_no", "unit_id", "unit_raw", "raw", "address_norm", "version")


def _existing(session: Session, numbers: list[str]) -> dict[str, dict[str, Any]]:
    """Known tickets by number (live or in the 回收站), fetched in chunks."""
    table = table_of(Ticket)
    cols = [table.c[n] for n in (*EXISTING_COLUMNS, *PLATFORM_FIELDS)]
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(numbers), CHUNK):
        chunk = numbers[start : start + CHUNK]
        for row in session.execute(select(*cols).where(table.c.ticket_no.in_(chunk))).mappings():
            found[row["ticket_no"]] = dict(row)
    return found


def _plan(
    parsed: list[Parsed],
    existing: dict[str, dict[str, Any]],
    resolver: UnitResolver,
    layout: Layout,
    report: ImportReport,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split rows into inserts and updates (with their changed fields); count unchanged."""
    present = [f for f in PLATFORM_FIELDS if f in layout.fields]
    has_unit, has_address = "unit" in layout.fields, "address" in layout.fields
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for item in parsed:
        values = item.values
        old = existing.get(values["ticket_no"])
        if old is None:
            inserts.append(_new_row(values, item.raw, resolver))
            continue
        new = {f: values[f] for f in present}
        if has_address and values["address"] != old["address"]:
            new["address_norm"] = normalize_address(values["address"])  # derived: only on change
        if has_unit:
            new["unit_raw"] = values["unit"]
            corrected = old["unit_id"] is not None and old["unit_id"] != resolver.resolve(
                old["unit_raw"]
            )
            new["unit_id"] = old["unit_id"] if corrected else resolver.resolve(values["unit"])
        if item.raw:
            new["raw"] = {**(old["raw"] or {}), **item.raw}
        changed = {k: (old[k], v) for k, v in new.items() if old[k] != v}
        if not changed:
            report.unchanged += 1
            continue
        for key, (before, after) in changed.items():
            if len(report.changes) < 200:
                report.changes.append(
                    (values["ticket_no"], key, audit.show(before) or "", audit.show(after) or "")
                )
        updates.append(
            {"id": old["id"], "version": old["version"], "_changed": changed, **new, "_old": old}
        )
    return inserts, updates


@functools.lru_cache(maxsize=65536)
def _address_key(address: str) -> str:
    return normalize_address(address)


def _new_row(values: dict[str, Any], raw: dict[str, str], resolver: UnitResolver) -> dict[str, Any]:
    unit_raw = values.get("unit", "")
    return {
        "ticket_no": values["ticket_no"],
        "received_at": values["received_at"],
        "title": values.get("title", ""),
        "address": values.get("address", ""),
        "address_norm": _address_key(values.get("address", "")),
        "content": values.get("content", ""),
        "category": values.get("category", ""),
        "caller": values.get("caller", ""),
        "phone": values.get("phone", ""),
        "unit_id": resolver.resolve(unit_raw),
        "unit_raw": unit_raw,
        "platform_due_at": values.get("platform_due_at"),
        "platform_status": values.get("platform_status", ""),
        "callback_result": values.get("callback_result"),
        "resolved": values.get("resolved"),
        "city_supervised": values.get("city_supervised", False),
        "raw": raw,
    }


def _write(
    session: Session,
    actor: Actor,
    report: ImportReport,
    inserts: list[dict[str, Any]],
    updates: list[dict[str, Any]],
) -> None:
    """The batch row, bulk inserts and updates, and their audit rows — all in one transaction."""
    stamp = now()
    batch = ImportBatch(
        file_name=report.file_name[:255],
        sha256=report.sha256,
        created_at=stamp,
        user_id=actor.user_id,
        inserted=report.inserted,
        updated=report.updated,
        unchanged=report.unchanged,
        rejected=report.rejected,
        unknown_units=report.unknown_units,
        rejects=[{"row": r.row, "column": r.column, "reason": r.reason} for r in report.rejects],
    )
    session.add(batch)
    session.flush()
    report.batch_id = batch.id
    note = f"导入批次 {batch.id}（{report.file_name}）"
    base = {"user_id": actor.user_id, "username": actor.username, "at": stamp, "note": note}
    entries: list[dict[str, Any]] = []
    if inserts:
        center = {"notes": "", "tags": "", "repeat_group": "", "version": 1, "deleted_at": None}
        for row in inserts:
            row.update(
                center,
                import_batch_id=batch.id,
                created_at=stamp,
                updated_at=stamp,
                created_by=actor.user_id,
                updated_by=actor.user_id,
            )
        bulk.insert_rows(session, TICKET_TABLE, inserts)  # creation: the batch's audit row
    if updates:
        params = []
        for row in updates:
            changed, old = row.pop("_changed"), row.pop("_old")
            entries += [
                {**base, "action": AuditAction.IMPORT, "entity": "ticket", "entity_id": old["id"],
                 "field": key, "old": audit.show(before), "new": audit.show(after)}
                for key, (before, after) in changed.items()
            ]  # fmt: skip
            row.update(version=old["version"] + 1, updated_at=stamp, updated_by=actor.user_id)
            params.append(row)
        for _keys, group in _group_by_keys(params).items():
            session.execute(update(Ticket), group)
    entries.append(
        {**base, "action": AuditAction.IMPORT, "entity": "importbatch", "entity_id": batch.id,
         "field": "", "old": None, "new": report.summary_line()}
    )  # fmt: skip
    bulk.insert_rows(session, AUDIT_TABLE, entries)


def _group_by_keys(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
    """Bulk UPDATE runs one statement per key set: group rows that set the same columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[tuple(sorted(row))].append(row)
    return groups


# --- after the import: mapping unknown units and columns ----------------------------------


def assign_unassigned(session: Session, actor: Actor, raw_name: str, unit_id: int) -> int:
    """Give every live ticket of unknown unit `raw_name` its unit; audited; returns the count.

    Checked here as well as in its callers: a unit user must not move tickets into their unit.
    """
    actor.require(Perm.IMPORT_TICKETS, "对应承办单位")
    unit = session.get(Unit, unit_id)
    if unit is None or unit.deleted_at is not None:
        raise ValidationError(f"承办单位（编号 {unit_id}）不存在")
    key = unit_key(raw_name)
    table = table_of(Ticket)
    rows = session.execute(
        select(table.c.id, table.c.unit_raw).where(
            table.c.unit_id.is_(None), table.c.unit_raw != ""
        )
    ).all()
    ids = [tid for tid, raw in rows if unit_key(raw) == key]
    stamp = now()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        session.execute(
            update(Ticket)
            .where(table.c.id.in_(chunk))
            .values(unit_id=unit_id, version=table.c.version + 1, updated_at=stamp)
        )
    if ids:
        session.execute(
            insert(AUDIT_TABLE),
            [
                {"at": stamp, "user_id": actor.user_id, "username": actor.username,
                 "action": AuditAction.UPDATE, "entity": "ticket", "entity_id": tid,
                 "field": "unit_id", "old": None, "new": str(unit_id),
                 "note": f"导入时未匹配的承办单位“{raw_name}”已对应到单位"}
                for tid in ids
            ],
        )  # fmt: skip
    return len(ids)


def map_unit_alias(session: Session, actor: Actor, raw_name: str, unit_id: int) -> int:
    """Record `raw_name` as an alias of an existing unit (so future imports match it) and
    assign the tickets already imported under that name. Returns how many were assigned."""
    actor.require(Perm.IMPORT_TICKETS, "对应承办单位")
    unit = get_live(session, Unit, unit_id, "承办单位", ValidationError)
    name = tidy(raw_name)
    if not name:
        raise ValidationError("单位名称不能为空")
    if unit_key(name) not in {unit_key(a) for a in unit.aliases} | {unit_key(unit.name)}:
        old = list(unit.aliases)
        unit.aliases = [*old, name]
        unit.version += 1
        unit.updated_at = now()
        session.add(unit)
        audit.record(
            session, actor, AuditAction.UPDATE, "unit", unit.id, field="aliases",
            old="、".join(old), new="、".join(unit.aliases), note="导入工单时对应未匹配的单位名称",
        )  # fmt: skip
    session.flush()
    return assign_unassigned(session, actor, name, unit_id)


def create_unit_for(
    session: Session, actor: Actor, raw_name: str, kind: UnitKind
) -> tuple[Unit, int]:
    """Create a unit named as the export wrote it and assign its unassigned tickets."""
    actor.require(Perm.IMPORT_TICKETS, "新建承办单位")
    name = tidy(raw_name)
    if not name:
        raise ValidationError("单位名称不能为空")
    if UnitResolver.load(session).resolve(name) is not None:
        raise ValidationError(f"承办单位“{name}”已存在，请直接对应到该单位")
    unit = Unit(name=name, kind=kind)
    session.add(unit)
    session.flush()
    audit.record(session, actor, AuditAction.CREATE, "unit", unit.id, field="name", new=name)
    return unit, assign_unassigned(session, actor, name, unit.id)  # type: ignore[arg-type]  # ids are set: these rows were flushed


def save_column_mapping(session: Session, actor: Actor, header: str, target: str) -> None:
    """Remember that `header` means ticket field `target` ("" = ignore) for future imports."""
    actor.require(Perm.IMPORT_TICKETS, "保存列映射")
    key = normalize_header(header)
    if not key:
        raise ValidationError("列名不能为空")
    if target != IGNORE and target not in MAPPABLE_FIELDS:
        raise ValidationError(f"列“{header}”：未知的目标字段 {target}")
    row = (
        session.execute(select(ColumnMapping).where(column_of(ColumnMapping.header) == key))
        .scalars()
        .first()
    )
    old = row.field if row else None
    if row is None:
        row = ColumnMapping(header=key, field=target)
    row.field = target
    session.add(row)
    session.flush()
    audit.record(
        session, actor, AuditAction.UPDATE, "columnmapping", row.id, field=key,
        old=old, new=FIELD_LABELS.get(target, "忽略"),
    )  # fmt: skip


def import_history(session: Session, limit: int = 20) -> list[ImportBatch]:
    """The latest import batches, newest first."""
    stmt = select(ImportBatch).order_by(column_of(ImportBatch.id).desc()).limit(limit)
    return list(session.execute(stmt).scalars())
