"""标准地址: the center's names for places, and the spellings (aliases) that stand for them.

The address key (duban.address) unifies what can be unified by rule; the rest — 赵巷佳园 for
和睦家园, a lane written without its road — only staff know. When they confirm a 督办线索
group, or split one, the address keys of each part become aliases of one standard address;
the table is also edited by hand. Every later run of the analysis reads each ticket's key
through `AddressBook.standard`, so one confirmation serves every later ticket.

Two distinct standard addresses are two places: the analysis never lets a near-identical
text join them (which is what a split records).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from hashlib import blake2b
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from duban import audit
from duban.address import AddressParts, parse_address, parse_prefixes
from duban.clock import now
from duban.enums import AuditAction
from duban.errors import ConflictError, NotFound, ValidationError
from duban.models import AddressAlias, StandardAddress, Ticket
from duban.permissions import Actor, Perm
from duban.records import table_of
from duban.settings import get_setting

PREFIXES_KEY = "address_prefixes"
ADDRESS_PARTS = ("address_place", "address_key", "address_detail")  # Ticket columns


def address_prefixes(session: Session) -> tuple[str, ...]:
    """The town's prefixes (setting `address_prefixes`), longest first."""
    return parse_prefixes(get_setting(session, PREFIXES_KEY))


def address_columns(address: str, prefixes: tuple[str, ...]) -> dict[str, str]:
    """The ticket columns holding an address's parts."""
    parts = parse_address(address or "", prefixes)
    return {"address_place": parts.place, "address_key": parts.key, "address_detail": parts.detail}


@dataclass(frozen=True)
class AddressBook:
    """Every alias and standard address, read once per run."""

    standard: dict[str, str]  # address key (alias or standard) → its standard address
    standards: frozenset[str]  # the standard addresses themselves

    def of(self, key: str) -> str:
        """The standard address a key stands for (itself when none)."""
        return self.standard.get(key, key)

    def stamp(self, prefixes: tuple[str, ...], extra: str = "") -> str:
        """Changes whenever the prefixes, an alias or `extra` change (the index's validity)."""
        text = "\x1e".join(
            ["、".join(prefixes), extra, *(f"{a}\x1f{s}" for a, s in sorted(self.standard.items()))]
        )
        return blake2b(text.encode(), digest_size=16).hexdigest()


def address_book(session: Session) -> AddressBook:
    """The live standard addresses and their aliases."""
    rows = session.exec(
        select(col(StandardAddress.name), col(AddressAlias.alias))
        .join(AddressAlias, col(AddressAlias.standard_id) == col(StandardAddress.id), isouter=True)
        .where(col(StandardAddress.deleted_at).is_(None))
    ).all()
    standard: dict[str, str] = {}
    for name, alias in rows:
        standard[name] = name
        if alias:
            standard[alias] = name
    return AddressBook(standard, frozenset(standard.values()))


@dataclass(frozen=True)
class StandardRow:
    """One standard address as the table on 督办线索 shows it."""

    id: int
    version: int
    name: str
    aliases: tuple[str, ...]
    note: str


def list_standard_addresses(session: Session) -> list[StandardRow]:
    """The live standard addresses, by name, each with its aliases."""
    standards = session.exec(
        select(StandardAddress)
        .where(col(StandardAddress.deleted_at).is_(None))
        .order_by(col(StandardAddress.name))
    ).all()
    aliases: dict[int, list[str]] = {}
    for alias in session.exec(select(AddressAlias).order_by(col(AddressAlias.alias))).all():
        aliases.setdefault(alias.standard_id, []).append(alias.alias)
    return [
        StandardRow(s.id, s.version, s.name, tuple(aliases.get(s.id, ())), s.note)  # type: ignore[arg-type]  # ids are set: these rows were flushed
        for s in standards
    ]


def _key(session: Session, written: str, field: str) -> str:
    """A written address as its key; the message names the field when nothing is left."""
    key = parse_address(written.strip(), address_prefixes(session)).key
    if not key:
        raise ValidationError(f"{field}：“{written.strip()}”不是有效地址")
    if len(key) > 300:
        raise ValidationError(f"{field}：最多 300 个字符")
    return key


