"""What a process keeps between runs of the detection: the window's tickets, the links
between their wordings and the matters of the last N days, so that the run after a day's
import reads and regroups only what changed (the 督办线索 page runs it on every visit).

The stored index (duban.analysis.index) spares a run comparing texts again; this spares it
reading 100,000 tickets whole (their ids and versions are read) and regrouping the tens of
thousands of matters that nothing touched. It is checked
against the database at every run — the tickets by (id, version), the links by the last
CandidateRun — and dropped whenever it may not answer: another process updated the index,
the thresholds, prefixes or aliases changed, the window moved back, a run failed. A
dropped state makes the run a full one; the result is the same either way.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from heapq import merge
from itertools import compress, filterfalse
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from duban.analysis.index import Links, _read_links
from duban.analysis.matters import _callers, _nodes, _Pieces, adjacency
from duban.analysis.rules import Thresholds
from duban.analysis.window import _Places, _read_rows, _Row, _versions, _Window
from duban.models import CandidateRun

Regroup = Callable[[set[int]], list[tuple[list[int], list[Any]]]]


@dataclass
class _Partition:
    """The matters of one subset of the window (the tickets of the last N days), by ticket
    id, with the groups the rules made of each. A change reaches only the matters holding a
    ticket that came, went or changed, or one sharing a wording, a link, a node or a caller
    with such a ticket; those are regrouped, the rest kept with their groups."""

    subset: set[int] = field(default_factory=set)
    comp_of: dict[int, int] = field(default_factory=dict)  # ticket → its matter's first ticket
    members: dict[int, list[int]] = field(default_factory=dict)  # matters of ≥ 2 tickets
    groups: dict[int, list[Any]] = field(default_factory=dict)  # first ticket → the groups
    fresh: bool = True

    def update(self, subset: set[int], hit: set[int], regroup: Regroup) -> list[Any]:
        """Bring the matters up to date with `subset` (ticket ids): `hit` holds every ticket
        that came, went or changed since the last update, or shares a key with one (more
        does no harm); `regroup(ids)` gives the matters of those tickets ((ids, groups)
        each). The groups of every matter."""
        if self.fresh:
            redo = subset
        else:
            redo = set()
            for first in {self.comp_of.get(i, i) for i in hit if i in self.subset}:
                ids = self.members.pop(first, None) or [first]
                self.groups.pop(first, None)
                for i in ids:
                    self.comp_of.pop(i, None)
                redo.update(ids)
            redo = (redo | hit) & subset
        for ids, groups in regroup(redo):
            if len(ids) > 1:
                self.members[ids[0]] = ids
                for i in ids:
                    self.comp_of[i] = ids[0]
            if groups:
                self.groups[ids[0]] = groups
        self.subset, self.fresh = subset, False
        return [g for groups in self.groups.values() for g in groups]


class _Kept:
    """One database's state between runs (see the module docstring)."""

    def __init__(self, key: tuple) -> None:
        self.key = key  # (index version, thresholds, prefixes and aliases)
        self.run: tuple[int, datetime] | None = None  # the CandidateRun the links agree with
        self.since: datetime | None = None  # the links are those seen from here on (and city)
        self.seen: tuple[datetime, bool] | None = None  # (since, old city) of the last run
        self.rows: dict[int, _Row] = {}
        self.order: list[int] = []  # ticket ids by (received_at, id)
        self.node_no: dict[Hashable, int] = {}  # a node shared by tickets (`_nodes`) → ≥ 0
        self.nodes: dict[int, int] = {}  # ticket → its node's number (its own: minus its id)
        self.callers: dict[int, Hashable | None] = {}  # ticket → (key, phone) or None
        self.links: dict[Hashable, dict[Hashable, tuple[float, datetime, bool]]] = defaultdict(dict)
        self.changed: set[int] = set()  # this run's tickets new, changed or gone
        self.touched: set[Hashable] = set()  # this run's wordings whose links moved
        self.partitions: dict[str, _Partition] = defaultdict(_Partition)
        self.pieces = _Pieces()  # the window's addresses (and more: they are never dropped)
        self.lock = threading.Lock()

    def answers(self, key: tuple, run: tuple[int, datetime] | None, since: datetime) -> bool:
        """Whether this state still stands for the database (checked before each run)."""
        return (
            self.key == key
            and self.run is not None
            and self.run == run
            and self.since is not None
            and self.since <= since
        )

    def refresh(
        self, session: Session, as_of: datetime, th: Thresholds, places: _Places
    ) -> _Window:
        """The window as of `as_of`: the tickets new or whose version moved read again, those
        gone dropped, the rest as kept."""
        if not self.rows:
            rows = _read_rows(session, as_of, th, places)
            self.rows = {r.info.id: r for r in rows}
            self.order = [r.info.id for r in rows]
            self.changed = set(self.rows)
            self.pieces.add({r.info.key for r in rows})
            return self.window()
        now = _versions(session, as_of, th)
        gone = [i for i in self.rows if i not in now]
        stale = [i for i, v in now.items() if (r := self.rows.get(i)) is None or r.version != v]
        self.changed = {*gone, *stale}
        for i in self.changed:
            self.rows.pop(i, None)
            self.nodes.pop(i, None)
        read = _read_rows(session, as_of, th, places, stale)
        for row in read:
            self.rows[row.info.id] = row
        self.pieces.add({r.info.key for r in read})
        kept = list(filterfalse(self.changed.__contains__, self.order))
        added = sorted((row.info.id for row in read), key=self._when)
        if added and kept and self._when(added[0]) < self._when(kept[-1]):
            self.order = list(merge(kept, added, key=self._when))
        else:
            self.order = kept + added
        return self.window()

    def _when(self, ticket_id: int) -> tuple[datetime, int]:
        return self.rows[ticket_id].info.received_at, ticket_id

    def window(self) -> _Window:
        return _Window.of([self.rows[i] for i in self.order])

    def settle(
        self,
        session: Session,
        window: _Window,
        found: Links,
        wrote: bool,
        seen: tuple[datetime, bool],
    ) -> None:
        """After the index update: the prepared tickets' wordings kept, their keys (wording,
        node, caller) known, the links found added; the links read again, and every matter
        regrouped, when the stored index moved in a way this state did not see."""
        tickets, versions, wordings = window.tickets, window.versions, window.wordings
        rows = self.rows
        for i, key_version in enumerate(window.key_versions):
            if key_version != versions[i]:
                rows[tickets[i].id] = _Row(tickets[i], versions[i], versions[i], wordings[i])
        nodes = self.nodes
        self._learn([i for i, t in enumerate(tickets) if t.id not in nodes], window)
        runs = _last_runs(session, 2)
        before = runs[1 if wrote else 0] if len(runs) > int(wrote) else None
        self.touched = set()
        if self.since is None or before != self.run:
            self._read_links(session, seen[0])
        else:
            self._add_links(found)
            self._flips(seen)
        self.run = runs[0] if runs else None
        self.seen = seen

    def _read_links(self, session: Session, since: datetime) -> None:
        """Every link a window from `since` on may use, read from the stored index; every
        matter is then regrouped."""
        self.links = adjacency(_read_links(session, since))
        self.since = since
        self.partitions = defaultdict(_Partition)

    def _add_links(self, found: Links) -> None:
        """The links this run wrote, as the stored index upserts them (score kept, the later
        date, city if either)."""
        for (a, b), (score, at, city) in found.items():
            known = self.links[a].get(b)
            if known is not None:
                score, at, city = known[0], max(at, known[1]), city or known[2]
            self.links[a][b] = self.links[b][a] = (score, at, city)
            self.touched.update((a, b))

    def _flips(self, seen: tuple[datetime, bool]) -> None:
        """The links a run sees or no longer sees since the last one (the window moved)."""
        if self.seen is None or self.seen == seen:
            return
        (old_since, old_city), (since, city_too) = self.seen, seen
        for a, others in self.links.items():
            for b, (_, at, city) in others.items():
                if (at >= old_since or (old_city and city)) != (at >= since or (city_too and city)):
                    self.touched.update((a, b))

    def _learn(self, indices: list[int], window: _Window) -> None:
        """The nodes (numbered once: the numbers outlive the run) and callers of these
        tickets of the window; a ticket like no other (`_nodes`) has a node of its own."""
        tickets, wordings = window.tickets, window.wordings
        ids = [tickets[i].id for i in indices]
        keys = [tickets[i].key for i in indices]
        nodes = _nodes(keys, [tickets[i].category for i in indices], [wordings[i] for i in indices])
        number = self.node_no
        self.nodes.update(
            (i, -i if len(node) == 1 else number.setdefault(node, len(number)))
            for i, node in zip(ids, nodes, strict=True)
        )
        phones = [tickets[i].phone for i in indices]
        self.callers.update(zip(ids, _callers(keys, phones), strict=True))

    def arrays(self, window: _Window) -> tuple[list[int], list[Hashable | None]]:
        """The window's nodes (numbered, as `_Matters` takes them) and callers."""
        ids = [t.id for t in window.tickets]
        return list(map(self.nodes.__getitem__, ids)), list(map(self.callers.__getitem__, ids))

    def regroup(
        self,
        window: _Window,
        nodes: list[int],
        callers: list[Hashable | None],
        parts: list[tuple[str, set[int], Regroup]],
    ) -> list[Any]:
        """The groups of the matters of each subset (name, ticket ids, regroup), each
        partition brought up to date where tickets came, went or changed."""
        moved, hit = set(self.changed), set()
        known = [(self.partitions[name], subset) for name, subset, _ in parts]
        for partition, subset in known:
            if not partition.fresh:
                moved |= partition.subset ^ subset
        if (moved or self.touched) and not all(partition.fresh for partition, _ in known):
            hit = moved | self._around(moved, window, nodes, callers)  # a fresh one redoes all
        groups = []
        for name, subset, regroup in parts:
            groups += self.partitions[name].update(subset, hit, regroup)
        return groups

    def _around(
        self, moved: set[int], window: _Window, nodes: list[int], callers: list[Hashable | None]
    ) -> set[int]:
        """The tickets of the window sharing a wording, a node or a caller with these
        tickets, linked to one of their wordings, or holding a wording whose links moved
        this run: one pass over the window."""
        tickets, wordings = window.tickets, window.wordings
        ids = [t.id for t in tickets]
        mine = list(compress(range(len(ids)), map(moved.__contains__, ids)))
        words = {wordings[n] for n in mine} | self.touched
        words |= {other for w in list(words) for other in self.links.get(w, ())}
        words.discard(0)
        places = {nodes[n] for n in mine}
        calls = {callers[n] for n in mine} - {None}
        found: set[int] = set()
        for keys, column in ((words, wordings), (places, nodes), (calls, callers)):
            found.update(compress(ids, map(keys.__contains__, column)))
        return found


