"""Benchmark: one filtered page of the 工单台账 (50 rows) out of 100,000 tickets on SQLite.

    python -m bench.bench_ledger [--tickets 100000]

The data is `bench.synth` in a temporary SQLite file. Each filter the page offers is timed
as the page calls it — `duban.tickets.query_tickets` (the filtered count plus one page,
contacts masked), best of 3 — against the 0.2 s target, and against the named baseline
"one plain `SELECT … LIMIT 50` of the same table" in the same process.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from bench.synth import generate
from duban.db import open_database
from duban.enums import CallbackResult, Role
from duban.models import Ticket, Unit
from duban.permissions import Actor
from duban.tickets import TicketFilter, distinct_values, query_tickets

TARGET = 0.2
LEADER = Actor(user_id=None, username="bench", role=Role.LEADER)  # masked contacts


def best_of(fn: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def filters(session: Session) -> dict[str, TicketFilter]:
    """One filter per control of the page's filter bar, on values present in the data."""
    unit_id = session.execute(select(Unit.id).order_by(Unit.id)).scalars().first()
    category = distinct_values(session, "category")[0]
    newest = (
        session.execute(select(Ticket.received_at).order_by(Ticket.received_at.desc()))
        .scalars()
        .first()
    )  # type: ignore[union-attr]
    numbers = session.execute(select(Ticket.ticket_no).limit(200)).scalars().all()
    end = newest.date() if newest else date.today()
    return {
        "no filter (page 1)": TicketFilter(),
        "unit": TicketFilter(unit_ids=(unit_id,)),
        "category + status": TicketFilter(categories=(category,), statuses=("已办结",)),
        "callback 不满意": TicketFilter(callbacks=(CallbackResult.UNSATISFIED,)),
        "date range (30 days)": TicketFilter(date_from=end - timedelta(days=30), date_to=end),
        "keyword in address/content": TicketFilter(keyword="噪声"),
        "200 pasted 工单编号": TicketFilter(ticket_nos=tuple(numbers)),
        "unit + keyword + dates": TicketFilter(unit_ids=(unit_id,), keyword="示例路",
                                               date_from=end - timedelta(days=180), date_to=end),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    args = parser.parse_args(argv)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        engine = open_database(f"sqlite:///{Path(tmp) / 'bench.db'}")
        generate(engine, args.tickets)
        with Session(engine) as session:
            total = session.execute(select(Ticket.id)).all().__len__()
            base, _ = best_of(lambda: session.execute(select(Ticket).limit(50)).all())
            print(f"{total} tickets; baseline plain SELECT … LIMIT 50: {base * 1000:.1f} ms")
            for name, flt in filters(session).items():
                took, page = best_of(lambda flt=flt: query_tickets(session, LEADER, flt, page=2))
                worst = max(worst, took)
                print(f"{name:<28} {took * 1000:7.1f} ms  rows={len(page.rows):>2} of {page.total:>6}"
                      f"  ×{took / base:6.1f} baseline  {'OK' if took < TARGET else 'SLOW'}")  # fmt: skip
        engine.dispose()
    print(
        f"slowest filtered page: {worst:.3f} s (target < {TARGET} s)  {'OK' if worst < TARGET else 'SLOW'}"
    )
    return 0 if worst < TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
