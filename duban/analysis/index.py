"""The stored same-matter index (TicketMatchKey, MatterLink, CandidateRun): a run prepares
only the tickets new or changed since the last run and reads the rest back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from hashlib import blake2b
from time import perf_counter
from typing import Any

from sqlalchemy import String, and_, delete, or_, type_coerce, update
from sqlalchemy import text as sql
from sqlmodel import Session, col, select

from duban.analysis.matters import Wording, _find_links, _normalized, _Pieces, _wording
from duban.analysis.rules import Thresholds
from duban.analysis.window import TicketInfo, _datetime, _horizon, _Places, _Window, _window_start
from duban.models import CandidateRun, MatterLink, Ticket, TicketMatchKey
from duban.records import table_of

# --- the stored same-matter index ----------------------------------------------------------

# Bump when the same-matter relation, the wordings or how links are found change: the next
# run sees a different version in the last CandidateRun and rebuilds the whole index.
INDEX_VERSION = 2
_LOCK = 0x6475_6261_6E00  # PostgreSQL advisory lock: one index update at a time
_KEY = table_of(TicketMatchKey)
_LINK = table_of(MatterLink)
_CHUNK = 5000
# (wording_a, wording_b) → (score, latest ticket of the two wordings, both 市级督办)
Links = dict[tuple[int, int], tuple[float, datetime, bool]]


@dataclass(frozen=True)
class IndexRun:
    """One recorded update of the stored index (a `CandidateRun`, kept apart from its session)."""

    at: datetime
    as_of: datetime
    rebuilt: bool
    prepared: int
    links: int
    max_ticket_id: int
    horizon_days: int
    seconds: float

    @classmethod
    def of(cls, row: CandidateRun | None) -> IndexRun | None:
        if row is None:
            return None
        return cls(row.at, row.as_of, row.rebuilt, row.prepared, row.links, row.max_ticket_id,
                   row.horizon_days, row.seconds)  # fmt: skip


@dataclass(frozen=True)
class IndexUpdate:
    """What one run did to the stored index."""

    rebuilt: bool  # prepared every ticket of the window afresh
    prepared: int  # tickets new, or whose address, category, content, date or city changed
    links: int  # links found from them
    seconds: float
    last: IndexRun | None  # the latest recorded update (this one, if it changed anything)


def wording_id(address: str, category: str, text: str) -> int:
    """A ticket's wording (`_wording`) as a stable signed 64-bit number; 0 for no text."""
    if not text:
        return 0
    address, category, text = _wording(address, category, text)
    data = f"{address}\x1f{category}\x1f{text}".encode()
    return int.from_bytes(blake2b(data, digest_size=8).digest(), "big", signed=True) or 1


def last_index_run(session: Session) -> CandidateRun | None:
    """The latest update of the stored index (None: never built)."""
    return session.exec(select(CandidateRun).order_by(col(CandidateRun.id).desc()).limit(1)).first()


def _usable(run: CandidateRun | None, th: Thresholds, places: _Places) -> bool:
    """Whether the stored index answers for these thresholds, prefixes and aliases with
    this code."""
    return (
        run is not None
        and run.index_version == INDEX_VERSION
        and run.similarity_percent == th.similarity_percent
        and run.horizon_days >= _horizon(th)
        and run.match_stamp == places.stamp
    )


