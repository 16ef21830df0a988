"""The ticket ledger service: server-side filters and pages, batch saves with the version
check, the 回收站, masking of contacts, unit scoping and the ticket detail."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select
from sqlmodel import Session

from duban.enums import AuditAction, CallbackResult, Role
from duban.errors import PermissionDenied, ValidationError
from duban.masking import mask_name, mask_phone
from duban.models import AuditLog, Ticket
from duban.permissions import Actor
from duban.text import normalize_address
from duban.tickets import (
    UNASSIGNED,
    RowEdit,
    TicketFilter,
    count_tickets,
    distinct_values,
    find_ticket_id,
    parse_ticket_nos,
    query_tickets,
    restore_tickets,
    save_ledger,
    ticket_detail,
)
from tests.factories import make_case, make_ticket, make_unit

CENTER = Actor(user_id=None, username="王科员", role=Role.CENTER)
OTHER = Actor(user_id=None, username="李科员", role=Role.CENTER)
LEADER = Actor(user_id=None, username="镇领导", role=Role.LEADER)


def numbers(page) -> list[str]:
    return [r["ticket_no"] for r in page.rows]


@pytest.fixture
def town(session: Session):
    """Two units and five tickets spread over units, categories, statuses and days."""
    a = make_unit(session, "镇城建中心", aliases=["城建中心"])
    b = make_unit(session, "镇城管中队")
    rows = [
        ("T1", a, "道路交通", "已办结", CallbackResult.SATISFIED, datetime(2024, 1, 2, 9), "示例路1号", "路灯不亮"),
        ("T2", a, "噪声扰民", "处理中", CallbackResult.NONE, datetime(2024, 1, 5, 9), "和平路8号", "夜间施工"),
        ("T3", b, "违章搭建", "已办结", CallbackResult.UNSATISFIED, datetime(2024, 2, 1, 9), "示例路3号", "阳台违建"),
        ("T4", None, "噪声扰民", "待回访", None, datetime(2024, 2, 9, 9), "育才路2号", "广场舞音响"),
        ("T5", b, "违章搭建", "已办结", CallbackResult.BASIC, datetime(2024, 3, 1, 9), "和平路10号", "楼顶加层"),
    ]  # fmt: skip
    for no, unit, cat, status, cb, when, addr, content in rows:
        make_ticket(
            session, no, unit_id=unit.id if unit else None, unit_raw=unit.name if unit else "某办",
            category=cat, platform_status=status, callback_result=cb, received_at=when,
            address=addr, address_norm=normalize_address(addr), content=content, caller="张先生", phone="13812345678",
        )  # fmt: skip
    session.commit()
    return a, b


# --- filters ---------------------------------------------------------------------------------


def test_pages_are_newest_first_with_the_filtered_total(session: Session, town) -> None:
    page = query_tickets(session, CENTER, TicketFilter(), page=1, page_size=2)
    assert (numbers(page), page.total, page.pages) == (["T5", "T4"], 5, 3)
    assert numbers(query_tickets(session, CENTER, TicketFilter(), page=3, page_size=2)) == ["T1"]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (lambda a, b: TicketFilter(unit_ids=(a.id,)), ["T2", "T1"]),
        (lambda a, b: TicketFilter(unit_ids=(UNASSIGNED,)), ["T4"]),
        (lambda a, b: TicketFilter(unit_ids=(b.id, UNASSIGNED)), ["T5", "T4", "T3"]),
        (lambda a, b: TicketFilter(categories=("噪声扰民",)), ["T4", "T2"]),
        (lambda a, b: TicketFilter(statuses=("已办结",)), ["T5", "T3", "T1"]),
        (lambda a, b: TicketFilter(callbacks=(CallbackResult.UNSATISFIED,)), ["T3"]),
        (lambda a, b: TicketFilter(date_from=date(2024, 1, 5), date_to=date(2024, 2, 1)), ["T3", "T2"]),
        (lambda a, b: TicketFilter(keyword="和平路"), ["T5", "T2"]),
        (lambda a, b: TicketFilter(keyword="违建"), ["T3"]),
        (lambda a, b: TicketFilter(ticket_nos=("T1", "T4", "T9")), ["T4", "T1"]),
        (lambda a, b: TicketFilter(categories=("违章搭建",), keyword="加层"), ["T5"]),
    ],
)  # fmt: skip
def test_each_filter_runs_in_sql(session: Session, town, flt, expected) -> None:
    chosen = flt(*town)
    assert numbers(query_tickets(session, CENTER, chosen)) == expected
    assert count_tickets(session, CENTER, chosen) == len(expected)


@pytest.mark.parametrize("column", ["category", "platform_status"])
def test_filter_lists_offer_each_value_once_in_the_databases_order(
    session: Session, town, column: str
) -> None:
    make_ticket(session, "T6", category="", platform_status="")  # empty: not a choice
    col = Ticket.__table__.c[column]
    plain = select(col).where(col != "").distinct().order_by(col)
    assert distinct_values(session, column) == list(session.execute(plain).scalars())
    assert len(distinct_values(session, column)) == 3


def test_keyword_with_like_wildcards_is_taken_literally(session: Session, town) -> None:
    assert query_tickets(session, CENTER, TicketFilter(keyword="%")).total == 0


def test_pasted_ticket_number_list_is_split_on_any_separator() -> None:
    assert parse_ticket_nos("T1\nT2, T3，T4、T5 ; T1\t'T6") == ("T1", "T2", "T3", "T4", "T5", "T6")


# --- masking and scoping ---------------------------------------------------------------------


def test_masking_keeps_the_first_three_and_last_four_digits() -> None:
    assert (mask_phone("13812345678"), mask_name("张先生")) == ("138****5678", "张**")


def test_contacts_are_masked_unless_the_role_may_see_them(session: Session, town) -> None:
    led = query_tickets(session, LEADER, TicketFilter(ticket_nos=("T1",))).rows[0]
    assert (led["caller"], led["phone"]) == ("张**", "138****5678")
    seen = query_tickets(session, CENTER, TicketFilter(ticket_nos=("T1",))).rows[0]
    assert (seen["caller"], seen["phone"]) == ("张先生", "13812345678")
    granted = Actor(user_id=None, username="领导", role=Role.LEADER, can_see_contacts=True)
    assert (
        query_tickets(session, granted, TicketFilter(ticket_nos=("T1",))).rows[0]["phone"]
        == "13812345678"
    )


def test_a_unit_user_sees_only_their_own_units_tickets_without_phones(
    session: Session, town
) -> None:
    a, b = town
    unit_user = Actor(user_id=None, username="城管", role=Role.UNIT, unit_id=b.id)
    page = query_tickets(session, unit_user, TicketFilter())
    assert numbers(page) == ["T5", "T3"]
    assert {r["phone"] for r in page.rows} == {"138****5678"}
    assert query_tickets(session, unit_user, TicketFilter(unit_ids=(a.id,))).total == 0
    with pytest.raises(PermissionDenied):
        ticket_detail(session, unit_user, find_ticket_id(session, CENTER, "T1"))


# --- saving ----------------------------------------------------------------------------------


def loaded(session: Session, number: str) -> tuple[int, int]:
    row = session.execute(select(Ticket).where(Ticket.ticket_no == number)).scalar_one()
    return row.id, row.version


def test_a_save_writes_center_fields_bumps_versions_and_audits(session: Session, town) -> None:
    a, b = town
    t1, v1 = loaded(session, "T1")
    result = save_ledger(
        session,
        CENTER,
        edits=[RowEdit(t1, v1, {"notes": "已回电", "tags": "路灯", "unit": "镇城管中队"})],
    )
    session.commit()
    row = session.get(Ticket, t1)
    assert (row.notes, row.tags, row.unit_id, row.version) == ("已回电", "路灯", b.id, v1 + 1)
    assert result.updated == ["T1"]
    log = session.execute(select(AuditLog.field, AuditLog.old, AuditLog.new, AuditLog.username)
                          .where(AuditLog.entity == "ticket", AuditLog.entity_id == t1)).all()  # fmt: skip
    assert sorted(log) == sorted([("notes", "", "已回电", "王科员"), ("tags", "", "路灯", "王科员"),
                                  ("unit_id", str(a.id), str(b.id), "王科员")])  # fmt: skip


def test_a_stale_row_is_refused_and_named_the_others_are_saved(session: Session, town) -> None:
    """DESIGN: a save based on a stale version is refused with a message naming the row; it
    never overwrites someone else's change."""
    t1, v1 = loaded(session, "T1")
    t2, v2 = loaded(session, "T2")
    save_ledger(session, OTHER, edits=[RowEdit(t1, v1, {"notes": "李科员的备注"})])
    session.commit()
    result = save_ledger(
        session,
        CENTER,
        edits=[RowEdit(t1, v1, {"notes": "王科员的备注"}), RowEdit(t2, v2, {"tags": "夜间"})],
    )
    session.commit()
    assert result.updated == ["T2"]
    assert len(result.conflicts) == 1
    assert result.conflicts[0].startswith("工单 T1 已被 李科员 于 ")
    assert session.get(Ticket, t1).notes == "李科员的备注"
    assert session.get(Ticket, t2).tags == "夜间"


