"""Benchmark: `python -m duban import-tickets` as a whole process, against the bare floor run
as a process too (interpreter start included), in the same run.

    python -m bench.import_process [--rows 100000] [--tries 3] [--url postgresql+psycopg://…]

- floor: a bare Python process that reads the export with `pandas.read_excel(engine="calamine",
  dtype=str)`, turns the two date columns into datetimes and inserts every row into `ticket`
  with one driver `executemany` (sqlite3 or psycopg): no header search, no checks, no audit;
- duban: the CLI command a clerk's script runs, with everything it does (header search, value
  parsing, unit matching, upsert, import batch and per-ticket history).

SQLite: each try imports into a fresh copy of an empty, migrated database (the issue's
"100,000 rows into an empty database"). PostgreSQL (`--url`): each try imports `--rows` new
tickets into the database as it is (the issue: 10,000 into 100,000), and the rows a try added
are deleted afterwards, so every try sees the same table.

Each try runs floor and duban back to back; the figures are the best time of the tries and
the peak resident memory (`ru_maxrss` of each child, from `os.wait4`). Targets: time ≤ 1.3×
the floor, peak memory ≤ 1.5× the floor's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import delete, func, select
from sqlalchemy.engine import make_url
from sqlmodel import Session

from duban.db import make_engine, upgrade
from duban.demo import _ensure_units
from duban.models import ImportBatch, Ticket

ROOT = Path(__file__).resolve().parent.parent
TARGET_TIME = 1.3
TARGET_MEMORY = 1.5

# The floor: the least any program must do to get the export's rows into `ticket`.
FLOOR_SCRIPT = r"""
import json, sys
import pandas as pd

path, dialect, dsn, stamp = sys.argv[1:5]
df = pd.read_excel(path, engine="calamine", dtype=str, header=1).fillna("")
received = pd.to_datetime(df["受理时间"], format="mixed").dt.to_pydatetime()
due = pd.to_datetime(df["办理时限"], format="mixed").dt.to_pydatetime()
if dialect == "sqlite":
    fmt = lambda d: d.strftime("%Y-%m-%d %H:%M:%S.%f")
else:
    fmt = lambda d: d
cols = ("ticket_no, received_at, title, address, address_norm, content, category, caller, "
        "phone, unit_raw, platform_due_at, platform_status, city_supervised, raw, notes, tags, "
        "repeat_group, version, created_at, updated_at")
rows = [
    (no, fmt(at), title, address, address, content, cat, caller, phone, unit, fmt(due_at),
     status, False, json.dumps({"催办次数": urge}, ensure_ascii=False), "", "", "", 1, stamp, stamp)
    for no, at, caller, phone, address, content, cat, unit, due_at, status, title, urge in zip(
        df["工单编号"], received, df["诉求人"], df["联系电话"], df["诉求地址"], df["诉求内容"],
        df["诉求分类"], df["责任单位"], due, df["工单状态"], df["标题"], df["催办次数"],
        strict=True)
]
if dialect == "sqlite":
    import sqlite3
    conn = sqlite3.connect(dsn)
    conn.executemany(f"INSERT INTO ticket ({cols}) VALUES ({', '.join('?' * 20)})", rows)
    conn.commit()
else:
    import psycopg
    with psycopg.connect(dsn) as conn:
        conn.cursor().executemany(
            f"INSERT INTO ticket ({cols}) VALUES ({', '.join(['%s'] * 20)})", rows
        )
print(f"inserted={len(rows)}")
"""


@dataclass
class Process:
    seconds: float
    peak_mb: float
    output: str


def run_process(args: list[str], env: dict[str, str]) -> Process:
    """Run a child process to its end: wall time, its own peak RSS, its output."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"{args[:3]} exited with {proc.returncode}:\n{output[-2000:]}")
    return Process(seconds, usage.ru_maxrss / 1024, output.strip().splitlines()[-1])


def floor(path: Path, url: str) -> Process:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        dialect, dsn = "sqlite", str(parsed.database)
    else:
        dialect = "postgresql"
        dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        options = parsed.query.get("options")
        if options:  # the bench schema's search_path travels as a libpq option
            dsn = dsn.split("?")[0] + f"?options={quote(str(options))}"  # "=" inside: encoded
    stamp = "2026-01-01 00:00:00.000000" if dialect == "sqlite" else "2026-01-01 00:00:00"
    return run_process(
        [sys.executable, "-c", FLOOR_SCRIPT, str(path), dialect, dsn, stamp], dict(os.environ)
    )


def duban(path: Path, url: str, data_dir: Path) -> Process:
    env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_DATA_DIR": str(data_dir)}
    return run_process([sys.executable, "-m", "duban", "import-tickets", str(path)], env)


def prepare(url: str) -> None:
    """A migrated database with the demo units (the export names them)."""
    engine = make_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        _ensure_units(session)
    engine.dispose()


def marks(url: str) -> dict[type, int]:
    engine = make_engine(url)
    with Session(engine) as session:
        found = {m: session.execute(select(func.coalesce(func.max(m.id), 0))).scalar_one()
                 for m in (Ticket, ImportBatch)}  # fmt: skip
    engine.dispose()
    return found


def remove_after(url: str, before: dict[type, int]) -> None:
    """Delete what a try added (its audit rows stay: the log is append-only)."""
    engine = make_engine(url)
    with Session(engine) as session:
        for model in (Ticket, ImportBatch):
            session.execute(delete(model).where(model.id > before[model]))
        session.commit()
    engine.dispose()


@dataclass
class Result:
    floor: Process
    duban: Process

    @property
    def time_ratio(self) -> float:
        return self.duban.seconds / self.floor.seconds

    @property
    def memory_ratio(self) -> float:
        return self.duban.peak_mb / self.floor.peak_mb

    @property
    def met(self) -> bool:
        return self.time_ratio <= TARGET_TIME and self.memory_ratio <= TARGET_MEMORY


def measure(path: Path, folder: Path, tries: int, url: str | None = None) -> Result:
    """Best of `tries` for each side; SQLite into fresh empty databases, PostgreSQL into `url`."""
    floors: list[Process] = []
    dubans: list[Process] = []
    template = folder / "empty.db"
    if url is None:
        prepare(f"sqlite:///{template}")
    else:
        prepare(url)
    for n in range(tries):
        for side, runs in (("floor", floors), ("duban", dubans)):
            if url is None:
                target = folder / f"{side}-{n}.db"
                shutil.copy(template, target)
                target_url = f"sqlite:///{target}"
            else:
                target_url, before = url, marks(url)
            data_dir = folder / f"data-{side}-{n}"
            data_dir.mkdir()
            runs.append(
                floor(path, target_url) if side == "floor" else duban(path, target_url, data_dir)
            )
            if url is None:
                target.unlink()
            else:
                remove_after(url, before)
    best = min(floors, key=lambda p: p.seconds), min(dubans, key=lambda p: p.seconds)
    return Result(
        Process(best[0].seconds, max(p.peak_mb for p in floors), best[0].output),
        Process(best[1].seconds, max(p.peak_mb for p in dubans), best[1].output),
    )


def report(result: Result, rows: int, where: str) -> str:
    verdict = "OK" if result.met else "MISSED"
    return (
        f"import-tickets process, {rows:,} rows into {where}: "
        f"duban {result.duban.seconds:.2f} s / {result.duban.peak_mb:.0f} MB | "
        f"floor (calamine + executemany) {result.floor.seconds:.2f} s / "
        f"{result.floor.peak_mb:.0f} MB | time {result.time_ratio:.2f}× (target ≤ {TARGET_TIME}×), "
        f"memory {result.memory_ratio:.2f}× (target ≤ {TARGET_MEMORY}×)  {verdict}  "
        f"[{result.duban.output}]"
    )


def main(argv: list[str] | None = None) -> int:
    from bench.bench_import import write_export

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--url", help="PostgreSQL URL (default: fresh SQLite files)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = folder / "12345-export.xlsx"
        write_export(path, args.rows)
        result = measure(path, folder, args.tries, args.url)
    where = "an empty SQLite database" if args.url is None else "the PostgreSQL database"
    print(report(result, args.rows, where))
    return 0 if result.met else 1


if __name__ == "__main__":
    sys.exit(main())
