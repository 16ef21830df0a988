"""Bulk inserts through the database driver, for the import's 100,000-row writes.

SQLAlchemy's Core `executemany` spends most of its time per row and per value (building and
processing each parameter dict) — more than the driver needs to write the rows. Here each
column's own bind processor (the one SQLAlchemy would apply: dates as SQLite text, enums as
codes, JSON as text) is applied in one tight pass, and the rows go to the driver at once:
SQLite `executemany`, PostgreSQL `COPY … FROM STDIN`. Same values in the same transaction as
the session's, so what SQLAlchemy reads back is what it would have written itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Table
from sqlmodel import Session

Processor = Callable[[Any], Any] | None


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT every row of `rows` (all with the same keys) into `table`, in the session's
    transaction."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect
    rows = _with_defaults(table, rows)
    names = list(rows[0])
    procs = [_processor(table, name, dialect) for name in names]
    quoted = ", ".join(dialect.identifier_preparer.quote(n) for n in names)
    target = dialect.identifier_preparer.format_table(table)
    values = _values(rows, names, procs)
    if dialect.name == "postgresql":
        raw: Any = conn.connection.dbapi_connection  # a psycopg Connection: COPY is its own API
        with raw.cursor() as cursor, cursor.copy(f"COPY {target} ({quoted}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        return
    marks = ", ".join("?" * len(names))
    conn.exec_driver_sql(f"INSERT INTO {target} ({quoted}) VALUES ({marks})", values)


def _with_defaults(table: Table, rows: Sequence[dict[str, Any]]) -> Sequence[dict[str, Any]]:
    """Fill the columns the rows leave out with their Python-side defaults, as a Core insert
    would (a column added later with a default needs no change here)."""
    scalars: dict[str, Any] = {}
    callables: dict[str, Callable[[Any], Any]] = {}
    for column in table.columns:
        default = column.default
        if column.name in rows[0] or default is None:
            continue
        if default.is_scalar:
            scalars[column.name] = default.arg  # type: ignore[attr-defined]  # ScalarElementColumnDefault
        elif default.is_callable:
            callables[column.name] = default.arg  # type: ignore[attr-defined]  # CallableColumnDefault, takes the context
    if not scalars and not callables:
        return rows
    return [
        {**row, **scalars, **{name: make(None) for name, make in callables.items()}} for row in rows
    ]


def _processor(table: Table, name: str, dialect: Any) -> Processor:
    """What SQLAlchemy does to a value of this column before the driver sees it. JSON goes
    out as text on every driver (COPY has no Python-object adapter for a dict)."""
    column_type = table.c[name].type
    if isinstance(column_type, JSON):
        serialize = getattr(dialect, "_json_serializer", None) or json.dumps
        return lambda v: None if v is None else serialize(v)
    if dialect.name == "sqlite" and isinstance(column_type, DateTime):
        return _sqlite_datetime
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def _sqlite_datetime(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite text for a naive datetime ("2024-01-24 09:30:00.000000"),
    written by the C `isoformat` rather than SQLAlchemy's per-field formatting."""
    return None if value is None else value.isoformat(" ", "microseconds")


def _values(
    rows: Sequence[dict[str, Any]], names: list[str], procs: list[Processor]
) -> list[tuple[Any, ...]]:
    """Rows as tuples in column order, each value processed (no processor: as it is)."""
    if all(p is None for p in procs):
        return [tuple(row[n] for n in names) for row in rows]
    pairs = list(zip(names, procs, strict=True))
    return [tuple(row[n] if p is None else p(row[n]) for n, p in pairs) for row in rows]
