"""Same matter (同一事项): texts normalised and compared, and tickets grouped into matters
without comparing every pair (see the package docstring for the relation and its scale)."""

from __future__ import annotations

import gc
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, lru_cache, wraps
from typing import Any, ParamSpec, TypeVar

from duban.keywords import key_words
from duban.text import to_halfwidth

P = ParamSpec("P")
R = TypeVar("R")
MIN_NESTED_ADDRESS = 4  # a shorter address than this is too vague to contain another
SMALL = 24  # up to this many wordings at one address are compared pairwise, directly
SHOWN_WORDS = 6  # shared key words named in a group's reason
FEW = 4  # a contained address with up to this many wordings is compared directly too
_SPECIFIC = re.compile(r"[0-9号弄幢栋楼室组]")
_NOT_TEXT = re.compile(r"[\W_]+")
_NOT_DIGIT = re.compile(r"\D")


_CLAUSE = re.compile(r"[，,。；;！!？?\s]")


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


_normalized = lru_cache(maxsize=262_144)(normalize_text)  # groups read their texts again


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
    *,
    shared: int = 0,
    keyword_min: int = 1,
    no_text: bool = False,
    same_caller: bool = False,
    standards: frozenset[str] = frozenset(),
) -> bool:
    """The pairwise definition of "same matter" (the module docstring), for one pair:
    `shared` key words, both texts empty (`no_text`), one phone number (`same_caller`)."""
    if address_a == address_b and is_specific(address_a):
        if same_caller:
            return True
        if category_a == category_b and (no_text or shared >= keyword_min):
            return True
    apart = address_a in standards and address_b in standards
    agree = address_a == address_b or (nested(address_a, address_b) and not apart)
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


class _Pieces:
    """Addresses by their four-character pieces: the addresses a few others nest with are
    found without pairing the rest (the addresses holding `short` hold its last four
    characters). Kept between runs, it grows with the addresses seen."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.holders: dict[str, set[str]] = defaultdict(set)

    def add(self, addresses: Iterable[str], only: set[str] | None = None) -> None:
        """Learn these addresses (filing them under the pieces `only`, default all)."""
        known, holders = self.known, self.holders
        for long in addresses:
            if len(long) < MIN_NESTED_ADDRESS or long in known:
                continue
            known.add(long)
            for start in range(len(long) - MIN_NESTED_ADDRESS + 1):
                piece = long[start : start + MIN_NESTED_ADDRESS]
                if only is None or piece in only:
                    holders[piece].add(long)

    def nested_with(self, targets: Iterable[str]) -> list[tuple[str, str]]:
        """The pairs (short, long) of known addresses nested (`nested`) that hold a target."""
        pairs = set()
        for long in targets:
            for start in range(len(long) - MIN_NESTED_ADDRESS + 1):  # a known one inside it …
                for end in range(start + MIN_NESTED_ADDRESS, len(long) + 1):
                    part = long[start:end]
                    if part != long and part in self.known and nested(part, long):
                        pairs.add((part, long))
            if len(long) >= MIN_NESTED_ADDRESS:  # … and it inside a known one
                for other in self.holders.get(long[-MIN_NESTED_ADDRESS:], ()):
                    if other != long and long in other and nested(long, other):
                        pairs.add((long, other))
        return sorted(pairs)


def _nested_with(addresses: Iterable[str], targets: set[str]) -> list[tuple[str, str]]:
    """The pairs of `nested_addresses(addresses)` that hold one of `targets`: for a few
    targets through `_Pieces`, filing the addresses under the targets' last four
    characters only, so the rest of the addresses are never paired with each other.
    """
    pool = sorted({a for a in addresses if len(a) >= MIN_NESTED_ADDRESS})
    if len(targets) * 8 > len(pool):  # many targets: pairing everything costs no more
        return [p for p in nested_addresses(pool) if p[0] in targets or p[1] in targets]
    pieces = _Pieces()
    pieces.add(pool, {t[-MIN_NESTED_ADDRESS:] for t in targets if len(t) >= MIN_NESTED_ADDRESS})
    return pieces.nested_with(targets)


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
    keyword_min: int = 1,
    standards: frozenset[str] = frozenset(),
) -> tuple[dict[tuple[Wording, Wording], float], dict[Wording, list[int]]]:
    """Every pair of wordings of one matter (the module docstring, but for the same
    caller, which is joined per run) where at least one wording belongs to a `fresh`
    ticket (default: all).

    Tickets are `addresses` (keys), `categories` and `texts(i)` (normalised content,
    asked only of tickets where a comparison may happen). Returns the links ((wording,
    wording) → bigram Jaccard of the texts, each pair once) and the tickets of each wording
    compared.

    Contents are compared only inside an address or across a nested pair: near-identical
    texts through the prefix index, and at a specific key the key words of one category
    through an inverted index on the words; a wording known from an earlier run meets only
    the fresh ones.
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
    self_joined = sorted(a for a in targets if len(by_address[a]) > 1)
    pairs = [
        (short, long)
        for short, long in _nested_with((a for a in by_address if a), targets)
        if not (short in standards and long in standards)
    ]
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
        if not new or len(known) < 2:
            continue
        # known wordings first: they are only indexed, the new ones probe then join
        ordered = list(known) if len(new) == len(known) else [*(known.keys() - new), *new]
        if is_specific(address):
            _keyword_links(ordered, new, sets, keyword_min, links)
        if len(ordered) <= SMALL:  # a few wordings: compare them directly
            for j, b in enumerate(ordered):
                if b in new:
                    for a in ordered[:j]:
                        if (a, b) not in links:
                            score = _similar(sets[a[2]], sets[b[2]], percent)
                            if score is not None:
                                links[(a, b)] = score
            continue
        index = _PrefixIndex(percent)
        for w in ordered:
            if w in new:
                for other, score in index.probe(tokens[w[2]]):
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


