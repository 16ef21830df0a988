"""Contacts never reach unit and leader users unmasked (issue #15): ticket fields, raw import
columns whatever their header, numbers inside 内容描述, history, case detail, exports."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlmodel import Session

from duban import audit
from duban.cases import case_detail
from duban.enums import AuditAction, Role
from duban.exporter import tickets_xlsx
from duban.masking import mask_text
from duban.permissions import SYSTEM, Actor
from duban.settings import set_setting
from duban.tickets import TicketFilter, query_tickets, ticket_detail
from tests.factories import make_case, make_ticket, make_unit

SECRETS = ("13812345678", "13912345678", "13700001111", "310101199001011234", "李四", "王五",
           "张三丰", "021-59751234")  # fmt: skip
RAW = {"联系方式": "13912345678", "姓名": "李四", "反映人": "王五",
       "身份证号": "310101199001011234", "紧急程度": "特急"}  # fmt: skip


@pytest.fixture
def leaky(session: Session):
    unit = make_unit(session, "镇城建中心")
    ticket = make_ticket(
        session, "L1", unit_id=unit.id, caller="张三丰", phone="13812345678", raw=RAW,
        content="请回电 137-0000-1111 或 021-59751234，身份证 310101199001011234",
    )  # fmt: skip
    audit.record(session, SYSTEM, AuditAction.IMPORT, "ticket", ticket.id, field="raw",
                 old={"联系方式": "13912345678"}, new=RAW)  # fmt: skip
    audit.record(session, SYSTEM, AuditAction.UPDATE, "ticket", ticket.id, field="content",
                 old="原电话 13700001111", new=ticket.content)  # fmt: skip
    case = make_case(session, unit, tickets=(ticket,))
    session.commit()
    readers = [
        Actor(user_id=None, username="unit", role=Role.UNIT, unit_id=unit.id),
        Actor(user_id=None, username="leader", role=Role.LEADER),
    ]
    return ticket, case, readers


def leaked(value: object) -> list[str]:
    text = repr(value)
    return [s for s in SECRETS if s in text or s.replace("-", "") in text.replace("-", "")]


def test_ticket_detail_and_history_mask_every_contact(session, leaky):
    ticket, _, readers = leaky
    for reader in readers:
        detail = ticket_detail(session, reader, ticket.id)
        assert leaked((detail.ticket, detail.raw)) == []
        assert leaked([(e.old, e.new, e.note) for e in detail.trail]) == []
        assert detail.raw["姓名"] == "李*" and detail.raw["联系方式"] == "139****5678"


def test_ledger_pages_case_detail_and_exports_mask_every_contact(session, leaky):
    ticket, case, readers = leaky
    for reader in readers:
        assert leaked(query_tickets(session, reader, TicketFilter()).rows) == []
        assert leaked(case_detail(session, reader, case.id).tickets) == []
        ws = openpyxl.load_workbook(io.BytesIO(tickets_xlsx(session, reader))).active
        assert leaked([c for row in ws.iter_rows(values_only=True) for c in row]) == []
    session.rollback()
    assert session.get(type(ticket), ticket.id).phone == "13812345678"  # stored row untouched
    center = ticket_detail(session, SYSTEM, ticket.id)
    assert center.raw == RAW and center.ticket["caller"] == "张三丰"


def test_an_admin_marks_a_raw_column_safe(session, leaky):
    ticket, _, (unit_reader, _) = leaky
    assert ticket_detail(session, unit_reader, ticket.id).raw["紧急程度"] == "特*"
    set_setting(session, SYSTEM, "raw_columns_safe", "紧急程度、催办次数")
    session.commit()
    raw = ticket_detail(session, unit_reader, ticket.id).raw
    assert (raw["紧急程度"], raw["姓名"]) == ("特急", "李*")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("电话13812345678", "电话138****5678"),
        ("+86 138 1234 5678", "+86**********5678"),
        ("身份证31010119900101123X。", "身份证310***********123X。"),
        ("座机 021-59751234", "座机 021*****1234"),
        ("工单编号 2024030100123 不是电话", "工单编号 2024030100123 不是电话"),
    ],
)
def test_numbers_inside_free_text_are_masked(text, masked):
    assert mask_text(text) == masked