def save_standard_address(
    session: Session,
    actor: Actor,
    name: str,
    aliases: list[str],
    note: str = "",
    *,
    standard_id: int | None = None,
    expected_version: int | None = None,
) -> StandardAddress:
    """Create a standard address, or replace one's name, aliases and note (a stale version
    is refused). Names and aliases are written as on the platform and kept as their keys;
    an alias already of another standard address is refused by name. The caller commits."""
    actor.require(Perm.EDIT_TICKETS, "编辑标准地址")
    key = _key(session, name, "标准地址")
    keys = list(dict.fromkeys(_key(session, a, "别名") for a in aliases if a.strip()))
    keys = [k for k in keys if k != key]
    if len(note) > 200:
        raise ValidationError("备注：最多 200 个字符")
    row = _live(session, standard_id, expected_version) if standard_id is not None else None
    book = address_book(session)
    for alias in [key, *keys]:
        owner = book.standard.get(alias)
        if owner is not None and (row is None or owner != row.name):
            raise ValidationError(f"“{alias}”已是标准地址“{owner}”的写法，不能重复登记")
    if row is None:
        row = StandardAddress(
            name=key, note=note, created_by=actor.user_id, updated_by=actor.user_id
        )
        session.add(row)
        session.flush()
        audit.record(
            session, actor, AuditAction.CREATE, "standardaddress", row.id, field="name", new=key
        )
    else:
        changes = {
            f: (getattr(row, f), v)
            for f, v in (("name", key), ("note", note))
            if getattr(row, f) != v
        }
        for f, (_, v) in changes.items():
            setattr(row, f, v)
        row.version, row.updated_at, row.updated_by = row.version + 1, now(), actor.user_id
        session.add(row)
        audit.record_changes(session, actor, "standardaddress", row.id, changes)
    old = {
        a.alias: a
        for a in session.exec(select(AddressAlias).where(col(AddressAlias.standard_id) == row.id))
    }
    for alias in old.keys() - set(keys):
        session.delete(old[alias])
        audit.record(session, actor, AuditAction.DELETE, "addressalias", old[alias].id, field="alias",
                     old=alias, note=f"标准地址“{key}”")  # fmt: skip
    for alias in [k for k in keys if k not in old]:
        _add_alias(session, actor, row, alias, "手工")
    session.flush()
    return row


def delete_standard_address(
    session: Session, actor: Actor, standard_id: int, expected_version: int
) -> None:
    """Soft-delete a standard address; its aliases go with it. The caller commits."""
    actor.require(Perm.EDIT_TICKETS, "删除标准地址")
    row = _live(session, standard_id, expected_version)
    for alias in session.exec(select(AddressAlias).where(col(AddressAlias.standard_id) == row.id)):
        session.delete(alias)
    row.deleted_at, row.version, row.updated_by = now(), row.version + 1, actor.user_id
    session.add(row)
    audit.record(
        session, actor, AuditAction.DELETE, "standardaddress", row.id, field="name", old=row.name
    )
    session.flush()


def _live(session: Session, standard_id: int, expected_version: int | None) -> StandardAddress:
    row = session.get(StandardAddress, standard_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"标准地址（编号 {standard_id}）不存在或已删除")
    if expected_version is not None and row.version != expected_version:
        raise ConflictError(f"标准地址“{row.name}”已被他人修改，请刷新后重试")
    return row


def _add_alias(
    session: Session, actor: Actor, row: StandardAddress, alias: str, source: str
) -> None:
    item = AddressAlias(alias=alias, standard_id=row.id, source=source, created_by=actor.user_id)  # type: ignore[arg-type]  # ids are set: these rows were flushed
    session.add(item)
    session.flush()
    audit.record(session, actor, AuditAction.CREATE, "addressalias", item.id, field="alias", new=alias,
                 note=f"标准地址“{row.name}”（{source}）")  # fmt: skip


def merge_spellings(session: Session, actor: Actor, keys: list[str], source: str) -> str:
    """Make these address keys (the spellings of one part of a group staff confirmed or
    split) aliases of one standard address, and return it.

    The standard address is one they already stand for (the first, by the order given),
    else the commonest key given; a key standing for another standard address moves over
    with that address's other aliases, since staff have just said they are one place.
    The caller commits.
    """
    actor.require(Perm.EDIT_TICKETS, "登记地址别名")
    keys = [k for k in keys if k]
    if not keys:
        raise ValidationError("这些工单没有地址，无法登记标准地址")
    book = address_book(session)
    owners = list(dict.fromkeys(book.standard[k] for k in keys if k in book.standard))
    chosen_name = owners[0] if owners else Counter(keys).most_common(1)[0][0]
    row = session.exec(
        select(StandardAddress).where(
            col(StandardAddress.name) == chosen_name,
            col(StandardAddress.deleted_at).is_(None),
        )
    ).first()
    if row is None:
        row = StandardAddress(name=chosen_name, created_by=actor.user_id, updated_by=actor.user_id)
        session.add(row)
        session.flush()
        audit.record(session, actor, AuditAction.CREATE, "standardaddress", row.id, field="name",
                     new=chosen_name, note=f"督办线索{source}")  # fmt: skip
    for other_name in owners[1:]:
        other = session.exec(
            select(StandardAddress).where(
                col(StandardAddress.name) == other_name,
                col(StandardAddress.deleted_at).is_(None),
            )
        ).one()
        moved = session.exec(
            select(AddressAlias).where(col(AddressAlias.standard_id) == other.id)
        ).all()
        session.execute(
            update(AddressAlias)
            .where(col(AddressAlias.standard_id) == other.id)
            .values(standard_id=row.id)
        )
        other.deleted_at, other.version = now(), other.version + 1
        session.add(other)
        audit.record(session, actor, AuditAction.DELETE, "standardaddress", other.id, field="name",
                     old=other_name, note=f"并入标准地址“{chosen_name}”（{len(moved)} 个别名）")  # fmt: skip
        if other_name != chosen_name:
            _add_alias(session, actor, row, other_name, source)
    session.flush()
    known = address_book(session)
    for key in dict.fromkeys(keys):
        if key != chosen_name and key not in known.standard:
            _add_alias(session, actor, row, key, source)
    return chosen_name