def _keyword_links(
    ordered: list[Wording],
    new: set[Wording],
    sets: dict[str, frozenset[int]],
    keyword_min: int,
    links: dict[tuple[Wording, Wording], float],
) -> None:
    """Links between wordings at one specific key of one category sharing at least
    `keyword_min` key words, each new wording against those before it in `ordered`; the
    link's score is the texts' bigram Jaccard, as for near-identical texts."""
    postings: dict[tuple[str, str], list[Wording]] = defaultdict(list)
    for w in ordered:
        address, category, text = w
        words = key_words(text, address)
        if w in new:
            shared: dict[Wording, int] = {}  # a dict, not a Counter: its update is 3× slower
            for word in words:
                for other in postings.get((category, word), ()):
                    shared[other] = shared.get(other, 0) + 1
            for other, count in shared.items():
                if count >= keyword_min:
                    a, b = sets[other[2]], sets[text]
                    inter = len(a & b)
                    links[(other, w)] = inter / (len(a) + len(b) - inter)
        for word in words:
            postings[(category, word)].append(w)


Adjacency = Mapping[Hashable, Mapping[Hashable, tuple[float, datetime, bool]]]
"""wording → linked wording → (score, latest ticket of the two wordings, both 市级督办)"""


def adjacency(
    links: Iterable[tuple[Hashable, Hashable, float, datetime, bool]],
) -> defaultdict[Hashable, dict[Hashable, tuple[float, datetime, bool]]]:
    """Links (wording_a, wording_b, score, last_at, city) as an `Adjacency`, both ways."""
    out: defaultdict[Hashable, dict[Hashable, tuple[float, datetime, bool]]] = defaultdict(dict)
    for a, b, score, at, city in links:
        out[a][b] = out[b][a] = (score, at, city)
    return out


