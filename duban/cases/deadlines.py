"""Due dates after a calendar change: set a year's schedule and recompute open deadlines."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from duban.enums import StepKind, StepStatus
from duban.models import Step
from duban.permissions import Actor, Perm
from duban.records import apply_changes
from duban.workdays import Calendar, set_year_schedule


def change_year_schedule(
    session: Session,
    actor: Actor,
    year: int,
    holidays: list[date],
    working_weekends: list[date],
    note: str = "",
) -> int:
    """Save a year's holiday schedule and give the open steps counted in working days their
    final (non-暂估) due dates, in the caller's one transaction. Returns the steps changed."""
    set_year_schedule(session, actor, year, holidays, working_weekends, note)
    return recompute_due_dates(session, actor)


def recompute_due_dates(session: Session, actor: Actor) -> int:
    """Recompute the due dates of open steps counted in working days (provisional → final).

    Called when an admin saves a year's holiday schedule. Closed steps are never touched:
    their frozen outcome is history. Returns how many steps changed.
    """
    if not (actor.can(Perm.MANAGE_SETTINGS) or actor.can(Perm.EDIT_CASES)):
        actor.require(Perm.MANAGE_SETTINGS, "重新计算截止日期")
    calendar = Calendar.load(session)
    changed = 0
    steps = session.exec(
        select(Step).where(
            col(Step.status) == StepStatus.OPEN,
            col(Step.due_workdays).is_not(None),
            col(Step.deleted_at).is_(None),
        )
    ).all()
    for step in steps:
        start = step.visit_at if step.kind == StepKind.ONSITE_NOTICE else step.issued_at
        if start is None:
            continue
        due = calendar.add(start, step.due_workdays)  # type: ignore[arg-type]  # the query selects steps counted in working days only
        if (due.day, due.provisional) != (step.due_at, step.due_provisional):
            apply_changes(
                session,
                actor,
                step,
                {"due_at": due.day, "due_provisional": due.provisional},
                expected_version=None,
                label=step.kind.label,
                note="节假日安排变更，重新计算截止日期",
            )
            changed += 1
    return changed