def _last_runs(session: Session, n: int) -> list[tuple[int, datetime]]:
    """The last `n` updates of the stored index, latest first, as (id, at): what a kept
    state's links are checked against."""
    stmt = select(col(CandidateRun.id), col(CandidateRun.at)).order_by(col(CandidateRun.id).desc())
    return [(i, at) for i, at in session.exec(stmt.limit(n))]  # type: ignore[misc]  # ids are set


_KEPT: WeakKeyDictionary[Engine, _Kept] = WeakKeyDictionary()
_GUARD = threading.Lock()


@contextmanager
def kept_state(session: Session, key: tuple, since: datetime, rebuild: bool) -> Iterator[_Kept]:
    """The state kept for this database, if it still answers, else a new one kept in its
    place; held for one run. A rebuild, or a run while another holds the state, works on a
    new state it does not keep. A run that fails drops what is kept."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)  # sessions here are bound to an engine
    run = next(iter(_last_runs(session, 1)), None)
    with _GUARD:
        kept = _KEPT.get(engine)
        if rebuild or (kept is not None and not kept.lock.acquire(blocking=False)):
            kept = None  # worked on apart, not kept
        elif kept is None or not kept.answers(key, run, since):
            if kept is not None:
                kept.lock.release()
            kept = _KEPT[engine] = _Kept(key)
            kept.lock.acquire()
    if kept is None:
        yield _Kept(key)
        return
    try:
        yield kept
    except BaseException:
        with _GUARD:
            if _KEPT.get(engine) is kept:
                del _KEPT[engine]
        raise
    finally:
        kept.lock.release()
