"""Benchmark: 热线考核 of a year of 1,000,000 tickets (PostgreSQL), against a bare GROUP BY.

    python -m bench.bench_score [--tickets 1000000] [--url postgresql+psycopg://…/duban_bench]
    python -m bench.bench_score --tickets 300 --url sqlite:///tmp/score.db

The data: `--tickets` tickets over one calendar year, spread over the demo town's units, with
the score's fields in the proportions a district sees (先行联系 是 85 %, 实际解决 80 % /
解释说明 15 %, callbacks as `bench.synth`, 办结时间 on 90 %, 是否逾期 given by the platform on
half of them and derived from 办理时限 / 办结时间 / the period's end on the other half). On
PostgreSQL it lives in the schema `bench_score_<n>` (kept and reused while its signature
matches, so 1,000,000 tickets are written once, by COPY).

The figure: `duban.score.compute` of the year, best of 3 (one aggregate query over the year,
exact arithmetic per unit); target < 2 s. The named baseline, "bare GROUP BY unit", is
`SELECT unit_id, count(*) … GROUP BY unit_id` over the same rows — the least any per-unit
figure costs; both must count the same tickets per unit.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from sqlmodel import Session

from bench import run as harness
from bench import synth
from bench.measure import Figure, timed
from duban import score
from duban.db import open_database, refresh_statistics
from duban.demo import _ensure_units
from duban.enums import CallbackResult, Resolution
from duban.kpi import Period
from duban.models import Ticket

TARGET = 2.0
YEAR = 2025
VERSION = 1  # bump when the data's shape changes
STATUSES = ["已办结", "已回访", "处理中", "已派遣"]


def database(url: str, tickets: int) -> str:
    """A PostgreSQL URL gets its own schema for this data; a SQLite URL is used as it is."""
    if not url.startswith("postgresql"):
        return url
    schema = f"bench_score_{tickets}"
    server = harness.open_server(url)
    with server.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    server.dispose()
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False)


def year_rows(units: list[int], tickets: int, seed: int = 11) -> Any:
    """The year's tickets in chunks of `synth.CHUNK` rows, oldest first (vectorised draws)."""
    rng = np.random.default_rng(seed)
    start = datetime(YEAR, 1, 1)
    minutes = np.sort(rng.integers(0, 365 * 24 * 60, tickets))
    stamp = datetime(YEAR + 1, 1, 1)
    callbacks = [c.value for c in (CallbackResult.SATISFIED,) * 5] + [
        CallbackResult.BASIC.value, CallbackResult.UNSATISFIED.value, CallbackResult.NONE.value,
    ]  # fmt: skip
    for first in range(0, tickets, synth.CHUNK):
        n = min(synth.CHUNK, tickets - first)
        unit = rng.choice(units, n)
        contact = rng.random(n)
        result = rng.random(n)
        callback = rng.integers(0, len(callbacks), n)
        handled = rng.integers(1, 15 * 24 * 60, n)
        finished = rng.random(n) < 0.9
        stated = rng.random(n) < 0.5
        status = rng.integers(0, len(STATUSES), n)
        rows = []
        for i in range(n):
            received = start + timedelta(minutes=int(minutes[first + i]))
            due = received + timedelta(days=7)
            done_at = received + timedelta(minutes=int(handled[i])) if finished[i] else None
            rows.append(
                {
                    "ticket_no": f"S{YEAR}{first + i:08d}", "received_at": received,
                    "title": "", "address": "", "address_norm": "", "content": "",
                    "category": "", "caller": "", "phone": "", "unit_id": int(unit[i]),
                    "unit_raw": "", "platform_due_at": due,
                    "platform_status": STATUSES[0] if finished[i] else STATUSES[status[i]],
                    "callback_result": callbacks[callback[i]], "resolved": None,
                    "city_supervised": False, "raw": {}, "notes": "", "tags": "",
                    "repeat_group": "", "created_at": stamp, "updated_at": stamp, "version": 1,
                    "first_contact": bool(contact[i] < 0.85) if contact[i] < 0.97 else None,
                    "resolution": (Resolution.SOLVED.value if result[i] < 0.8 else
                                   Resolution.EXPLAINED.value if result[i] < 0.95 else None),
                    "finished_at": done_at,
                    "overdue": (done_at is not None and done_at > due) if stated[i] else None,
                }
            )  # fmt: skip
        yield rows


def prepare(url: str, tickets: int) -> Engine:
    """The migrated database with the year's tickets (generated, or reused when they match)."""
    engine = open_database(url)
    wanted = {"bench": "score", "version": VERSION, "tickets": tickets, "year": YEAR}
    stored = harness.stored_signature(engine, url)
    if stored == wanted and harness._count(engine) == tickets:
        print(f"  data: reused {tickets:,} tickets of {YEAR}", flush=True)
        return engine
    started = time.perf_counter()
    synth.reset(engine)
    with Session(engine) as session:
        units = sorted(_ensure_units(session).values())
        for rows in year_rows(units, tickets):
            synth.insert_rows(session, Ticket, rows)
        session.commit()
    refresh_statistics(engine)
    harness.store_signature(engine, url, wanted)
    print(f"  data: generated {tickets:,} tickets of {YEAR} in "
          f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
    return engine


def bare_counts(session: Session, period: Period) -> dict[int, int]:
    """Baseline: tickets per unit over the period, one bare GROUP BY."""
    t = Ticket.__table__.c  # type: ignore[attr-defined]
    stmt = (
        select(t.unit_id, func.count())
        .where(t.received_at >= period.start_dt, t.received_at < period.end_dt)
        .group_by(t.unit_id)
    )
    return dict(session.connection().execute(stmt).all())


def measure(engine: Engine, period: Period, database: str, tickets: int) -> Figure:
    """The year's score beside the bare GROUP BY; both must count the same tickets per unit."""
    with Session(engine) as session:
        base = timed(lambda: bare_counts(session, period), runs=3)
        mine = timed(lambda: score.compute(session, period), runs=3)
    counted = {r.unit_id: r.counts.tickets for r in mine.result if r.counts.tickets}
    if counted != {u: n for u, n in base.result.items() if u is not None}:
        raise AssertionError("热线考核 and the bare GROUP BY count different tickets per unit")
    figure = Figure(
        database, tickets, f"热线考核 {period.label}", mine.seconds, mine.peak_mb,
        "bare GROUP BY unit (count)", base.seconds, target=f"< {TARGET:g} s",
        met=mine.seconds < TARGET,
        note=f"{sum(counted.values()):,} tickets, {len(mine.result)} units",
    )  # fmt: skip
    print(figure.line(), flush=True)
    return figure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument(
        "--url", default=harness.PG_URL, help="PostgreSQL (a schema is made) or SQLite"
    )
    args = parser.parse_args(argv)
    url = database(args.url, args.tickets)
    engine = prepare(url, args.tickets)
    try:
        figure = measure(engine, Period.year(YEAR), engine.dialect.name, args.tickets)
    finally:
        engine.dispose()
    return 0 if figure.met else 1


if __name__ == "__main__":
    sys.exit(main())