def test_bad_cells_refuse_the_whole_save_naming_each_cell(session: Session, town) -> None:
    t1, v1 = loaded(session, "T1")
    t2, v2 = loaded(session, "T2")
    with pytest.raises(ValidationError) as refused:
        save_ledger(
            session, CENTER,
            edits=[RowEdit(t1, v1, {"notes": "好的"}), RowEdit(t2, v2, {"unit": "不存在办", "platform_status": "已办结",
                                                                       "repeat_group": "x" * 65})],
        )  # fmt: skip
    message = str(refused.value)
    assert "工单 T2：“承办单位”：“不存在办”不是已登记的单位" in message
    assert "工单 T2：“工单状态”来自 12345 平台导出，只能通过导入更新" in message
    assert "工单 T2：“重复组”超过 64 个字符" in message
    session.rollback()
    assert session.get(Ticket, t1).notes == ""


def test_added_rows_are_validated_and_inserted(session: Session, town) -> None:
    a, _ = town
    result = save_ledger(
        session, CENTER,
        added=[{"ticket_no": "M-1", "received_at": "2024年3月2日 10时5分", "unit": "城建中心",
                "address": "示例路9号", "notes": "来访登记"}, {"ticket_no": None, "notes": None}],
    )  # fmt: skip
    session.commit()
    row = session.execute(select(Ticket).where(Ticket.ticket_no == "M-1")).scalar_one()
    assert (row.received_at, row.unit_id, row.address_norm, row.notes) == (
        datetime(2024, 3, 2, 10, 5), a.id, "示例路9号", "来访登记")  # fmt: skip
    assert result.added == ["M-1"]
    created = session.execute(
        select(AuditLog).where(AuditLog.entity_id == row.id, AuditLog.entity == "ticket")
    )
    assert [(e.action, e.new) for e in created.scalars()] == [(AuditAction.CREATE, "M-1")]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"ticket_no": "", "received_at": "2024-03-02"}, "新增第 1 行：缺少“工单编号”"),
        ({"ticket_no": "M-2", "received_at": ""}, "新增第 1 行：缺少“诉求时间”"),
        (
            {"ticket_no": "M-2", "received_at": "下周"},
            "新增第 1 行：“诉求时间”：无法识别的日期“下周”",
        ),
        ({"ticket_no": "T1", "received_at": "2024-03-02"}, "新增第 1 行：工单编号 T1 已存在"),
    ],
)
def test_bad_added_rows_are_refused(session: Session, town, row, message) -> None:
    with pytest.raises(ValidationError, match=message):
        save_ledger(session, CENTER, added=[row])