def recompute_address_parts(session: Session, actor: Actor) -> int:
    """Parse every ticket's address again (after the prefixes changed); the number of
    tickets whose parts moved. Derived columns: no version bump; the analysis sees the new
    prefixes in its stamp and rebuilds its index. The caller commits."""
    actor.require(Perm.MANAGE_SETTINGS, "重新解析工单地址")
    prefixes = address_prefixes(session)
    rows = session.exec(
        select(
            col(Ticket.address),
            col(Ticket.address_place),
            col(Ticket.address_key),
            col(Ticket.address_detail),
        ).distinct()
    ).all()
    moved: list[dict[str, Any]] = []
    for address, place, key, detail in rows:
        parts: AddressParts = parse_address(address or "", prefixes)
        if (parts.place, parts.key, parts.detail) != (place, key, detail):
            moved.append({"a": address, "p": parts.place, "k": parts.key, "d": parts.detail})
    table = table_of(Ticket)
    count = 0
    for row in moved:
        result = session.execute(
            update(table)
            .where(table.c.address == row["a"])
            .values(address_place=row["p"], address_key=row["k"], address_detail=row["d"])
        )
        count += result.rowcount or 0  # type: ignore[attr-defined]  # an UPDATE's result has a rowcount
    if count:
        audit.record(session, actor, AuditAction.UPDATE, "ticket", None, field="address_key",
                     note=f"地址前缀改为“{'、'.join(prefixes)}”，重新解析 {count} 张工单的地址")  # fmt: skip
    return count


def _ticket_keys(session: Session, ticket_ids: list[int]) -> dict[int, str]:
    """Each live ticket's address key as parsed; an unknown or deleted id is refused."""
    prefixes = address_prefixes(session)
    rows = session.exec(
        select(
            col(Ticket.id), col(Ticket.ticket_no), col(Ticket.address), col(Ticket.address_key)
        ).where(
            col(Ticket.id).in_(ticket_ids),
            col(Ticket.deleted_at).is_(None),
        )
    ).all()
    found: dict[int, str] = {
        tid: key or parse_address(address or "", prefixes).key
        for tid, _, address, key in rows
        if tid is not None
    }
    missing = [t for t in ticket_ids if t not in found]
    if missing:
        raise NotFound(f"工单（编号 {'、'.join(map(str, missing))}）不存在或已删除")
    return found


def confirm_same_place(session: Session, actor: Actor, ticket_ids: list[int]) -> str:
    """Staff confirm a 督办线索 group: the address keys of its tickets become spellings of
    one standard address (returned). The caller commits."""
    keys = _ticket_keys(session, ticket_ids)
    return merge_spellings(session, actor, [keys[t] for t in ticket_ids], "确认")


def split_places(
    session: Session, actor: Actor, kept_ids: list[int], taken_ids: list[int]
) -> tuple[str, str]:
    """Staff split a 督办线索 group: the tickets kept and those taken out are two places,
    each part's address keys the spellings of one standard address; returns both. A key
    found in both parts cannot be split by address, and is refused by name."""
    if not kept_ids or not taken_ids:
        raise ValidationError("拆分时请至少拆出一张工单，并至少留下一张")
    keys = _ticket_keys(session, [*kept_ids, *taken_ids])
    kept = [keys[t] for t in kept_ids]
    taken = [keys[t] for t in taken_ids]
    both = sorted(set(kept) & set(taken))
    if both:
        raise ValidationError(
            f"地址“{'、'.join(both)}”在拆分的两部分中都有，无法按地址拆分；"
            "如确属两件事，请勿立为同一督办事项"
        )
    book = address_book(session)
    if {book.of(k) for k in kept} & {book.of(k) for k in taken}:
        raise ValidationError("拆分的两部分已登记为同一标准地址，请先在“标准地址与别名”中修改")
    return merge_spellings(session, actor, kept, "拆分"), merge_spellings(
        session, actor, taken, "拆分"
    )


def address_stamp(session: Session) -> str:
    """Changes whenever the prefixes or an alias change (part of the page's cache key)."""
    return address_book(session).stamp(address_prefixes(session))
