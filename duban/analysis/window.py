"""The tickets a run looks at: the window of `received_at` the rules need, each ticket read
once into a `TicketInfo`, with its address key read through the center's aliases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import String, and_, or_, type_coerce
from sqlmodel import Session, col, select

from duban.address import parse_address
from duban.analysis.matters import _NOT_DIGIT, _without_cyclic_gc
from duban.analysis.rules import Thresholds
from duban.enums import CallbackResult
from duban.models import Ticket, TicketMatchKey
from duban.standard_address import AddressBook, address_book, address_prefixes


class TicketInfo(NamedTuple):
    """What the rules and the page need of a ticket (a named tuple: a run builds one per
    ticket of the window, five times faster than a frozen dataclass)."""

    id: int
    ticket_no: str
    received_at: datetime
    address: str
    address_norm: str
    content: str
    category: str
    caller: str
    phone: str
    unit_id: int | None
    callback: CallbackResult | None
    status: str
    due_at: datetime | None
    city: bool
    key: str = ""  # the address key through the aliases: what the rules compare
    spelling: str = ""  # the address key as parsed, before the aliases
    detail: str = ""  # the landmark or room after the number

    def caller_key(self) -> str:
        """Who called: the phone number's digits, else the name ("" when neither is known)."""
        digits = _NOT_DIGIT.sub("", self.phone or "")
        return digits if len(digits) >= 7 else (self.caller or "").strip()


def _window_start(as_of: datetime, days: int) -> datetime:
    """The first instant of the last `days` days up to `as_of` (today counts as one)."""
    return datetime.combine(as_of.date() - timedelta(days=days - 1), time.min)


def _horizon(th: Thresholds) -> int:
    """The longest look-back of any rule: tickets further apart never meet in one window."""
    return max(th.repeat_window_days, th.concentrated_window_days)


_CALLBACKS = {m.value: m for m in CallbackResult}


@dataclass(frozen=True)
class _Places:
    """How a run reads addresses: the town's prefixes and the center's aliases, and a stamp
    of both (with the key-word minimum) that the stored index must have been built with."""

    prefixes: tuple[str, ...]
    book: AddressBook
    stamp: str

    @classmethod
    def load(cls, session: Session, th: Thresholds) -> _Places:
        prefixes, book = address_prefixes(session), address_book(session)
        return cls(prefixes, book, book.stamp(prefixes, f"keywords≥{th.keyword_min}"))

    def key(self, address_key: str, address: str) -> tuple[str, str]:
        """(the key through the aliases, the key as parsed); a ticket stored without its
        parts (written by older code) is parsed here."""
        spelling = address_key or parse_address(address or "", self.prefixes).key
        return self.book.of(spelling), spelling


@dataclass
class _Window:
    """The tickets a run judges, with what the stored index knew of each."""

    tickets: list[TicketInfo]
    versions: list[int]  # Ticket.version now
    key_versions: list[int | None]  # … and when its key was prepared (None: never)
    wordings: list[int]  # the stored wording (0: none), brought up to date by _update_index

    @classmethod
    def of(cls, rows: Sequence[_Row]) -> _Window:
        """The window of these rows, in their order."""
        return cls(
            [r.info for r in rows],
            [r.version for r in rows],
            [r.key_version for r in rows],
            [r.wording for r in rows],
        )


def _in_window(as_of: datetime, th: Thresholds) -> Any:
    """The live tickets up to `as_of` that any rule may look at: received within the
    horizon, or 市级督办 and still open."""
    since = _window_start(as_of, _horizon(th))
    still_open = and_(
        col(Ticket.platform_status) != "",
        col(Ticket.platform_status).not_in(sorted(th.done_statuses)),
    )
    return and_(
        col(Ticket.deleted_at).is_(None),
        col(Ticket.received_at) <= as_of,
        or_(col(Ticket.received_at) >= since, and_(col(Ticket.city_supervised), still_open)),
    )


def _versions(session: Session, as_of: datetime, th: Thresholds) -> dict[int, int]:
    """Every ticket of the window: id → version (what a kept window checks itself against)."""
    stmt = select(col(Ticket.id), col(Ticket.version)).where(_in_window(as_of, th))
    return dict(session.connection().execute(stmt).all())  # type: ignore[arg-type]  # (id, version) rows


class _Row(NamedTuple):
    """A ticket of the window as read, with what the stored index knew of it."""

    info: TicketInfo
    version: int  # Ticket.version now
    key_version: int | None  # … and when its key was prepared (None: never)
    wording: int  # the stored wording (0: none)


_CHUNK = 5000  # ids per IN (…) list


@_without_cyclic_gc
def _read_rows(
    session: Session, as_of: datetime, th: Thresholds, places: _Places, ids: list[int] | None = None
) -> list[_Row]:
    """The window's tickets with their stored match keys, oldest first (one query); or
    those of them with these ids (one query per 5,000, in no particular order)."""
    stmt = _rows_statement(as_of, th)
    if ids is None:
        return _rows(session, stmt, places)
    return [
        row
        for start in range(0, len(ids), _CHUNK)
        for row in _rows(
            session, stmt.where(col(Ticket.id).in_(ids[start : start + _CHUNK])), places
        )
    ]


def _rows_statement(as_of: datetime, th: Thresholds) -> Any:
    """The columns a run reads of each ticket of the window, and its stored match key."""
    return (
        select(  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
            col(Ticket.id),
            col(Ticket.ticket_no),
            type_coerce(col(Ticket.received_at), String),  # parsed below: SQLite's parser is slow
            col(Ticket.address),
            col(Ticket.address_norm),
            col(Ticket.content),
            col(Ticket.category),
            col(Ticket.caller),
            col(Ticket.phone),
            col(Ticket.unit_id),
            type_coerce(col(Ticket.callback_result), String),  # the code; mapped below, faster
            col(Ticket.platform_status),
            type_coerce(col(Ticket.platform_due_at), String),
            col(Ticket.city_supervised),
            col(Ticket.version),
            col(TicketMatchKey.ticket_version),
            col(TicketMatchKey.wording),
            col(Ticket.address_key),
            col(Ticket.address_detail),
        )
        .outerjoin(TicketMatchKey, col(TicketMatchKey.ticket_id) == col(Ticket.id))
        .where(_in_window(as_of, th))
        .order_by(col(Ticket.received_at), col(Ticket.id))
    )


def _rows(session: Session, stmt: Any, places: _Places) -> list[_Row]:
    """The rows of `_rows_statement`, each ticket's address key read through the aliases."""
    connection = session.connection()
    rows = connection.execute(stmt).all()
    when = _datetime if connection.dialect.name == "sqlite" else _as_is  # ISO text, or datetime
    callback = _CALLBACKS.get
    key = cache(places.key)
    return [
        _Row(
            TicketInfo(
                r[0],
                r[1],
                when(r[2]),  # type: ignore[arg-type]  # received_at is NOT NULL
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                r[8],
                r[9],
                callback(r[10]),
                r[11],
                when(r[12]),
                r[13],
                *key(r[17], r[3]),
                r[18],
            ),
            r[14],
            r[15],
            r[16] or 0,
        )  # fmt: skip
        for r in rows
    ]


def _as_is(value: Any) -> Any:
    return value


def _datetime(value: datetime | str | None) -> datetime | None:
    """A timestamp as SQLite returns it raw (ISO text), or as PostgreSQL does (datetime)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)
