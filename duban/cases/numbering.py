"""督办编号: the case number and the next sequence of a year."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from duban.models import CaseCounter


def format_case_no(prefix: str, year: int, seq: int) -> str:
    """`赵巷督〔2024〕第007号`."""
    return f"{prefix}〔{year}〕第{seq:03d}号"


def next_case_seq(session: Session, year: int) -> int:
    """Take the next number of `year` inside the caller's transaction (gap-free, unique).

    The counter row is created if missing (insert-or-ignore), then incremented with one
    `UPDATE … RETURNING`: the UPDATE takes the row lock on PostgreSQL (a second writer waits
    for the first to commit, like SELECT … FOR UPDATE) and the database write lock on SQLite,
    so two staff saving at once get consecutive numbers; a rolled-back case gives its
    number back because the counter rolls back with it.
    """
    dialect = session.get_bind().dialect.name
    insert_ = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert_(CaseCounter).values(year=year, last_seq=0).on_conflict_do_nothing())
    seq = session.execute(
        update(CaseCounter)
        .where(col(CaseCounter.year) == year)
        .values(last_seq=col(CaseCounter.last_seq) + 1)
        .returning(col(CaseCounter.last_seq))
    ).scalar_one()
    return int(seq)
