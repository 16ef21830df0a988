"""标准地址 and aliases (duban.standard_address): what staff confirm or split on 督办线索 is
read by every later run; the table is edited by hand; the parts are stored on tickets."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from sqlalchemy import text
from sqlmodel import Session, func, select

from duban.analysis import Rule, find_candidates
from duban.db import alembic_config
from duban.enums import Role
from duban.errors import ConflictError, PermissionDenied, ValidationError
from duban.importer import import_tickets
from duban.models import AddressAlias, AuditLog, StandardAddress, Ticket
from duban.permissions import SYSTEM, Actor
from duban.settings import set_setting
from duban.standard_address import (
    address_book,
    address_columns,
    address_prefixes,
    confirm_same_place,
    delete_standard_address,
    recompute_address_parts,
    save_standard_address,
    split_places,
)
from tests.factories import make_ticket

AS_OF = datetime(2024, 6, 28, 18, 0)
CLERK = Actor(None, "clerk", Role.CENTER)
GARBAGE = "小区垃圾堆放多日无人清理，臭味很大"


def ticket(session, no, day, address, content, category="市容环境", phone="13800000001"):
    """A ticket as the importer stores it (its address parts too)."""
    return make_ticket(session, ticket_no=no, received_at=datetime.fromisoformat(f"{day} 09:00"),
                       address=address, content=content, category=category, phone=phone,
                       platform_status="处理中",
                       **address_columns(address, address_prefixes(session)))  # fmt: skip


def ids(session, *nos):
    return [session.exec(select(Ticket.id).where(Ticket.ticket_no == n)).one() for n in nos]


def repeated(session) -> list[tuple[str, ...]]:
    found = find_candidates(session, SYSTEM, AS_OF)
    session.commit()
    return [tuple(g.ticket_nos) for g in found.by_rule(Rule.REPEATED)]


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


@pytest.fixture
def garden(session):
    """One caller at 测试花园8号楼, also written 赵巷测试花园8号楼 (no rule unifies the two)."""
    ticket(session, "G1", "2024-06-01", "测试花园8号楼北门", GARBAGE)
    ticket(session, "G2", "2024-06-05", "赵巷测试花园8号楼", GARBAGE + "！", phone="13800000002")
    ticket(session, "G3", "2024-06-09", "赵巷镇测试花园8幢", "垃圾还是没人来收")
    ticket(session, "G4", "2024-06-12", "赵巷测试花园8号楼", "绿化带被人毁了种菜", category="绿化")
    session.commit()


def test_confirming_a_group_makes_its_spellings_one_place_for_later_runs(session, garden):
    assert repeated(session) == [("G1", "G2", "G3")]
    name = confirm_same_place(session, CLERK, ids(session, "G1", "G2", "G3"))
    session.commit()
    assert name == "测试花园8幢"
    assert address_book(session).of("赵巷测试花园8幢") == "测试花园8幢"
    # the same caller at the other spelling, in other words, is now a repeat at one place
    assert repeated(session) == [("G1", "G2", "G3", "G4")]
    notes = session.exec(select(AuditLog.note).where(AuditLog.entity == "addressalias")).all()
    assert notes == ["标准地址“测试花园8幢”（确认）"]


def test_splitting_a_group_keeps_its_two_places_apart(session):
    lamps = "弄堂里路灯坏了好几盏，晚上很黑"
    for no, day, address in (("L1", "06-01", "测试路18弄"), ("L2", "06-05", "测试路十八弄"),
                             ("L3", "06-09", "测试路18弄南门")):  # fmt: skip
        ticket(session, no, f"2024-{day}", address, lamps if no == "L1" else "路灯还是不亮")
    ticket(session, "L4", "2024-06-10", "测试路18弄3号楼", lamps + "。", phone="13900000004")
    session.commit()
    assert repeated(session) == [("L1", "L2", "L3", "L4")]
    kept, taken = split_places(session, CLERK, ids(session, "L1", "L2", "L3"), ids(session, "L4"))
    session.commit()
    assert (kept, taken) == ("测试路18弄", "测试路18弄3幢")
    assert repeated(session) == [("L1", "L2", "L3")]


def test_a_split_within_one_spelling_is_refused_and_writes_nothing(session, garden):
    before = (count(session, StandardAddress), count(session, AddressAlias))
    with pytest.raises(ValidationError, match="在拆分的两部分中都有"):
        split_places(session, CLERK, ids(session, "G1"), ids(session, "G3"))
    session.rollback()
    assert (count(session, StandardAddress), count(session, AddressAlias)) == before


def test_a_ticket_id_that_does_not_exist_is_refused(session, garden):
    with pytest.raises(Exception, match="不存在或已删除"):
        confirm_same_place(session, CLERK, [*ids(session, "G1"), 99999])


def test_only_the_center_records_aliases(session, garden):
    unit = Actor(8, "unit", Role.UNIT, unit_id=1)
    with pytest.raises(PermissionDenied):
        confirm_same_place(session, unit, ids(session, "G1", "G2"))


def test_the_table_is_edited_by_hand_with_spellings_as_written(session, garden):
    row = save_standard_address(
        session, CLERK, "测试花园8号楼", ["赵巷测试花园八号楼", " "], "物业：测试物业"
    )
    session.commit()
    assert (row.name, row.note) == ("测试花园8幢", "物业：测试物业")
    assert address_book(session).standard == {
        "测试花园8幢": "测试花园8幢",
        "赵巷测试花园8幢": "测试花园8幢",
    }
    assert repeated(session) == [("G1", "G2", "G3", "G4")]
    with pytest.raises(ValidationError, match="已是标准地址“测试花园8幢”的写法"):
        save_standard_address(session, CLERK, "另一处", ["赵巷测试花园8号楼"])
    session.rollback()
    with pytest.raises(ConflictError, match="已被他人修改"):
        save_standard_address(session, CLERK, "测试花园8号楼", [], standard_id=row.id,
                              expected_version=row.version - 1)  # fmt: skip
    session.rollback()
    delete_standard_address(session, CLERK, row.id, row.version)
    session.commit()
    assert address_book(session).standard == {}
    assert repeated(session) == [("G1", "G2", "G3")]


def test_new_prefixes_reparse_every_ticket_and_rebuild_the_index(session, garden):
    first = find_candidates(session, SYSTEM, AS_OF)
    session.commit()
    assert not first.by_rule(Rule.REPEATED)[0].address_key.startswith("赵巷")
    set_setting(session, SYSTEM, "address_prefixes", "上海市、青浦区、赵巷镇、赵巷")
    assert recompute_address_parts(session, SYSTEM) == 2  # the two 赵巷测试花园8号楼
    session.commit()
    again = find_candidates(session, SYSTEM, AS_OF)
    assert again.index.rebuilt
    assert [g.ticket_nos for g in again.by_rule(Rule.REPEATED)] == [["G1", "G2", "G3", "G4"]]


def test_the_importer_stores_the_parts_of_each_address(session):
    header = "工单编号,诉求时间,诉求地址,内容描述,承办单位,工单状态\n"
    data = (
        header
        + "A1,2024-06-01 09:00,上海市 青浦区 赵巷镇南崧路１００弄（北门）,垃圾,镇城建中心,处理中\n"
    )
    import_tickets(session, SYSTEM, data.encode(), "a.csv")
    session.commit()
    row = session.exec(select(Ticket).where(Ticket.ticket_no == "A1")).one()
    assert (row.address_place, row.address_key, row.address_detail) == (
        "南崧路",
        "南崧路100弄",
        "北门",
    )
    moved = header + "A1,2024-06-01 09:00,南崧路102弄,垃圾,镇城建中心,处理中\n"
    import_tickets(session, SYSTEM, moved.encode(), "b.csv")
    session.commit()
    session.refresh(row)
    assert row.address_key == "南崧路102弄"


def test_the_migration_computes_the_parts_of_stored_tickets(engine):
    """Upgrading a database with tickets fills their address parts; downgrading drops them."""
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "e3aef29fbb62-1")  # the revision before this issue's
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO ticket (ticket_no, received_at, title, address, address_norm, content, "
            "category, caller, phone, unit_raw, platform_status, city_supervised, raw, notes, "
            "tags, repeat_group, created_at, updated_at, version) VALUES ('M1', :at, '', "
            "'青浦区赵巷镇和睦家园三号楼北门', '', '', '', '', '', '', '', false, '{}', '', '', '', "
            ":at, :at, 1)"
        ), {"at": datetime(2024, 6, 1, 9)})  # fmt: skip
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    with Session(engine) as s:
        row = s.exec(select(Ticket).where(Ticket.ticket_no == "M1")).one()
        assert (row.address_place, row.address_key, row.address_detail) == (
            "和睦家园",
            "和睦家园3幢",
            "北门",
        )
