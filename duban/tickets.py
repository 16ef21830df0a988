"""The ticket ledger (工单台账): filtered pages, spreadsheet-like saves, 回收站, ticket detail.

The page shows one page of tickets at a time; every filter runs in SQL so 100,000 tickets
stay fast. A save carries the `version` each row was loaded with: a row somebody else
changed since is refused and named (who, when), the other rows are saved — all in the
caller's one transaction, each change audited.

The center edits only its own columns of an imported ticket (notes, tags, repeat group,
and a correction of the unit); the platform's columns change only through an import.
Callers' names, phone numbers and raw columns are masked for roles without
`Perm.SEE_CONTACTS` (duban.masking), and a
unit user sees only the tickets of their own unit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlmodel import Session, col

from duban import audit, records
from duban.clock import now
from duban.enums import AuditAction, CallbackResult
from duban.errors import ConflictError, NotFound, ValidationError
from duban.importer import (
    FIELD_LABELS,
    CellError,
    UnitResolver,
    parse_datetime,
    parse_ticket_no,
    tidy,
    tidy_long,
)
from duban.masking import (
    mask_entry,
    mask_ticket,
    mask_ticket_copy,
    safe_columns,
    sees_contacts,
)
from duban.models import AuditLog, Case, CaseTicket, ImportBatch, RoutingRule, Ticket, Unit
from duban.permissions import Actor, Perm
from duban.records import table_of
from duban.routing import match_rules
from duban.standard_address import address_columns, address_prefixes
from duban.text import normalize_address
from duban.units import live_units

PAGE_SIZE = 50
UNASSIGNED = 0  # a unit filter value meaning "no unit assigned" (未匹配单位)

# The center's own columns of an imported ticket (never touched by a re-import).
CENTER_FIELDS = ("notes", "tags", "repeat_group", "unit")
# What a row added by hand in the ledger may carry.
ADDABLE_FIELDS = (
    "ticket_no",
    "received_at",
    "address",
    "content",
    "category",
    "caller",
    "phone",
    "unit",
    "platform_status",
    *CENTER_FIELDS[:3],
)
LABELS = {
    **FIELD_LABELS,
    "notes": "备注",
    "tags": "标签",
    "repeat_group": "重复组",
    "unit": "承办单位",
}
CENTER_LIMITS = {"tags": 200, "repeat_group": 64}
_NUMBER_SPLIT = re.compile(r"[\s,，;；、|]+")


# --- masking (duban.masking) ------------------------------------------------------------


def masker(session: Session, actor: Actor) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The function that shows a ticket row as `actor` may see it (contacts, numbers in
    free text and raw columns masked; the admin's safe columns read once)."""
    if sees_contacts(actor):
        return lambda row: row
    safe = safe_columns(session)
    return lambda row: mask_ticket(actor, row, safe)


def masked_ticket(session: Session, actor: Actor, ticket: Ticket) -> Ticket:
    """The ticket as `actor` may see it: itself, or a detached copy (never added to a
    session, so nothing masked is ever written back) with the contacts masked."""
    if sees_contacts(actor):
        return ticket
    return mask_ticket_copy(actor, ticket, safe_columns(session))


# --- filters and pages -------------------------------------------------------------------


