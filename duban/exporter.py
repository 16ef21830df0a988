"""xlsx exports of the ledger: tickets (the current filtered view), cases, import rejects.

Headers are the seed's words (工单编号, 诉求时间, 诉求地址, 内容描述, 承办单位 …; 督办编号,
督办类型, 协调督办范围 …). Ids are written as text cells (a 18-digit 工单编号 must never turn
into 1.2E+17), times as real Excel dates. A ticket export can be imported again unchanged:
the platform's unit spelling goes to 承办单位, the center's columns (核定承办单位, 备注, 标签,
重复组) are ignored by the importer, and unrecognised columns come back as they went out.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import select
from sqlmodel import Session, col

from duban import audit, formulas
from duban.enums import AuditAction
from duban.importer import Reject
from duban.models import Case, CaseTicket, CaseUnit, Ticket, Unit
from duban.permissions import Actor, Perm
from duban.records import table_of
from duban.tickets import TicketFilter, apply_filter, iter_tickets

TEXT, WHEN, DAY, PLAIN = "@", "yyyy-mm-dd hh:mm", "yyyy-mm-dd", "General"

# (header, row key, cell format) of the ticket export.
TICKET_COLUMNS: list[tuple[str, str, str]] = [
    ("工单编号", "ticket_no", TEXT),
    ("诉求时间", "received_at", WHEN),
    ("标题", "title", PLAIN),
    ("诉求地址", "address", PLAIN),
    ("内容描述", "content", PLAIN),
    ("承办单位", "unit_raw", PLAIN),
    ("核定承办单位", "unit_name", PLAIN),
    ("问题分类", "category", PLAIN),
    ("诉求人", "caller", PLAIN),
    ("联系电话", "phone", TEXT),
    ("办理时限", "platform_due_at", WHEN),
    ("工单状态", "platform_status", PLAIN),
    ("回访结果", "callback_result", PLAIN),
    ("是否解决", "resolved", PLAIN),
    ("市级督办", "city_supervised", PLAIN),
    ("备注", "notes", PLAIN),
    ("标签", "tags", PLAIN),
    ("重复组", "repeat_group", PLAIN),
]
CASE_COLUMNS: list[tuple[str, str, str]] = [
    ("督办编号", "case_no", TEXT),
    ("督办类型", "level", PLAIN),
    ("协调督办范围", "scope", PLAIN),
    ("事由", "title", PLAIN),
    ("承办单位", "lead_unit", PLAIN),
    ("协办单位", "co_units", PLAIN),
    ("状态", "status", PLAIN),
    ("立案日期", "opened_at", DAY),
    ("办结日期", "closed_at", DAY),
    ("关联工单编号", "ticket_nos", TEXT),
    ("督办意见", "opinion", PLAIN),
    ("督办情况", "result_text", PLAIN),
]
REJECT_COLUMNS: list[tuple[str, str, str]] = [
    ("行号", "row", PLAIN),
    ("列", "column", PLAIN),
    ("原因", "reason", PLAIN),
    ("工单编号", "ticket_no", TEXT),
]
WIDE = {"诉求地址": 30, "内容描述": 50, "事由": 30, "督办意见": 40, "督办情况": 40, "原因": 60}


def cell_value(value: Any) -> Any:
    """A Python value as an Excel cell holds it: labels for enums, 是/否 for booleans."""
    if value is None:
        return None
    if isinstance(value, Enum):
        return getattr(value, "label", value.value)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, datetime | date):
        return value
    return str(value) if not isinstance(value, int | float) else value


def _sheet(wb: Workbook, title: str, headers: list[str]) -> WriteOnlyWorksheet:
    ws = wb.create_sheet(title)
    for index, header in enumerate(headers):
        letter = get_column_letter(index + 1)
        ws.column_dimensions[letter].width = WIDE.get(header, max(12, len(header) * 2 + 4))
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    row = []
    for header in headers:
        cell = formulas.harden(WriteOnlyCell(ws, value=header))
        cell.font = bold
        row.append(cell)
    ws.append(row)
    return ws


def _append(ws: WriteOnlyWorksheet, values: list[Any], formats: list[str]) -> None:
    row = []
    for value, fmt in zip(values, formats, strict=True):
        cell = formulas.harden(WriteOnlyCell(ws, value=cell_value(value)))
        if fmt != PLAIN:
            cell.number_format = fmt
        row.append(cell)
    ws.append(row)


def _save(wb: Workbook) -> bytes:
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def raw_headers(session: Session, actor: Actor, flt: TicketFilter) -> list[str]:
    """The unrecognised export columns present in the filtered tickets, first seen first."""
    t = table_of(Ticket).c
    stmt = apply_filter(select(t.raw).select_from(table_of(Ticket)), actor, flt)
    seen: dict[str, None] = {}
    for (raw,) in session.execute(stmt.execution_options(yield_per=5000)):
        for key in raw or {}:
            seen.setdefault(key, None)
    known = {h for h, _, _ in TICKET_COLUMNS}
    return [k for k in seen if k not in known]


def tickets_xlsx(session: Session, actor: Actor, flt: TicketFilter | None = None) -> bytes:
    """The tickets of a filter (default: every live ticket the actor may see) as xlsx.

    Contacts are masked as the ledger masks them; the export is audited (the caller commits).
    """
    flt = flt or TicketFilter()
    extra = raw_headers(session, actor, flt)
    wb = Workbook(write_only=True)
    ws = _sheet(wb, "工单", [h for h, _, _ in TICKET_COLUMNS] + extra)
    formats = [f for _, _, f in TICKET_COLUMNS] + [PLAIN] * len(extra)
    count = 0
    for row in iter_tickets(session, actor, flt):
        raw = row.get("raw") or {}
        values = [row.get(key) for _, key, _ in TICKET_COLUMNS] + [raw.get(h) for h in extra]
        _append(ws, values, formats)
        count += 1
    audit.record(session, actor, AuditAction.EXPORT, "ticket", None, note=f"导出工单 {count} 条")
    return _save(wb)


def _case_rows(session: Session, actor: Actor) -> list[dict[str, Any]]:
    cases = list(
        session.execute(
            select(Case)
            .where(col(Case.deleted_at).is_(None))
            .order_by(col(Case.year), col(Case.seq))
        ).scalars()
    )
    names = dict(session.execute(select(col(Unit.id), col(Unit.name))).all())
    units: dict[int, list[tuple[int, str]]] = {}
    for link in session.execute(select(CaseUnit)).scalars():
        units.setdefault(link.case_id, []).append((link.unit_id, link.role.value))
    tickets: dict[int, list[str]] = {}
    stmt = select(col(CaseTicket.case_id), col(Ticket.ticket_no)).join(
        Ticket,
        col(Ticket.id) == col(CaseTicket.ticket_id),
    )
    for case_id, number in session.execute(stmt.order_by(col(Ticket.ticket_no))):
        tickets.setdefault(case_id, []).append(number)
    rows = []
    for case in cases:
        linked = units.get(case.id, [])
        if not actor.can(Perm.VIEW_ALL) and actor.unit_id not in {u for u, _ in linked}:
            continue
        co = [names.get(u, "") for u, role in linked if role == "co"]
        rows.append(
            {
                "case_no": case.case_no,
                "level": case.level,
                "scope": case.scope,
                "title": case.title,
                "lead_unit": names.get(case.lead_unit_id, "") if case.lead_unit_id else "",
                "co_units": "、".join(co),
                "status": case.status,
                "opened_at": case.opened_at,
                "closed_at": case.closed_at,
                "ticket_nos": "、".join(tickets.get(case.id, [])),
                "opinion": case.opinion,
                "result_text": case.result_text,
            }
        )
    return rows


def cases_xlsx(session: Session, actor: Actor) -> bytes:
    """Every live case the actor may see, as xlsx (audited; the caller commits)."""
    wb = Workbook(write_only=True)
    ws = _sheet(wb, "督办事项", [h for h, _, _ in CASE_COLUMNS])
    formats = [f for _, _, f in CASE_COLUMNS]
    rows = _case_rows(session, actor)
    for row in rows:
        _append(ws, [row[key] for _, key, _ in CASE_COLUMNS], formats)
    audit.record(
        session, actor, AuditAction.EXPORT, "case", None, note=f"导出督办事项 {len(rows)} 条"
    )
    return _save(wb)


def rejects_xlsx(rejects: Iterable[Reject]) -> bytes:
    """The rows an import left out, for the user to fix in their file."""
    wb = Workbook(write_only=True)
    ws = _sheet(wb, "未导入的行", [h for h, _, _ in REJECT_COLUMNS])
    formats = [f for _, _, f in REJECT_COLUMNS]
    for reject in rejects:
        _append(ws, [getattr(reject, key) for _, key, _ in REJECT_COLUMNS], formats)
    return _save(wb)
