"""Supervision candidates (督办线索): tickets that deserve a case, grouped, each group with the
reason it is proposed.

The seed, §三(一)1: "镇城运中心对各类工单进行分析，综合诉求内容、承办单位办理情况、回访市民反馈
情况等方面，确定督办事项"; the rules below follow the scope of §二: 市级督办事项, 重复投诉多次且
办理工作未有明显进展, 多人次集中投诉, and two signals of poor handling (不满意回访, 超期工单).

Same matter (同一事项). Two tickets are about the same matter when
- their normalised addresses are equal and specific (down to a house, building or group:
  the address holds a digit or one of 号弄幢栋楼室组) and their categories agree (an export
  without categories leaves them all equal: one address, one matter), or
- their contents are near-identical — the Jaccard similarity of the character bigrams of
  the normalised texts is at least the threshold — and their addresses agree: equal, one
  spelling of the place containing the other (`和睦家园12号` ⊂ `和睦家园12号楼`; a road
  without a number does not contain the houses on it), or both empty. The same wording
  at two different places stays two matters; so do 电动车被盗 and 拖欠工资 at one door.
A matter is a connected component of that relation.

Scale. Tickets are never compared blindly pair by pair. Tickets of one category at one
specific address form one node; elsewhere a node is one wording at one address. Nested
addresses are found by looking every substring of each address up in the set of addresses;
contents are compared only inside an address or across a nested pair, through an inverted
index on bigram prefixes (AllPairs prefix filtering: two token sets with Jaccard ≥ t share
a token among the first |x| − ⌈t·|x|⌉ + 1 tokens of each, in one global rarest-first
order), and every candidate pair is verified exactly. `bench/bench_candidates.py` measures
it against the all-pairs baseline and checks both give the same matters.

Kept between runs (tables TicketMatchKey, MatterLink, CandidateRun). What a ticket
contributes to the relation is stable: its wording (address, category, normalised text)
and the links between wordings. A run prepares only the tickets that are new or whose
address, category, content, date or 市级督办 flag changed since the last run — found by
`Ticket.version` — and compares them with the tickets they can meet in a window; the rest
is read back. Statuses, callbacks and due dates are read fresh on every run, so a run
gives exactly what a run from nothing would (`rebuild=True`, and automatically when
INDEX_VERSION, the similarity threshold or a longer look-back no longer match).
"""

from __future__ import annotations

import gc
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from functools import cache, wraps
from hashlib import blake2b
from time import perf_counter
from typing import Any, NamedTuple, ParamSpec, TypeVar

from sqlalchemy import String, and_, delete, func, or_, type_coerce, update
from sqlalchemy import text as sql
from sqlmodel import Session, col, select

from duban.clock import cn_date, now
from duban.enums import CallbackResult, CaseStatus, LabeledEnum, Scope
from duban.errors import ValidationError
from duban.masking import mask_name, mask_phone
from duban.models import CandidateRun, Case, CaseTicket, MatterLink, Ticket, TicketMatchKey
from duban.permissions import Actor, Perm
from duban.records import apply_changes, table_of
from duban.settings import clean_setting, get_setting
from duban.text import to_halfwidth

P = ParamSpec("P")
R = TypeVar("R")
MIN_NESTED_ADDRESS = 4  # a shorter address than this is too vague to contain another
SMALL = 24  # up to this many wordings at one address are compared pairwise, directly
FEW = 4  # a contained address with up to this many wordings is compared directly too
_SPECIFIC = re.compile(r"[0-9号弄幢栋楼室组]")
_NOT_TEXT = re.compile(r"[\W_]+")
_NOT_DIGIT = re.compile(r"\D")
_STATUS_SPLIT = re.compile(r"[、,，;；\s]+")
_CLAUSE = re.compile(r"[，,。；;！!？?\s]")


class Rule(LabeledEnum):
    """Why a group of tickets is proposed for supervision."""

    REPEATED = ("repeated", "重复投诉")
    CONCENTRATED = ("concentrated", "集中投诉")
    UNSATISFIED = ("unsatisfied", "不满意回访")
    CITY = ("city", "市级督办")
    OVERDUE = ("overdue", "超期工单")


# The 协调督办范围 (§二) a case opened from a group starts with; 不满意 twice on one matter
# is a repeated complaint whose handling made no visible progress (§二 4).
RULE_SCOPE: dict[Rule, Scope] = {
    Rule.REPEATED: Scope.REPEATED,
    Rule.CONCENTRATED: Scope.CONCENTRATED,
    Rule.UNSATISFIED: Scope.REPEATED,
    Rule.CITY: Scope.CITY,
    Rule.OVERDUE: Scope.OTHER,
}


# --- thresholds (settings) ------------------------------------------------------------------

# Thresholds field → settings key (defaults in duban.settings.DEFAULTS).
SETTING_KEYS: dict[str, str] = {
    "repeat_min": "candidate_repeat_min",
    "repeat_window_days": "candidate_repeat_window_days",
    "concentrated_min_callers": "candidate_concentrated_min_callers",
    "concentrated_window_days": "candidate_concentrated_window_days",
    "unsatisfied_min": "candidate_unsatisfied_min",
    "similarity_percent": "candidate_similarity_percent",
}
DONE_STATUSES_KEY = "platform_done_statuses"


