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
"""

from __future__ import annotations

import gc
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from functools import cache, wraps
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import String, and_, or_, type_coerce
from sqlmodel import Session, select

from duban.clock import cn_date, now
from duban.enums import CallbackResult, CaseStatus, LabeledEnum, Scope
from duban.errors import ValidationError
from duban.models import Case, CaseTicket, Ticket
from duban.permissions import Actor, Perm
from duban.records import apply_changes
from duban.settings import clean_setting, get_setting
from duban.text import to_halfwidth

P = ParamSpec("P")
R = TypeVar("R")
MIN_NESTED_ADDRESS = 4  # a shorter address than this is too vague to contain another
SMALL = 24  # up to this many wordings at one address are compared pairwise, directly
FEW = 4  # a contained address with up to this many wordings is compared directly too
_SPECIFIC = re.compile(r"[0-9号弄幢栋楼室组]")
_NOT_TEXT = re.compile(r"[\W_]+")
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
    """Two tickets (indices into the input) with near-identical contents."""

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


Wording = tuple[str, str, str]  # (address, category at a specific address else "", text)


class MatterIndex:
    """Tickets' addresses, categories and wordings prepared once; `group` splits any subset
    into matters.

    The result equals the connected components of `same_matter` over all pairs of the
    subset, without comparing all pairs (see the module docstring): similar wordings are
    found once for all tickets, and a subset keeps the links whose two wordings it holds.
    """

    @_without_cyclic_gc
    def __init__(
        self,
        addresses: Sequence[str],
        contents: Sequence[str],
        percent: int,
        categories: Sequence[str] | None = None,
    ) -> None:
        """`addresses` normalised (`Ticket.address_norm`), `contents` as written.

        Only contents at addresses that take part in a comparison are normalised and
        tokenised; elsewhere the wording does not matter (one node per specific address
        and category).
        """
        self.addresses, self.percent = list(addresses), percent
        self.categories = list(categories) if categories is not None else [""] * len(addresses)
        distinct = set(self.addresses)
        self.specific = {a: is_specific(a) for a in distinct}
        kinds: dict[str, set[str]] = defaultdict(set)
        for address, category in zip(self.addresses, self.categories, strict=True):
            kinds[address].add(category)
        pairs = nested_addresses(a for a in distinct if a)
        # compared within itself: a vague address, or a specific one holding several categories
        self_joined = {a for a in distinct if not self.specific[a] or len(kinds[a]) > 1}
        compared = self_joined | {a for pair in pairs for a in pair}
        clean: dict[str, str] = {}
        self.texts = [
            (clean.get(c) or clean.setdefault(c, normalize_text(c))) if a in compared else ""
            for a, c in zip(self.addresses, contents, strict=True)
        ]
        wordings: dict[str, set[tuple[str, str]]] = defaultdict(set)
        for i, address in enumerate(self.addresses):
            if address in compared:
                wordings[address].add(self.wording(i)[1:])
        self.links: list[tuple[Wording, Wording, float]] = []  # near-identical contents
        self._keys: tuple[list[Wording], list[tuple]] | None = None
        tokens = _token_ids({text for words in wordings.values() for _, text in words})
        sets = {text: frozenset(ids) for text, ids in tokens.items()}
        indexes: dict[str, _PrefixIndex] = {}

        def index_of(address: str) -> _PrefixIndex:
            if address not in indexes:
                index = indexes[address] = _PrefixIndex(percent)
                for category, text in sorted(wordings[address]):
                    index.add((category, text), tokens[text])
            return indexes[address]

        def link(address_a: str, a: tuple[str, str], address_b: str, b: tuple[str, str]) -> None:
            score = _similar(sets[a[1]], sets[b[1]], percent)
            if score is not None:
                self.links.append(((address_a, *a), (address_b, *b), score))

        for address in sorted(self_joined):
            words = sorted(wordings[address])
            if len(words) <= SMALL:  # a few wordings: compare them directly
                for j, b in enumerate(words):
                    for a in words[:j]:
                        link(address, a, address, b)
                continue
            index = indexes[address] = _PrefixIndex(percent)
            for category, text in words:
                for (other_category, other), score in index.probe(tokens[text]):
                    self.links.append(
                        ((address, other_category, other), (address, category, text), score)
                    )
                index.add((category, text), tokens[text])
        for short, long in pairs:
            shorts, longs = sorted(wordings[short]), sorted(wordings[long])
            if len(shorts) <= FEW:  # the shorter address is probed by many: index it unless tiny
                for b in longs:
                    for a in shorts:
                        link(short, a, long, b)
                continue
            for category, text in longs:
                for (other_category, other), score in index_of(short).probe(tokens[text]):
                    self.links.append(
                        ((short, other_category, other), (long, category, text), score)
                    )

    def wording(self, i: int) -> Wording:
        address = self.addresses[i]
        return (address, self.categories[i] if self.specific[address] else "", self.texts[i])

    def node_key(self, wording: Wording) -> tuple[str, str]:
        """One node per specific address and category; elsewhere one per wording."""
        address, category, text = wording
        return (address, category) if self.specific[address] else (address, text)

    def _ticket_keys(self) -> tuple[list[Wording], list[tuple]]:
        """Each ticket's wording and node key, computed once for every `group` call."""
        wordings = [self.wording(i) for i in range(len(self.addresses))]
        keys: list[tuple] = [
            (w[0], i) if not w[2] and not self.specific[w[0]] else self.node_key(w)
            for i, w in enumerate(wordings)  # no wording to compare: like no other ticket
        ]
        return wordings, keys

    @_without_cyclic_gc
    def group(self, subset: Iterable[int] | None = None) -> list[Matter]:
        """The matters among the tickets `subset` (indices; default all), members sorted."""
        if self._keys is None:
            self._keys = self._ticket_keys()
        wordings, keys = self._keys
        ids = range(len(self.addresses)) if subset is None else subset
        node_of: dict[tuple, int] = {}
        node_members: list[list[int]] = []
        first: dict[Wording, int] = {}  # a wording → its first ticket in the subset
        for i in ids:
            key = keys[i]
            n = node_of.get(key)
            if n is None:
                n = node_of[key] = len(node_members)
                node_members.append([])
            node_members[n].append(i)
            first.setdefault(wordings[i], i)
        best: dict[tuple[int, int], Link] = {}
        for wording_a, wording_b, score in self.links:
            a, b = first.get(wording_a), first.get(wording_b)
            if a is None or b is None:
                continue
            u, v = node_of[self.node_key(wording_a)], node_of[self.node_key(wording_b)]
            if u == v:
                continue
            key = (min(u, v), max(u, v))
            if key not in best or best[key].score < score:
                best[key] = Link(a, b, score)
        uf = _UnionFind(len(node_members))
        for u, v in best:
            uf.union(u, v)
        matters: dict[int, Matter] = {}
        for n, members in enumerate(node_members):
            matters.setdefault(uf.find(n), Matter([])).members.extend(members)
        for (u, _), link in best.items():
            matters[uf.find(u)].links.append(link)
        for matter in matters.values():
            matter.members.sort()
        return list(matters.values())


