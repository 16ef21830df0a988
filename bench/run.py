"""Every benchmark at every size, on SQLite and PostgreSQL, each figure beside its baseline.

    python -m bench                      # 10,000 and 100,000 tickets, SQLite and PostgreSQL
    python bench/run.py                  # the same
    python -m bench --large              # … and 1,000,000
    python -m bench --sizes 300 --databases sqlite --skip pages
    python -m bench --browser            # … and the browser figures (chromium; minutes each)

For each database and size, on data from `bench.synth` (tickets over three years with
proportional cases, steps and feedback), in this process:

| figure | what duban does | baseline (the least any program must do) |
| --- | --- | --- |
| import | `import_tickets` of a platform export holding a tenth of the size in new tickets | `read_excel(calamine, dtype=str)` + one Core bulk insert of the same rows |
| import process | `python -m duban import-tickets` as a process: SQLite, the size in rows into an empty database; PostgreSQL, a tenth of it into the size's database | a bare process: `read_excel(calamine, dtype=str)` + one driver `executemany` (`bench.import_process`) |
| ledger page | `query_tickets`: one page of 50 and the filtered total | one bare indexed SQL query for the same 50 rows |
| save 50 rows | `save_ledger` of 50 edited rows (version check, audit) | one bare `UPDATE … WHERE id = ?` executemany |
| boards | each board's data as the pages call it | one bare indexed SELECT of the overdue steps with their cases |
| candidates | `find_candidates` as of the data's end, and again after a day's import | all-pairs similarity on a sample of the window, extrapolated |
| 督办单 ×500 | `render_batch` (contexts, sandbox, files, registry, zip) | bare docxtpl render + save of the same contexts |
| annual report | `render_work_report` for the last full year | a bare COUNT of the year's cases |
| 热线考核 | `score.compute` of the last full year (`bench/bench_score.py`) | a bare GROUP BY unit count of the year's tickets |
| page cost | `AppTest` run of the home, ledger, boards and case pages (`bench.pages`) | app.py's shell with a page showing only a precomputed table of the same size |
| browser (`--browser`) | p50 of what a user waits for in chromium: login form, login, page switches, a ledger save, a 督办单 downloaded (`bench.browser`) | a bare Streamlit app drawing the same widgets from precomputed data |

PostgreSQL: `DUBAN_BENCH_DATABASE_URL` (default the local `duban_bench`); each size lives in
its own schema `bench_<size>`, kept between runs and reused while its data matches (the
schema's comment holds the generator's signature), so 1,000,000 tickets are generated once.
SQLite files live in `--workdir` (a temporary folder unless given; then reused likewise).
Figures that add tickets delete them again, so reused data keeps its size (their audit rows,
the edited 备注 and the rendered documents stay: the audit log is append-only).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`: import `bench` from the repository
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, bindparam, create_engine, delete, func, select, text, update
from sqlalchemy.engine import make_url
from sqlmodel import Session

from bench import synth
from bench.measure import Figure, load_average, machine, markdown, show_time, timed
from duban.clock import now
from duban.db import make_engine, open_database
from duban.enums import Role
from duban.models import Case, ImportBatch, Ticket, Unit
from duban.permissions import SYSTEM, Actor

DEFAULT_SIZES = (10_000, 100_000)
LARGE = 1_000_000
DATABASES = ("sqlite", "postgresql")
PG_URL = os.environ.get(
    "DUBAN_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench"
)
SEED = 7
CLERK = Actor(None, "bench", Role.CENTER)
SECOND = "< 1 s"


@dataclass
class Run:
    """One database at one size: the data, and the figures measured on it."""

    database: str
    tickets: int
    engine: Engine
    url: str
    end: datetime  # the data's "now": its newest ticket
    folder: Path  # scratch space (export files, bare renders)
    figures: list[Figure] = field(default_factory=list)

    @property
    def today(self) -> date:
        return self.end.date()

    def add(
        self,
        name: str,
        seconds: float,
        peak_mb: float,
        baseline: str,
        baseline_seconds: float,
        *,
        target: str = "",
        met: bool | None = None,
        note: str = "",
    ) -> Figure:
        figure = Figure(
            self.database, self.tickets, name, seconds, peak_mb, baseline, baseline_seconds,
            target, met, note,
        )  # fmt: skip
        self.figures.append(figure)
        print(figure.line(), flush=True)
        return figure


# --- the databases -----------------------------------------------------------------------------


def database_url(database: str, tickets: int, workdir: Path, pg_url: str) -> str:
    """Where the data of one size lives (a PostgreSQL schema, or a SQLite file)."""
    if database == "sqlite":
        return f"sqlite:///{workdir / f'bench_{tickets}.db'}"
    schema = f"bench_{tickets}"
    engine = open_server(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine.dispose()
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def open_server(pg_url: str) -> Engine:
    """The PostgreSQL database itself (no schema chosen), for schemas and its description;
    created on first use, so a fresh server needs no set-up."""
    ensure_database(pg_url)
    return make_engine(pg_url)


def ensure_database(pg_url: str) -> None:
    """CREATE DATABASE for the benchmark's database if the server does not have it yet."""
    url = make_url(pg_url)
    server = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}
            ).first()
            if not found:
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        server.dispose()


def stored_signature(engine: Engine, url: str) -> dict[str, Any] | None:
    """The generator's signature stored with the data (None: no usable data there)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            comment = conn.execute(
                text(
                    "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace "
                    "WHERE nspname = current_schema()"
                )  # fmt: skip
            ).scalar()
    else:
        sidecar = Path(make_url(url).database + ".synth.json")  # type: ignore[operator]
        comment = sidecar.read_text() if sidecar.exists() else None
    return json.loads(comment) if comment else None


def store_signature(engine: Engine, url: str, signature: dict[str, Any]) -> None:
    value = json.dumps(signature)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(f"COMMENT ON SCHEMA \"{conn.execute(text('SELECT current_schema()')).scalar()}\" IS '{value}'"))  # fmt: skip
    else:
        Path(make_url(url).database + ".synth.json").write_text(value)  # type: ignore[operator]


def prepare(database: str, tickets: int, workdir: Path, pg_url: str, folder: Path) -> Run:
    """The migrated database of one size, with its synthetic data (generated or reused)."""
    url = database_url(database, tickets, workdir, pg_url)
    engine = open_database(url)
    wanted = {"version": synth.VERSION, "tickets": tickets, "seed": SEED}
    stored = stored_signature(engine, url)
    if stored and {k: stored.get(k) for k in wanted} == wanted and _count(engine) == tickets:
        end = datetime.fromisoformat(stored["end"])
        print(f"  data: reused {tickets:,} tickets generated for {end:%Y-%m-%d %H:%M}", flush=True)
    else:
        synth.reset(engine)
        started = time.perf_counter()
        end = now().replace(second=0, microsecond=0)
        sizes = synth.generate(engine, tickets, end=end, seed=SEED)
        store_signature(engine, url, {**wanted, "end": end.isoformat()})
        print(f"  data: generated {sizes.tickets:,} tickets, {sizes.cases:,} cases in "
              f"{time.perf_counter() - started:.1f} s", flush=True)  # fmt: skip
    return Run(database, tickets, engine, url, end, folder)


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Ticket)).scalar_one()


def _max_id(session: Session, model: Any) -> int:
    return session.execute(select(func.max(model.id))).scalar() or 0


# --- import ------------------------------------------------------------------------------------


def bench_import(run: Run) -> None:
    """A platform export of a tenth of the size in new tickets, into the database as it is."""
    from bench.bench_import import baseline, write_export
    from duban.importer import import_tickets

    rows = max(run.tickets // 10, 100)
    path = run.folder / "12345-export.xlsx"
    write_export(path, rows)
    with Session(run.engine) as session:
        before = {m: _max_id(session, m) for m in (Ticket, ImportBatch)}

    def ours() -> str:
        with Session(run.engine) as session:
            report = import_tickets(session, SYSTEM, path.read_bytes(), path.name)
            session.commit()
        return report.summary_line()

    base = timed(lambda: baseline(run.engine, path))
    _remove_after(run.engine, before)
    mine = timed(ours)
    _remove_after(run.engine, before)
    ratio = mine.seconds / base.seconds
    run.add(
        f"import {rows:,}-row export", mine.seconds, mine.peak_mb,
        "read_excel + Core bulk insert", base.seconds,
        target="≤ 1.5× baseline, < 1 GB", met=ratio <= 1.5 and mine.peak_mb < 1024,
        note=mine.result,
    )  # fmt: skip


def bench_import_process(run: Run) -> None:
    """`python -m duban import-tickets` as a whole process against the bare floor process:
    on SQLite the size's count of rows into an empty database, on PostgreSQL a tenth of it
    into the database as it is (`bench.import_process`)."""
    from bench.bench_import import write_export
    from bench.import_process import TARGET_MEMORY, TARGET_TIME, measure

    on_sqlite = run.database == "sqlite"
    rows = run.tickets if on_sqlite else max(run.tickets // 10, 100)
    folder = run.folder / "import-process"
    folder.mkdir(exist_ok=True)
    path = folder / "12345-export.xlsx"
    write_export(path, rows)
    tries = 3 if rows >= 10_000 else 1  # the harness's own check at a tiny size: once
    result = measure(path, folder, tries, url=None if on_sqlite else run.url)
    where = "empty database" if on_sqlite else f"{run.tickets:,}-ticket database"
    run.add(
        f"import process {rows:,} rows into {where}", result.duban.seconds, result.duban.peak_mb,
        "calamine + executemany process", result.floor.seconds,
        target=f"≤ {TARGET_TIME}× time, ≤ {TARGET_MEMORY}× floor's memory", met=result.met,
        note=f"memory {result.memory_ratio:.2f}× ({result.floor.peak_mb:.0f} MB floor); "
        f"{result.duban.output}",
    )  # fmt: skip


def _remove_after(engine: Engine, before: dict[Any, int]) -> None:
    """Delete the tickets and batches a figure added (ids above the marks taken before it).

    Their audit rows stay: the log is append-only (`duban.audit` refuses deletes).
    """
    with Session(engine) as session:
        for model in (Ticket, ImportBatch):
            session.execute(delete(model).where(model.id > before[model]))
        session.commit()


# --- ledger ------------------------------------------------------------------------------------


def ledger_filters(run: Run) -> dict[str, Any]:
    """The filters timed: the first screen, a unit's topic of the last 90 days, a keyword."""
    from duban.tickets import TicketFilter

    with Session(run.engine) as session:
        unit = session.execute(select(Unit.id).where(Unit.name == "镇城管中队")).scalar_one()
    since = run.today - timedelta(days=89)
    return {
        "no filter": TicketFilter(),
        "unit + category + 90 days": TicketFilter(
            unit_ids=(unit,), categories=("违章搭建",), date_from=since, date_to=run.today
        ),
        "keyword": TicketFilter(keyword="电梯"),
    }


def bare_page(session: Session, unit: int, since: datetime) -> list[Any]:
    """The baseline: one indexed query for a page of one unit's newest tickets."""
    stmt = text(
        "SELECT id, version, ticket_no, received_at, address, content, category, unit_id "
        "FROM ticket WHERE unit_id = :unit AND category = :category AND received_at >= :since "
        "AND deleted_at IS NULL ORDER BY received_at DESC, id DESC LIMIT 50"
    )
    return session.execute(stmt, {"unit": unit, "category": "违章搭建", "since": since}).all()


def bench_ledger(run: Run) -> None:
    from duban.tickets import query_tickets

    filters = ledger_filters(run)
    unit_filter = filters["unit + category + 90 days"]
    since = datetime.combine(unit_filter.date_from, datetime.min.time())
    with Session(run.engine) as session:
        base = timed(lambda: bare_page(session, unit_filter.unit_ids[0], since), runs=5)
        for name, flt in filters.items():
            mine = timed(lambda flt=flt: query_tickets(session, CLERK, flt), runs=3)
            page = mine.result
            run.add(
                f"ledger page: {name}", mine.seconds, mine.peak_mb,
                "bare indexed SQL (one page)", base.seconds,
                target=SECOND, met=mine.seconds < 1, note=f"{page.total:,} match, {len(page.rows)} shown",
            )  # fmt: skip


def bench_save(run: Run) -> None:
    """保存 of 50 edited rows (the center's notes) against a bare UPDATE of the same rows."""
    from duban.tickets import RowEdit, query_tickets, save_ledger

    flt = ledger_filters(run)["no filter"]
    rounds = iter(range(1000))
    edits: list[RowEdit] = []

    def load() -> None:
        edits.clear()
        n = next(rounds)
        with Session(run.engine) as session:
            rows = query_tickets(session, CLERK, flt, page_size=50).rows
        edits.extend(RowEdit(r["id"], r["version"], {"notes": f"基准测试备注 {n}"}) for r in rows)

    def ours() -> int:
        with Session(run.engine) as session:
            result = save_ledger(session, CLERK, edits=edits)
            session.commit()
        return len(result.updated)

    table = Ticket.__table__  # type: ignore[attr-defined]
    statement = (
        update(table)
        .where(table.c.id == bindparam("tid"))
        .values(notes=bindparam("n"), version=table.c.version + 1)
    )

    def bare() -> None:
        with Session(run.engine) as session:
            session.connection().execute(
                statement, [{"tid": e.ticket_id, "n": e.values["notes"] + " 基线"} for e in edits]
            )
            session.commit()

    base = timed(bare, runs=3, before=load)
    mine = timed(ours, runs=3, before=load)
    run.add(
        "save 50 edited rows", mine.seconds, mine.peak_mb, "bare UPDATE executemany", base.seconds,
        target=SECOND, met=mine.seconds < 1, note=f"{mine.result} saved",
    )  # fmt: skip


# --- boards ------------------------------------------------------------------------------------


def bench_boards(run: Run) -> None:
    from duban import boards
    from duban.boards import BoardFilter, Horizon
    from duban.enums import StepStatus
    from duban.workdays import Calendar

    with Session(run.engine) as session:
        calendar = Calendar.load(session)
        day, filt = run.today, BoardFilter()
        horizon = Horizon.of(day, calendar)
        bare = text(
            'SELECT s.id, s.due_at, c.case_no, c.title FROM step s JOIN "case" c ON c.id = s.case_id '
            "WHERE s.status = :s AND s.due_at <= :d AND c.status = :s ORDER BY s.due_at, s.id"
        )
        base = timed(
            lambda: session.execute(
                bare, {"s": StepStatus.OPEN.value, "d": horizon.overdue_through}
            ).all(),
            runs=5,
        )
        timed_boards: dict[str, Callable[[], Any]] = {
            "首页 headline": lambda: boards.headline(session, SYSTEM, day, calendar, filt),
            "逾期 overdue": lambda: boards.overdue_board(session, SYSTEM, day, calendar, filt),
            "即将到期 due soon": lambda: boards.due_soon_board(
                session, SYSTEM, day, calendar, filt
            ),
            "待提级 escalation": lambda: boards.escalation_board(session, SYSTEM, day, filt),
            "承办单位 units": lambda: boards.unit_board(session, SYSTEM, day, calendar, filt),
            "按月趋势 trend": lambda: boards.month_trend(session, SYSTEM, day, filt),
        }
        for name, fn in timed_boards.items():
            mine = timed(fn, runs=3)
            rows = mine.result
            size = f"{len(rows):,} rows" if isinstance(rows, list) else ""
            run.add(
                f"board {name}", mine.seconds, mine.peak_mb, "bare indexed SELECT (overdue)",
                base.seconds, target=SECOND, met=mine.seconds < 1, note=size,
            )  # fmt: skip


