"""The 工单台账's data as the grid shows it, shared by every session until the data changes
(`ui.shared`): one page of tickets as a typed frame, and the filter bar's choices."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlmodel import Session

from duban.enums import CallbackResult
from duban.permissions import Actor
from duban.tickets import TicketFilter, filter_choices, query_tickets
from ui.common import engine
from ui.shared import Stamp, shared_data

# grid columns: key → (label, editable)
GRID: dict[str, tuple[str, bool]] = {
    "selected": ("选择", True),
    "id": ("id", False),
    "version": ("version", False),
    "ticket_no": ("工单编号", False),
    "received_at": ("诉求时间", False),
    "unit": ("承办单位", True),
    "unit_raw": ("平台承办单位", False),
    "category": ("问题分类", False),
    "address": ("诉求地址", False),
    "content": ("内容描述", False),
    "caller": ("诉求人", False),
    "phone": ("联系电话", False),
    "platform_status": ("工单状态", False),
    "callback_result": ("回访结果", False),
    "platform_due_at": ("办理时限", False),
    "notes": ("备注", True),
    "tags": ("标签", True),
    "repeat_group": ("重复组", True),
}


def grid_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as the editor shows them, over a RangeIndex, with nullable dtypes."""
    records = []
    for r in rows:
        callback = r["callback_result"]
        records.append(
            {
                "selected": False,
                "id": r["id"],
                "version": r["version"],
                "ticket_no": r["ticket_no"],
                "received_at": r["received_at"],
                "unit": r["unit_name"],
                "unit_raw": r["unit_raw"],
                "category": r["category"],
                "address": r["address"],
                "content": r["content"],
                "caller": r["caller"],
                "phone": r["phone"],
                "platform_status": r["platform_status"],
                "callback_result": CallbackResult(callback).label if callback else "",
                "platform_due_at": r["platform_due_at"],
                "notes": r["notes"],
                "tags": r["tags"],
                "repeat_group": r["repeat_group"],
            }
        )
    frame = pd.DataFrame.from_records(records, columns=list(GRID))
    frame = frame.astype({"selected": "boolean", "id": "Int64", "version": "Int64"})
    for key in ("received_at", "platform_due_at"):
        frame[key] = pd.to_datetime(frame[key])
    text = [
        k for k in GRID if k not in ("selected", "id", "version", "received_at", "platform_due_at")
    ]
    return frame.astype(dict.fromkeys(text, "string")).reset_index(drop=True)


@shared_data
def choices(stamp: Stamp, _who: Actor) -> tuple[dict[int, str], list[str], list[str]]:
    """Units, categories and statuses for the filter bar, once per state of the data (the
    same for every role, so not keyed by the actor: see `duban.tickets.filter_choices`)."""
    with Session(engine()) as session:
        return filter_choices(session, _who)


@shared_data
def ticket_page(
    stamp: Stamp, who: Actor, flt: TicketFilter, page: int
) -> tuple[pd.DataFrame, int, int]:
    """One page of the grid as a frame, its total and page count — shared by everyone who
    asks for the same page (with the same masking) while the data stays as it is."""
    with Session(engine()) as session:
        found = query_tickets(session, who, flt, page=page)
    return grid_frame(found.rows), found.total, found.pages
