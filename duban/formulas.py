"""Spreadsheet cells that never run: OWASP's CSV-injection rules for every export.

12345 text comes from the public, so a 内容描述 of `=HYPERLINK(…)` or `=cmd|' /C calc'!A0`
must reach the reader as text. A cell is formula text when it starts with = + - @, a tab or a
carriage return (OWASP), or their full-width twins (ＷＰＳ and Excel accept ＝ as =).
- xlsx: such a cell is written as a string with Excel's own "quote prefix" (what typing a
  leading ' does): Excel and WPS show the text and do not evaluate it, even after editing,
  and the value read back is unchanged (an export still imports again as it went out);
- csv: such a field gets a leading ' (the csv module quotes separators and quotes).
"""

from __future__ import annotations

from typing import Any

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def is_formula_text(value: Any) -> bool:
    """True for a string a spreadsheet would read as a formula (or a DDE command)."""
    return isinstance(value, str) and value.startswith(TRIGGERS)


def csv_field(value: Any) -> Any:
    """A value safe to write into a csv field."""
    return "'" + value if is_formula_text(value) else value


def harden(cell: Any) -> Any:
    """Make an openpyxl cell (normal or write-only) hold its formula text as plain text."""
    if is_formula_text(cell.value):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell
