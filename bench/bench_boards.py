"""Benchmark: every board's data on 100,000 tickets / 10,000 cases (SQLite), against a
Python-loop baseline.

    python -m bench.bench_boards [--tickets 100000]

The data is `bench.synth` (cases over three years, 1–3 steps each, feedback on most). Each
board is timed as the page calls it (best of 3); target < 0.5 s each. The named baseline,
"load every row and loop in Python", computes the overdue list and the units table from
ORM objects; both must give the same answer, and the ratio is printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from bench.synth import generate
from duban import boards
from duban.boards import BoardFilter, Horizon
from duban.db import open_database
from duban.enums import CaseStatus, StepStatus
from duban.models import Case, CaseUnit, Step
from duban.permissions import SYSTEM
from duban.workdays import Calendar

TARGET = 0.5


def best_of(fn: Callable[[], Any], runs: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def loop_overdue(session: Session, today: date, calendar: Calendar) -> list[int]:
    """Baseline: every step and case as objects, filtered and sorted in Python."""
    horizon = Horizon.of(today, calendar)
    cases = {c.id: c for c in session.exec(select(Case))}
    late = [
        s
        for s in session.exec(select(Step))
        if s.status == StepStatus.OPEN
        and s.deleted_at is None
        and s.due_at is not None
        and s.due_at <= horizon.overdue_through
        and cases[s.case_id].status == CaseStatus.OPEN
        and cases[s.case_id].deleted_at is None
    ]
    late.sort(key=lambda s: (s.due_at, cases[s.case_id].case_no, s.id))
    return [s.id for s in late]


def loop_open_cases(session: Session) -> Counter:
    """Baseline for one column of the units table: open cases per unit, in Python."""
    cases = {c.id: c for c in session.exec(select(Case))}
    return Counter(
        link.unit_id
        for link in session.exec(select(CaseUnit))
        if cases[link.case_id].status == CaseStatus.OPEN and cases[link.case_id].deleted_at is None
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        engine = open_database(f"sqlite:///{Path(folder) / 'bench.db'}")
        started = time.perf_counter()
        sizes = generate(engine, args.tickets)
        print(f"data: {sizes.tickets:,} tickets, {sizes.cases:,} cases "
              f"(generated in {time.perf_counter() - started:.1f} s)")  # fmt: skip
        ok = True
        with Session(engine) as session:
            today = date.today()
            calendar = Calendar.load(session)
            filt = BoardFilter()
            timed = {
                "首页 headline": lambda: boards.headline(session, SYSTEM, today, calendar, filt),
                "逾期 overdue": lambda: boards.overdue_board(
                    session, SYSTEM, today, calendar, filt
                ),
                "即将到期 due soon": lambda: boards.due_soon_board(
                    session, SYSTEM, today, calendar, filt
                ),
                "待提级 escalation": lambda: boards.escalation_board(session, SYSTEM, today, filt),
                "承办单位 units": lambda: boards.unit_board(session, SYSTEM, today, calendar, filt),
                "按月趋势 trend": lambda: boards.month_trend(session, SYSTEM, today, filt),
            }
            results = {}
            for name, fn in timed.items():
                seconds, results[name] = best_of(fn)
                rows = results[name]
                size = len(rows) if isinstance(rows, list) else "-"
                verdict = "ok" if seconds < TARGET else "SLOW"
                ok &= seconds < TARGET
                print(
                    f"{name:<20} {seconds * 1000:8.1f} ms  rows {size!s:>6}  ({verdict}, target < {TARGET} s)"
                )

            sql_overdue, loop = results["逾期 overdue"], None
            loop_s, loop = best_of(lambda: loop_overdue(session, today, calendar), runs=1)
            sql_s, _ = best_of(lambda: boards.overdue_board(session, SYSTEM, today, calendar, filt))
            same = loop == [r.step_id for r in sql_overdue]
            print(f"baseline 'load every row, loop in Python', overdue list: {loop_s:.2f} s; "
                  f"SQL board {sql_s * 1000:.0f} ms; ratio {loop_s / sql_s:.0f}×; same rows: {'yes' if same else 'NO'}")  # fmt: skip
            loop_s, counts = best_of(lambda: loop_open_cases(session), runs=1)
            sql_s, units = best_of(
                lambda: boards.unit_board(session, SYSTEM, today, calendar, filt)
            )
            same_units = all(counts.get(r.unit_id, 0) == r.open_cases for r in units)
            print(f"baseline 'load every row, loop in Python', open cases per unit (one column of six): "
                  f"{loop_s:.2f} s; SQL units board (all six) {sql_s * 1000:.0f} ms; "
                  f"ratio {loop_s / sql_s:.0f}×; same numbers: {'yes' if same_units else 'NO'}")  # fmt: skip
            ok &= same and same_units
        engine.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
