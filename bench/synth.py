"""Synthetic data at scale for the benchmarks: tickets with proportional cases, steps, feedback.

Deterministic (seeded) and streamed: tickets are generated in chunks of `CHUNK` and written
with SQLAlchemy Core bulk inserts, so memory stays flat whatever the size (1,000,000 tickets
never sit in one list). Proportions follow a busy district:

- tickets spread over `SPAN_DAYS` (three years) up to `end`, oldest first (ids grow with
  time, as imports add them); the last 30 days are still being handled on the platform;
- the shapes the candidate rules look for, at the rates of `bench/bench_candidates.py`:
  specific, nested, vague and missing addresses; one caller complaining again and again,
  reworded, over days or weeks; many callers about one place in one wording;
- one case per 10 tickets (linked to one to three of them), opened a few days after its
  first ticket, 60 % 书面 / 25 % 现场 / 15 % 提级 with one step per level passed; cases
  older than 60 days are nearly all closed, recent ones mostly open, so the boards show
  what a real office sees (a few thousand open steps at 1,000,000 tickets, not 30,000);
- feedback on most steps, 90 % of it signed and stamped.

`generate(engine, tickets)` fills an empty, migrated database; `add_tickets` appends a
day's worth of new tickets after `end` (the daily import the incremental analysis sees).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from psycopg.types.json import Json
from sqlalchemy import JSON, Engine, Table, func, select, text
from sqlmodel import Session, SQLModel

from duban.address import parse_prefixes
from duban.clock import now
from duban.db import refresh_statistics
from duban.demo import TOPICS, VILLAGES, _ensure_units
from duban.enums import CallbackResult, CaseStatus, Level, Progress, Scope, StepKind, StepStatus
from duban.models import Case, CaseTicket, CaseUnit, Feedback, Step, Ticket
from duban.settings import DEFAULTS
from duban.standard_address import address_columns
from duban.text import normalize_address

PREFIXES = parse_prefixes(DEFAULTS["address_prefixes"])
VERSION = 4  # bump when the data's shape changes: stored copies are then regenerated
CHUNK = 10_000
SPAN_DAYS = 3 * 365
HANDLING_DAYS = 30  # tickets younger than this are mostly still open on the platform
RECENT_CASE_DAYS = 60  # cases older than this are nearly all closed
SURNAMES = "张王李赵刘陈杨黄周吴徐孙朱马胡郭林何高罗"
ROADS = [f"{a}{b}路" for a in "东西南北中新和育惠丰赵业" for b in ("平", "安", "兴", "华", "民")]
ESTATES = [
    f"{a}{b}{c}" for a in "和丰惠育新金" for b in "睦泽民才城桥" for c in ("苑", "家园", "新村")
]
DETAILS = ["已经持续一周", "晚上尤其严重", "老人孩子受影响", "之前打过电话", "希望尽快派人查看",
           "周边居民意见很大", "物业说不归他们管", "存在安全隐患", "拍了照片可以提供",
           "要求给个说法"]  # fmt: skip
OPEN_STATUSES = ["处理中", "已派遣", "待回访"]
CALLBACKS = [CallbackResult.SATISFIED.value] * 5 + [
    CallbackResult.BASIC.value,
    CallbackResult.UNSATISFIED.value,
    CallbackResult.UNSATISFIED.value,
    CallbackResult.NONE.value,
]
RELATED = "该诉求此前已派单 3 次，市民对办理结果<不满意>，要求给个说法"  # markup-like text, escaped
OPINION = "请现场核查，依法处置，并在 5 个工作日内将处置情况书面反馈镇城运中心。"
STEP_KINDS = {
    Level.WRITTEN: StepKind.SUPERVISION_FORM,
    Level.ONSITE: StepKind.ONSITE_NOTICE,
    Level.ESCALATED: StepKind.ESCALATED_HANDLING,
}


@dataclass(frozen=True)
class Sizes:
    tickets: int

    @property
    def cases(self) -> int:
        return max(1, self.tickets // 10)


def signature(tickets: int, end: datetime, seed: int) -> str:
    """What a stored copy of the data must match to be reused instead of regenerated."""
    return f"bench.synth v{VERSION} tickets={tickets} seed={seed} end={end:%Y-%m-%dT%H:%M}"


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


# --- tickets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spec:
    """What the tickets of one complaint (or one group of them) share."""

    address: str
    category: str
    texts: tuple[str, ...]
    unit: int
    caller: str = ""  # "" : a new caller per ticket
    phone: str = ""
    wording: str = ""  # "" : reworded per ticket


def _address(rng: random.Random) -> str:
    """Mostly specific addresses; some nested variants, some vague, a few missing."""
    roll = rng.random()
    if roll < 0.55:
        return f"示例镇{rng.choice(ROADS)}{rng.randrange(1, 1500)}号"
    estate, building = rng.choice(ESTATES), rng.randrange(1, 80)
    if roll < 0.80:
        return f"示例镇{estate}{building}号楼"
    if roll < 0.85:  # the same building written shorter, or with the flat
        return rng.choice(
            [f"{estate}{building}号楼", f"示例镇{estate}{building}号楼{rng.randrange(101, 1802)}室"]
        )
    if roll < 0.97:
        return rng.choice([f"示例镇{rng.choice(ROADS)}", f"示例镇{estate}"])
    return ""


def _content(rng: random.Random, texts: tuple[str, ...]) -> str:
    words = [rng.choice(texts), *rng.sample(DETAILS, rng.randrange(0, 3))]
    if rng.random() < 0.5:
        words.append(f"已反映{rng.randrange(2, 9)}次")
    return "，".join(words)


def _caller(rng: random.Random) -> tuple[str, str]:
    return rng.choice(SURNAMES) + rng.choice(["先生", "女士"]), f"147{rng.randrange(10**8):08d}"


def _spec(rng: random.Random, units: dict[str, int]) -> _Spec:
    category, department, texts = rng.choice(TOPICS)
    owner = department if rng.random() < 0.6 else rng.choice(VILLAGES)
    return _Spec(_address(rng), category, tuple(texts), units[owner])


def ticket_rows(
    n: int,
    units: dict[str, int],
    end: datetime,
    *,
    seed: int = 7,
    span_days: int = SPAN_DAYS,
    number_prefix: str = "",
) -> Iterator[list[dict[str, Any]]]:
    """`n` tickets received within `span_days` before `end`, oldest first, in chunks.

    80 % are single complaints; 15 % start a run of 2–5 complaints by one caller about
    one place, reworded, days to weeks apart; 5 % start 3–8 callers about one place in one
    wording within three weeks. Members of a run are placed ahead in the stream at the
    indices their dates fall on, so the stream never holds more than the open runs.
    """
    rng = random.Random(seed)
    offsets = np.sort(np.random.default_rng(seed).integers(0, span_days * 24 * 60, n))[::-1]
    per_day = max(n / span_days, 1e-9)
    ahead: dict[int, tuple[_Spec, str]] = {}  # index → (group's spec, its fixed wording or "")
    clean: dict[str, str] = {}
    stamp = now()
    chunk: list[dict[str, Any]] = []
    for i in range(n):
        spec, wording = ahead.pop(i, (None, ""))
        if spec is None:
            spec = _spec(rng, units)
            roll = rng.random()
            if roll < 0.15:  # one caller, again and again, reworded
                name, phone = _caller(rng)
                spec = _Spec(spec.address, spec.category, spec.texts, spec.unit, name, phone)
                _schedule(ahead, i, rng.randrange(1, 5), (1, 15), per_day, n, (spec, ""))
            elif roll < 0.20:  # many callers, one place, one wording
                wording = _content(rng, spec.texts)
                _schedule(ahead, i, rng.randrange(2, 8), (0, 3), per_day, n, (spec, wording))
        caller, phone = (spec.caller, spec.phone) if spec.caller else _caller(rng)
        content = wording or _content(rng, spec.texts)
        received = (end - timedelta(minutes=int(offsets[i]))).replace(second=0, microsecond=0)
        open_ = (end - received).days < HANDLING_DAYS and rng.random() < 0.7
        status = rng.choice(OPEN_STATUSES) if open_ else "已办结"
        callback = rng.choice(CALLBACKS) if not open_ else CallbackResult.NONE.value
        address = spec.address
        chunk.append(
            {
                "ticket_no": f"{number_prefix}{received:%y%m%d}{i:07d}",
                "received_at": received,
                "title": content[:20],
                "address": address,
                "address_norm": clean.get(address) or clean.setdefault(address, normalize_address(address)),
                **address_columns(address, PREFIXES),
                "content": content,
                "category": spec.category,
                "caller": caller,
                "phone": phone,
                "unit_id": spec.unit,
                "unit_raw": "",
                "platform_due_at": received + timedelta(days=7),
                "platform_status": status,
                "callback_result": callback,
                "resolved": not open_,
                "city_supervised": rng.random() < 0.005,
                "raw": {},
                "notes": "",
                "tags": "",
                "repeat_group": "",
                "created_at": stamp,
                "updated_at": stamp,
                "version": 1,
            }
        )  # fmt: skip
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _schedule(
    ahead: dict[int, tuple[_Spec, str]],
    start: int,
    more: int,
    gap_days: tuple[int, int],
    per_day: float,
    n: int,
    value: tuple[_Spec, str],
) -> None:
    """Place `more` further tickets of a group at the indices `gap_days` apart fall on."""
    position = float(start)
    rng = random.Random(start)
    for _ in range(more):
        position += max(1.0, rng.uniform(*gap_days) * per_day)
        index = int(position)
        while index in ahead:
            index += 1
        if index >= n:
            return
        ahead[index] = value


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined,return-value]


def insert_rows(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    """Bulk insert in the session's transaction: COPY on PostgreSQL (psycopg's executemany
    sends one statement per row), a Core executemany in chunks on SQLite (the ORM bulk path
    is several times slower)."""
    if not rows:
        return
    connection = session.connection()
    table = _table(model)
    if connection.dialect.name != "postgresql":
        for start in range(0, len(rows), CHUNK):
            connection.execute(table.insert(), rows[start : start + CHUNK])
        return
    names = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    columns = ", ".join(f'"{name}"' for name in names)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([Json(row[k]) if k in json_columns else row[k] for k in names])


# --- the whole data set ------------------------------------------------------------------------


def generate(engine: Engine, tickets: int, end: datetime | None = None, seed: int = 7) -> Sizes:
    """Fill an empty, migrated database with `tickets` tickets and proportional cases.

    The planner's statistics are then refreshed as in production: on SQLite as the app does
    at every start (`duban.db.refresh_statistics`), on PostgreSQL with VACUUM ANALYZE, as
    autovacuum does soon after a bulk load (statistics, and the visibility map that
    index-only scans need).
    """
    sizes = Sizes(tickets)
    end = (end or now()).replace(second=0, microsecond=0)
    with Session(engine) as session:
        units = _ensure_units(session)
        for chunk in ticket_rows(tickets, units, end, seed=seed):
            insert_rows(session, Ticket, chunk)
        session.commit()
        first = session.execute(select(func.min(_table(Ticket).c.id))).scalar_one() or 1
        _cases(session, sizes, first, end, random.Random(seed + 1))
        session.commit()
    if engine.dialect.name != "postgresql":
        refresh_statistics(engine)
    else:
        with engine.connect() as conn:
            names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text(f"VACUUM ANALYZE {names}")
            )
    return sizes


def add_tickets(engine: Engine, count: int, after: datetime, seed: int = 99) -> list[int]:
    """A day's new tickets received in the 24 hours after `after` (a daily import); their ids.

    Their addresses and wordings are drawn like the rest, so some join matters already
    known and some start new ones.
    """
    with Session(engine) as session:
        units = _ensure_units(session)
        day_end = after + timedelta(days=1)
        rows = [
            row
            for chunk in ticket_rows(count, units, day_end, seed=seed, span_days=1, number_prefix="D")
            for row in chunk
        ]  # fmt: skip
        insert_rows(session, Ticket, rows)
        session.commit()
        table = _table(Ticket)
        numbers = [r["ticket_no"] for r in rows]
        ids = [
            tid
            for start in range(0, len(numbers), 5000)
            for (tid,) in session.execute(
                select(table.c.id).where(table.c.ticket_no.in_(numbers[start : start + 5000]))
            )
        ]
    return sorted(ids)


def _blank(*names: str) -> dict[str, str]:
    """'' for NOT NULL text columns a Core insert must fill explicitly."""
    return dict.fromkeys(names, "")


def _cases(
    session: Session, sizes: Sizes, first_ticket: int, end: datetime, rng: random.Random
) -> None:
    """Cases linked to every tenth ticket, with steps and feedback in every state."""
    table = _table(Ticket)
    today = end.date()
    stamp = now()
    levels = list(Level)
    scopes = list(Scope)
    n = sizes.cases
    picks = [first_ticket + 10 * i for i in range(n)]
    received: dict[int, tuple[date, int, str]] = {}
    for start in range(0, n, 5000):
        part = picks[start : start + 5000]
        for tid, at, unit, address, category in session.execute(
            select(table.c.id, table.c.received_at, table.c.unit_id, table.c.address,
                   table.c.category).where(table.c.id.in_(part))
        ):  # fmt: skip
            at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
            received[tid] = (at.date(), unit, f"{address or '示例镇'}{category}问题"[:100])
    cases, links, case_units, steps = [], [], [], []
    case_id = 0
    for tid in picks:
        if tid not in received:
            continue
        day, unit, title = received[tid]
        opened = min(day + timedelta(days=rng.randrange(1, 8)), today)
        recent = (today - opened).days < RECENT_CASE_DAYS
        closed = rng.random() < (0.35 if recent else 0.97)
        level = levels[rng.choices(range(3), weights=[60, 25, 15])[0]]
        case_id += 1
        cases.append(
            {
                "id": case_id, "case_no": f"基准督〔{opened.year}〕第{case_id:07d}号",
                "year": opened.year, "seq": case_id, "title": title,
                "scope": scopes[case_id % len(scopes)].value, "level": level.value,
                "status": (CaseStatus.CLOSED if closed else CaseStatus.OPEN).value,
                "lead_unit_id": unit, "opened_at": opened,
                "closed_at": opened + timedelta(days=10 + 7 * level.rank) if closed else None,
                "related_info": RELATED, "opinion": OPINION,
                "result_text": "已按要求处置完毕，市民表示认可" if closed else "",
                **_blank("scope_reason", "start_level_reason", "source_note", "verification_note",
                         "reopen_reason", "typical_text"),
                "created_at": stamp, "updated_at": stamp, "version": 1,
            }
        )  # fmt: skip
        for extra in range(rng.choice([1, 1, 1, 2, 3])):
            links.append({"case_id": case_id, "ticket_id": tid + extra})
        case_units.append({"case_id": case_id, "unit_id": unit, "role": "lead"})
        for rank in range(level.rank + 1):
            issued = opened + timedelta(days=7 * rank)
            current = rank == level.rank
            if current:
                status = StepStatus.CLOSED if closed else StepStatus.OPEN
            else:
                status = StepStatus.ESCALATED
            done = status != StepStatus.OPEN
            steps.append(
                {
                    "case_id": case_id, "level": levels[rank].value,
                    "kind": STEP_KINDS[levels[rank]].value, "status": status.value,
                    "unit_id": unit, "issued_at": issued, "due_workdays": 5,
                    "due_at": issued + timedelta(days=7), "due_provisional": False,
                    **_blank("subject", "body", "attendees", "remark", "visit_findings",
                             "escalation_reason", "recipient", "location", "contact_name",
                             "contact_phone"),
                    "closed_at": issued + timedelta(days=6) if done else None,
                    "on_time": (rng.random() < 0.8) if done else None,
                    "margin_workdays": rng.randrange(-3, 5) if done else None,
                    "created_at": stamp, "updated_at": stamp, "version": 1,
                }
            )  # fmt: skip
    insert_rows(session, Case, cases)
    insert_rows(session, CaseTicket, links)
    insert_rows(session, CaseUnit, case_units)
    insert_rows(session, Step, steps)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT setval(pg_get_serial_sequence('\"case\"', 'id'), (SELECT max(id) FROM \"case\"))")
        )  # fmt: skip
    _feedback(session, rng, stamp)


def _feedback(session: Session, rng: random.Random, stamp: datetime) -> None:
    """Feedback on every answered step and on half the open ones (then unsigned: 不合规)."""
    step = _table(Step)
    rows = []
    for step_id, issued, status, unit in session.execute(
        select(step.c.id, step.c.issued_at, step.c.status, step.c.unit_id)
    ):
        is_open = status == StepStatus.OPEN.value
        if is_open and rng.random() < 0.5:
            continue
        issued_day = issued if isinstance(issued, date) else date.fromisoformat(str(issued)[:10])
        compliant = not is_open and rng.random() < 0.9
        rows.append(
            {
                "step_id": step_id, "unit_id": unit,
                "received_at": issued_day + timedelta(days=rng.randrange(1, 7)),
                "text": "已按要求处置", "signed": compliant or rng.random() < 0.5,
                "stamped": compliant, "compliant": compliant, "on_time": True,
                "progress": (Progress.NONE if status == StepStatus.ESCALATED.value or is_open
                             else Progress.DONE).value,
                "created_at": stamp, "updated_at": stamp, "version": 1,
            }
        )  # fmt: skip
    insert_rows(session, Feedback, rows)