def group_matters(
    addresses: Sequence[str],
    contents: Sequence[str],
    percent: int,
    categories: Sequence[str] | None = None,
) -> list[Matter]:
    """Split tickets (normalised address, content as written, category) into matters."""
    return MatterIndex(addresses, contents, percent, categories).group()


def _token_ids(texts: Iterable[str]) -> dict[str, list[int]]:
    """Each text's bigrams as ids sorted rarest first (the global order prefix filtering needs)."""
    sets = {text: bigrams(text) for text in texts}
    frequency = Counter(token for tokens in sets.values() for token in tokens)
    rank = {token: r for r, (token, _) in enumerate(sorted(frequency.items(), key=_rarest))}
    return {text: sorted(rank[t] for t in tokens) for text, tokens in sets.items()}


def _rarest(item: tuple[str, int]) -> tuple[int, str]:
    return item[1], item[0]


# --- tickets and groups --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TicketInfo:
    """What the rules and the page need of a ticket."""

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
        digits = re.sub(r"\D", "", self.phone or "")
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

    def by_rule(self, rule: Rule) -> list[Group]:
        return [g for g in self.groups if g.rule is rule]


def find_candidates(
    session: Session, as_of: datetime | None = None, thresholds: Thresholds | None = None
) -> Candidates:
    """All candidate groups as of `as_of` (default: now), under the configured thresholds."""
    as_of = as_of or now()
    th = thresholds or Thresholds.load(session)
    tickets = _load_tickets(session, as_of, th)
    index = MatterIndex(
        [t.address_norm for t in tickets],
        [t.content for t in tickets],
        th.similarity_percent,
        [t.category for t in tickets],
    )
    repeat_from = _window_start(as_of, th.repeat_window_days)
    conc_from = _window_start(as_of, th.concentrated_window_days)
    recent = [i for i, t in enumerate(tickets) if t.received_at >= repeat_from]
    groups: list[Group] = []
    for matter in index.group(recent):
        groups.extend(_repeated(tickets, matter, th))
        groups.extend(_unsatisfied(tickets, matter, th))
    latest = [i for i in recent if tickets[i].received_at >= conc_from]
    for matter in index.group(latest):
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
        days = max((as_of - tickets[i].due_at).days for i in matter.members)  # type: ignore[operator]
        note = f"超过平台办结期限仍未办结（最长超期 {days} 天）"
        groups.append(_group(Rule.OVERDUE, tickets, matter.members, matter, note))
    groups = _mark_open_cases(session, groups)
    order = list(Rule)
    groups.sort(
        key=lambda g: (order.index(g.rule), -len(g.tickets), -_latest(g).timestamp(), g.key)
    )
    return Candidates(as_of=as_of, thresholds=th, groups=tuple(groups))