@dataclass(frozen=True)
class Thresholds:
    """The numbers behind the rules; an admin changes them in 系统设置."""

    repeat_min: int  # 重复投诉: at least N tickets on one matter …
    repeat_window_days: int  # … within the last N days (the look-back of every rule but 集中投诉)
    concentrated_min_callers: int  # 集中投诉: at least M distinct callers …
    concentrated_window_days: int  # … within the last N days
    unsatisfied_min: int  # 不满意回访: at least K 不满意 callbacks on one matter
    similarity_percent: int  # near-identical content: bigram Jaccard ≥ this %
    done_statuses: frozenset[str]  # platform statuses meaning "handled" (not open)

    @classmethod
    def load(cls, session: Session) -> Thresholds:
        """The current settings, checked (a bad value's message names the setting)."""
        values = {
            name: clean_setting(key, get_setting(session, key))
            for name, key in SETTING_KEYS.items()
        }
        done = parse_statuses(get_setting(session, DONE_STATUSES_KEY))
        return cls(**values, done_statuses=done)

    def describe(self) -> list[str]:
        """The rules in words, for the page."""
        return [
            f"重复投诉：同一事项近 {self.repeat_window_days} 天内投诉 ≥ {self.repeat_min} 次，"
            "且最近一次回访非“满意”或平台仍在办理",
            f"集中投诉：近 {self.concentrated_window_days} 天内 ≥ {self.concentrated_min_callers} "
            "位不同来电人反映同一事项",
            f"不满意回访：同一事项近 {self.repeat_window_days} 天内回访“不满意” ≥ "
            f"{self.unsatisfied_min} 次",
            f"市级督办：平台标记为市级督办、近 {self.repeat_window_days} 天内受理或仍在办理的工单",
            f"超期工单：近 {self.repeat_window_days} 天内受理、超过平台办结期限仍未办结的工单",
            "同一事项：同一具体地址（门牌、楼号、村组）且诉求类别相同；或内容相似度 ≥ "
            f"{self.similarity_percent}% 且地址相同或相互包含",
        ]


def parse_statuses(value: object) -> frozenset[str]:
    """`已办结、已结案` (or a list) → the set of statuses."""
    items = value if isinstance(value, list | tuple) else _STATUS_SPLIT.split(str(value or ""))
    return frozenset(s.strip() for s in items if str(s).strip())


# --- text --------------------------------------------------------------------------------


@cache
def is_specific(address_norm: str) -> bool:
    """Whether a normalised address names a house, building or group (not just a road/area)."""
    return bool(_SPECIFIC.search(address_norm))


def normalize_text(text: str) -> str:
    """Content as compared: half-width, lower case, no spaces or punctuation."""
    bare = _NOT_TEXT.sub("", (text or "").lower())
    if unicodedata.is_normalized("NFKC", bare):  # the common case, and a fast check
        return bare
    return _NOT_TEXT.sub("", to_halfwidth(bare).lower())


def bigrams(text: str) -> set[str]:
    """The character bigrams of a normalised text (a one-character text is its own token)."""
    if len(text) < 2:
        return {text} if text else set()
    return {text[i : i + 2] for i in range(len(text) - 1)}


def jaccard(a: set, b: set) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def nested(a: str, b: str) -> bool:
    """Whether two distinct normalised addresses are spellings of one place, one containing
    the other (`和睦家园12号` ⊂ `示例镇和睦家园12号楼`; the shorter ≥ 4 characters).

    A road or estate without a number does not contain the houses on it: a vague address
    nests only in another vague one (`和睦家园` ⊂ `示例镇和睦家园`).
    """
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    if is_specific(long) and not is_specific(short):
        return False
    return len(short) >= MIN_NESTED_ADDRESS and short in long


def same_matter(
    address_a: str,
    address_b: str,
    score: float,
    threshold: float,
    category_a: str = "",
    category_b: str = "",
) -> bool:
    """The pairwise definition of "same matter" (the module docstring), for one pair."""
    if address_a == address_b and is_specific(address_a) and category_a == category_b:
        return True
    agree = address_a == address_b or nested(address_a, address_b)
    return agree and score >= threshold


# --- grouping tickets into matters ---------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """Two tickets (indices into the input, `a` < `b`) with near-identical contents."""

    a: int
    b: int
    score: float


@dataclass
class Matter:
    """Tickets (indices into the input) about one matter, and the content links joining them."""

    members: list[int]
    links: list[Link] = field(default_factory=list)


def _similar(a: frozenset[int], b: frozenset[int], percent: int) -> float | None:
    """The Jaccard similarity of two token sets if it reaches `percent`, else None."""
    if not a or not b:
        return None
    inter = len(a & b)
    union = len(a) + len(b) - inter
    return inter / union if inter * 100 >= percent * union else None


class _PrefixIndex:
    """Token sets indexed by their prefixes; `probe` returns the sets with Jaccard ≥ t."""

    def __init__(self, percent: int) -> None:
        self.percent = percent
        self.postings: dict[int, list[int]] = defaultdict(list)
        self.keys: list[Any] = []
        self.sets: list[frozenset[int]] = []
        self.sizes: list[int] = []

    def prefix(self, n: int) -> int:
        """|x| − ⌈t·|x|⌉ + 1, in integers (t is a whole percentage)."""
        return n - (self.percent * n + 99) // 100 + 1

    def add(self, key: Any, tokens: Sequence[int]) -> None:
        position = len(self.keys)
        self.keys.append(key)
        self.sets.append(frozenset(tokens))
        self.sizes.append(len(tokens))
        for token in tokens[: self.prefix(len(tokens))]:
            self.postings[token].append(position)

    def probe(self, tokens: Sequence[int]) -> list[tuple[Any, float]]:
        n, p = len(tokens), self.percent
        if not n:
            return []
        candidates: set[int] = set()
        postings = self.postings
        for token in tokens[: self.prefix(n)]:
            found_at = postings.get(token)
            if found_at:
                candidates.update(found_at)
        shortest, longest = (p * n + 99) // 100, n * 100 // p  # Jaccard ≥ t bounds the size
        mine = frozenset(tokens)
        sets, sizes, keys = self.sets, self.sizes, self.keys
        found = []
        for position in candidates:
            m = sizes[position]
            if shortest <= m <= longest:
                inter = len(mine & sets[position])
                union = n + m - inter
                if inter * 100 >= p * union:
                    found.append((keys[position], inter / union))
        return found