class _Matters:
    """Tickets as nodes (one per wording; tickets without text at one specific key and
    category form one) and the links between wordings; `group` splits any subset into
    matters, joining the tickets of one caller at one specific key too.

    The result equals the connected components of `same_matter` over all pairs of the
    subset: a subset keeps the links whose two wordings it holds, each link standing for
    its first two tickets. Of several links joining the same two nodes the strongest is
    kept as evidence, the earliest tickets on a tie, so the evidence depends only on the
    tickets and not on the order the links were found in. Links whose latest ticket is
    older than `since` are not seen (nor used by a run from nothing), but for those
    between 市级督办 tickets when `city_too`.
    """

    def __init__(
        self,
        nodes: Sequence[int],
        wordings: Sequence[Hashable],
        links: Adjacency,
        callers: Sequence[Hashable | None] | None = None,
        since: datetime = datetime.min,
        city_too: bool = False,
    ) -> None:
        """`nodes[i]`, `wordings[i]`: ticket i's node (numbered) and wording (falsy: no
        text); `callers[i]`: its (specific key, phone) or None."""
        self.nodes = nodes
        self.callers = callers if callers is not None else [None] * len(nodes)
        self.wordings = wordings
        self.links = links
        self.since, self.city_too = since, city_too

    @classmethod
    def of(
        cls,
        nodes: Sequence[Hashable],
        wordings: Sequence[Hashable],
        links: Iterable[tuple[Hashable, Hashable, float]],
        callers: Sequence[Hashable | None] | None = None,
    ) -> _Matters:
        """Matters of tickets and links held in memory: nodes as keys, links as pairs."""
        number: dict[Hashable, int] = {}
        numbered = [number.setdefault(key, len(number)) for key in nodes]
        seen = ((a, b, score, datetime.max, False) for a, b, score in links)  # every run sees all
        return cls(numbered, wordings, adjacency(seen), callers)

    @_without_cyclic_gc
    def group(self, subset: Iterable[int] | None = None, smallest: int = 1) -> list[Matter]:
        """The matters of at least `smallest` tickets among the tickets `subset` (indices,
        ascending; default all), members sorted, in the order of their first members."""
        nodes, wordings, links, callers = self.nodes, self.wordings, self.links, self.callers
        ids = range(len(nodes)) if subset is None else subset
        members: dict[int, list[int]] = {}
        first: dict[Hashable, int] = {}  # a linked wording → its first ticket in the subset
        called: dict[Hashable, int] = {}  # (key, phone) → its first ticket's node
        same_caller: set[tuple[int, int]] = set()
        for i in ids:
            node = nodes[i]
            found = members.get(node)
            if found is None:
                members[node] = [i]
            else:
                found.append(i)
            wording = wordings[i]
            if wording and wording not in first and wording in links:
                first[wording] = i
            caller = callers[i]
            if caller is not None:
                other = called.setdefault(caller, node)
                if other != node:
                    same_caller.add((other, node) if other < node else (node, other))
        best: dict[tuple[int, int], Link] = {}
        since, city_too = self.since, self.city_too
        for wording, a in first.items():
            for linked, (score, last_at, city) in links[wording].items():
                b = first.get(linked)
                if b is None or b < a:  # each pair once, from its earlier ticket
                    continue
                if last_at < since and not (city_too and city):
                    continue
                u, v = nodes[a], nodes[b]
                if u == v:
                    continue
                key = (u, v) if u < v else (v, u)
                kept = best.get(key)
                if (
                    kept is None
                    or score > kept.score
                    or (score == kept.score and (a, b) < (kept.a, kept.b))
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

        for u, v in [*best, *same_caller]:
            ru, rv = find(u), find(v)
            if ru != rv:
                parent[max(ru, rv)] = min(ru, rv)
        linked_nodes = {node for pair in [*best, *same_caller] for node in pair}
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
) -> list[tuple]:
    """Each ticket's node: one per wording; without a wording, one per specific address
    and category, and at a vague address a ticket like no other."""
    specific: dict[str, bool] = {}
    nodes: list[tuple] = []
    for i, (address, category, wording) in enumerate(
        zip(addresses, categories, wordings, strict=True)
    ):
        if wording:
            nodes.append((address, wording))
            continue
        known = specific.get(address)
        if known is None:
            known = specific[address] = is_specific(address)
        nodes.append((address, category) if known else (i,))
    return nodes


def _callers(addresses: Sequence[str], phones: Sequence[str]) -> list[Hashable | None]:
    """Each ticket's (specific address key, phone digits), or None: its caller at a place."""
    out: list[Hashable | None] = []
    for address, phone in zip(addresses, phones, strict=True):
        if not phone or not is_specific(address):
            out.append(None)
            continue
        digits = phone if phone.isdigit() else _NOT_DIGIT.sub("", phone)
        out.append((address, digits) if len(digits) >= 7 else None)
    return out


@_without_cyclic_gc
def group_matters(
    addresses: Sequence[str],
    contents: Sequence[str],
    percent: int,
    categories: Sequence[str] | None = None,
    *,
    phones: Sequence[str] | None = None,
    keyword_min: int = 1,
    standards: frozenset[str] = frozenset(),
) -> list[Matter]:
    """Split tickets (address key, content as written, category, phone) into matters, in
    memory (`find_candidates` keeps what it finds in the database instead)."""
    categories = list(categories) if categories is not None else [""] * len(addresses)
    texts: dict[int, str] = {}

    def text(i: int) -> str:
        if i not in texts:
            texts[i] = normalize_text(contents[i])
        return texts[i]

    links, _ = _find_links(
        addresses, categories, text, percent, keyword_min=keyword_min, standards=standards
    )
    wordings = [
        _wording(a, c, texts[i]) if texts.get(i) else None
        for i, (a, c) in enumerate(zip(addresses, categories, strict=True))
    ]
    nodes = _nodes(addresses, categories, wordings)
    callers = _callers(addresses, phones) if phones is not None else None
    matters = _Matters.of(nodes, wordings, ((a, b, s) for (a, b), s in links.items()), callers)
    return matters.group()


def _token_ids(texts: Iterable[str]) -> dict[str, list[int]]:
    """Each text's bigrams as ids sorted rarest first (the global order prefix filtering needs)."""
    sets = {text: bigrams(text) for text in texts}
    frequency = Counter(token for tokens in sets.values() for token in tokens)
    rank = {token: r for r, (token, _) in enumerate(sorted(frequency.items(), key=_rarest))}
    return {text: sorted(rank[t] for t in tokens) for text, tokens in sets.items()}


def _rarest(item: tuple[str, int]) -> tuple[int, str]:
    return item[1], item[0]
