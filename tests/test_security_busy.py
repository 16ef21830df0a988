"""SQLite busy during a big import (issue #15): a save made while an import writes waits for
it and succeeds, and the busy timeout is above the import's write phase scaled to the biggest
import (250,000 rows), so no save fails with "database is locked"."""

from __future__ import annotations

import threading
import time

import pytest
from sqlmodel import Session, select

from duban import audit, importer
from duban.db import SQLITE_BUSY_TIMEOUT_MS
from duban.enums import AuditAction
from duban.importer import writing as import_writing
from duban.models import AuditLog, Ticket
from duban.permissions import SYSTEM

ROWS = 20_000
BIGGEST = 250_000


def export(n: int) -> bytes:
    lines = ["工单编号,诉求时间,诉求地址,内容描述,承办单位"]
    lines += [
        f"B{i:08d},2024-03-01 09:00,示例路{i % 997}号,路灯不亮 第{i}件,镇城管中队" for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_a_save_during_a_big_import_waits_and_succeeds(engine, monkeypatch):
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL writers do not lock each other out")
    writing, written = threading.Event(), {}
    original = import_writing._write

    def timed_write(*args, **kwargs):
        writing.set()
        started = time.perf_counter()
        original(*args, **kwargs)
        written["seconds"] = time.perf_counter() - started

    monkeypatch.setattr(import_writing, "_write", timed_write)
    errors: list[BaseException] = []

    def run_import() -> None:
        try:
            with Session(engine) as s:
                importer.import_tickets(s, SYSTEM, export(ROWS), "大批量.csv", create_units=True)
                s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    worker = threading.Thread(target=run_import)
    worker.start()
    assert writing.wait(120), errors
    time.sleep(0.2)  # the import now holds SQLite's write lock
    with Session(engine) as s:  # a clerk's save at the same moment
        audit.record(s, SYSTEM, AuditAction.UPDATE, "case", 1, field="title", new="并发保存")
        s.commit()
    worker.join()
    assert errors == []
    with Session(engine) as s:
        assert len(s.exec(select(Ticket.id)).all()) == ROWS
        assert s.exec(select(AuditLog).where(AuditLog.new == "并发保存")).one()
    worst = written["seconds"] * BIGGEST / ROWS
    assert SQLITE_BUSY_TIMEOUT_MS / 1000 > worst, f"250,000 rows would hold the lock ~{worst:.0f} s"
