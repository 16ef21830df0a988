"""Versioned, audited saves (`duban.records`): "a save based on a stale version is refused
with a message naming the row; it never overwrites someone else's change" — also when two
saves race, each having loaded the row before the other committed (found by bench/load.py).
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from duban import records
from duban.enums import Role
from duban.errors import ConflictError
from duban.models import AuditLog, Ticket
from duban.permissions import Actor
from tests.factories import make_ticket

CLERK = Actor(None, "clerk", Role.CENTER)


@pytest.fixture
def ticket_id(session: Session) -> int:
    ticket = make_ticket(session, notes="")
    session.commit()
    return ticket.id  # type: ignore[return-value]


def note_changes(session: Session, ticket_id: int) -> list[tuple[str | None, str | None]]:
    stmt = (
        select(AuditLog.old, AuditLog.new)
        .where(
            AuditLog.entity == "ticket", AuditLog.entity_id == ticket_id, AuditLog.field == "notes"
        )
        .order_by(AuditLog.id)
    )
    return list(session.exec(stmt).all())


def test_a_save_that_loaded_the_row_before_another_committed_is_refused(engine, ticket_id) -> None:
    with Session(engine) as first, Session(engine) as second:
        loaded = second.get(Ticket, ticket_id)  # the second save has read version 1 …
        records.apply_changes(first, CLERK, first.get(Ticket, ticket_id), {"notes": "甲已回电"},
                              expected_version=1, label="工单 T1")  # fmt: skip
        first.commit()  # … when the first one commits
        assert loaded.version == 1  # what the second save still believes
        with pytest.raises(ConflictError, match="工单 T1 已被 clerk"):
            records.apply_changes(second, CLERK, loaded, {"notes": "乙已回电"},
                                  expected_version=1, label="工单 T1")  # fmt: skip
        second.rollback()
    with Session(engine) as session:
        row = session.get(Ticket, ticket_id)
        assert (row.notes, row.version) == ("甲已回电", 2)
        assert note_changes(session, ticket_id) == [("", "甲已回电")]


def test_a_delete_racing_a_save_is_refused(engine, ticket_id) -> None:
    with Session(engine) as first, Session(engine) as second:
        loaded = second.get(Ticket, ticket_id)
        records.apply_changes(first, CLERK, first.get(Ticket, ticket_id), {"notes": "甲"},
                              expected_version=1, label="工单 T1")  # fmt: skip
        first.commit()
        with pytest.raises(ConflictError, match="已被 clerk"):
            records.soft_delete(second, CLERK, loaded, expected_version=1, label="工单 T1")
        second.rollback()
    with Session(engine) as session:
        assert session.get(Ticket, ticket_id).deleted_at is None


def test_saves_in_one_transaction_step_the_version_once_each(session, ticket_id) -> None:
    row = session.get(Ticket, ticket_id)
    records.apply_changes(session, CLERK, row, {"notes": "一"}, expected_version=1, label="工单")
    records.apply_changes(session, CLERK, row, {"tags": "二"}, expected_version=2, label="工单")
    session.commit()
    session.expire_all()
    row = session.get(Ticket, ticket_id)
    assert (row.notes, row.tags, row.version) == ("一", "二", 3)


def test_an_unchanged_save_keeps_the_version(session, ticket_id) -> None:
    row = session.get(Ticket, ticket_id)
    assert (
        records.apply_changes(session, CLERK, row, {"notes": ""}, expected_version=1, label="工单")
        == {}
    )
    session.commit()
    assert session.get(Ticket, ticket_id).version == 1