def _without_cyclic_gc(fn: Callable[P, R]) -> Callable[P, R]:
    """Run a bulk build of small acyclic objects with the cyclic collector paused.

    Building the index allocates hundreds of thousands of tuples and sets; the collector
    would rescan that growing heap again and again (half the time at 100,000 tickets).
    Nothing built here holds a cycle, so reference counting frees it all the same.
    """

    @wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return run


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def nested_addresses(addresses: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs (short, long) of distinct addresses where `short` is a substring of `long` and
    both name one place (see `nested`).

    Substrings of each address are looked up in the set of addresses, starting only where
    some address's first two characters occur, so the cost grows with the addresses'
    lengths, not with the number of pairs.
    """
    pool = {a for a in addresses if len(a) >= MIN_NESTED_ADDRESS}
    if not pool:
        return []
    starts = {a[:2] for a in pool}
    widest = max(len(a) for a in pool)
    pairs = set()
    for long in pool:
        size = len(long)
        for start in range(size - MIN_NESTED_ADDRESS + 1):
            if long[start : start + 2] not in starts:
                continue
            for end in range(start + MIN_NESTED_ADDRESS, min(size, start + widest) + 1):
                part = long[start:end]
                if part in pool and part != long and nested(part, long):
                    pairs.add((part, long))
    return sorted(pairs)


def _nested_with(addresses: Iterable[str], targets: set[str]) -> list[tuple[str, str]]:
    """The pairs of `nested_addresses(addresses)` that hold one of `targets`, for a few
    targets: each target's own substrings are looked up in the set, and the addresses
    holding a target are those holding its last four characters, so the rest of the
    addresses are never paired with each other.
    """
    pool = sorted({a for a in addresses if len(a) >= MIN_NESTED_ADDRESS})
    if len(targets) * 8 > len(pool):  # many targets: pairing everything costs no more
        return [p for p in nested_addresses(pool) if p[0] in targets or p[1] in targets]
    known = set(pool)
    pairs = set()
    for long in targets:  # a known address inside a target …
        for start in range(len(long) - MIN_NESTED_ADDRESS + 1):
            for end in range(start + MIN_NESTED_ADDRESS, len(long) + 1):
                part = long[start:end]
                if part != long and part in known and nested(part, long):
                    pairs.add((part, long))
    shorts = [t for t in targets if len(t) >= MIN_NESTED_ADDRESS]  # … and targets inside one
    tails = {short[-MIN_NESTED_ADDRESS:] for short in shorts}
    holders: dict[str, list[str]] = defaultdict(list)
    for long in pool:
        for start in range(len(long) - MIN_NESTED_ADDRESS + 1):
            piece = long[start : start + MIN_NESTED_ADDRESS]
            if piece in tails:
                holders[piece].append(long)
    for short in shorts:
        for long in holders.get(short[-MIN_NESTED_ADDRESS:], ()):
            if long != short and short in long and nested(short, long):
                pairs.add((short, long))
    return sorted(pairs)


Wording = tuple[str, str, str]  # (address, category at a specific address else "", text)


def _wording(address: str, category: str, text: str) -> Wording:
    """What tells two tickets' contents apart: at a specific address the category counts too
    (one node per address and category), elsewhere only the text."""
    return (address, category if is_specific(address) else "", text)


@_without_cyclic_gc
def _find_links(
    addresses: Sequence[str],
    categories: Sequence[str],
    texts: Callable[[int], str],
    percent: int,
    fresh: Sequence[bool] | None = None,
) -> tuple[dict[tuple[Wording, Wording], float], dict[Wording, list[int]]]:
    """Every pair of wordings with near-identical texts at agreeing addresses that may join
    two matters, where at least one wording belongs to a `fresh` ticket (default: all).

    Tickets are `addresses` (normalised), `categories` and `texts(i)` (normalised content,
    asked only of tickets where a comparison may happen). Two wordings of one node (one
    specific address and category, or one text at a vague address) are not linked: they
    are one matter already. Returns the links ((wording, wording) → Jaccard, each pair
    once) and the tickets of each wording compared.

    Contents are compared only inside an address — a vague one, or a specific one holding
    several categories — or across a nested pair, through the prefix index; a wording
    known from an earlier run meets only the fresh ones.
    """
    is_fresh = fresh if fresh is not None else [True] * len(addresses)
    by_address: dict[str, list[int]] = defaultdict(list)
    for i, address in enumerate(addresses):
        by_address[address].append(i)
    if fresh is None:
        targets = set(by_address)
    else:
        targets = {a for a, new in zip(addresses, fresh, strict=True) if new}
    if not targets:
        return {}, {}
    kinds: dict[str, set[str]] = defaultdict(set)
    for address, category in zip(addresses, categories, strict=True):
        if address in targets:
            kinds[address].add(category)
    # compared within itself: a vague address, or a specific one holding several categories
    self_joined = sorted(a for a in targets if not is_specific(a) or len(kinds[a]) > 1)
    pairs = _nested_with((a for a in by_address if a), targets)
    words: dict[str, dict[Wording, list[int]]] = {}
    new_words: dict[str, set[Wording]] = {}
    for address in {*self_joined, *(a for pair in pairs for a in pair)}:
        here: dict[Wording, list[int]] = defaultdict(list)
        specific = is_specific(address)
        for i in by_address[address]:
            text = texts(i)
            if text:
                here[(address, categories[i] if specific else "", text)].append(i)
        words[address] = here
        new_words[address] = (
            set(here)
            if fresh is None
            else {w for w, tickets in here.items() if any(is_fresh[i] for i in tickets)}
        )
    tokens = _token_ids({w[2] for here in words.values() for w in here})
    sets = {text: frozenset(ids) for text, ids in tokens.items()}
    links: dict[tuple[Wording, Wording], float] = {}
    for address in self_joined:
        known, new = words[address], new_words[address]
        if not new:
            continue
        by_kind = is_specific(address)  # one category here is one node already
        # known wordings first: they are only indexed, the new ones probe then join
        ordered = list(known) if len(new) == len(known) else [*(known.keys() - new), *new]
        if len(ordered) <= SMALL:  # a few wordings: compare them directly
            for j, b in enumerate(ordered):
                if b in new:
                    for a in ordered[:j]:
                        if not by_kind or a[1] != b[1]:
                            score = _similar(sets[a[2]], sets[b[2]], percent)
                            if score is not None:
                                links[(a, b)] = score
            continue
        index = _PrefixIndex(percent)
        for w in ordered:
            if w in new:
                for other, score in index.probe(tokens[w[2]]):
                    if not by_kind or other[1] != w[1]:
                        links[(other, w)] = score
            index.add(w, tokens[w[2]])

    indexes: dict[tuple[str, bool], _PrefixIndex] = {}

    def index_of(address: str, only_new: bool) -> _PrefixIndex:
        key = (address, only_new)
        if key not in indexes:
            index = indexes[key] = _PrefixIndex(percent)
            for w in new_words[address] if only_new else words[address]:
                index.add(w, tokens[w[2]])
        return indexes[key]

    for short, long in pairs:
        shorts, longs = words[short], words[long]
        new_shorts, new_longs = new_words[short], new_words[long]
        if not shorts or not longs or not (new_shorts or new_longs):
            continue
        if len(shorts) <= FEW:  # the shorter address is probed by many: index it unless tiny
            for b in longs:
                for a in shorts:
                    if a in new_shorts or b in new_longs:
                        score = _similar(sets[a[2]], sets[b[2]], percent)
                        if score is not None:
                            links[(a, b)] = score
            continue
        for b in longs:
            if b not in new_longs and not new_shorts:
                continue
            for a, score in index_of(short, b not in new_longs).probe(tokens[b[2]]):
                links[(a, b)] = score
    compared = {w: tickets for here in words.values() for w, tickets in here.items()}
    return links, compared


class _Matters:
    """Tickets as nodes (one per specific address and category; elsewhere one per wording)
    and the links between wordings; `group` splits any subset into matters.

    The result equals the connected components of `same_matter` over all pairs of the
    subset: a subset keeps the links whose two wordings it holds, each link standing for
    its first two tickets. Of several links joining the same two nodes the strongest is
    kept as evidence, the earliest tickets on a tie, so the evidence depends only on the
    tickets and not on the order the links were found in.
    """

    def __init__(
        self,
        nodes: Sequence[Hashable],
        wordings: Sequence[Hashable],
        links: Iterable[tuple[Hashable, Hashable, float]],
    ) -> None:
        """`nodes[i]`, `wordings[i]`: ticket i's node and wording (falsy: no text)."""
        number: dict[Hashable, int] = {}
        self.nodes = [number.setdefault(key, len(number)) for key in nodes]
        self.wordings = wordings
        self.links = list(links)
        linked = {w for a, b, _ in self.links for w in (a, b)}
        self.linked = [bool(w) and w in linked for w in wordings]  # a link may reach it

    @_without_cyclic_gc
    def group(self, subset: Iterable[int] | None = None, smallest: int = 1) -> list[Matter]:
        """The matters of at least `smallest` tickets among the tickets `subset` (indices,
        ascending; default all), members sorted, in the order of their first members."""
        nodes, wordings, linked = self.nodes, self.wordings, self.linked
        ids = range(len(nodes)) if subset is None else subset
        members: dict[int, list[int]] = {}
        first: dict[Hashable, int] = {}  # a linked wording → its first ticket in the subset
        for i in ids:
            node = nodes[i]
            found = members.get(node)
            if found is None:
                members[node] = [i]
            else:
                found.append(i)
            if linked[i] and wordings[i] not in first:
                first[wordings[i]] = i
        best: dict[tuple[int, int], Link] = {}
        for wording_a, wording_b, score in self.links:
            a, b = first.get(wording_a), first.get(wording_b)
            if a is None or b is None:
                continue
            u, v = nodes[a], nodes[b]
            if u == v:
                continue
            if a > b:
                a, b = b, a
            key = (u, v) if u < v else (v, u)
            held = best.get(key)
            if (
                held is None
                or score > held.score
                or (score == held.score and (a, b) < (held.a, held.b))
            ):
                best[key] = Link(a, b, score)
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            root = x
            while parent.get(root, root) != root:
                root = parent[root]
            while parent.get(x, x) != root:
                parent[x], x = root, parent[x]
            return root

        for u, v in best:
            ru, rv = find(u), find(v)
            if ru != rv:
                parent[max(ru, rv)] = min(ru, rv)
        linked_nodes = {node for pair in best for node in pair}
        matters: list[Matter] = []
        joined: dict[int, Matter] = {}  # components of several nodes, by root
        for node, tickets in members.items():
            if node in linked_nodes:
                joined.setdefault(find(node), Matter([])).members.extend(tickets)
            elif len(tickets) >= smallest:  # a node alone (most are): no links, no sorting
                matters.append(Matter(tickets if len(tickets) == 1 else sorted(tickets)))
        for (u, _), link in best.items():
            joined[find(u)].links.append(link)
        for matter in joined.values():
            if len(matter.members) >= smallest:
                matter.members.sort()
                matters.append(matter)
        matters.sort(key=lambda m: m.members[0])
        return matters


def _nodes(
    addresses: Sequence[str], categories: Sequence[str], wordings: Sequence[Hashable]
) -> list[Hashable]:
    """Each ticket's node: one per specific address and category; elsewhere one per
    wording, and a ticket without a wording at a vague address is like no other."""
    specific: dict[str, bool] = {}
    nodes: list[Hashable] = []
    for i, (address, category, wording) in enumerate(
        zip(addresses, categories, wordings, strict=True)
    ):
        known = specific.get(address)
        if known is None:
            known = specific[address] = is_specific(address)
        if known:
            nodes.append((address, category))
        else:
            nodes.append((address, wording) if wording else (i,))
    return nodes


@_without_cyclic_gc
def group_matters(
    addresses: Sequence[str],
    contents: Sequence[str],
    percent: int,
    categories: Sequence[str] | None = None,
) -> list[Matter]:
    """Split tickets (normalised address, content as written, category) into matters, in
    memory (`find_candidates` keeps what it finds in the database instead)."""
    categories = list(categories) if categories is not None else [""] * len(addresses)
    texts: dict[int, str] = {}

    def text(i: int) -> str:
        if i not in texts:
            texts[i] = normalize_text(contents[i])
        return texts[i]

    links, _ = _find_links(addresses, categories, text, percent)
    wordings = [
        _wording(a, c, texts[i]) if texts.get(i) else None
        for i, (a, c) in enumerate(zip(addresses, categories, strict=True))
    ]
    nodes = _nodes(addresses, categories, wordings)
    matters = _Matters(nodes, wordings, ((a, b, s) for (a, b), s in links.items()))
    return matters.group()


def _token_ids(texts: Iterable[str]) -> dict[str, list[int]]:
    """Each text's bigrams as ids sorted rarest first (the global order prefix filtering needs)."""
    sets = {text: bigrams(text) for text in texts}
    frequency = Counter(token for tokens in sets.values() for token in tokens)
    rank = {token: r for r, (token, _) in enumerate(sorted(frequency.items(), key=_rarest))}
    return {text: sorted(rank[t] for t in tokens) for text, tokens in sets.items()}


def _rarest(item: tuple[str, int]) -> tuple[int, str]:
    return item[1], item[0]


# --- tickets and groups --------------------------------------------------------------------


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

    def caller_key(self) -> str:
        """Who called: the phone number's digits, else the name ("" when neither is known)."""
        digits = _NOT_DIGIT.sub("", self.phone or "")
        return digits if len(digits) >= 7 else (self.caller or "").strip()


@dataclass(frozen=True)
class Similar:
    """Evidence: two tickets of a group with near-identical contents."""

    ticket_a: str
    ticket_b: str
    score: float


@dataclass(frozen=True)
class OpenCase:
    ticket_id: int
    case_id: int
    case_no: str


@dataclass(frozen=True)
class Group:
    """Tickets proposed together under one rule, with the evidence that they belong together."""

    rule: Rule
    tickets: tuple[TicketInfo, ...]  # oldest first
    reason: str
    shared_addresses: tuple[tuple[str, int], ...]  # (address as written, tickets there)
    similar: tuple[Similar, ...]
    callers: int  # distinct callers
    open_cases: tuple[OpenCase, ...]  # tickets of the group already in an open case

    @property
    def key(self) -> str:
        """Stable id of the group on the page (rule and its first ticket)."""
        return f"{self.rule.value}-{self.tickets[0].ticket_no}"

    @property
    def ticket_ids(self) -> list[int]:
        return [t.id for t in self.tickets]

    @property
    def ticket_nos(self) -> list[str]:
        return [t.ticket_no for t in self.tickets]

    @property
    def proposed(self) -> bool:
        """A group touching an open case is shown as supervised, not proposed again."""
        return not self.open_cases

    @property
    def cases(self) -> list[tuple[int, str]]:
        """The open cases (id, 督办编号) the group's tickets are already in."""
        return sorted({(c.case_id, c.case_no) for c in self.open_cases}, key=lambda c: c[1])

    @property
    def title(self) -> str:
        """A short 事由 for the case: the place, and the category or the first clause."""
        place = Counter(t.address for t in self.tickets if t.address).most_common(1)
        topic = Counter(t.category for t in self.tickets if t.category).most_common(1)
        clause = _CLAUSE.split(self.tickets[-1].content.strip(), maxsplit=1)[0][:20]
        parts = [place[0][0] if place else "", topic[0][0] if topic else clause]
        return "：".join(p for p in parts if p)[:100] or self.rule.label

    def prefill(self) -> dict[str, Any]:
        """What the 新建督办 page reads from `st.session_state["case_new_prefill"]`."""
        return {
            "ticket_ids": self.ticket_ids,
            "scope": RULE_SCOPE[self.rule].value,
            "title": self.title,
            "reason": f"{self.rule.label}：{self.reason}",
        }


@dataclass(frozen=True)
class Candidates:
    """Every group of every rule, as of one moment, with the thresholds used."""

    as_of: datetime
    thresholds: Thresholds
    groups: tuple[Group, ...]
    index: IndexUpdate | None = None  # what this run did to the stored same-matter index

    def by_rule(self, rule: Rule) -> list[Group]:
        return [g for g in self.groups if g.rule is rule]


@_without_cyclic_gc
def find_candidates(
    session: Session,
    actor: Actor,
    as_of: datetime | None = None,
    thresholds: Thresholds | None = None,
    *,
    rebuild: bool = False,
) -> Candidates:
    """All candidate groups as of `as_of` (default: now), under the configured thresholds.

    The stored same-matter index is brought up to date first (`_update_index`: only the
    tickets new or changed since the last run are prepared; `rebuild` prepares them all
    again). Its writes join the session's transaction and hold the index lock until the
    caller commits (or rolls back: the next run then prepares them again). Statuses,
    callbacks and due dates are read fresh every time, so the result equals a full run's.

    The groups span every unit, so only roles that see all units may ask; callers' names
    and phone numbers come masked unless the actor may see contacts.
    """
    actor.require(Perm.VIEW_ALL, "查看督办线索")
    as_of = as_of or now()
    th = thresholds or Thresholds.load(session)
    window = _load_tickets(session, as_of, th)
    tickets = window.tickets
    update = _update_index(session, as_of, th, window, rebuild)
    since = _window_start(as_of, _horizon(th))
    old_city = bool(tickets) and tickets[0].received_at < since  # open 市级督办 from before
    nodes = _nodes(
        [t.address_norm for t in tickets], [t.category for t in tickets], window.wordings
    )
    index = _Matters(nodes, window.wordings, _read_links(session, since, old_city))
    repeat_from = _window_start(as_of, th.repeat_window_days)
    conc_from = _window_start(as_of, th.concentrated_window_days)
    recent = [i for i, t in enumerate(tickets) if t.received_at >= repeat_from]
    groups: list[Group] = []
    for matter in index.group(recent, min(th.repeat_min, th.unsatisfied_min)):
        groups.extend(_repeated(tickets, matter, th))
        groups.extend(_unsatisfied(tickets, matter, th))
    latest = [i for i in recent if tickets[i].received_at >= conc_from]
    for matter in index.group(latest, th.concentrated_min_callers):
        groups.extend(_concentrated(tickets, matter, th))
    city = [
        i
        for i, t in enumerate(tickets)
        if t.city and (t.received_at >= repeat_from or _open(t, th))
    ]
    for matter in index.group(city):
        groups.append(_group(Rule.CITY, tickets, matter.members, matter, "平台标记为市级督办工单"))
    late = [i for i in recent if _past_due(tickets[i], as_of) and _open(tickets[i], th)]
    for matter in index.group(late):
        days = max((as_of - tickets[i].due_at).days for i in matter.members)  # type: ignore[operator]  # `late` holds tickets with a due date only
        note = f"超过平台办结期限仍未办结（最长超期 {days} 天）"
        groups.append(_group(Rule.OVERDUE, tickets, matter.members, matter, note))
    groups = _mark_open_cases(session, groups)
    order = list(Rule)
    groups.sort(
        key=lambda g: (order.index(g.rule), -len(g.tickets), -_latest(g).timestamp(), g.key)
    )
    if not actor.can(Perm.SEE_CONTACTS):
        groups = [replace(g, tickets=tuple(map(_masked, g.tickets))) for g in groups]
    return Candidates(as_of=as_of, thresholds=th, groups=tuple(groups), index=update)


def _masked(ticket: TicketInfo) -> TicketInfo:
    """A ticket's caller and phone as a role without Perm.SEE_CONTACTS sees them."""
    return ticket._replace(caller=mask_name(ticket.caller), phone=mask_phone(ticket.phone))


def data_version(session: Session, actor: Actor) -> tuple[Any, ...]:
    """Changes whenever tickets, cases or their links change: the cache key of an analysis."""
    actor.require(Perm.VIEW_ALL, "查看督办线索")
    tickets = session.exec(
        select(func.count(col(Ticket.id)), func.max(col(Ticket.updated_at)))
    ).one()
    cases = session.exec(select(func.count(col(Case.id)), func.max(col(Case.updated_at)))).one()
    links = session.exec(select(func.count()).select_from(CaseTicket)).one()
    return (*tickets, *cases, links)


def _window_start(as_of: datetime, days: int) -> datetime:
    """The first instant of the last `days` days up to `as_of` (today counts as one)."""
    return datetime.combine(as_of.date() - timedelta(days=days - 1), time.min)


def _horizon(th: Thresholds) -> int:
    """The longest look-back of any rule: tickets further apart never meet in one window."""
    return max(th.repeat_window_days, th.concentrated_window_days)


def _open(ticket: TicketInfo, th: Thresholds) -> bool:
    """The platform still handles it (a status, and not one of the done statuses)."""
    return bool(ticket.status) and ticket.status not in th.done_statuses


def _past_due(ticket: TicketInfo, as_of: datetime) -> bool:
    return ticket.due_at is not None and ticket.due_at < as_of


def _latest(group: Group) -> datetime:
    return group.tickets[-1].received_at


_CALLBACKS = {m.value: m for m in CallbackResult}


@dataclass
class _Window:
    """The tickets a run judges, with what the stored index knew of each."""

    tickets: list[TicketInfo]
    versions: list[int]  # Ticket.version now
    key_versions: list[int | None]  # … and when its key was prepared (None: never)
    wordings: list[int]  # the stored wording (0: none), brought up to date by _update_index


@_without_cyclic_gc
def _load_tickets(session: Session, as_of: datetime, th: Thresholds) -> _Window:
    """Live tickets up to `as_of` that any rule may look at, oldest first, with their stored
    match keys (one query)."""
    since = _window_start(as_of, _horizon(th))
    still_open = and_(
        col(Ticket.platform_status) != "",
        col(Ticket.platform_status).not_in(sorted(th.done_statuses)),
    )
    stmt = (
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
        )
        .outerjoin(TicketMatchKey, col(TicketMatchKey.ticket_id) == col(Ticket.id))
        .where(
            col(Ticket.deleted_at).is_(None),
            col(Ticket.received_at) <= as_of,
            or_(col(Ticket.received_at) >= since, and_(col(Ticket.city_supervised), still_open)),
        )
        .order_by(col(Ticket.received_at), col(Ticket.id))
    )
    connection = session.connection()
    rows = connection.execute(stmt).all()
    when = _datetime if connection.dialect.name == "sqlite" else _as_is  # ISO text, or datetime
    callback = _CALLBACKS.get
    tickets = [
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
        )  # fmt: skip
        for r in rows
    ]
    return _Window(
        tickets, [r[14] for r in rows], [r[15] for r in rows], [r[16] or 0 for r in rows]
    )


