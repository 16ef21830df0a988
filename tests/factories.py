"""Small factories that insert rows directly, for tests of modules other than the workflow.

Tests of `duban.cases` itself go through its service functions instead.
"""

from __future__ import annotations

from datetime import date, datetime
from itertools import count
from typing import Any

from sqlmodel import Session

from duban.cases import answered_on_time, feedback_compliant
from duban.enums import Level, Progress, Scope, StepKind, StepStatus, UnitKind
from duban.models import Case, CaseTicket, CaseUnit, Feedback, Step, Ticket, Unit

_seq = count(1)


def make_unit(session: Session, name: str = "城建中心", **kw: Any) -> Unit:
    unit = Unit(name=name, kind=kw.pop("kind", UnitKind.DEPARTMENT), **kw)
    session.add(unit)
    session.flush()
    return unit


def make_ticket(session: Session, ticket_no: str | None = None, **kw: Any) -> Ticket:
    n = next(_seq)
    values: dict[str, Any] = {
        "ticket_no": ticket_no or f"T{n:08d}",
        "received_at": datetime(2024, 3, 1, 9, 0),
        "address": f"赵巷镇测试路{n}号",
        "content": "测试诉求内容",
    }
    values.update(kw)
    ticket = Ticket(**values)
    session.add(ticket)
    session.flush()
    return ticket


def make_case(
    session: Session,
    unit: Unit,
    *,
    tickets: tuple[Ticket, ...] = (),
    level: Level = Level.WRITTEN,
    opened_at: date = date(2024, 3, 4),
    **kw: Any,
) -> Case:
    n = next(_seq)
    case = Case(
        case_no=kw.pop("case_no", f"测试督〔{opened_at.year}〕第{n:03d}号"),
        year=opened_at.year,
        seq=n,
        scope=kw.pop("scope", Scope.REPEATED),
        level=level,
        lead_unit_id=unit.id,
        opened_at=opened_at,
        title=kw.pop("title", "测试督办事项"),
        **kw,
    )
    session.add(case)
    session.flush()
    session.add(CaseUnit(case_id=case.id, unit_id=unit.id))
    for ticket in tickets:
        session.add(CaseTicket(case_id=case.id, ticket_id=ticket.id))
    session.flush()
    return case


def make_step(
    session: Session,
    case: Case,
    *,
    issued_at: date = date(2024, 3, 4),
    due_at: date | None = date(2024, 3, 11),
    kind: StepKind = StepKind.SUPERVISION_FORM,
    status: StepStatus = StepStatus.OPEN,
    **kw: Any,
) -> Step:
    step = Step(
        case_id=case.id,
        level=kw.pop("level", case.level),
        kind=kind,
        status=status,
        unit_id=kw.pop("unit_id", case.lead_unit_id),
        issued_at=issued_at,
        due_at=due_at,
        due_workdays=kw.pop("due_workdays", 5),
        **kw,
    )
    session.add(step)
    session.flush()
    return step


def make_feedback(
    session: Session,
    step: Step,
    *,
    received_at: date = date(2024, 3, 8),
    progress: Progress = Progress.DONE,
    signed: bool = True,
    stamped: bool = True,
    **kw: Any,
) -> Feedback:
    fb = Feedback(
        step_id=step.id,
        unit_id=kw.pop("unit_id", step.unit_id),
        received_at=received_at,
        progress=progress,
        signed=signed,
        stamped=stamped,
        compliant=feedback_compliant(signed, stamped),
        on_time=answered_on_time(received_at, step.due_at),
        text=kw.pop("text", "已处置完毕"),
        **kw,
    )
    session.add(fb)
    session.flush()
    return fb


def sample_file(kind: str) -> bytes:
    """A small real PDF, PNG or JPEG (made with Pillow): uploads are checked by structure."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(
        buffer, {"pdf": "PDF", "png": "PNG", "jpeg": "JPEG"}[kind]
    )
    return buffer.getvalue()