def _update_index(
    session: Session,
    as_of: datetime,
    th: Thresholds,
    window: _Window,
    rebuild: bool,
    places: _Places,
    pieces: _Pieces | None = None,
) -> tuple[IndexUpdate, Links]:
    """Prepare the window's tickets that are new or changed since the last run: their
    wordings, and the links between them and every ticket they may meet in a window.

    Invariant kept: any two prepared tickets whose dates are less than the horizon apart,
    or that are both 市级督办, have had their wordings compared. So a new ticket is
    compared with the window and with the prepared tickets outside it that are as close
    (deleted ones too: they may be restored), and nothing else needs comparing again.
    A ticket whose version moved while its address, category, content, date and city did
    not (a new status or callback) is not compared again. `pieces`, the window's addresses
    by their pieces, spares pairing every address of the window to find those nested with
    the fresh ones. Returns what it did and the links it wrote.
    """
    tickets, wordings = window.tickets, window.wordings
    last = last_index_run(session)
    if not rebuild and _usable(last, th, places):
        stale = [i for i, v in enumerate(window.versions) if window.key_versions[i] != v]
        if not stale:
            return IndexUpdate(False, 0, 0, 0.0, IndexRun.of(last)), {}
    started = perf_counter()
    _lock(session)
    last = last_index_run(session)  # another run may have updated it while we waited
    rebuilt = rebuild or not _usable(last, th, places)
    if rebuilt:
        session.execute(delete(_LINK))
        session.execute(delete(_KEY))
        horizon, known = _horizon(th), {}
        stale = list(range(len(tickets)))
    else:
        assert last is not None
        horizon = last.horizon_days
        stale = [i for i, v in enumerate(window.versions) if window.key_versions[i] != v]
        known = _read_keys(session, [tickets[i].id for i in stale])
    texts: dict[int, str] = {}
    fresh: list[int] = []
    inserts: list[tuple] = []
    updates: list[tuple] = []
    for i in stale:
        t, version = tickets[i], window.versions[i]
        stored = known.get(t.id)
        if stored is not None and stored[0] == version:  # prepared by another run meanwhile
            wordings[i] = stored[1]
            continue
        texts[i] = text = _normalized(t.content)
        wordings[i] = wording_id(t.key, t.category, text)
        row = (t.id, version, wordings[i], t.received_at, t.city)
        if stored is None:
            inserts.append(row)
        else:
            updates.append(row)
            if stored[1:] == (wordings[i], t.received_at, t.city):
                continue  # only its status or callback moved: nothing to compare
        fresh.append(i)
    links = _link_fresh(session, as_of, th, window, fresh, texts, horizon, rebuilt, places, pieces)
    _write_keys(session, inserts, updates)
    _write_links(session, links)
    if not fresh and not rebuilt:
        return IndexUpdate(False, 0, 0, perf_counter() - started, IndexRun.of(last)), links
    ids = [tickets[i].id for i in fresh]
    run = CandidateRun(
        as_of=as_of,
        rebuilt=rebuilt,
        prepared=len(fresh),
        links=len(links),
        max_ticket_id=max([*ids, last.max_ticket_id if last and not rebuilt else 0]),
        index_version=INDEX_VERSION,
        similarity_percent=th.similarity_percent,
        horizon_days=horizon,
        seconds=round(perf_counter() - started, 3),
        match_stamp=places.stamp,
    )
    session.add(run)
    session.flush()
    return IndexUpdate(rebuilt, len(fresh), len(links), run.seconds, IndexRun.of(run)), links


