"""Which 专题会 routing rule fits a ticket (§三(三)2: 明确同类事项的处置部门和处置路径).

Kept apart from the meetings themselves: the importer and the ledger ask it for every
ticket, and it needs only the rules and the units (not the cases a meeting links).
"""

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from duban.models import RoutingRule, Unit
from duban.text import normalize_address

KEYWORD_SEPARATORS = re.compile(r"[、,，;；\s]+")


def split_keywords(text: str) -> list[str]:
    """`噪声、施工, 打桩` → ['噪声', '施工', '打桩']."""
    return [k for k in KEYWORD_SEPARATORS.split(text or "") if k]


def rule_matches(rule: RoutingRule, *, category: str, content: str, address: str) -> int:
    """How many of the rule's criteria the matter meets (0 if any criterion fails).

    Every criterion the rule sets must hold: the category equals, at least one keyword is
    in the content, the address fits the pattern (`*`/`?` wildcards, else a substring;
    compared on normalised addresses).
    """
    score = 0
    if rule.category:
        if rule.category.strip() != (category or "").strip():
            return 0
        score += 1
    if rule.keywords:
        if not any(k in (content or "") for k in split_keywords(rule.keywords)):
            return 0
        score += 1
    if rule.address_pattern:
        pattern = normalize_address(rule.address_pattern)
        where = normalize_address(address or "")
        if any(ch in pattern for ch in "*?"):
            hit = fnmatch.fnmatchcase(where, pattern)
        else:
            hit = bool(pattern) and pattern in where
        if not hit:
            return 0
        score += 1
    return score


def match_rules(
    session: Session, *, category: str, content: str, address: str
) -> list[RoutingRule]:
    """Active rules that fit a matter, the most specific first — a SUGGESTION for the user."""
    rules = session.exec(
        select(RoutingRule).where(
            col(RoutingRule.active).is_(True),
            col(RoutingRule.deleted_at).is_(None),
        )
    ).all()
    scored = [
        (rule_matches(r, category=category, content=content, address=address), r) for r in rules
    ]
    return [r for score, r in sorted(scored, key=lambda x: (-x[0], -(x[1].id or 0))) if score]


@dataclass(frozen=True)
class RouteSuggestion:
    """A 专题会 rule that fits some tickets: its department and path, offered, never applied.

    Plain values, no ORM row: an import report outlives the session that made it (a page
    shows it after the import's commit has expired every row that session loaded)."""

    rule_id: int
    rule_name: str
    unit_id: int
    unit_name: str
    handling_path: str
    ticket_nos: tuple[str, ...]


def suggest_routes(session: Session, tickets: Iterable[Mapping[str, Any]]) -> list[RouteSuggestion]:
    """For each ticket (ticket_no, category, content, address) the best-fitting active rule.

    Used after an import so staff see at once which new tickets a meeting has already
    assigned a department and handling path to (同类事项的处置部门和处置路径).
    """
    found = session.exec(
        select(RoutingRule, Unit.name)
        .join(Unit, col(Unit.id) == RoutingRule.unit_id)
        .where(
            col(RoutingRule.active).is_(True),
            col(RoutingRule.deleted_at).is_(None),
        )
    ).all()
    if not found:
        return []
    rules = [r for r, _ in found]
    unit_names = {r.id: name for r, name in found}
    hits: dict[int, list[str]] = {}
    by_id = {r.id: r for r in rules}
    for t in tickets:
        scored = [
            (
                rule_matches(
                    r,
                    category=t.get("category", ""),
                    content=t.get("content", ""),
                    address=t.get("address", ""),
                ),
                r.id,
            )
            for r in rules
        ]
        score, rule_id = max(scored, key=lambda x: (x[0], x[1] or 0))
        if score:
            hits.setdefault(rule_id, []).append(t["ticket_no"])  # type: ignore[arg-type]  # a positive score comes from a stored rule, whose id is set
    return [
        RouteSuggestion(
            rule_id=i,
            rule_name=by_id[i].name,
            unit_id=by_id[i].unit_id,
            unit_name=unit_names[i],
            handling_path=by_id[i].handling_path,
            ticket_nos=tuple(nos),
        )
        for i, nos in sorted(hits.items())
    ]