def test_delete_goes_to_the_recycle_bin_and_restore_brings_it_back(session: Session, town) -> None:
    t3, v3 = loaded(session, "T3")
    assert save_ledger(session, CENTER, deleted=[(t3, v3)]).deleted == ["T3"]
    session.commit()
    assert "T3" not in numbers(query_tickets(session, CENTER, TicketFilter()))
    assert numbers(query_tickets(session, CENTER, TicketFilter(deleted=True))) == ["T3"]
    assert restore_tickets(session, CENTER, [t3]) == ["T3"]
    session.commit()
    assert "T3" in numbers(query_tickets(session, CENTER, TicketFilter()))
    actions = session.execute(
        select(AuditLog.action).where(AuditLog.entity_id == t3, AuditLog.entity == "ticket")
    )
    assert actions.scalars().all() == [AuditAction.DELETE, AuditAction.RESTORE]


def test_deleting_a_row_changed_meanwhile_is_refused(session: Session, town) -> None:
    t3, v3 = loaded(session, "T3")
    save_ledger(session, OTHER, edits=[RowEdit(t3, v3, {"notes": "先改"})])
    session.commit()
    result = save_ledger(session, CENTER, deleted=[(t3, v3)])
    assert result.deleted == [] and "工单 T3 已被 李科员" in result.conflicts[0]


def test_editing_needs_the_edit_permission(session: Session, town) -> None:
    t1, v1 = loaded(session, "T1")
    with pytest.raises(PermissionDenied):
        save_ledger(session, LEADER, edits=[RowEdit(t1, v1, {"notes": "x"})])


# --- detail ----------------------------------------------------------------------------------


def test_ticket_detail_has_fields_raw_columns_cases_and_trail(session: Session, town) -> None:
    a, _ = town
    t1, v1 = loaded(session, "T1")
    ticket = session.get(Ticket, t1)
    ticket.raw = {"催办次数": "2", "来电号码2": "13900001111"}
    case = make_case(session, a, tickets=(ticket,), case_no="赵巷督〔2024〕第001号")
    session.commit()
    save_ledger(session, CENTER, edits=[RowEdit(t1, v1, {"notes": "复核"})])
    session.commit()
    detail = ticket_detail(session, CENTER, t1)
    assert (detail.ticket["ticket_no"], detail.unit_name) == ("T1", "镇城建中心")
    assert detail.raw == {"催办次数": "2", "来电号码2": "13900001111"}
    assert [c["case_no"] for c in detail.cases] == [case.case_no]
    assert [(e.field, e.new) for e in detail.trail] == [("notes", "复核")]
    masked = ticket_detail(session, LEADER, t1)
    assert masked.raw["来电号码2"] == "139****1111"
    assert masked.ticket["phone"] == "138****5678"