def _lock(session: Session) -> None:
    """Serialise index updates: two runs must not prepare the same tickets at once.

    PostgreSQL: an advisory lock held to the end of the transaction. SQLite: the first
    write of a transaction takes the database's one write lock (a write of no rows will do).
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(sql("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    else:
        connection.execute(update(_KEY).where(_KEY.c.ticket_id < 0).values(city=False))


def _read_keys(session: Session, ids: list[int]) -> dict[int, tuple[int, int, datetime, bool]]:
    """The stored keys of these tickets: id → (version, wording, received_at, city)."""
    found = {}
    connection = session.connection()
    for start in range(0, len(ids), _CHUNK):
        stmt = select(  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
            _KEY.c.ticket_id,
            _KEY.c.ticket_version,
            _KEY.c.wording,
            type_coerce(_KEY.c.received_at, String),
            _KEY.c.city,
        ).where(_KEY.c.ticket_id.in_(ids[start : start + _CHUNK]))
        for tid, version, wording, received, city in connection.execute(stmt):
            found[tid] = (version, wording, _datetime(received), city)
    return found  # type: ignore[return-value]  # received_at is NOT NULL


@dataclass(frozen=True, slots=True)
class _Neighbour:
    """A prepared ticket outside the window that a fresh one may meet."""

    id: int
    received_at: datetime
    key: str
    category: str
    content: str
    city: bool


def _link_fresh(
    session: Session,
    as_of: datetime,
    th: Thresholds,
    window: _Window,
    fresh: list[int],
    texts: dict[int, str],
    horizon: int,
    rebuilt: bool,
    places: _Places,
    pieces: _Pieces | None = None,
) -> Links:
    """Links between the fresh tickets' wordings and those of every prepared ticket they
    may meet: (wording_a, wording_b) → (score, latest ticket of the two wordings, whether
    both have a 市级督办 ticket). With `pieces`, only the tickets at the fresh tickets'
    addresses and those nested with them are looked at."""
    if not fresh:
        return {}
    tickets = window.tickets
    outside = [] if rebuilt else _neighbours(session, as_of, th, tickets, fresh, horizon, places)
    chosen: Sequence[int] = range(len(tickets))
    if pieces is not None and not rebuilt:
        pieces.add(o.key for o in outside)
        targets = {tickets[i].key for i in fresh}
        near = targets.union(*pieces.nested_with(targets))
        chosen = [i for i, t in enumerate(tickets) if t.key in near]
        outside = [o for o in outside if o.key in near]
    # TicketInfo and _Neighbour share what is read here
    pool: list[Any] = [*(tickets[i] for i in chosen), *outside]
    fresh_set = set(fresh)
    is_fresh = [i in fresh_set for i in chosen] + [False] * len(outside)
    known = {n: texts[i] for n, i in enumerate(chosen) if i in texts}  # by place in the pool

    def text(i: int) -> str:
        if i not in known:
            known[i] = _normalized(pool[i].content)  # cached: the same texts meet every run
        return known[i]

    found, compared = _find_links(
        [p.key for p in pool],
        [p.category for p in pool],
        text,
        th.similarity_percent,
        is_fresh,
        th.keyword_min,
        places.book.standards,
    )
    ids: dict[Wording, tuple[int, datetime, bool]] = {}

    def described(w: Wording) -> tuple[int, datetime, bool]:
        if w not in ids:
            members = compared[w]
            ids[w] = (
                wording_id(*w),
                max(pool[i].received_at for i in members),
                any(pool[i].city for i in members),
            )
        return ids[w]

    links: Links = {}
    for (a, b), score in found.items():
        (id_a, at_a, city_a), (id_b, at_b, city_b) = described(a), described(b)
        key = (id_a, id_b) if id_a < id_b else (id_b, id_a)
        links[key] = (score, max(at_a, at_b), city_a and city_b)
    return links


def _neighbours(
    session: Session,
    as_of: datetime,
    th: Thresholds,
    tickets: list[TicketInfo],
    fresh: list[int],
    horizon: int,
    places: _Places,
) -> list[_Neighbour]:
    """Prepared tickets outside the window that the fresh ones may meet in some window:
    received less than the horizon's days from one of them (before the window, after
    `as_of`, or deleted), and, for a fresh 市级督办 ticket, every prepared 市级督办 ticket."""
    since = _window_start(as_of, _horizon(th))
    days = [tickets[i].received_at.date() for i in fresh]
    low = datetime.combine(min(days) - timedelta(days=horizon - 1), time.min)
    high = datetime.combine(max(days) + timedelta(days=horizon), time.min)
    near = or_(
        and_(col(Ticket.received_at) >= low, col(Ticket.received_at) < since),
        and_(col(Ticket.received_at) > as_of, col(Ticket.received_at) < high),
        and_(
            col(Ticket.deleted_at).is_not(None),
            col(Ticket.received_at) >= since,
            col(Ticket.received_at) <= as_of,
        ),
    )
    if any(tickets[i].city for i in fresh):
        near = or_(near, col(Ticket.city_supervised))
    stmt = (
        select(  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
            col(Ticket.id),
            type_coerce(col(Ticket.received_at), String),
            col(Ticket.address_key),
            col(Ticket.address),
            col(Ticket.category),
            col(Ticket.content),
            col(Ticket.city_supervised),
        )
        .join(TicketMatchKey, col(TicketMatchKey.ticket_id) == col(Ticket.id))
        .where(near)
    )
    inside = {t.id for t in tickets}
    return [
        _Neighbour(r[0], _datetime(r[1]), places.key(r[2], r[3])[0], *r[4:])  # type: ignore[arg-type]  # the column is NOT NULL
        for r in session.connection().execute(stmt).all()
        if r[0] not in inside
    ]


_KEY_COLUMNS = "ticket_id, ticket_version, wording, received_at, city"
_LINK_COLUMNS = "wording_a, wording_b, score, last_at, city"
_PG_ROWS = 20_000  # rows per UPDATE or INSERT … SELECT FROM unnest(…) statement


def _write_keys(session: Session, inserts: list[tuple], updates: list[tuple]) -> None:
    """Store keys (id, version, wording, received_at, city): bulk statements on the driver,
    since a full build writes one row per ticket of the window and the ORM's per-row cost
    would be most of its time."""
    connection = session.connection()
    table = _KEY.name
    if connection.dialect.name == "postgresql":
        if inserts:  # COPY: several times faster than INSERT for a full build's rows
            driver = connection.connection.driver_connection
            with driver.cursor() as cursor:  # type: ignore[union-attr]  # psycopg's connection under PostgreSQL
                with cursor.copy(f"COPY {table} ({_KEY_COLUMNS}) FROM STDIN") as copy:
                    for row in inserts:
                        copy.write_row(row)
        rows = "unnest(%s::int[], %s::int[], %s::bigint[], %s::timestamp[], %s::bool[])"
        for start in range(0, len(updates), _PG_ROWS):
            connection.exec_driver_sql(
                f"UPDATE {table} AS k SET ticket_version = u.v, wording = u.w, received_at = u.r, "
                f"city = u.c FROM {rows} AS u(id, v, w, r, c) WHERE k.ticket_id = u.id",
                tuple(map(list, zip(*updates[start : start + _PG_ROWS], strict=True))),
            )
        return
    if inserts:
        connection.exec_driver_sql(
            f"INSERT INTO {table} ({_KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
            [(i, v, w, _sqlite_time(r), c) for i, v, w, r, c in inserts],
        )
    if updates:
        connection.exec_driver_sql(
            f"UPDATE {table} SET ticket_version = ?, wording = ?, received_at = ?, city = ? "
            "WHERE ticket_id = ?",
            [(v, w, _sqlite_time(r), c, i) for i, v, w, r, c in updates],
        )


def _write_links(session: Session, links: Links) -> None:
    """Add the links; one already known keeps its score and learns the later date."""
    if not links:
        return
    connection = session.connection()
    table = _LINK.name
    rows = [(a, b, score, at, city) for (a, b), (score, at, city) in sorted(links.items())]
    if connection.dialect.name == "postgresql":
        arrays = "unnest(%s::bigint[], %s::bigint[], %s::float8[], %s::timestamp[], %s::bool[])"
        for start in range(0, len(rows), _PG_ROWS):
            connection.exec_driver_sql(
                f"INSERT INTO {table} ({_LINK_COLUMNS}) SELECT * FROM {arrays} "
                "ON CONFLICT (wording_a, wording_b) DO UPDATE SET "
                f"last_at = GREATEST({table}.last_at, EXCLUDED.last_at), "
                f"city = {table}.city OR EXCLUDED.city",
                tuple(map(list, zip(*rows[start : start + _PG_ROWS], strict=True))),
            )
        return
    connection.exec_driver_sql(
        f"INSERT INTO {table} ({_LINK_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (wording_a, wording_b) DO UPDATE SET "
        "last_at = max(last_at, excluded.last_at), city = city OR excluded.city",
        [(a, b, score, _sqlite_time(at), city) for a, b, score, at, city in rows],
    )


def _sqlite_time(value: datetime) -> str:
    """A timestamp as SQLAlchemy stores it in SQLite, so stored ones compare as text."""
    return value.isoformat(" ", "microseconds")


def _read_links(session: Session, since: datetime) -> list[tuple[int, int, float, datetime, bool]]:
    """The stored links a window starting at `since` (or later) can use, and those between
    市级督办 tickets (open ones from before the window may be in it): (wording_a,
    wording_b, score, last_at, city)."""
    stmt = select(  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
        _LINK.c.wording_a, _LINK.c.wording_b, _LINK.c.score,
        type_coerce(_LINK.c.last_at, String), _LINK.c.city,
    ).where(or_(_LINK.c.last_at >= since, _LINK.c.city))  # fmt: skip
    return [
        (a, b, score, _datetime(at), city)  # type: ignore[misc]  # last_at is NOT NULL
        for a, b, score, at, city in session.connection().execute(stmt).all()
    ]
