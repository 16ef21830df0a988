"""督办线索: the groups each rule proposes, with the reason a clerk reads, the evidence behind
it and the open cases it already has; scoped to the roles that see every unit and masked."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from duban.analysis.index import INDEX_VERSION, IndexUpdate, _update_index
from duban.analysis.kept import Regroup, _Kept, kept_state
from duban.analysis.matters import (
    _CLAUSE,
    _NOT_DIGIT,
    SHOWN_WORDS,
    Matter,
    _Matters,
    _normalized,
    _without_cyclic_gc,
    is_specific,
)
from duban.analysis.rules import RULE_SCOPE, Rule, Thresholds
from duban.analysis.window import TicketInfo, _horizon, _Places, _Window, _window_start
from duban.clock import cn_date, now
from duban.enums import CallbackResult, CaseStatus
from duban.errors import ValidationError
from duban.keywords import key_words, matter_words
from duban.masking import mask_name, mask_phone, mask_text, sees_contacts
from duban.models import Case, CaseTicket, Ticket
from duban.permissions import Actor, Perm
from duban.records import apply_changes
from duban.score import losing_units
from duban.standard_address import address_stamp


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
class Evidence:
    """Why a group's tickets belong together, as the page shows it."""

    reason: str
    shared_addresses: tuple[tuple[str, int], ...] = ()  # (address as written, tickets there)
    similar: tuple[Similar, ...] = ()
    address_key: str = ""  # the commonest address key of its tickets
    keywords: tuple[str, ...] = ()  # key words at least two of its complaints share
    same_caller: int = 0  # the most tickets one phone number called in about this place


class Deferred:
    """A group's evidence, written when it is first read and kept: a run finds some 18,000
    groups on 100,000 tickets and the page shows a few dozen, so writing every reason (the
    shared key words above all) would be most of a run after a day's import. Copies of a
    group (masked, marked with its open cases) share it. Equal when the evidence is."""

    __slots__ = ("_make", "_value")

    def __init__(self, make: Callable[[], Evidence]) -> None:
        self._make: Callable[[], Evidence] | None = make
        self._value: Evidence | None = None

    @classmethod
    def of(cls, evidence: Evidence) -> Deferred:
        """Evidence already written."""
        done = cls(lambda: evidence)
        done._value, done._make = evidence, None
        return done

    def __call__(self) -> Evidence:
        if self._value is None:
            assert self._make is not None  # cleared only once the value is set
            self._value, self._make = self._make(), None
        return self._value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Deferred) and self() == other()

    def __hash__(self) -> int:
        return hash(self())


_RULES = list(Rule)