# --- candidates --------------------------------------------------------------------------------

SAMPLE = 1500


def window_tickets(session: Session, as_of: datetime, days: int) -> list[tuple[str, str, str, str]]:
    """(address key, content, category, phone) of the live tickets of the analysis window."""
    t = Ticket.__table__.c  # type: ignore[attr-defined]
    since = datetime.combine(as_of.date() - timedelta(days=days - 1), datetime.min.time())
    stmt = select(t.address_key, t.content, t.category, t.phone).where(
        t.deleted_at.is_(None), t.received_at >= since, t.received_at <= as_of
    )
    return [tuple(r) for r in session.execute(stmt)]  # type: ignore[misc]


def bench_candidates(run: Run) -> None:
    """Detection as of the data's end with the same-matter index built from nothing (the
    first run), then after a day's import, incrementally (only the new tickets prepared);
    each against all pairs on a sample of the analysis window, extrapolated to the window."""
    from bench.bench_candidates import all_pairs
    from duban.analysis import Thresholds, find_candidates

    with Session(run.engine) as session:
        th = Thresholds.load(session)
        window = window_tickets(session, run.end, th.repeat_window_days)
    sample = random.Random(5).sample(window, min(SAMPLE, len(window)))
    started = time.perf_counter()
    columns = [list(c) for c in zip(*sample, strict=True)] if sample else [[], [], [], []]
    addresses, contents, categories, phones = columns
    all_pairs(addresses, contents, categories, phones, th.similarity_percent)
    measured = time.perf_counter() - started
    n, k = len(window), len(sample)
    extrapolated = measured * (n * (n - 1)) / max(k * (k - 1), 1)
    baseline = f"all pairs ({k:,} sampled → {n:,})"

    def detect(as_of: datetime, rebuild: bool = False) -> Any:
        with Session(run.engine) as session:
            found = find_candidates(session, SYSTEM, as_of, th, rebuild=rebuild)
            session.commit()  # the index kept, as the page keeps it
            return found

    def indexed(found: Any) -> str:
        done = found.index
        return (f"{len(found.groups):,} groups; index: {done.prepared:,} tickets prepared, "
                f"{done.links:,} links, {show_time(done.seconds)}")  # fmt: skip

    mine = timed(lambda: detect(run.end, rebuild=True))
    run.add(
        "candidates, first run (index built)", mine.seconds, mine.peak_mb, baseline,
        extrapolated, target="< 60 s", met=mine.seconds < 60,
        note=f"{n:,} tickets in the window; {indexed(mine.result)}",
    )  # fmt: skip
    with Session(run.engine) as session:
        mark = _max_id(session, Ticket)
    added = synth.add_tickets(run.engine, max(1, run.tickets // synth.SPAN_DAYS), run.end)
    try:
        mine = timed(lambda: detect(run.end + timedelta(days=1)))
    finally:  # the index's keys of these tickets go with them (ON DELETE CASCADE)
        with Session(run.engine) as session:
            session.execute(delete(Ticket).where(Ticket.id > mark))
            session.commit()
    run.add(
        f"candidates after a day ({len(added):,} new), incremental", mine.seconds,
        mine.peak_mb, baseline, extrapolated, target="< 60 s", met=mine.seconds < 60,
        note=indexed(mine.result),
    )  # fmt: skip


# --- documents and the report ------------------------------------------------------------------


def bench_render(run: Run) -> None:
    from bench.bench_render import bare, contexts
    from duban.documents import DEFAULT_TEMPLATES, KINDS, render_batch
    from duban.enums import DocumentKind

    with Session(run.engine) as session:
        case_ids = list(
            session.execute(select(Case.id).order_by(Case.id.desc()).limit(500)).scalars()  # type: ignore[union-attr]
        )
        ctxs = contexts(session, case_ids)
    template = DEFAULT_TEMPLATES / KINDS[DocumentKind.SUPERVISION_FORM].template
    out = run.folder / "bare"
    out.mkdir(exist_ok=True)
    bare(template, ctxs[:5], out)  # warm-up: imports, caches

    def ours() -> int:
        with Session(run.engine) as session:
            result = render_batch(session, SYSTEM, "supervision-form", case_ids)
            session.commit()
        return len(result.documents)

    base = timed(lambda: bare(template, ctxs, out))
    mine = timed(ours)
    ratio = mine.seconds / base.seconds
    run.add(
        f"督办单 ×{len(case_ids)} (batch + zip)", mine.seconds, mine.peak_mb,
        "bare docxtpl render + save", base.seconds,
        target="≤ 1.3× baseline", met=ratio <= 1.3, note=f"{mine.result} rendered",
    )  # fmt: skip


def bench_report(run: Run) -> None:
    from duban.kpi import Period
    from duban.reports import render_work_report

    year = run.end.year - 1
    period = Period.year(year)
    with Session(run.engine) as session:
        count = (
            select(func.count())
            .select_from(Case)
            .where(
                Case.opened_at.between(period.start, period.end)  # type: ignore[attr-defined]
            )
        )
        base = timed(lambda: session.execute(count).scalar_one(), runs=5)

        def ours() -> Any:
            result = render_work_report(session, SYSTEM, period, as_of=run.today)
            session.rollback()
            return result

        mine = timed(ours)
    run.add(
        f"annual report {year}", mine.seconds, mine.peak_mb, "bare COUNT of the year's cases",
        base.seconds, target="< 5 s", met=mine.seconds < 5,
        note=f"{base.result:,} cases, {len(mine.result.content) // 1024} KB docx",
    )  # fmt: skip


def bench_score(run: Run) -> None:
    """热线考核 of the data's last full year (a third of its tickets: synth spans three years;
    `python -m bench.bench_score` scores a year of 1,000,000)."""
    from bench.bench_score import measure
    from duban.kpi import Period

    run.figures.append(
        measure(run.engine, Period.year(run.end.year - 1), run.database, run.tickets)
    )


def bench_browser(run: Run) -> None:
    """What a user waits for in chromium, against a bare Streamlit app (`bench.browser`):
    ten tries of each step at 10,000 tickets and more, one at a tiny size."""
    from bench.browser import figures, measure

    folder = run.folder / "browser"
    folder.mkdir(exist_ok=True)
    outcome = measure(run.url, folder, tries=10 if run.tickets >= 10_000 else 1)
    for figure in figures(outcome, run.database, run.tickets):
        run.figures.append(figure)
        print(figure.line(), flush=True)


def bench_pages(run: Run) -> None:
    from bench.pages import page_figures

    for figure in page_figures(run.url, run.database, run.tickets, run.folder):
        run.figures.append(figure)
        print(figure.line(), flush=True)


BENCHES: dict[str, Callable[[Run], None]] = {
    "import": bench_import,
    "import-process": bench_import_process,
    "ledger": bench_ledger,
    "save": bench_save,
    "boards": bench_boards,
    "candidates": bench_candidates,
    "render": bench_render,
    "report": bench_report,
    "score": bench_score,
    "pages": bench_pages,
    "browser": bench_browser,
}
OPTIONAL = {"browser"}  # only with --browser or --only: minutes per database and size


# --- the command ---------------------------------------------------------------------------------


def postgres_description(pg_url: str) -> str:
    engine = open_server(pg_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
            settings = {
                name: conn.execute(text(f"SHOW {name}")).scalar()
                for name in ("shared_buffers", "work_mem", "effective_cache_size")
            }
    finally:
        engine.dispose()
    return f"PostgreSQL {version} (" + ", ".join(f"{k}={v}" for k, v in settings.items()) + ")"


def parse_sizes(value: str) -> tuple[int, ...]:
    """`10000,100000` or `10_000,100_000`."""
    return tuple(int(part.replace("_", "")) for part in value.split(",") if part.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=DEFAULT_SIZES,
                        help="ticket counts, comma separated (default 10000,100000)")  # fmt: skip
    parser.add_argument("--large", action="store_true", help="add 1,000,000 tickets")
    parser.add_argument("--databases", default=",".join(DATABASES),
                        help="sqlite, postgresql or both (comma separated)")  # fmt: skip
    parser.add_argument("--pg-url", default=PG_URL, help="PostgreSQL database for the schemas")
    parser.add_argument("--workdir", type=Path, help="keep the SQLite files here (reused)")
    parser.add_argument("--only", help="comma separated: " + ",".join(BENCHES))
    parser.add_argument("--skip", default="", help="comma separated figures to leave out")
    parser.add_argument("--browser", action="store_true",
                        help="add the browser figures (bench.browser: chromium, two servers)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--markdown", type=Path, help="also write the tables (docs/PERFORMANCE.md)")
    args = parser.parse_args(argv)
    sizes = tuple(args.sizes) + ((LARGE,) if args.large and LARGE not in args.sizes else ())
    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    default = [b for b in BENCHES if b not in OPTIONAL or (b == "browser" and args.browser)]
    wanted = [b for b in (args.only.split(",") if args.only else default) if b not in args.skip]
    unknown = [b for b in wanted if b not in BENCHES] + [d for d in databases if d not in DATABASES]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")

    started = time.perf_counter()
    info = machine()
    print("machine: " + "; ".join(f"{k} {v}" for k, v in info.items()))
    if "postgresql" in databases:
        try:
            info["postgresql"] = postgres_description(args.pg_url)
        except Exception as exc:  # noqa: BLE001 - report and go on with SQLite
            print(f"PostgreSQL unavailable ({exc.__class__.__name__}: {exc}); SQLite only")
            databases.remove("postgresql")
        else:
            print(info["postgresql"])
    print(f"load average at start: {load_average():.1f}", flush=True)
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="duban-bench-") as tmp:
        scratch = Path(tmp)
        workdir = args.workdir or scratch
        workdir.mkdir(parents=True, exist_ok=True)
        os.environ["DUBAN_DATA_DIR"] = str(scratch / "data")
        for tickets in sizes:
            for database in databases:
                print(f"\n== {database}, {tickets:,} tickets ==", flush=True)
                folder = scratch / f"{database}-{tickets}"
                folder.mkdir()
                run = prepare(database, tickets, workdir, args.pg_url, folder)
                for name in wanted:
                    section = time.perf_counter()
                    BENCHES[name](run)
                    print(f"  ({name}: {show_time(time.perf_counter() - section)})", flush=True)
                run.engine.dispose()
                figures.extend(run.figures)
    missed = [f for f in figures if f.met is False]
    print(f"\n{len(figures)} figures in {show_time(time.perf_counter() - started)}; "
          f"load average at end: {load_average():.1f}")  # fmt: skip
    for figure in missed:
        print(f"MISSED: {figure.database} {figure.tickets:,} {figure.name}: "
              f"{show_time(figure.seconds)} (target {figure.target})")  # fmt: skip
    if args.markdown:
        args.markdown.write_text(markdown(figures))
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": info, "figures": [f.as_dict() for f in figures]},
                ensure_ascii=False,
                indent=1,
                default=str,
            )  # fmt: skip
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
