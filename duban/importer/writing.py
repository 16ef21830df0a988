"""The import: plan inserts and updates against the tickets already stored, and write them
at once with their audit rows.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
from collections import defaultdict
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session
from sqlmodel import col as column_of

from duban import audit, bulk
from duban.clock import now
from duban.enums import AuditAction
from duban.importer.fields import PLATFORM_FIELDS, ImportRefused, ImportReport
from duban.importer.rows import Parsed, parse_rows
from duban.importer.sheets import Layout, load_mappings, locate
from duban.importer.units import UnitResolver, guess_unit_kind, unit_key
from duban.models import AuditLog, ImportBatch, Ticket, Unit
from duban.permissions import Actor, Perm
from duban.records import table_of
from duban.routing import suggest_routes
from duban.standard_address import ADDRESS_PARTS, address_columns, address_prefixes
from duban.text import normalize_address

TICKET_TABLE = table_of(Ticket)
AUDIT_TABLE = table_of(AuditLog)
CHUNK = 900  # ids per IN (...) query: under every database's parameter limit
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
    inserts, updates = _plan(parsed, existing, resolver, layout, report, address_prefixes(session))
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


EXISTING_COLUMNS = ("id", "ticket_no", "unit_id", "unit_raw", "raw", "address_norm", "version",
                    *ADDRESS_PARTS)  # fmt: skip


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
    prefixes: tuple[str, ...],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split rows into inserts and updates (with their changed fields); count unchanged.
    An address is parsed into its parts (duban.address) with the town's `prefixes`."""
    present = [f for f in PLATFORM_FIELDS if f in layout.fields]
    has_unit, has_address = "unit" in layout.fields, "address" in layout.fields
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for item in parsed:
        values = item.values
        old = existing.get(values["ticket_no"])
        if old is None:
            inserts.append(_new_row(values, item.raw, resolver, prefixes))
            continue
        new = {f: values[f] for f in present}
        if has_address and values["address"] != old["address"]:
            new["address_norm"] = normalize_address(values["address"])  # derived: only on change
            new.update(address_columns(values["address"], prefixes))
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


def _new_row(
    values: dict[str, Any], raw: dict[str, str], resolver: UnitResolver, prefixes: tuple[str, ...]
) -> dict[str, Any]:
    unit_raw = values.get("unit", "")
    return {
        **address_columns(values.get("address", ""), prefixes),
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
        "first_contact": values.get("first_contact"),
        "resolution": values.get("resolution"),
        "finished_at": values.get("finished_at"),
        "overdue": values.get("overdue"),
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