@dataclass(frozen=True)
class Group:
    """Tickets proposed together under one rule, with the evidence that they belong together."""

    rule: Rule
    tickets: tuple[TicketInfo, ...]  # oldest first
    evidence: Deferred
    callers: int  # distinct callers
    open_cases: tuple[OpenCase, ...] = ()  # tickets of the group already in an open case

    @property
    def reason(self) -> str:
        """The evidence in words, and the open cases the group is already in."""
        reason = self.evidence().reason
        if not self.open_cases:
            return reason
        names = "、".join(no for _, no in sorted({(c.case_id, c.case_no) for c in self.open_cases}))
        return f"{reason}（已在督办事项 {names} 中）"

    @property
    def shared_addresses(self) -> tuple[tuple[str, int], ...]:
        return self.evidence().shared_addresses

    @property
    def similar(self) -> tuple[Similar, ...]:
        return self.evidence().similar

    @property
    def address_key(self) -> str:
        return self.evidence().address_key

    @property
    def keywords(self) -> tuple[str, ...]:
        return self.evidence().keywords

    @property
    def same_caller(self) -> int:
        return self.evidence().same_caller

    @cached_property
    def rank(self) -> tuple:
        """Where the page lists it: by rule, the largest first, then the latest (kept with
        the group: a kept group is sorted again on every run)."""
        latest = self.tickets[-1].received_at
        return _RULES.index(self.rule), -len(self.tickets), -latest.timestamp(), self.key

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
    caller commits (or rolls back: the next run then prepares them again). The process
    keeps the window and its matters (duban.analysis.kept): the next run reads only the
    tickets whose version moved and regroups only the matters they reach; `rebuild` works
    from nothing and keeps nothing. The result equals a full run's.

    The groups span every unit, so only roles that see all units may ask; callers' names
    and phone numbers come masked unless the actor may see contacts.
    """
    actor.require(Perm.VIEW_ALL, "查看督办线索")
    as_of = as_of or now()
    th = thresholds or Thresholds.load(session)
    places = _Places.load(session, th)
    since = _window_start(as_of, _horizon(th))
    with kept_state(session, (INDEX_VERSION, th, places.stamp), since, rebuild) as kept:
        window = kept.refresh(session, as_of, th, places)
        update, found = _update_index(session, as_of, th, window, rebuild, places, kept.pieces)
        tickets = window.tickets
        old_city = bool(tickets) and tickets[0].received_at < since  # open 市级督办 from before
        kept.settle(
            session, window, found, update.rebuilt or update.prepared > 0, (since, old_city)
        )
        groups = _rule_groups(kept, window, th, as_of, since, old_city)
    groups.extend(_score_loss(session, as_of))
    groups = _mark_open_cases(session, groups)
    groups.sort(key=lambda g: g.rank)
    if not sees_contacts(actor):
        groups = [replace(g, tickets=tuple(map(_masked, g.tickets))) for g in groups]
    return Candidates(as_of=as_of, thresholds=th, groups=tuple(groups), index=update)


def _rule_groups(
    kept: _Kept, window: _Window, th: Thresholds, as_of: datetime, since: datetime, old_city: bool
) -> list[Group]:
    """The groups of the same-matter rules, each over the matters of its tickets: 重复投诉
    and 不满意回访 over the repeat window, 集中投诉 over the concentrated window, 超期
    over the open tickets past due (kept between runs, regrouped where something changed),
    市级督办 over its few tickets."""
    tickets = window.tickets
    ids = [t.id for t in tickets]
    nodes, callers = kept.arrays(window)
    index = _Matters(nodes, window.wordings, kept.links, callers, since, old_city)
    position: dict[int, int] = {}

    def regroup(rules: Callable[[Matter], list[Group]], smallest: int = 2) -> Regroup:
        """Matters of ≥ 2 tickets are kept whatever the thresholds (a smaller one than a
        rule needs may grow); one ticket alone only when a rule may want it."""

        def run(chosen: set[int]) -> list[tuple[list[int], list[Group]]]:
            if not position:
                position.update((i, n) for n, i in enumerate(ids))
            found = index.group(sorted(position[i] for i in chosen), smallest)
            return [([ids[i] for i in m.members], rules(m)) for m in found]

        return run

    repeat_from = _window_start(as_of, th.repeat_window_days)
    conc_from = _window_start(as_of, th.concentrated_window_days)
    recent = [t for t in tickets if t.received_at >= repeat_from]
    done = th.done_statuses
    latest = {t.id for t in recent if t.received_at >= conc_from}
    late = {
        t.id
        for t in recent
        if t.due_at is not None and t.due_at < as_of and t.status and t.status not in done
    }

    def repeats(matter: Matter) -> list[Group]:
        return [*_repeated(tickets, matter, th), *_unsatisfied(tickets, matter, th)]

    parts = [
        ("recent", {t.id for t in recent}, regroup(repeats, min(2, th.unsatisfied_min))),
        ("latest", latest, regroup(lambda m: _concentrated(tickets, m, th))),
        ("late", late, regroup(lambda m: _overdue(tickets, m), 1)),
    ]
    groups = kept.regroup(window, nodes, callers, parts)
    city = [
        i
        for i, t in enumerate(tickets)
        if t.city and (t.received_at >= repeat_from or _open(t, th))
    ]
    for matter in index.group(city):
        groups.append(_group(Rule.CITY, tickets, matter.members, matter, "平台标记为市级督办工单"))
    return groups


def _masked(ticket: TicketInfo) -> TicketInfo:
    """A ticket as a role without Perm.SEE_CONTACTS sees it (duban.masking): caller and
    phone masked, and numbers inside the address and content."""
    return ticket._replace(
        caller=mask_name(ticket.caller),
        phone=mask_phone(ticket.phone),
        address=mask_text(ticket.address) or "",
        content=mask_text(ticket.content) or "",
    )


def data_version(session: Session, actor: Actor) -> tuple[Any, ...]:
    """Changes whenever tickets, cases, their links, the address prefixes or aliases change:
    the cache key of an analysis."""
    actor.require(Perm.VIEW_ALL, "查看督办线索")
    tickets = session.exec(
        select(func.count(col(Ticket.id)), func.max(col(Ticket.updated_at)))
    ).one()
    cases = session.exec(select(func.count(col(Case.id)), func.max(col(Case.updated_at)))).one()
    links = session.exec(select(func.count()).select_from(CaseTicket)).one()
    return (*tickets, *cases, links, address_stamp(session))  # aliases and prefixes too


def _open(ticket: TicketInfo, th: Thresholds) -> bool:
    """The platform still handles it (a status, and not one of the done statuses)."""
    return bool(ticket.status) and ticket.status not in th.done_statuses


def _group(
    rule: Rule,
    pool: Sequence[TicketInfo],
    indices: Sequence[int],
    matter: Matter,
    headline: str,
) -> Group:
    """A group of the tickets `pool[i]`, with the evidence that they belong together,
    written when first read (`Deferred`)."""
    chosen = {i: pool[i] for i in indices}  # not the pool: a cached result keeps the evidence
    members = tuple(chosen.values())
    callers = len({t.caller_key() for t in members} - {""})
    evidence = Deferred(lambda: _evidence(chosen, matter, headline))
    return Group(rule, members, evidence, callers)


def _evidence(chosen: dict[int, TicketInfo], matter: Matter, headline: str) -> Evidence:
    """Why the tickets `chosen` (by their index in the run) belong together: the address
    key and how it was written, the key words its complaints share, one caller calling
    again, near-identical contents (the tickets as stored: masking applies to what is shown
    of the tickets only)."""
    members = list(chosen.values())
    if len(members) == 1:
        return Evidence(headline, address_key=members[0].key)
    by_key = Counter(t.key for t in members if is_specific(t.key))
    written: dict[str, str] = {}
    for t in members:
        written.setdefault(t.key, t.address)  # as the first ticket wrote it
    shared = tuple((written[a], n) for a, n in by_key.most_common() if n >= 2)
    similar = sorted(
        (
            Similar(
                chosen[min(link.a, link.b)].ticket_no,
                chosen[max(link.a, link.b)].ticket_no,
                round(link.score, 2),
            )
            for link in matter.links
            if link.a in chosen and link.b in chosen
        ),
        key=lambda s: (-s.score, s.ticket_a, s.ticket_b),
    )
    keywords = _shared_words(members)
    phones = Counter((t.key, _NOT_DIGIT.sub("", t.phone or "")) for t in members)
    calls = max(
        (n for (key, phone), n in phones.items() if len(phone) >= 7 and is_specific(key)),
        default=0,
    )
    words = [headline]
    for key, n in by_key.most_common(3):
        if n < 2:
            break
        here = [t for t in members if t.key == key]
        spellings = len({t.spelling for t in here})
        details = list(dict.fromkeys(t.detail for t in here if t.detail))
        notes = [f"{n} 张"]
        if spellings > 1:
            notes.append(f"地址写法 {spellings} 种，已按标准地址归并")
        if details:
            notes.append("细节：" + "、".join(details[:4]) + ("等" if len(details) > 4 else ""))
        words.append(f"地址键“{key}”（{'；'.join(notes)}）")
    if keywords:
        words.append("共同关键词：" + "、".join(keywords))
    if calls >= 2:
        words.append(f"同一来电号码在同一地址来电 {calls} 次")
    words += [f"工单 {s.ticket_a} 与 {s.ticket_b} 内容相似度 {s.score:.2f}" for s in similar[:2]]
    if len(similar) > 2:
        words.append(f"另有 {len(similar) - 2} 处内容相似")
    top = by_key.most_common(1)[0][0] if by_key else members[0].key
    return Evidence("；".join(words), shared, tuple(similar), top, keywords, calls)


def _shared_words(members: Sequence[TicketInfo]) -> tuple[str, ...]:
    """The key words at least two complaints of a group share, commonest first, common
    words of complaints (duban.keywords.matter_words) before other pairs, then in reading
    order; a pair straddling two words already shown (修电 beside 维修、电梯) is left out."""
    texts = [_normalized(t.content) for t in members]
    counts = Counter(
        w for t, text in zip(members, texts, strict=True) for w in key_words(text, t.key)
    )
    joined, known = "\x00".join(texts), matter_words()
    order = sorted(
        (w for w, n in counts.items() if n >= 2),
        key=lambda w: (-counts[w], w not in known, joined.find(w)),
    )
    shown: list[str] = []
    starts, ends = set(), set()
    for word in order:
        if word[0] not in ends and word[1] not in starts:
            shown.append(word)
            if len(shown) == SHOWN_WORDS:
                break
            starts.add(word[0])
            ends.add(word[1])
    return tuple(shown)


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


def _overdue(pool: Sequence[TicketInfo], matter: Matter) -> list[Group]:
    """Open tickets past the platform's due date, the earliest due date named: the words
    do not move with the day of analysis, so a matter's group is kept between runs."""
    first = min(pool[i].due_at for i in matter.members)  # type: ignore[type-var]  # late tickets have a due date
    note = f"超过平台办结期限仍未办结（最早期限 {cn_date(first)}）"
    return [_group(Rule.OVERDUE, pool, matter.members, matter, note)]


