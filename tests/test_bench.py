"""The benchmark harness (`bench/`) at a tiny size: the scripts work, and the load test's
consistency check catches what it must. No timings are asserted (the issue: "speed targets
are measured by bench/ scripts printing ratios against a baseline run in the same process").
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from bench import load, run, synth
from bench.floor import BARE_FLOOR_SCRIPT, set_floor_tables
from bench.pages import Shown, shown_size
from duban import audit
from duban.db import open_database
from duban.enums import Role
from duban.models import Case, CaseTicket, Feedback, Step, Ticket
from duban.permissions import Actor
from duban.tickets import RowEdit, save_ledger
from tests.factories import make_case, make_feedback, make_step, make_ticket, make_unit

CLERK = Actor(None, "clerk", Role.CENTER)
ROOT = Path(__file__).resolve().parent.parent
END = datetime(2024, 6, 28, 18, 0)


def rows_of(engine, model) -> list[tuple]:
    """Every row of a table (without its generated timestamps), in id order."""
    table = model.__table__
    columns = [c for c in table.columns if c.name not in ("created_at", "updated_at")]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*columns).order_by(*table.primary_key))]


def test_synthetic_data_is_deterministic_and_proportional(tmp_path: Path) -> None:
    """ "Synthetic data … with proportional cases, steps and feedback, generated quickly and
    deterministically"."""
    first = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    second = open_database(f"sqlite:///{tmp_path / 'b.db'}")
    sizes = synth.generate(first, 300, end=END)
    synth.generate(second, 300, end=END)
    assert rows_of(first, Ticket) == rows_of(second, Ticket)
    assert rows_of(first, Step) == rows_of(second, Step)
    with Session(first) as session:
        count = lambda model: session.execute(select(func.count()).select_from(model)).scalar()  # noqa: E731
        assert count(Ticket) == 300
        assert count(Case) == sizes.cases == 30
        assert count(Step) >= count(Case)  # one step per level passed
        assert 0 < count(Feedback) <= count(Step)
        assert count(CaseTicket) >= count(Case)
        newest = session.execute(select(func.max(Ticket.received_at))).scalar()
        repeated = session.execute(
            select(Ticket.address_norm).group_by(Ticket.address_norm).having(func.count() > 1)
        ).all()
    assert newest <= END
    assert repeated, "some addresses are complained about again (work for the candidate rules)"


def test_a_days_new_tickets_arrive_after_the_data(tmp_path: Path) -> None:
    engine = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    synth.generate(engine, 200, end=END)
    ids = synth.add_tickets(engine, 5, END)
    with Session(engine) as session:
        added = session.execute(select(Ticket.received_at).where(Ticket.id.in_(ids))).scalars()
        assert all(END < at <= END.replace(day=29) for at in added)
    assert len(ids) == 5


def test_harness_measures_every_figure_beside_its_baseline(tmp_path: Path) -> None:
    """ "For each size, on SQLite …: import of an export file; one filtered ledger page; saving
    50 edited rows; each board's data; candidate detection; rendering 500 督办单; the annual
    report. Each figure is printed beside its baseline … as a ratio, with peak memory" — and
    the page cost against the framework's floor."""
    out = tmp_path / "figures.json"
    assert run.main(["--sizes", "300", "--databases", "sqlite", "--workdir", str(tmp_path),
                     "--json", str(out)]) == 0  # fmt: skip
    figures = json.loads(out.read_text())["figures"]
    names = [f["name"] for f in figures]
    for expected in ("import", "import process 300 rows into empty database", "ledger page: unit + category + 90 days", "save 50 edited rows",
                     "board 逾期 overdue", "board 承办单位 units", "candidates",
                     "candidates after a day", "督办单", "annual report", "page 工单台账",
                     "page 看板 逾期", "page 督办事项"):  # fmt: skip
        assert any(name.startswith(expected) for name in names), expected
    for figure in figures:
        assert figure["database"] == "sqlite" and figure["tickets"] == 300
        assert figure["seconds"] > 0 and figure["baseline_seconds"] > 0
        assert figure["ratio"] == pytest.approx(figure["seconds"] / figure["baseline_seconds"])
        assert figure["peak_mb"] > 0 and figure["baseline"]


def test_the_benchmark_command_runs_as_a_module_and_as_a_script(tmp_path: Path) -> None:
    """ "one command runs them all: `python -m bench` or `python bench/run.py`" (the script
    from any folder)."""
    for command, folder in ((["-m", "bench"], ROOT), ([str(ROOT / "bench" / "run.py")], tmp_path)):
        done = subprocess.run([sys.executable, *command, "--help"], cwd=folder,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "--large" in done.stdout


def test_harness_leaves_the_data_as_it_found_it(tmp_path: Path) -> None:
    """Stored data is reused between runs, so every figure that writes removes its rows."""
    assert run.main(["--sizes", "300", "--databases", "sqlite", "--workdir", str(tmp_path),
                     "--only", "import,candidates"]) == 0  # fmt: skip
    engine = open_database(f"sqlite:///{tmp_path / 'bench_300.db'}")
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(Ticket)).scalar() == 300
    signature = run.stored_signature(engine, f"sqlite:///{tmp_path / 'bench_300.db'}")
    assert signature is not None and signature["tickets"] == 300


