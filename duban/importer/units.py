"""Resolving a unit's name as the platform writes it to a unit (names and aliases)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import select
from sqlmodel import Session

from duban.enums import UnitKind
from duban.models import Unit
from duban.text import normalize_header


def unit_key(name: str) -> str:
    """How unit names are compared: half-width, no white space."""
    return normalize_header(name)


class UnitResolver:
    """Unit name → id: exact name first, then a known alias; an ambiguous alias is unknown."""

    def __init__(self, units: Iterable[Unit]) -> None:
        self.by_name: dict[str, int] = {}
        by_alias: dict[str, set[int]] = defaultdict(set)
        for unit in units:
            if unit.deleted_at is not None:
                continue
            self.by_name[unit_key(unit.name)] = unit.id  # type: ignore[assignment]  # ids are set: these rows were flushed
            for alias in unit.aliases or []:
                by_alias[unit_key(alias)].add(unit.id)  # type: ignore[arg-type]  # ids are set: these rows were flushed
        self.by_alias = {k: next(iter(v)) for k, v in by_alias.items() if len(v) == 1}
        self._seen: dict[str, int | None] = {}

    @classmethod
    def load(cls, session: Session) -> UnitResolver:
        return cls(session.execute(select(Unit)).scalars())

    def resolve(self, raw: str) -> int | None:
        if raw in self._seen:
            return self._seen[raw]
        key = unit_key(raw)
        found = (self.by_name.get(key) or self.by_alias.get(key)) if key else None
        self._seen[raw] = found
        return found


def guess_unit_kind(name: str) -> UnitKind:
    """The kind of a unit created from an export's name (`--create-units`), from its suffix."""
    if "大居" in name:
        return UnitKind.COMMUNITY
    if name.endswith(("村委会", "村", "居委会", "居委", "居")):
        return UnitKind.VILLAGE
    if name.endswith(("公司", "集团", "中心医院", "学校")):
        return UnitKind.ENTERPRISE
    return UnitKind.DEPARTMENT
