"""承办单位 as every page lists them: the live (not soft-deleted) units by name, one query.

Unit names are not confidential: every role sees them on tickets, cases and boards, so the
actor is taken for the uniform service signature and scopes nothing here.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from duban.models import Unit
from duban.permissions import Actor

__all__ = ["live_units", "unit_name"]


def live_units(session: Session, actor: Actor, *, active_only: bool = False) -> dict[int, str]:
    """Live units by id, in name order; `active_only` leaves out units marked inactive (the
    ones no new case or board lists, though old records still name them)."""
    stmt = (
        select(col(Unit.id), col(Unit.name))
        .where(col(Unit.deleted_at).is_(None))
        .order_by(col(Unit.name))
    )
    if active_only:
        stmt = stmt.where(col(Unit.active).is_(True))
    return {unit_id: name for unit_id, name in session.exec(stmt).all() if unit_id is not None}


def unit_name(session: Session, actor: Actor, unit_id: int | None) -> str | None:
    """The name of a unit (deleted ones too: old records keep naming them), None if unknown."""
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    return unit.name if unit is not None else None
