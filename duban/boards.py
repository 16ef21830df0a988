"""Numbers and lists for the boards (看板) and the home page, computed with SQL aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, select

from duban.enums import CaseStatus, Level, StepStatus
from duban.models import Case, Step
from duban.workdays import Calendar

DUE_SOON_WORKDAYS = 2


@dataclass(frozen=True)
class Headline:
    """Today's numbers for a leader who opens the app for 30 seconds."""

    open_by_level: dict[Level, int]
    overdue_steps: int
    due_soon_steps: int

    @property
    def open_cases(self) -> int:
        return sum(self.open_by_level.values())


def open_steps_with_due():
    """Open, live steps of open, live cases that carry a deadline."""
    return (
        select(Step)
        .join(Case, Case.id == Step.case_id)
        .where(
            Step.status == StepStatus.OPEN,
            Step.deleted_at.is_(None),  # type: ignore[union-attr]
            Step.due_at.is_not(None),  # type: ignore[union-attr]
            Case.status == CaseStatus.OPEN,
            Case.deleted_at.is_(None),  # type: ignore[union-attr]
        )
    )


def headline(session: Session, today: date, calendar: Calendar) -> Headline:
    rows = session.exec(
        select(Case.level, func.count())
        .where(Case.status == CaseStatus.OPEN, Case.deleted_at.is_(None))  # type: ignore[union-attr]
        .group_by(Case.level)
    ).all()
    by_level = dict.fromkeys(Level, 0)
    by_level.update(dict(rows))
    due = open_steps_with_due().subquery()
    overdue = session.exec(select(func.count()).select_from(due).where(due.c.due_at < today)).one()
    horizon = calendar.add(today, DUE_SOON_WORKDAYS).day
    soon = session.exec(
        select(func.count()).select_from(due).where(due.c.due_at >= today, due.c.due_at <= horizon)
    ).one()
    return Headline(open_by_level=by_level, overdue_steps=overdue, due_soon_steps=soon)