def _window_start(as_of: datetime, days: int) -> datetime:
    """The first instant of the last `days` days up to `as_of` (today counts as one)."""
    return datetime.combine(as_of.date() - timedelta(days=days - 1), time.min)


def _open(ticket: TicketInfo, th: Thresholds) -> bool:
    """The platform still handles it (a status, and not one of the done statuses)."""
    return bool(ticket.status) and ticket.status not in th.done_statuses


def _past_due(ticket: TicketInfo, as_of: datetime) -> bool:
    return ticket.due_at is not None and ticket.due_at < as_of


def _latest(group: Group) -> datetime:
    return group.tickets[-1].received_at


_CALLBACKS = {m.value: m for m in CallbackResult}


@_without_cyclic_gc
def _load_tickets(session: Session, as_of: datetime, th: Thresholds) -> list[TicketInfo]:
    """Live tickets up to `as_of` that any rule may look at, oldest first (one query)."""
    since = _window_start(as_of, max(th.repeat_window_days, th.concentrated_window_days))
    still_open = and_(
        Ticket.platform_status != "",
        Ticket.platform_status.not_in(sorted(th.done_statuses)),  # type: ignore[attr-defined]
    )
    stmt = (
        select(
            Ticket.id,
            Ticket.ticket_no,
            type_coerce(Ticket.received_at, String),  # parsed below: SQLite's parser is slow
            Ticket.address,
            Ticket.address_norm,
            Ticket.content,
            Ticket.category,
            Ticket.caller,
            Ticket.phone,
            Ticket.unit_id,
            type_coerce(Ticket.callback_result, String),  # the code; mapped below, faster
            Ticket.platform_status,
            type_coerce(Ticket.platform_due_at, String),
            Ticket.city_supervised,
        )
        .where(
            Ticket.deleted_at.is_(None),  # type: ignore[union-attr]
            Ticket.received_at <= as_of,
            or_(Ticket.received_at >= since, and_(Ticket.city_supervised, still_open)),
        )
        .order_by(Ticket.received_at, Ticket.id)
    )
    rows = session.connection().execute(stmt).all()
    return [
        TicketInfo(
            *r[:2], _datetime(r[2]), *r[3:10], _CALLBACKS.get(r[10]), r[11], _datetime(r[12]), r[13]
        )
        for r in rows
    ]


def _datetime(value: datetime | str | None) -> datetime | None:
    """A timestamp as SQLite returns it raw (ISO text), or as PostgreSQL does (datetime)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


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
        select(CaseTicket.ticket_id, Case.id, Case.case_no)
        .join(Case, Case.id == CaseTicket.case_id)
        .where(Case.status == CaseStatus.OPEN, Case.deleted_at.is_(None))  # type: ignore[union-attr]
    )
    in_case: dict[int, list[OpenCase]] = defaultdict(list)
    for ticket_id, case_id, case_no in session.exec(stmt).all():
        if ticket_id in ids:
            in_case[ticket_id].append(OpenCase(ticket_id, case_id, case_no))
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
    for ticket in session.exec(select(Ticket).where(Ticket.id.in_(group.ticket_ids))):  # type: ignore[union-attr]
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