def _score_loss(session: Session, as_of: datetime) -> list[Group]:
    """热线考核失分: the units losing the most points over the last 30 days (duban.score), each
    a group of the tickets that cost them points, the points per indicator as the reason."""
    groups = []
    for loss in losing_units(session, as_of):
        rows = session.exec(
            select(  # type: ignore[call-overload]  # sqlmodel.select is typed for up to 4 columns
                col(Ticket.id),
                col(Ticket.ticket_no),
                col(Ticket.received_at),
                col(Ticket.address),
                col(Ticket.address_norm),
                col(Ticket.content),
                col(Ticket.category),
                col(Ticket.caller),
                col(Ticket.phone),
                col(Ticket.unit_id),
                col(Ticket.callback_result),
                col(Ticket.platform_status),
                col(Ticket.platform_due_at),
                col(Ticket.city_supervised),
            )
            .where(col(Ticket.id).in_(loss.ticket_ids))
            .order_by(col(Ticket.received_at), col(Ticket.id))
        )  # columns, not Ticket objects: a run reads thousands of them
        tickets = [TicketInfo(*row) for row in rows]
        callers = len({t.caller_key() for t in tickets} - {""})
        evidence = Deferred.of(Evidence(loss.reason))
        groups.append(Group(Rule.SCORE_LOSS, tuple(tickets), evidence, callers))
    return groups


def _mark_open_cases(session: Session, groups: list[Group]) -> list[Group]:
    """Attach the open cases the groups' tickets are already in (one query; the open
    cases hold a few hundred tickets, the groups tens of thousands)."""
    stmt = (
        select(col(CaseTicket.ticket_id), col(Case.id), col(Case.case_no))
        .join(Case, col(Case.id) == col(CaseTicket.case_id))
        .where(col(Case.status) == CaseStatus.OPEN, col(Case.deleted_at).is_(None))
    )
    in_case: dict[int, list[OpenCase]] = defaultdict(list)
    for ticket_id, case_id, case_no in session.connection().execute(stmt).all():
        in_case[ticket_id].append(OpenCase(ticket_id, case_id, case_no))  # type: ignore[arg-type]  # ids are set: these rows were flushed
    if not in_case:
        return groups
    out = []
    for g in groups:
        if not in_case.keys().isdisjoint(g.ticket_ids):
            found = tuple(c for t in g.tickets for c in in_case.get(t.id, ()))
            g = replace(g, open_cases=found)  # named in its reason
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
