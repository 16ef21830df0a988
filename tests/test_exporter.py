"""xlsx exports: the seed's words as headers (附件1 督办单: 工单编号, 诉求时间, 承办单位, 诉求地址,
内容描述, 督办编号), ids as text, times as dates, and a ticket export that imports back unchanged."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
from sqlalchemy import Engine, select
from sqlmodel import Session

from duban.cli import main
from duban.enums import CallbackResult, Level, Role, Scope
from duban.exporter import cases_xlsx, rejects_xlsx, tickets_xlsx
from duban.importer import Reject, import_tickets
from duban.models import AuditLog, CaseUnit, Ticket
from duban.permissions import SYSTEM, Actor
from duban.tickets import TicketFilter
from tests.factories import make_case, make_ticket, make_unit

LEADER = Actor(user_id=None, username="镇领导", role=Role.LEADER)


def sheet(data: bytes) -> list[tuple]:
    return list(openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))


def cells(data: bytes) -> list[list]:
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    return [list(r) for r in ws.iter_rows()]


def test_ticket_export_uses_the_seeds_words_ids_as_text_and_times_as_dates(
    session: Session,
) -> None:
    unit = make_unit(session, "镇城建中心")
    make_ticket(
        session, "012345678901234567", unit_id=unit.id, unit_raw="城建中心",
        received_at=datetime(2024, 1, 24, 9, 30), address="示例路1号", content="路灯不亮",
        callback_result=CallbackResult.BASIC, resolved=True, notes="已回电",
    )  # fmt: skip
    session.commit()
    rows = cells(tickets_xlsx(session, SYSTEM))
    header = [c.value for c in rows[0]]
    assert header[:7] == [
        "工单编号",
        "诉求时间",
        "标题",
        "诉求地址",
        "内容描述",
        "承办单位",
        "核定承办单位",
    ]
    first = dict(zip(header, rows[1], strict=True))
    assert (first["工单编号"].value, first["工单编号"].data_type, first["工单编号"].number_format) == (
        "012345678901234567", "s", "@")  # fmt: skip
    assert first["诉求时间"].is_date and first["诉求时间"].value == datetime(2024, 1, 24, 9, 30)
    assert (first["承办单位"].value, first["核定承办单位"].value) == ("城建中心", "镇城建中心")
    assert (first["回访结果"].value, first["是否解决"].value, first["备注"].value) == (
        "基本满意",
        "是",
        "已回电",
    )


def test_export_then_import_is_unchanged(session: Session) -> None:
    """Export → import → every row counts as unchanged (the round trip loses nothing)."""
    unit = make_unit(session, "镇城建中心", aliases=["城建中心"])
    make_ticket(session, "00001", unit_id=unit.id, unit_raw="城建中心", phone="13812345678",
                platform_due_at=datetime(2024, 3, 8, 17), callback_result=CallbackResult.SATISFIED,
                resolved=False, city_supervised=True, raw={"催办次数": "2"}, notes="备注不回读",
                content="第一行\n第二行")  # fmt: skip
    make_ticket(session, "00002", unit_raw="未知办", category="噪声扰民", platform_status="处理中")
    session.commit()
    data = tickets_xlsx(session, SYSTEM)
    session.commit()
    report = import_tickets(session, SYSTEM, data, "台账导出.xlsx")
    assert report.changes == []
    assert (report.inserted, report.updated, report.unchanged, report.rejected) == (0, 0, 2, 0)
    assert report.unknown_headers == ["催办次数"]


def test_the_export_follows_the_filter_and_masks_contacts(session: Session) -> None:
    make_ticket(session, "A1", category="噪声扰民", caller="张先生", phone="13812345678")
    make_ticket(session, "A2", category="道路交通")
    session.commit()
    rows = sheet(tickets_xlsx(session, LEADER, TicketFilter(categories=("噪声扰民",))))
    header = rows[0]
    assert len(rows) == 2
    record = dict(zip(header, rows[1], strict=True))
    assert (record["工单编号"], record["诉求人"], record["联系电话"]) == (
        "A1",
        "张**",
        "138****5678",
    )


def test_an_export_is_audited(session: Session) -> None:
    make_ticket(session, "A1")
    session.commit()
    tickets_xlsx(session, LEADER)
    session.commit()
    log = session.execute(
        select(AuditLog.username, AuditLog.note).where(AuditLog.entity == "ticket")
    ).all()
    assert log == [("镇领导", "导出工单 1 条")]


def test_case_export_headers_level_labels_and_dates(session: Session) -> None:
    lead = make_unit(session, "镇城管中队")
    co = make_unit(session, "镇房管办")
    t1 = make_ticket(session, "T1")
    t2 = make_ticket(session, "T2")
    case = make_case(session, lead, tickets=(t1, t2), level=Level.ONSITE, scope=Scope.CROSS_FUNCTION,
                     case_no="赵巷督〔2024〕第007号", opened_at=date(2024, 2, 8), title="违建推诿")  # fmt: skip
    session.add(CaseUnit(case_id=case.id, unit_id=co.id, role="co"))
    session.commit()
    rows = cells(cases_xlsx(session, SYSTEM))
    header = [c.value for c in rows[0]]
    assert header[:9] == [
        "督办编号",
        "督办类型",
        "协调督办范围",
        "事由",
        "承办单位",
        "协办单位",
        "状态",
        "立案日期",
        "办结日期",
    ]
    record = dict(zip(header, rows[1], strict=True))
    assert (
        record["督办编号"].value == "赵巷督〔2024〕第007号" and record["督办编号"].data_type == "s"
    )
    assert (record["督办类型"].value, record["协调督办范围"].value) == (
        "现场协调督办",
        "职能交叉、政策缺失、推诿扯皮事项",
    )
    assert (record["承办单位"].value, record["协办单位"].value, record["状态"].value) == (
        "镇城管中队",
        "镇房管办",
        "督办中",
    )
    assert record["立案日期"].is_date and record["立案日期"].value == datetime(2024, 2, 8)
    assert record["关联工单编号"].value == "T1、T2"


def test_a_unit_user_exports_only_their_own_cases(session: Session) -> None:
    mine, other = make_unit(session, "镇城管中队"), make_unit(session, "镇房管办")
    make_case(session, mine, case_no="C-1")
    make_case(session, other, case_no="C-2")
    session.commit()
    unit_user = Actor(user_id=None, username="城管", role=Role.UNIT, unit_id=mine.id)
    assert [r[0] for r in sheet(cases_xlsx(session, unit_user))[1:]] == ["C-1"]


def test_rejects_export_lists_row_column_reason() -> None:
    data = rejects_xlsx([Reject(5, "受理时间", "缺少诉求时间", "0012")])
    assert sheet(data) == [
        ("行号", "列", "原因", "工单编号"),
        (5, "受理时间", "缺少诉求时间", "0012"),
    ]


def test_cli_exports_tickets_and_cases(engine: Engine, tmp_path, capsys) -> None:
    with Session(engine) as s:
        unit = make_unit(s, "镇城管中队")
        make_case(s, unit, tickets=(make_ticket(s, "T1"),), case_no="C-9")
        s.commit()
    assert main(["export", "tickets", "--out", str(tmp_path / "t.xlsx")]) == 0
    assert main(["export", "cases", "--out", str(tmp_path / "out" / "c.xlsx")]) == 0
    assert sheet((tmp_path / "t.xlsx").read_bytes())[1][0] == "T1"
    assert sheet((tmp_path / "out" / "c.xlsx").read_bytes())[1][:2] == ("C-9", "书面督办")
    assert "已导出" in capsys.readouterr().out
    with Session(engine) as s:
        assert s.execute(select(Ticket.ticket_no)).scalars().all() == ["T1"]
