"""Synthetic data at scale for the benchmarks: tickets with proportional cases, steps, feedback.

Deterministic (seeded numpy) and fast: rows are generated column-wise and written with
SQLAlchemy Core bulk inserts in chunks, so 1,000,000 tickets take about a minute.
Proportions follow the demo town: one case per 10 tickets, 1–3 steps per case, feedback on
most steps; a share of tickets repeats an address so candidate detection has real work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import Engine, insert, text
from sqlmodel import Session, SQLModel

from duban.clock import now
from duban.demo import TOPICS, _ensure_units
from duban.enums import CallbackResult, CaseStatus, Level, Progress, Scope, StepKind, StepStatus
from duban.models import Case, CaseTicket, CaseUnit, Feedback, Step, Ticket
from duban.text import normalize_address

CHUNK = 20_000
ROADS = ["示例路", "和平路", "育才路", "新城大道", "惠民路", "丰收路", "赵中路", "业辉路"]
STATUSES = np.array(["已办结", "已办结", "已办结", "处理中", "待回访"])
CALLBACKS = np.array([c.value for c in CallbackResult])


@dataclass(frozen=True)
class Sizes:
    tickets: int

    @property
    def cases(self) -> int:
        return max(1, self.tickets // 10)


def reset(engine: Engine) -> None:
    """Empty every table (keeps the migrated schema)."""
    tables = list(reversed(SQLModel.metadata.sorted_tables))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(table.delete())


def ticket_rows(n: int, unit_ids: list[int], end: datetime, seed: int = 7) -> list[dict]:
    """N ticket rows as dicts for a Core insert; ~20 % share an address with others."""
    rng = np.random.default_rng(seed)
    minutes = np.sort(rng.integers(0, 3 * 365 * 24 * 60, n))[::-1]
    topic_idx = rng.integers(0, len(TOPICS), n)
    road_idx = rng.integers(0, len(ROADS), n)
    numbers = rng.integers(1, max(900, n // 20), n)
    hot = rng.random(n) < 0.2  # hot spots: few addresses, many complaints
    numbers[hot] = rng.integers(1, 40, hot.sum())
    units = rng.choice(np.array(unit_ids), n)
    statuses = rng.choice(STATUSES, n)
    callbacks = rng.choice(CALLBACKS, n)
    phones = rng.integers(10**8, 10**9 - 1, n)
    stamp = now()
    rows = []
    for i in range(n):
        received = end - timedelta(minutes=int(minutes[i]))
        category, _, texts = TOPICS[topic_idx[i]]
        content = texts[i % len(texts)]
        address = f"示例镇{ROADS[road_idx[i]]}{numbers[i]}号"
        rows.append(
            {
                "ticket_no": f"{received:%y%m%d}{i:07d}",
                "received_at": received,
                "title": content[:20],
                "address": address,
                "address_norm": normalize_address(address),
                "content": content,
                "category": category,
                "caller": "张先生" if i % 2 else "李女士",
                "phone": f"147{phones[i]:08d}"[:11],
                "unit_id": int(units[i]),
                "unit_raw": "",
                "platform_due_at": received + timedelta(days=7),
                "platform_status": str(statuses[i]),
                "callback_result": str(callbacks[i]),
                "resolved": bool(statuses[i] == "已办结"),
                "city_supervised": bool(i % 997 == 0),
                "raw": {},
                "notes": "",
                "tags": "",
                "repeat_group": "",
                "created_at": stamp,
                "updated_at": stamp,
                "version": 1,
            }
        )
    return rows


def insert_chunks(session: Session, table, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(table), rows[start : start + CHUNK])


def generate(engine: Engine, tickets: int, end: datetime | None = None, seed: int = 7) -> Sizes:
    """Fill an empty, migrated database with `tickets` tickets and proportional cases."""
    sizes = Sizes(tickets)
    end = end or now()
    rng = np.random.default_rng(seed + 1)
    with Session(engine) as session:
        unit_ids = list(_ensure_units(session).values())
        insert_chunks(session, Ticket, ticket_rows(tickets, unit_ids, end, seed))
        session.commit()
        _cases(session, sizes, unit_ids, end.date(), rng)
        session.commit()
    return sizes


def _cases(session: Session, sizes: Sizes, unit_ids: list[int], today: date, rng) -> None:
    """Cases linked to every tenth ticket, with steps and feedback in every state."""
    n = sizes.cases
    stamp = now()
    levels = list(Level)
    scopes = list(Scope)
    kinds = {
        Level.WRITTEN: StepKind.SUPERVISION_FORM,
        Level.ONSITE: StepKind.ONSITE_NOTICE,
        Level.ESCALATED: StepKind.ESCALATED_HANDLING,
    }
    opened = [today - timedelta(days=int(d)) for d in rng.integers(0, 3 * 365, n)]
    level_idx = rng.choice(3, n, p=[0.6, 0.25, 0.15])
    closed = rng.random(n) < 0.7
    cases, links, units, steps = [], [], [], []
    for i in range(n):
        level = levels[level_idx[i]]
        unit = int(unit_ids[i % len(unit_ids)])
        cases.append(
            {
                "id": i + 1,
                "case_no": f"基准督〔{opened[i].year}〕第{i + 1:07d}号",
                "year": opened[i].year,
                "seq": i + 1,
                "title": "基准督办事项",
                "scope": scopes[i % len(scopes)].value,
                "scope_reason": "",
                "level": level.value,
                "start_level_reason": "",
                "status": (CaseStatus.CLOSED if closed[i] else CaseStatus.OPEN).value,
                "lead_unit_id": unit,
                "source_note": "",
                "related_info": "",
                "opinion": "",
                "result_text": "",
                "opened_at": opened[i],
                "closed_at": opened[i] + timedelta(days=10) if closed[i] else None,
                "verification_note": "",
                "reopen_reason": "",
                "typical_text": "",
                "created_at": stamp,
                "updated_at": stamp,
                "version": 1,
            }
        )
        links.append({"case_id": i + 1, "ticket_id": i * 10 + 1})
        units.append({"case_id": i + 1, "unit_id": unit, "role": "lead"})
        for rank in range(level.rank + 1):
            issued = opened[i] + timedelta(days=7 * rank)
            current = rank == level.rank
            status = StepStatus.OPEN if current and not closed[i] else (
                StepStatus.CLOSED if current else StepStatus.ESCALATED
            )
            steps.append(
                {
                    "case_id": i + 1,
                    "level": levels[rank].value,
                    "kind": kinds[levels[rank]].value,
                    "status": status.value,
                    "unit_id": unit,
                    "issued_at": issued,
                    "due_workdays": 5,
                    "due_at": issued + timedelta(days=7),
                    "due_provisional": False,
                    **{k: "" for k in ("subject", "body", "attendees", "remark", "visit_findings", "escalation_reason")},
                    "recipient": "",
                    "location": "",
                    "contact_name": "",
                    "contact_phone": "",
                    "closed_at": issued + timedelta(days=6) if status != StepStatus.OPEN else None,
                    "on_time": bool(rng.random() < 0.8) if status != StepStatus.OPEN else None,
                    "margin_workdays": int(rng.integers(-3, 5)) if status != StepStatus.OPEN else None,
                    "created_at": stamp,
                    "updated_at": stamp,
                    "version": 1,
                }
            )
    insert_chunks(session, Case, cases)
    insert_chunks(session, CaseTicket, links)
    insert_chunks(session, CaseUnit, units)
    insert_chunks(session, Step, steps)
    session.flush()
    if session.bind.dialect.name == "postgresql":
        session.execute(text("SELECT setval(pg_get_serial_sequence('\"case\"', 'id'), (SELECT max(id) FROM \"case\"))"))
    step_ids = session.execute(text("SELECT id, issued_at, status, unit_id FROM step")).all()
    feedback = []
    for step_id, issued, status, unit in step_ids:
        if status == StepStatus.OPEN.value and rng.random() < 0.5:
            continue
        issued_day = issued if isinstance(issued, date) else date.fromisoformat(str(issued)[:10])
        stamped = bool(rng.random() < 0.9)
        feedback.append(
            {
                "step_id": step_id,
                "unit_id": unit,
                "received_at": issued_day + timedelta(days=int(rng.integers(1, 10))),
                "text": "已按要求处置",
                "signed": True,
                "stamped": stamped,
                "compliant": stamped,
                "on_time": True,
                "progress": (Progress.DONE if status != StepStatus.ESCALATED.value else Progress.NONE).value,
                "created_at": stamp,
                "updated_at": stamp,
                "version": 1,
            }
        )
    insert_chunks(session, Feedback, feedback)
