"""Parsing a sheet's rows into ticket values, rejecting unreadable and duplicate rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from duban.importer.fields import CellError, ImportReport, Reject
from duban.importer.sheets import Layout, Sheet
from duban.importer.values import PARSERS, cell_text, tidy


@dataclass
class Parsed:
    """One data row of the file, read into ticket values."""

    row: int  # as Excel shows it
    values: dict[str, Any]
    raw: dict[str, str]


UNIQUE_FIELDS = frozenset(
    {"ticket_no", "received_at", "finished_at"}
)  # not worth remembering per value


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
