"""A unit user reads through the services only what concerns their own unit: every read
service, called for another unit's tickets and cases, returns nothing or refuses.

The services are listed here one by one (not discovered), so a new read service is added
to this list by whoever writes it. Each case first shows the service does return the
user's own unit's data, so "nothing" is not the result of an empty database.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlmodel import Session

from duban import analysis, audit, auth, boards, cases, documents, exporter, meetings, tickets
from duban.enums import Role
from duban.errors import NotFound, PermissionDenied
from duban.permissions import Actor
from duban.workdays import Calendar
from tests.factories import make_case, make_step, make_ticket, make_unit

DAY = date(2024, 3, 20)  # both units' steps (due 2024-03-11) are overdue


@dataclass
class World:
    clerk: Actor  # a unit user of 城建中心
    own_ticket: int
    own_case: int
    other_ticket: int
    other_case: int
    other_ticket_no: str


@pytest.fixture
def world(session: Session) -> World:
    mine, other = make_unit(session, "城建中心"), make_unit(session, "城管中队")
    own_t = make_ticket(session, "T-OWN", unit_id=mine.id, caller="张先生", phone="13812345678")
    other_t = make_ticket(session, "T-OTHER", unit_id=other.id, caller="李女士")
    own_c = make_case(session, mine, tickets=(own_t,), case_no="本单位督办", title="本单位事项")
    other_c = make_case(session, other, tickets=(other_t,), case_no="外单位督办", title="外单位")
    make_step(session, own_c)
    make_step(session, other_c)
    session.commit()
    clerk = Actor(user_id=None, username="城建联络员", role=Role.UNIT, unit_id=mine.id)
    assert own_t.id and own_c.id and other_t.id and other_c.id
    return World(clerk, own_t.id, own_c.id, other_t.id, other_c.id, "T-OTHER")


def xlsx_text(data: bytes) -> str:
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    return " ".join(str(v) for row in sheet.iter_rows(values_only=True) for v in row if v)


def board_cases(rows: list[Any]) -> set[str]:
    return {r.case_no for r in rows}


# (service, what the clerk gets for their own unit, what they get for the other unit's
# objects: a value to compare, or an exception class for a refusal)
Call = Callable[[Session, World], Any]
READS: dict[str, tuple[Call, Any, Any]] = {
    "tickets.query_tickets": (
        lambda s, w: {
            r["ticket_no"] for r in tickets.query_tickets(s, w.clerk, tickets.TicketFilter()).rows
        },
        {"T-OWN"},
        None,  # the other unit's ticket is absent from the same call
    ),
    "tickets.count_tickets": (
        lambda s, w: tickets.count_tickets(s, w.clerk, tickets.TicketFilter()),
        1,
        None,
    ),
    "tickets.ticket_detail": (
        lambda s, w: tickets.ticket_detail(s, w.clerk, w.other_ticket),
        None,
        PermissionDenied,
    ),
    "tickets.find_ticket_id": (
        lambda s, w: tickets.find_ticket_id(s, w.clerk, w.other_ticket_no),
        None,
        PermissionDenied,
    ),
    "tickets.live_tickets": (
        lambda s, w: [t.ticket_no for t in tickets.live_tickets(s, w.clerk, [w.other_ticket])],
        None,
        [],
    ),
    "tickets.ticket_ids_by_number": (
        lambda s, w: tickets.ticket_ids_by_number(s, w.clerk, "T-OTHER"),
        None,
        ({}, ["T-OTHER"]),
    ),
    "cases.list_cases": (
        lambda s, w: {r.case_no for r in cases.list_cases(s, w.clerk)[0]},
        {"本单位督办"},
        None,
    ),
    "cases.get_case": (
        lambda s, w: cases.get_case(s, w.clerk, w.other_case),
        None,
        PermissionDenied,
    ),
    "cases.case_detail": (
        lambda s, w: cases.case_detail(s, w.clerk, w.other_case),
        None,
        PermissionDenied,
    ),
    "cases.case_timeline": (
        lambda s, w: cases.case_timeline(s, w.clerk, w.other_case),
        None,
        PermissionDenied,
    ),
    "cases.feedback_uploads": (
        lambda s, w: cases.feedback_uploads(s, w.clerk, w.other_case),
        None,
        PermissionDenied,
    ),
    "cases.list_referrals": (lambda s, w: cases.list_referrals(s, w.clerk), None, PermissionDenied),
    "boards.headline": (
        lambda s, w: (
            boards.headline(
                s, w.clerk, DAY, Calendar.load(s), boards.BoardFilter(unit_id=None)
            ).overdue_steps
        ),
        1,
        None,
    ),
    "boards.overdue_board": (
        lambda s, w: board_cases(boards.overdue_board(s, w.clerk, DAY, Calendar.load(s))),
        {"本单位督办"},
        None,
    ),
    "boards.escalation_board": (
        lambda s, w: board_cases(boards.escalation_board(s, w.clerk, DAY)),
        {"本单位督办"},
        None,
    ),
    "boards.summary": (
        lambda s, w: board_cases(boards.summary(s, w.clerk, DAY, boards.BoardFilter(), 5).overdue),
        {"本单位督办"},
        None,
    ),
    "boards.unit_board": (
        lambda s, w: {r.unit_name for r in boards.unit_board(s, w.clerk, DAY, Calendar.load(s))},
        {"城建中心"},
        None,
    ),
    "boards.month_trend": (
        lambda s, w: sum(m.opened for m in boards.month_trend(s, w.clerk, DAY)),
        1,
        None,
    ),
    "analysis.find_candidates": (
        lambda s, w: analysis.find_candidates(s, w.clerk, datetime(2024, 3, 20)),
        None,
        PermissionDenied,
    ),
    "analysis.data_version": (
        lambda s, w: analysis.data_version(s, w.clerk),
        None,
        PermissionDenied,
    ),
    "meetings.list_meetings": (
        lambda s, w: meetings.list_meetings(s, w.clerk),
        None,
        PermissionDenied,
    ),
    "documents.case_documents": (
        lambda s, w: documents.case_documents(s, w.clerk, w.other_case),
        None,
        PermissionDenied,
    ),
    "documents.paper_steps": (
        lambda s, w: documents.paper_steps(s, w.clerk, "supervision_form", w.other_case),
        None,
        PermissionDenied,
    ),
    "documents.recent_documents": (
        lambda s, w: documents.recent_documents(s, w.clerk),
        None,
        PermissionDenied,
    ),
    "documents.case_choices": (
        lambda s, w: documents.case_choices(s, w.clerk),
        None,
        PermissionDenied,
    ),
    "exporter.tickets_xlsx": (
        lambda s, w: (
            "T-OWN" in (t := xlsx_text(exporter.tickets_xlsx(s, w.clerk))),
            "T-OTHER" in t,
        ),
        (True, False),
        None,
    ),
    "exporter.cases_xlsx": (
        lambda s, w: (
            "本单位督办" in (t := xlsx_text(exporter.cases_xlsx(s, w.clerk))),
            "外单位督办" in t,
        ),
        (True, False),
        None,
    ),
    "audit.search": (lambda s, w: audit.search(s, w.clerk), None, PermissionDenied),
    "auth.display_names": (lambda s, w: auth.display_names(s, w.clerk), None, PermissionDenied),
}


@pytest.mark.parametrize("name", list(READS))
def test_a_unit_user_reads_nothing_of_another_units_objects(session, world, name) -> None:
    call, own, other = READS[name]
    if isinstance(other, type) and issubclass(other, Exception):
        with pytest.raises((other, NotFound)):
            call(session, world)
        return
    result = call(session, world)
    if other is None:  # one call answers for both units: the own unit's data alone
        assert result == own
    else:
        assert result == other


def test_a_unit_users_case_shows_callers_masked(session, world) -> None:
    (ticket,) = cases.case_detail(session, world.clerk, world.own_case).tickets
    assert (ticket.caller, ticket.phone) == ("张**", "138****5678")
    assert session.get(type(ticket), world.own_ticket).caller == "张先生"  # nothing written