def _as_is(value: Any) -> Any:
    return value


def _datetime(value: datetime | str | None) -> datetime | None:
    """A timestamp as SQLite returns it raw (ISO text), or as PostgreSQL does (datetime)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


# --- the stored same-matter index ----------------------------------------------------------

# Bump when the same-matter relation, the wordings or how links are found change: the next
# run sees a different version in the last CandidateRun and rebuilds the whole index.
INDEX_VERSION = 1
_LOCK = 0x6475_6261_6E00  # PostgreSQL advisory lock: one index update at a time
_KEY = table_of(TicketMatchKey)
_LINK = table_of(MatterLink)
_CHUNK = 5000


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


def _usable(run: CandidateRun | None, th: Thresholds) -> bool:
    """Whether the stored index answers for these thresholds with this code."""
    return (
        run is not None
        and run.index_version == INDEX_VERSION
        and run.similarity_percent == th.similarity_percent
        and run.horizon_days >= _horizon(th)
    )


def _update_index(
    session: Session, as_of: datetime, th: Thresholds, window: _Window, rebuild: bool
) -> IndexUpdate:
    """Prepare the window's tickets that are new or changed since the last run: their
    wordings, and the links between them and every ticket they may meet in a window.

    Invariant kept: any two prepared tickets whose dates are less than the horizon apart,
    or that are both 市级督办, have had their wordings compared. So a new ticket is
    compared with the window and with the prepared tickets outside it that are as close
    (deleted ones too: they may be restored), and nothing else needs comparing again.
    A ticket whose version moved while its address, category, content, date and city did
    not (a new status or callback) is not compared again.
    """
    tickets, wordings = window.tickets, window.wordings
    last = last_index_run(session)
    if not rebuild and _usable(last, th):
        stale = [i for i, v in enumerate(window.versions) if window.key_versions[i] != v]
        if not stale:
            return IndexUpdate(False, 0, 0, 0.0, IndexRun.of(last))
    started = perf_counter()
    _lock(session)
    last = last_index_run(session)  # another run may have updated it while we waited
    rebuilt = rebuild or not _usable(last, th)
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
    clean: dict[str, str] = {}  # content → normalised (complaints repeat word for word)
    fresh: list[int] = []
    inserts: list[tuple] = []
    updates: list[tuple] = []
    for i in stale:
        t, version = tickets[i], window.versions[i]
        stored = known.get(t.id)
        if stored is not None and stored[0] == version:  # prepared by another run meanwhile
            wordings[i] = stored[1]
            continue
        text = clean.get(t.content)
        if text is None:
            text = clean[t.content] = normalize_text(t.content)
        texts[i] = text
        wordings[i] = wording_id(t.address_norm, t.category, text)
        row = (t.id, version, wordings[i], t.received_at, t.city)
        if stored is None:
            inserts.append(row)
        else:
            updates.append(row)
            if stored[1:] == (wordings[i], t.received_at, t.city):
                continue  # only its status or callback moved: nothing to compare
        fresh.append(i)
    links = _link_fresh(session, as_of, th, window, fresh, texts, horizon, rebuilt)
    _write_keys(session, inserts, updates)
    _write_links(session, links)
    if not fresh and not rebuilt:
        return IndexUpdate(False, 0, 0, perf_counter() - started, IndexRun.of(last))
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
    )
    session.add(run)
    session.flush()
    return IndexUpdate(rebuilt, len(fresh), len(links), run.seconds, IndexRun.of(run))


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
    address_norm: str
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
) -> dict[tuple[int, int], tuple[float, datetime, bool]]:
    """Links between the fresh tickets' wordings and those of every prepared ticket they
    may meet: (wording_a, wording_b) → (score, latest ticket of the two wordings, whether
    both have a 市级督办 ticket)."""
    if not fresh:
        return {}
    tickets = window.tickets
    outside = [] if rebuilt else _neighbours(session, as_of, th, tickets, fresh, horizon)
    pool: list[Any] = [*tickets, *outside]  # TicketInfo and _Neighbour share what is read here
    is_fresh = [False] * len(pool)
    for i in fresh:
        is_fresh[i] = True

    def text(i: int) -> str:
        if i not in texts:
            texts[i] = normalize_text(pool[i].content)
        return texts[i]

    found, compared = _find_links(
        [p.address_norm for p in pool],
        [p.category for p in pool],
        text,
        th.similarity_percent,
        is_fresh,
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

    links: dict[tuple[int, int], tuple[float, datetime, bool]] = {}
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
            col(Ticket.address_norm),
            col(Ticket.category),
            col(Ticket.content),
            col(Ticket.city_supervised),
        )
        .join(TicketMatchKey, col(TicketMatchKey.ticket_id) == col(Ticket.id))
        .where(near)
    )
    inside = {t.id for t in tickets}
    return [
        _Neighbour(r[0], _datetime(r[1]), *r[2:])  # type: ignore[arg-type]  # the column is NOT NULL
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


def _write_links(
    session: Session, links: dict[tuple[int, int], tuple[float, datetime, bool]]
) -> None:
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


def _read_links(session: Session, since: datetime, old_city: bool) -> list[tuple[int, int, float]]:
    """The stored links a window starting at `since` can use (and those between 市级督办
    tickets, when open ones from before the window are in it)."""
    recent = _LINK.c.last_at >= since
    stmt = select(_LINK.c.wording_a, _LINK.c.wording_b, _LINK.c.score).where(
        or_(recent, _LINK.c.city) if old_city else recent
    )
    return [tuple(r) for r in session.connection().execute(stmt).all()]


def _group(
    rule: Rule,
    pool: Sequence[TicketInfo],
    indices: Sequence[int],
    matter: Matter,
    headline: str,
) -> Group:
    """A group of the tickets `pool[i]`, with the evidence that they belong together."""
    members = [pool[i] for i in indices]
    callers = len({t.caller_key() for t in members} - {""})
    if len(members) == 1:
        return Group(rule, tuple(members), headline, (), (), callers, ())
    chosen = set(indices)
    by_norm = Counter(t.address_norm for t in members if is_specific(t.address_norm))
    written: dict[str, str] = {}
    for t in members:
        written.setdefault(t.address_norm, t.address)  # as the first ticket wrote it
    shared = tuple((written[a], n) for a, n in by_norm.most_common() if n >= 2)
    similar = sorted(
        (
            Similar(
                pool[min(link.a, link.b)].ticket_no,
                pool[max(link.a, link.b)].ticket_no,
                round(link.score, 2),
            )
            for link in matter.links
            if link.a in chosen and link.b in chosen
        ),
        key=lambda s: (-s.score, s.ticket_a, s.ticket_b),
    )
    words = [headline]
    words += [f"同一地址“{a}”（{n} 张）" for a, n in shared[:3]]
    words += [f"工单 {s.ticket_a} 与 {s.ticket_b} 内容相似度 {s.score:.2f}" for s in similar[:3]]
    if len(similar) > 3:
        words.append(f"另有 {len(similar) - 3} 处内容相似")
    return Group(rule, tuple(members), "；".join(words), shared, tuple(similar), callers, ())


def _repeated(pool: Sequence[TicketInfo], matter: Matter, th: Thresholds) -> list[Group]:
    """重复投诉多次，且办理工作未有明显进展 (§二 4)."""
    if len(matter.members) < th.repeat_min:
        return []
    last = pool[matter.members[-1]]
    if last.callback is CallbackResult.SATISFIED and not _open(last, th):
        return []
    callback = last.callback.label if last.callback else "无记录"
    headline = (
        f"近 {th.repeat_window_days} 天内同一事项投诉 {len(matter.members)} 次；"
        f"最近一次（{cn_date(last.received_at)}）回访“{callback}”、平台状态“{last.status or '无'}”"
    )
    return [_group(Rule.REPEATED, pool, matter.members, matter, headline)]


def _unsatisfied(pool: Sequence[TicketInfo], matter: Matter, th: Thresholds) -> list[Group]:
    """回访不满意, twice or more for the same matter."""
    bad = [i for i in matter.members if pool[i].callback is CallbackResult.UNSATISFIED]
    if len(bad) < th.unsatisfied_min:
        return []
    headline = f"近 {th.repeat_window_days} 天内同一事项回访“不满意” {len(bad)} 次"
    return [_group(Rule.UNSATISFIED, pool, bad, matter, headline)]


def _concentrated(pool: Sequence[TicketInfo], matter: Matter, th: Thresholds) -> list[Group]:
    """多人次集中投诉 (§二 5): distinct callers about one matter within the window."""
    if len(matter.members) < th.concentrated_min_callers:
        return []
    callers = len({pool[i].caller_key() for i in matter.members} - {""})
    if callers < th.concentrated_min_callers:
        return []
    headline = (
        f"近 {th.concentrated_window_days} 天内 {callers} 位不同来电人反映同一事项"
        f"（共 {len(matter.members)} 张工单，按来电号码区分）"
    )
    return [_group(Rule.CONCENTRATED, pool, matter.members, matter, headline)]


def _mark_open_cases(session: Session, groups: list[Group]) -> list[Group]:
    """Attach the open cases the groups' tickets are already in (one query)."""
    ids = {i for g in groups for i in g.ticket_ids}
    if not ids:
        return groups
    stmt = (
        select(col(CaseTicket.ticket_id), col(Case.id), col(Case.case_no))
        .join(Case, col(Case.id) == col(CaseTicket.case_id))
        .where(col(Case.status) == CaseStatus.OPEN, col(Case.deleted_at).is_(None))
    )
    in_case: dict[int, list[OpenCase]] = defaultdict(list)
    for ticket_id, case_id, case_no in session.connection().execute(stmt).all():
        if ticket_id in ids:
            in_case[ticket_id].append(OpenCase(ticket_id, case_id, case_no))  # type: ignore[arg-type]  # ids are set: these rows were flushed
    out = []
    for g in groups:
        found = tuple(c for t in g.tickets for c in in_case.get(t.id, ()))
        if found:
            names = "、".join(no for _, no in sorted({(c.case_id, c.case_no) for c in found}))
            reason = f"{g.reason}（已在督办事项 {names} 中）"
            g = replace(g, reason=reason, open_cases=found)
        out.append(g)
    return out


REPEAT_RULES = frozenset({Rule.REPEATED, Rule.UNSATISFIED})


def mark_repeat_group(session: Session, actor: Actor, group: Group) -> int:
    """Record a repeat-complaint group on its tickets (`Ticket.repeat_group`), audited.

    The field is the center's own, so staff confirm a group before it counts in the
    重复投诉率 (duban.kpi); tickets already in another group keep theirs. Returns how many
    tickets were marked; the caller commits.
    """
    actor.require(Perm.EDIT_TICKETS, "标记重复投诉")
    if group.rule not in REPEAT_RULES:
        raise ValidationError(f"“{group.rule.label}”线索不是重复投诉，不能标记为重复件")
    marked = 0
    for ticket in session.exec(select(Ticket).where(col(Ticket.id).in_(group.ticket_ids))):
        if ticket.repeat_group or ticket.deleted_at is not None:
            continue
        apply_changes(
            session,
            actor,
            ticket,
            {"repeat_group": group.key},
            expected_version=None,
            label=f"工单 {ticket.ticket_no}",
            note="督办线索：标记为重复投诉",
        )
        marked += 1
    return marked