# --- the load test's consistency check -----------------------------------------------------------


@pytest.fixture
def shared_ticket(session: Session) -> Ticket:
    ticket = make_ticket(session, address="示例镇压测路01号")
    session.commit()
    return ticket


def append_note(session: Session, ticket: Ticket, version: int, note: str) -> None:
    """One 保存 of the ledger, as the page does it (version check, audit row)."""
    result = save_ledger(session, CLERK, edits=[RowEdit(ticket.id, version, {"notes": note})])
    session.commit()
    assert result.updated


def test_consistency_check_passes_when_every_acknowledged_save_landed_once(engine, session, shared_ticket) -> None:  # fmt: skip
    """ "… every acknowledged save is in the database exactly once and no save was silently lost
    or overwritten"."""
    append_note(session, shared_ticket, 1, "L00-0001")
    append_note(session, shared_ticket, 2, "L00-0001 L01-0001")
    acks = load.Acks(notes={"L00-0001": "压测路01号", "L01-0001": "压测路01号"})
    assert load.check(engine.url.render_as_string(hide_password=False), acks) == []


def test_consistency_check_finds_a_lost_update(engine, session, shared_ticket) -> None:
    """Two saves that both read the empty 备注: the second, written over the first without the
    version check stopping it, drops the first's marker. The check names the lost marker and
    the save that replaced a value it had not seen."""
    append_note(session, shared_ticket, 1, "L00-0001")
    row = session.get(Ticket, shared_ticket.id)
    row.notes = "L01-0001"  # what a racing save that read "" would write, with its audit row
    audit.record_changes(session, CLERK, "ticket", row.id, {"notes": ("", "L01-0001")})
    session.commit()
    acks = load.Acks(notes={"L00-0001": "压测路01号", "L01-0001": "压测路01号"})
    problems = load.check(engine.url.render_as_string(hide_password=False), acks)
    assert "ticket marker L00-0001: in the 备注 of 压测路01号 0 times" in problems
    assert any(p.startswith("示例镇压测路01号: a save replaced ''") for p in problems)


def test_consistency_check_names_the_save_that_dropped_a_marker(engine, session, shared_ticket) -> None:  # fmt: skip
    """A save accepted on the current version whose text was typed over an older 备注 (the
    audit chain holds, the marker is gone): the check names who wrote over it, and when."""
    append_note(session, shared_ticket, 1, "L00-0001")
    append_note(session, shared_ticket, 2, "L01-0001")  # typed over "", saved on version 2
    acks = load.Acks(notes={"L00-0001": "压测路01号", "L01-0001": "压测路01号"})
    problems = load.check(engine.url.render_as_string(hide_password=False), acks)
    assert len(problems) == 1, problems
    assert problems[0].startswith("ticket marker L00-0001: in the 备注 of 压测路01号 0 times "
                                  "(dropped by clerk at ")  # fmt: skip
    assert problems[0].endswith("wrote 'L01-0001' over 'L00-0001')")


def test_consistency_check_says_where_a_misplaced_marker_is(engine, session, shared_ticket) -> None:  # fmt: skip
    """A save acknowledged for one ticket that went to another (the grid still showed the
    last filter's row): reported as missing where it was meant, found where it is."""
    other = make_ticket(session, address="示例镇压测路02号")
    session.commit()
    append_note(session, other, 1, "L00-0001")
    acks = load.Acks(notes={"L00-0001": "压测路01号"})
    problems = load.check(engine.url.render_as_string(hide_password=False), acks)
    assert problems == ["ticket marker L00-0001: in the 备注 of 压测路01号 0 times "
                        "(found in 压测路02号)"]  # fmt: skip


def test_consistency_check_finds_doubled_feedback_and_landed_refusals(engine, session, shared_ticket) -> None:  # fmt: skip
    unit = make_unit(session, "镇城建中心")
    step = make_step(session, make_case(session, unit))
    make_feedback(session, step, text="F00-0001")
    make_feedback(session, step, text="F00-0001")
    session.commit()
    append_note(session, shared_ticket, 1, "L02-0001")
    acks = load.Acks(feedback={"F00-0001": "case"}, refused={"L02-0001"})
    problems = load.check(engine.url.render_as_string(hide_password=False), acks)
    assert "feedback marker F00-0001: in 2 feedback rows" in problems
    assert "the refused save L02-0001 is in the database" in problems


def test_floor_page_shows_the_tables_it_is_given() -> None:
    """The floor is "a page that only shows a precomputed table of the same size": the bare
    floor script shows exactly the rows and columns set for it (the harness also refuses a
    floor run that shows anything else)."""
    set_floor_tables(rows=40, edited=7, columns=5)
    at = AppTest.from_string(BARE_FLOOR_SCRIPT).run()
    assert shown_size(at) == Shown(rows=40, edited=7, columns=5)
