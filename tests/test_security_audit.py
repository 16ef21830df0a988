"""The audit log is append-only in the database itself (issue #15): Core, text() and raw
driver SQL are refused by triggers the migration creates, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import DatabaseError

from duban.enums import AuditAction
from duban.models import AuditLog

TABLE = AuditLog.__table__


@pytest.fixture
def logged(engine):
    with engine.begin() as conn:
        conn.execute(
            insert(TABLE).values(
                at=datetime(2024, 3, 1, 9, 0),
                username="clerk",
                action=AuditAction.LOGIN.value,
                entity="user",
                field="",
                note="",
            )
        )
    return engine


ATTACKS = {
    "core update": lambda c: c.execute(update(TABLE).values(note="篡改")),
    "core delete": lambda c: c.execute(delete(TABLE)),
    "text update": lambda c: c.execute(text("UPDATE auditlog SET username = 'nobody'")),
    "driver delete": lambda c: c.exec_driver_sql("DELETE FROM auditlog"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_the_database_refuses_to_change_or_delete_audit_rows(logged, attack):
    with pytest.raises(DatabaseError, match="append-only"), logged.begin() as conn:
        ATTACKS[attack](conn)
    with logged.connect() as conn:
        rows = conn.execute(select(TABLE.c.username, TABLE.c.note)).all()
    assert [tuple(r) for r in rows] == [("clerk", "")]


def test_appending_still_works(logged):
    with logged.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO auditlog (at, username, action, entity, field, note) "
                "VALUES (CURRENT_TIMESTAMP, 'clerk', 'logout', 'user', '', '')"
            )
        )
        assert conn.execute(select(func.count()).select_from(TABLE)).scalar() == 2