@dataclass(frozen=True)
class TicketFilter:
    """What the ledger's filter bar asks for; empty means "any"."""

    unit_ids: tuple[int, ...] = ()  # UNASSIGNED (0) selects tickets without a unit
    categories: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    callbacks: tuple[CallbackResult, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    keyword: str = ""
    ticket_nos: tuple[str, ...] = ()
    deleted: bool = False  # True: the 回收站


def parse_ticket_nos(text: str) -> tuple[str, ...]:
    """A pasted list of 工单编号 (one per line, or separated by commas/spaces/、)."""
    seen: dict[str, None] = {}
    for part in _NUMBER_SPLIT.split(text or ""):
        number = part.strip().lstrip("'")
        if number:
            seen.setdefault(tidy(number), None)
    return tuple(seen)


def _columns() -> list[Any]:
    t = table_of(Ticket).c
    return [
        t.id, t.version, t.ticket_no, t.received_at, t.title, t.address, t.content, t.category,
        t.caller, t.phone, t.unit_id, t.unit_raw, table_of(Unit).c.name.label("unit_name"),
        t.platform_due_at, t.platform_status, t.callback_result, t.resolved, t.city_supervised,
        t.notes, t.tags, t.repeat_group, t.raw, t.deleted_at, t.import_batch_id,
    ]  # fmt: skip


def apply_filter(stmt: Select, actor: Actor, flt: TicketFilter) -> Select:
    """Apply the unit scope of `actor` and the filter's conditions, all in SQL."""
    t = table_of(Ticket).c
    if not actor.can(Perm.VIEW_ALL):
        if actor.unit_id is None:
            return stmt.where(t.id.is_(None))
        stmt = stmt.where(t.unit_id == actor.unit_id)
    if flt.deleted:
        stmt = stmt.where(t.deleted_at.is_not(None))
    else:
        # Almost every ticket is live: an index on deleted_at selects them all and forces a
        # sort of the whole table. Wrapped in COALESCE the condition is a plain filter, and
        # SQLite walks the received_at index for "newest first … LIMIT 50" instead.
        stmt = stmt.where(func.coalesce(t.deleted_at, None).is_(None))
    if flt.unit_ids:
        wanted = [u for u in flt.unit_ids if u != UNASSIGNED]
        conds = [t.unit_id.in_(wanted)] if wanted else []
        if UNASSIGNED in flt.unit_ids:
            conds.append(t.unit_id.is_(None))
        stmt = stmt.where(or_(*conds))
    if flt.categories:
        stmt = stmt.where(t.category.in_(flt.categories))
    if flt.statuses:
        stmt = stmt.where(t.platform_status.in_(flt.statuses))
    if flt.callbacks:
        stmt = stmt.where(t.callback_result.in_([c.value for c in flt.callbacks]))
    if flt.date_from:
        stmt = stmt.where(t.received_at >= datetime.combine(flt.date_from, time()))
    if flt.date_to:
        stmt = stmt.where(t.received_at < datetime.combine(flt.date_to + timedelta(days=1), time()))
    keyword = tidy(flt.keyword)
    if keyword:
        # the address is matched through its normalised form (spaces, punctuation and
        # full-width characters ignored), the content as written
        norm = normalize_address(keyword)
        address = (
            t.address_norm.like(f"%{_escape_like(norm)}%", escape="\\")
            if norm
            else t.address.like(f"%{_escape_like(keyword)}%", escape="\\")
        )
        stmt = stmt.where(or_(address, t.content.like(f"%{_escape_like(keyword)}%", escape="\\")))
    if flt.ticket_nos:
        stmt = stmt.where(t.ticket_no.in_(flt.ticket_nos))
    return stmt


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _with_unit() -> Select:
    t = table_of(Ticket).c
    return select(*_columns()).select_from(
        table_of(Ticket).outerjoin(
            table_of(Unit),
            table_of(Unit).c.id == t.unit_id,
        )
    )


def _select(actor: Actor, flt: TicketFilter) -> Select:
    t = table_of(Ticket).c
    return apply_filter(_with_unit(), actor, flt).order_by(t.received_at.desc(), t.id.desc())


def count_tickets(session: Session, actor: Actor, flt: TicketFilter) -> int:
    """The filtered total. `count(*)`, not `count(id)`: PostgreSQL then answers from an index
    alone (1,000,000 live tickets: 60 ms instead of 280 ms, bench/run.py)."""
    stmt = apply_filter(select(func.count()).select_from(table_of(Ticket)), actor, flt)
    return int(session.execute(stmt).scalar_one())


@dataclass
class TicketPage:
    rows: list[dict[str, Any]]
    total: int
    page: int  # 1-based
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def query_tickets(
    session: Session, actor: Actor, flt: TicketFilter, *, page: int = 1, page_size: int = PAGE_SIZE
) -> TicketPage:
    """One page of the ledger (newest first) and the filtered total; contacts masked."""
    total = count_tickets(session, actor, flt)
    pages = max(1, -(-total // page_size))
    page = min(max(page, 1), pages)
    # first the page's ids (sorting narrow rows is cheap), then those rows in full
    t = table_of(Ticket).c
    ids_stmt = (
        apply_filter(select(t.id).select_from(table_of(Ticket)), actor, flt)
        .order_by(t.received_at.desc(), t.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    ids = list(session.execute(ids_stmt).scalars())
    found = {r["id"]: r for r in session.execute(_with_unit().where(t.id.in_(ids))).mappings()}
    mask = masker(session, actor)
    rows = [mask(dict(found[i])) for i in ids]
    return TicketPage(rows=rows, total=total, page=page, page_size=page_size)


def iter_tickets(session: Session, actor: Actor, flt: TicketFilter) -> Iterator[dict[str, Any]]:
    """Every ticket of the filter (for the export), streamed in chunks; contacts masked."""
    mask = masker(session, actor)
    result = session.execute(_select(actor, flt).execution_options(yield_per=2000))
    for row in result.mappings():
        yield mask(dict(row))


def distinct_values(session: Session, column: str) -> list[str]:
    """The values seen in an indexed text column (category, platform_status) for the filter
    lists, in order.

    A loose index scan — a recursive query asking the index for the next larger value, once
    per value — instead of `SELECT DISTINCT` over every ticket, which neither database can
    skip through: a dozen categories among 1,000,000 tickets cost 5 ms instead of 210 ms.
    """
    values = table_of(Ticket).c[column]
    seen = select(func.min(values).label("value")).where(values > "").cte("seen", recursive=True)
    following = select(func.min(values)).where(values > seen.c.value).scalar_subquery()
    seen = seen.union_all(select(following).where(seen.c.value.is_not(None)))
    return list(session.execute(select(seen.c.value).where(seen.c.value.is_not(None))).scalars())


def filter_choices(session: Session, actor: Actor) -> tuple[dict[int, str], list[str], list[str]]:
    """The ledger's filter lists: live units, categories and platform statuses. They are the
    platform's vocabulary, the same for every role (a unit user's rows are scoped by
    `apply_filter`, not by the choices offered)."""
    return (
        live_units(session, actor),
        distinct_values(session, "category"),
        distinct_values(session, "platform_status"),
    )


# --- saving a batch of edits ---------------------------------------------------------------


@dataclass(frozen=True)
class RowEdit:
    """Changed cells of one loaded row: `values` maps a field of CENTER_FIELDS to its new value."""

    ticket_id: int
    version: int
    values: dict[str, Any]


@dataclass
class SaveResult:
    updated: list[str] = field(default_factory=list)  # 工单编号 of saved rows
    added: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # refused rows, named with who/when

    @property
    def saved(self) -> int:
        return len(self.updated) + len(self.added) + len(self.deleted)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value != value:  # NaN from an emptied grid cell
        return ""
    return str(value)


def _center_values(
    values: dict[str, Any], where: str, resolver: UnitResolver, units: dict[int, str]
) -> tuple[dict[str, Any], list[str]]:
    """Validate the center's cells of one row; returns model values and cell errors."""
    out: dict[str, Any] = {}
    errors: list[str] = []
    for key, value in values.items():
        if key == "notes":
            out["notes"] = tidy_long(_text(value))
        elif key in CENTER_LIMITS:
            text = tidy(_text(value))
            if len(text) > CENTER_LIMITS[key]:
                errors.append(f"{where}“{LABELS[key]}”超过 {CENTER_LIMITS[key]} 个字符")
            out[key] = text
        elif key == "unit":
            name = tidy(_text(value))
            unit_id = resolver.resolve(name) if name else None
            if name and unit_id is None:
                errors.append(f"{where}“承办单位”：“{name}”不是已登记的单位，请先在系统设置中添加")
            out["unit_id"] = unit_id
            if unit_id is not None:
                out["_unit_name"] = units.get(unit_id, name)
        else:
            label = LABELS.get(key, key)
            errors.append(
                f"{where}“{label}”来自 12345 平台导出，只能通过导入更新，不能在台账中修改"
            )
    return out, errors


def _added_values(
    values: dict[str, Any], where: str, resolver: UnitResolver, units: dict[int, str]
) -> tuple[dict[str, Any], list[str]]:
    """Validate a row typed into the ledger by hand (a ticket not from an export)."""
    errors: list[str] = []
    unknown = [k for k in values if k not in ADDABLE_FIELDS]
    errors += [f"{where}“{LABELS.get(k, k)}”不能在新增行中填写" for k in unknown]
    center = {k: v for k, v in values.items() if k in CENTER_FIELDS}
    out, center_errors = _center_values(center, where, resolver, units)
    errors += center_errors
    try:
        out["ticket_no"] = parse_ticket_no(_text(values.get("ticket_no")))
    except CellError as exc:
        errors.append(f"{where}“工单编号”：{exc}")
        out["ticket_no"] = ""
    if not out["ticket_no"]:
        errors.append(f"{where}缺少“工单编号”")
    received = values.get("received_at")
    try:
        out["received_at"] = parse_datetime(
            received if isinstance(received, datetime | date) else _text(received)
        )
    except CellError as exc:
        errors.append(f"{where}“诉求时间”：{exc}")
        out["received_at"] = None
    else:
        if out["received_at"] is None:
            errors.append(f"{where}缺少“诉求时间”")
    for key, limit in (
        ("address", 300),
        ("category", 100),
        ("caller", 100),
        ("phone", 50),
        ("platform_status", 50),
    ):
        text = tidy(_text(values.get(key)))
        if len(text) > limit:
            errors.append(f"{where}“{LABELS[key]}”超过 {limit} 个字符")
        out[key] = text
    out["content"] = tidy_long(_text(values.get("content")))
    return out, errors


def save_ledger(
    session: Session,
    actor: Actor,
    *,
    edits: Iterable[RowEdit] = (),
    added: Iterable[dict[str, Any]] = (),
    deleted: Iterable[tuple[int, int]] = (),
) -> SaveResult:
    """Save one 保存 of the grid: edited cells, added rows, deleted rows (id, version).

    Bad cells refuse the whole save with one message naming every row and column (nothing
    written). Rows changed by someone else since they were loaded are refused and named in
    `SaveResult.conflicts`; the other rows are saved. The caller commits.
    """
    actor.require(Perm.EDIT_TICKETS)
    edits, added, deleted = list(edits), list(added), list(deleted)
    resolver = UnitResolver.load(session)
    units = live_units(session, actor)
    errors: list[str] = []
    planned_edits: list[tuple[RowEdit, dict[str, Any]]] = []
    for edit in edits:
        row = session.get(Ticket, edit.ticket_id)
        where = f"工单 {row.ticket_no if row else edit.ticket_id}："
        values, problems = _center_values(edit.values, where, resolver, units)
        errors += problems
        planned_edits.append((edit, values))
    planned_adds: list[dict[str, Any]] = []
    typed: dict[str, int] = {}
    for n, values in enumerate(added, start=1):
        if not any(_text(v).strip() for v in values.values()):
            continue  # an added row left empty
        where = f"新增第 {n} 行："
        clean, problems = _added_values(values, where, resolver, units)
        errors += problems
        number = clean.get("ticket_no")
        if number:
            if number in typed:
                errors.append(f"{where}工单编号 {number} 与新增第 {typed[number]} 行重复")
            typed.setdefault(number, n)
        planned_adds.append(clean)
    if typed:
        clash = session.execute(
            select(col(Ticket.ticket_no), col(Ticket.deleted_at)).where(
                col(Ticket.ticket_no).in_(list(typed))
            )
        ).all()
        for number, deleted_at in clash:
            where = "（在回收站中）" if deleted_at else ""
            errors.append(f"新增第 {typed[number]} 行：工单编号 {number} 已存在{where}")
    if errors:
        raise ValidationError("未保存，请修改以下单元格：\n" + "\n".join(errors))

    result = SaveResult()
    for edit, values in planned_edits:
        _apply_edit(session, actor, edit, values, result)
    for values in planned_adds:
        _add(session, actor, values)
        result.added.append(values["ticket_no"])
    for ticket_id, version in deleted:
        _delete(session, actor, ticket_id, version, result)
    session.flush()
    return result


def _label(row: Ticket) -> str:
    return f"工单 {row.ticket_no}"


def _live_for_edit(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    row = session.get(Ticket, ticket_id)
    if row is None:
        raise NotFound(f"工单（编号 {ticket_id}）不存在")
    if row.deleted_at is not None:
        raise ConflictError(f"{_label(row)} 已被删除（在回收站中），未保存")
    actor.require_unit({row.unit_id}, "修改该工单")
    return row


def _apply_edit(
    session: Session, actor: Actor, edit: RowEdit, values: dict[str, Any], result: SaveResult
) -> None:
    try:
        row = _live_for_edit(session, actor, edit.ticket_id)
        values = {k: v for k, v in values.items() if not k.startswith("_")}
        if "address" in values and values["address"] != row.address:  # derived: the key too
            values["address_norm"] = normalize_address(values["address"])
            values.update(address_columns(values["address"], address_prefixes(session)))
        changes = records.apply_changes(
            session, actor, row, values, expected_version=edit.version, label=_label(row)
        )
    except (ConflictError, NotFound) as exc:
        result.conflicts.append(str(exc))
        return
    if changes:
        result.updated.append(row.ticket_no)


def _add(session: Session, actor: Actor, values: dict[str, Any]) -> Ticket:
    unit_name = values.pop("_unit_name", "")
    stamp = now()
    place: dict[str, Any] = address_columns(values.get("address", ""), address_prefixes(session))
    ticket = Ticket(
        **values,
        address_norm=normalize_address(values.get("address", "")),
        **place,
        unit_raw=unit_name,
        created_at=stamp,
        updated_at=stamp,
        created_by=actor.user_id,
        updated_by=actor.user_id,
    )
    session.add(ticket)
    session.flush()
    audit.record(
        session, actor, AuditAction.CREATE, "ticket", ticket.id, field="ticket_no",
        new=ticket.ticket_no, note="在台账中手工新增",
    )  # fmt: skip
    return ticket


def _delete(
    session: Session, actor: Actor, ticket_id: int, version: int, result: SaveResult
) -> None:
    try:
        row = _live_for_edit(session, actor, ticket_id)
        records.soft_delete(session, actor, row, expected_version=version, label=_label(row))
    except (ConflictError, NotFound) as exc:
        result.conflicts.append(str(exc))
        return
    result.deleted.append(row.ticket_no)


def restore_tickets(session: Session, actor: Actor, ticket_ids: Iterable[int]) -> list[str]:
    """Bring tickets back from the 回收站; returns their 工单编号. The caller commits."""
    actor.require(Perm.EDIT_TICKETS, "恢复工单")
    restored = []
    for ticket_id in ticket_ids:
        row = session.get(Ticket, ticket_id)
        if row is None or row.deleted_at is None:
            raise NotFound(f"回收站中没有工单（编号 {ticket_id}）")
        records.restore(session, actor, row)
        restored.append(row.ticket_no)
    session.flush()
    return restored


# --- one ticket ----------------------------------------------------------------------------


@dataclass
class TicketDetail:
    """Everything about one ticket for the detail view."""

    ticket: dict[str, Any]  # fields (contacts masked as the actor may see them)
    unit_name: str
    raw: dict[str, Any]  # the export's columns the importer did not recognise
    created_by_batch: ImportBatch | None
    imports: list[AuditLog]  # what each import changed
    cases: list[dict[str, Any]]  # linked 督办事项
    trail: list[AuditLog]  # the full audit trail, oldest first
    rules: list[RoutingRule]  # 专题会 rules that fit the matter: suggestions, never applied


def _visible(actor: Actor, ticket: Ticket) -> bool:
    return actor.can(Perm.VIEW_ALL) or (
        actor.unit_id is not None and ticket.unit_id == actor.unit_id
    )


def live_tickets(session: Session, actor: Actor, ticket_ids: Iterable[int]) -> list[Ticket]:
    """The live tickets among `ticket_ids` the actor may see, in the order given, masked."""
    ids = list(dict.fromkeys(ticket_ids))
    if not ids:
        return []
    stmt = select(Ticket).where(col(Ticket.id).in_(ids), col(Ticket.deleted_at).is_(None))
    found = {t.id: t for t in session.execute(stmt).scalars() if _visible(actor, t)}
    return [masked_ticket(session, actor, found[i]) for i in ids if i in found]


def ticket_ids_by_number(
    session: Session, actor: Actor, text: str
) -> tuple[dict[str, int], list[str]]:
    """A pasted list of 工单编号 (`parse_ticket_nos`) → the live tickets the actor may see,
    by number in the order pasted, and the numbers not found among them."""
    wanted = parse_ticket_nos(text)
    if not wanted:
        return {}, []
    stmt = select(Ticket).where(col(Ticket.ticket_no).in_(wanted), col(Ticket.deleted_at).is_(None))
    rows = {t.ticket_no: t.id for t in session.execute(stmt).scalars() if _visible(actor, t)}
    found = {n: rows[n] for n in wanted if n in rows and rows[n] is not None}
    return found, [n for n in wanted if n not in found]


def find_ticket_id(session: Session, actor: Actor, ticket_no: str) -> int:
    number = tidy(ticket_no).lstrip("'")
    row = session.execute(select(Ticket).where(col(Ticket.ticket_no) == number)).scalars().first()
    if row is None:
        raise NotFound(f"找不到工单编号 {number}")
    actor.require_unit({row.unit_id}, "查看该工单")
    return row.id


def ticket_detail(session: Session, actor: Actor, ticket_id: int) -> TicketDetail:
    row = session.get(Ticket, ticket_id)
    if row is None:
        raise NotFound(f"工单（编号 {ticket_id}）不存在")
    actor.require_unit({row.unit_id}, "查看该工单")
    data = masker(session, actor)(row.model_dump())
    unit = session.get(Unit, row.unit_id) if row.unit_id else None
    batch = session.get(ImportBatch, row.import_batch_id) if row.import_batch_id else None
    trail = ticket_history(session, row, batch)
    if not sees_contacts(actor):
        safe = safe_columns(session)
        trail = [mask_entry(actor, e, safe) for e in trail]
    cases = [
        {
            "id": case.id,
            "case_no": case.case_no,
            "title": case.title,
            "level": case.level.label,
            "status": case.status.label,
            "opened_at": case.opened_at,
            "closed_at": case.closed_at,
        }
        for case in session.execute(
            select(Case)
            .join(CaseTicket, col(CaseTicket.case_id) == col(Case.id))
            .where(col(CaseTicket.ticket_id) == ticket_id, col(Case.deleted_at).is_(None))
            .order_by(col(Case.opened_at))
        ).scalars()
    ]
    return TicketDetail(
        ticket=data,
        unit_name=unit.name if unit else "",
        raw=data.get("raw") or {},
        created_by_batch=batch,
        imports=[e for e in trail if e.action == AuditAction.IMPORT],
        cases=cases,
        trail=trail,
        rules=match_rules(session, category=row.category, content=row.content, address=row.address),
    )


def ticket_history(session: Session, row: Ticket, batch: ImportBatch | None) -> list[AuditLog]:
    """A ticket's audit trail, oldest first, starting with its creation.

    An import records a new ticket's creation once for the whole batch (the batch's own
    audit row; the ticket keeps `import_batch_id`), not once per ticket: at 100,000 tickets
    the per-ticket rows doubled the write. The creation entry is read back from that row.
    """
    assert row.id is not None  # a stored row
    trail = audit.history(session, "ticket", row.id)
    if batch is None or any(e.action == AuditAction.IMPORT and not e.field for e in trail):
        return trail  # not imported, or imported before batch-level creation rows
    logged = (
        session.execute(
            select(AuditLog).where(
                col(AuditLog.entity) == "importbatch",
                col(AuditLog.entity_id) == batch.id,
                col(AuditLog.action) == AuditAction.IMPORT,
            )
        )
        .scalars()
        .first()
    )
    if logged is None:
        return trail
    created = AuditLog(
        at=logged.at, user_id=logged.user_id, username=logged.username,
        action=AuditAction.IMPORT, entity="ticket", entity_id=row.id, field="", old=None,
        new=row.ticket_no, note=logged.note,
    )  # fmt: skip
    return [created, *trail]
