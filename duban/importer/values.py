"""Parsing one cell into a ticket field's value (dates, numbers as text, yes/no words)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from duban.clock import SHANGHAI
from duban.enums import CallbackResult, Resolution
from duban.importer.fields import (
    CALLBACK_WORDS,
    DATE_HINT,
    MAX_LENGTHS,
    NO_WORDS,
    RESOLUTION_WORDS,
    YES_WORDS,
    CellError,
)
from duban.text import normalize_header

EXACT_FLOAT_DIGITS = 15  # Excel keeps 15 significant digits of a number
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


def parse_resolution(value: Any) -> Resolution | None:
    """办理结果 / 解决情况 → 实际解决 / 解释说明 / 未解决 (None when empty)."""
    text = normalize_header(cell_text(value))
    if not text:
        return None
    if text in RESOLUTION_WORDS:
        return RESOLUTION_WORDS[text]
    known = "、".join(RESOLUTION_WORDS)
    raise CellError(f"无法识别的办理结果“{text}”（可识别：{known}）")


def yes_no(label: str) -> Callable[[Any], bool | None]:
    """A 是/否 column (是否先行联系, 是否逾期): None when empty, the message names the column."""

    def read(value: Any) -> bool | None:
        text = normalize_header(cell_text(value)).lower()
        if not text:
            return None
        if text in YES_WORDS:
            return True
        if text in NO_WORDS:
            return False
        raise CellError(f"无法识别的“{label}”取值“{text}”（请填 是 或 否）")

    return read


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
    "first_contact": yes_no("是否先行联系"),
    "resolution": parse_resolution,
    "finished_at": parse_datetime,
    "overdue": yes_no("是否逾期"),
}
for _name in ("title", "address", "unit", "category", "caller", "phone", "platform_status"):
    PARSERS[_name] = _bounded(_name, tidy)
PARSERS["phone"] = _bounded("phone", lambda v: "".join(tidy(v).split()))
