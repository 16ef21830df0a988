"""Importing the city platform's export: the seed's §三(一)1 starts from it —
“镇城运中心对各类工单进行分析” — so every work order must reach the ledger intact."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import Engine, select, text
from sqlmodel import Session, SQLModel

from duban.cli import main
from duban.enums import AuditAction, CallbackResult, Resolution, Role, UnitKind
from duban.errors import PermissionDenied
from duban.importer import (
    RESOLUTION_WORDS,
    ImportRefused,
    create_unit_for,
    import_tickets,
    locate,
    map_unit_alias,
    save_column_mapping,
)
from duban.meetings import add_routing_rule
from duban.models import CaseTicket, ColumnMapping, ImportBatch, Ticket, Unit
from duban.permissions import SYSTEM, Actor
from duban.tickets import ticket_detail
from tests.factories import make_case, make_unit

CENTER = Actor(user_id=None, username="center", role=Role.CENTER)
HEADER = ["工单编号", "诉求时间", "诉求地址", "内容描述", "承办单位", "工单状态", "回访结果"]


def row(no: str, when: Any = "2024-01-24 09:30", **kw: Any) -> list[Any]:
    values = {
        "address": "示例镇示例路1号",
        "content": "夜间施工噪声扰民",
        "unit": "镇城建中心",
        "status": "处理中",
        "callback": "",
    } | kw
    return [no, when, values["address"], values["content"], values["unit"], values["status"],
            values["callback"]]  # fmt: skip


def xlsx(rows: list[list[Any]], header: list[str] | None = None, title: str | None = None) -> bytes:
    """A workbook like the platform's export: optional merged title row, header, rows."""
    wb = openpyxl.Workbook()
    ws = wb.active
    head = header or HEADER
    if title:
        ws.append([title])
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(head))
    ws.append(head)
    for r in rows:
        ws.append(r)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[list[Any]], encoding: str, header: list[str] | None = None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header or HEADER)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def run(session: Session, data: bytes, name: str = "export.xlsx", **kw: Any):
    report = import_tickets(session, kw.pop("actor", CENTER), data, name, **kw)
    session.commit()
    return report


def ticket(session: Session, number: str) -> Ticket:
    return session.execute(select(Ticket).where(Ticket.ticket_no == number)).scalar_one()


def reasons(report) -> list[tuple[int, str, str]]:
    return [(r.row, r.column, r.reason) for r in report.rejects]


# --- columns --------------------------------------------------------------------------------


# The platform headers seen in real exports, written out here (not read from the importer's
# own table): dropping a spelling from the code makes its case fail instead of vanish.
HEADER_SPELLINGS = {
    "ticket_no": ["工单编号", "工单号", "工单ID", "编号"],
    "received_at": [
        "诉求时间",
        "来电时间",
        "受理时间",
        "登记时间",
        "创建时间",
        "区交办时间",
        "派单时间",
    ],
    "title": ["标题", "工单标题", "诉求标题"],
    "address": ["诉求地址", "反映地址", "事发地址", "详细地址", "事件发生地", "地址"],
    "content": ["内容描述", "诉求内容", "反映内容", "问题描述"],
    "unit": ["承办单位", "主办单位", "处理单位", "责任单位"],
    "category": ["问题分类", "诉求分类", "业务类别"],
    "caller": ["诉求人", "来电人", "求助人", "联系人"],
    "phone": ["联系电话", "来电号码", "手机号"],
    "platform_due_at": ["办理时限", "处理时限", "截止时间", "区交办办结期限"],
    "platform_status": ["工单状态", "办理状态", "状态"],
    "callback_result": ["回访结果", "回访满意度", "市民满意度", "满意度", "市民评价"],
    "resolved": ["是否解决"],
    "city_supervised": ["市级督办", "是否市级督办"],
    "first_contact": ["是否先行联系", "先行联系", "是否先联系", "先行联系情况"],
    "resolution": ["办理结果", "解决情况", "处理结果", "办理情况", "解决结果"],
    "finished_at": ["办结时间", "结案时间", "办结日期", "处置完成时间", "完成时间"],
    "overdue": ["是否逾期", "是否超期", "逾期", "超期"],
}


@pytest.mark.parametrize(
    ("field", "synonym"), [(f, s) for f, words in HEADER_SPELLINGS.items() for s in words]
)
def test_each_header_synonym_is_recognised(field: str, synonym: str) -> None:
    header = {"ticket_no": "工单编号", "received_at": "诉求时间"} | {field: synonym}
    data = xlsx([["1", "2024-01-24 09:30"][: len(header)] + [""] * (len(header) - 2)],
                header=list(header.values()))  # fmt: skip
    _, layout = locate(data, "x.xlsx", {})
    assert layout.fields[field] == list(header.values()).index(synonym)


def test_headers_match_ignoring_spaces_and_full_width_letters(session: Session) -> None:
    data = xlsx([["A1", "2024-01-24 09:30"]], header=["工单ＩＤ", " 来电　时间 "])
    report = run(session, data)
    assert report.columns == {"ticket_no": "工单ＩＤ", "received_at": "来电 时间"}
    assert ticket(session, "A1").received_at == datetime(2024, 1, 24, 9, 30)


def test_header_row_is_found_below_a_merged_title_row(session: Session) -> None:
    data = xlsx([row("24012400001")], title="12345市民服务热线工单导出")
    report = run(session, data)
    assert report.header_row == 2
    assert report.inserted == 1


def test_file_without_ticket_no_and_time_headers_is_refused(session: Session) -> None:
    data = xlsx([["a", "b"]], header=["姓名", "地址"])
    with pytest.raises(ImportRefused, match="找不到“工单编号”和“诉求时间”"):
        run(session, data)


def test_unknown_headers_are_kept_in_raw_and_listed(session: Session) -> None:
    data = xlsx(
        [["T1", "2024-01-24 09:30", "3", ""]], header=["工单编号", "诉求时间", "催办次数", "空列"]
    )
    report = run(session, data)
    assert report.unknown_headers == ["催办次数", "空列"]
    assert ticket(session, "T1").raw == {"催办次数": "3"}


def test_saved_column_mapping_is_used_by_the_next_import(session: Session) -> None:
    data = xlsx([["L-9", "2024-01-24 09:30", "示例路"]], header=["流水号", "诉求时间", "位置"])
    with pytest.raises(ImportRefused):
        run(session, data)
    save_column_mapping(session, CENTER, "流水号", "ticket_no")
    save_column_mapping(session, CENTER, "位置", "address")
    session.commit()
    report = run(session, data)
    assert report.columns["ticket_no"] == "流水号"
    assert ticket(session, "L-9").address == "示例路"
    assert set(session.execute(select(ColumnMapping.header)).scalars()) == {"流水号", "位置"}


def test_center_columns_of_our_own_export_are_not_read_back(session: Session) -> None:
    data = xlsx(
        [["T1", "2024-01-24 09:30", "别人写的备注"]], header=["工单编号", "诉求时间", "备注"]
    )
    report = run(session, data)
    assert report.unknown_headers == []
    assert ticket(session, "T1").notes == ""


# --- values -------------------------------------------------------------------------------


def test_ticket_numbers_stay_text(session: Session) -> None:
    data = xlsx([["00123", "2024-01-24"], ["123456789012345678", "2024-01-24"],
                 [123456789012345, "2024-01-24"], ["０００７", "2024-01-24"]],
                header=["工单编号", "诉求时间"])  # fmt: skip
    run(session, data)
    numbers = set(session.execute(select(Ticket.ticket_no)).scalars())
    assert numbers == {"00123", "123456789012345678", "123456789012345", "0007"}


def test_long_number_cells_that_lost_precision_are_rejected(session: Session) -> None:
    data = xlsx([[123456789012345678, "2024-01-24"]], header=["工单编号", "诉求时间"])
    report = run(session, data)
    assert report.rejects[0].row == 2
    assert "超过 15 位" in report.rejects[0].reason
    assert report.inserted == 0


def test_scientific_notation_in_csv_is_rejected(session: Session) -> None:
    data = csv_bytes([["1.23457E+17", "2024-01-24"]], "utf-8", header=["工单编号", "诉求时间"])
    report = run(session, data, "x.csv")
    assert "科学计数法" in report.rejects[0].reason


@pytest.mark.parametrize(
    "cell",
    [
        datetime(2024, 1, 24, 9, 30),
        45315.395833333336,  # Excel serial number
        "45315.395833333336",
        "2024-01-24 09:30",
        "2024/1/24 9:30",
        "2024年1月24日 9时30分",
        "２０２４-０１-２４ ０９:３０",
    ],
)
def test_each_date_format_is_read(session: Session, cell: Any) -> None:
    run(session, xlsx([["T1", cell]], header=["工单编号", "诉求时间"]))
    assert ticket(session, "T1").received_at == datetime(2024, 1, 24, 9, 30)


@pytest.mark.parametrize("cell", ["20240124", date(2024, 1, 24), "2024年1月24日"])
def test_date_only_formats_are_read_as_midnight(session: Session, cell: Any) -> None:
    run(session, xlsx([["T1", cell]], header=["工单编号", "诉求时间"]))
    assert ticket(session, "T1").received_at == datetime(2024, 1, 24)


def test_rejects_name_excel_row_column_and_reason(session: Session) -> None:
    data = xlsx(
        [row("T1"), row("", "2024-01-24"), row("T3", ""), row("T4", "明天"), row("T5"),
         row("T6", callback="还行吧")],
        title="工单导出",
    )  # fmt: skip
    report = run(session, data)
    assert reasons(report)[:3] == [
        (4, "工单编号", "缺少工单编号"),
        (5, "诉求时间", "缺少诉求时间"),
        (6, "诉求时间", reasons(report)[2][2]),
    ]
    assert reasons(report)[2][2].startswith("无法识别的日期“明天”")
    assert reasons(report)[3][:2] == (8, "回访结果")
    assert (report.inserted, report.rejected) == (2, 4)
    assert sorted(session.execute(select(Ticket.ticket_no)).scalars()) == ["T1", "T5"]


@pytest.mark.parametrize(
    ("header", "cell", "reason"),
    [
        ("诉求地址", "路" * 301, "内容超过 300 个字符"),
        ("办理时限", "下个月", "无法识别的日期“下个月”"),
        ("是否解决", "也许", "无法识别的“是否解决”取值“也许”"),
        ("市级督办", "待定", "无法识别的“市级督办”取值“待定”"),
        ("回访结果", "还行", "无法识别的回访结果“还行”"),
    ],
)
def test_every_other_unreadable_cell_rejects_its_row(
    session: Session, header: str, cell: str, reason: str
) -> None:
    data = xlsx(
        [["T1", "2024-01-24", cell], ["T2", "2024-01-24", ""]],
        header=["工单编号", "诉求时间", header],
    )
    report = run(session, data)
    assert [(r.row, r.column, r.ticket_no) for r in report.rejects] == [(2, header, "T1")]
    assert report.rejects[0].reason.startswith(reason)
    assert session.execute(select(Ticket.ticket_no)).scalars().all() == ["T2"]


def test_a_number_twice_in_one_file_rejects_both_rows_each_naming_the_other(
    session: Session,
) -> None:
    report = run(session, xlsx([row("T1"), row("T2"), row("T1", status="已办结")]))
    assert [(r.row, r.reason) for r in report.rejects] == [
        (2, "工单编号 T1 在本文件中重复出现（另见第 4 行），内容相互矛盾，均未导入"),
        (4, "工单编号 T1 在本文件中重复出现（另见第 2 行），内容相互矛盾，均未导入"),
    ]
    assert session.execute(select(Ticket.ticket_no)).scalars().all() == ["T2"]


def test_completely_empty_rows_are_skipped(session: Session) -> None:
    report = run(session, xlsx([row("T1"), [None] * 7, ["", " ", ""], row("T2")]))
    assert (report.inserted, report.rejected, report.skipped_empty) == (2, 0, 2)


def test_full_width_digits_and_spaces_are_normalised(session: Session) -> None:
    run(session, xlsx([row("T1", address="示例路　１２号 ", unit=" 镇城建中心　")]))
    t = ticket(session, "T1")
    assert (t.address, t.unit_raw, t.address_norm) == ("示例路 12号", "镇城建中心", "示例路12号")


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("满意", CallbackResult.SATISFIED),
        ("非常满意", CallbackResult.SATISFIED),
        ("基本满意", CallbackResult.BASIC),
        ("一般", CallbackResult.BASIC),
        ("理解", CallbackResult.BASIC),
        ("不满意", CallbackResult.UNSATISFIED),
        ("未回访", CallbackResult.NONE),
        ("", None),
    ],
)
def test_callback_words_map_to_the_four_canonical_values(
    session: Session, word: str, expected: CallbackResult | None
) -> None:
    run(session, xlsx([row("T1", callback=word)]))
    assert ticket(session, "T1").callback_result == expected


def test_yes_no_columns(session: Session) -> None:
    header = ["工单编号", "诉求时间", "是否解决", "市级督办"]
    run(session, xlsx([["T1", "2024-01-24", "是", "否"], ["T2", "2024-01-24", "否", "是"],
                       ["T3", "2024-01-24", "", ""]], header=header))  # fmt: skip
    got = [(t.resolved, t.city_supervised) for t in session.execute(select(Ticket).order_by(Ticket.ticket_no)).scalars()]  # fmt: skip
    assert got == [(True, False), (False, True), (None, False)]


# --- units --------------------------------------------------------------------------------


def test_units_match_by_name_then_alias_and_unknown_names_are_listed(session: Session) -> None:
    town = make_unit(session, "镇城建中心", aliases=["城建中心"])
    session.commit()
    report = run(session, xlsx([row("T1"), row("T2", unit="城建中心"), row("T3", unit="新成立办")]))
    assert [ticket(session, n).unit_id for n in ("T1", "T2", "T3")] == [town.id, town.id, None]
    assert ticket(session, "T3").unit_raw == "新成立办"
    assert report.unknown_units == ["新成立办"]


def test_create_units_creates_the_unknown_ones(session: Session) -> None:
    report = run(session, xlsx([row("T1", unit="示例九村村委会")]), create_units=True)
    unit = session.execute(select(Unit).where(Unit.name == "示例九村村委会")).scalar_one()
    assert unit.kind == UnitKind.VILLAGE
    assert (report.created_units, report.unknown_units) == (["示例九村村委会"], [])
    assert ticket(session, "T1").unit_id == unit.id


def test_mapping_an_unknown_unit_adds_an_alias_and_assigns_its_tickets(session: Session) -> None:
    town = make_unit(session, "镇城建中心")
    session.commit()
    run(session, xlsx([row("T1", unit="城建")]))
    assert map_unit_alias(session, CENTER, "城建", town.id) == 1
    session.commit()
    assert ticket(session, "T1").unit_id == town.id
    assert session.get(Unit, town.id).aliases == ["城建"]
    assert run(session, xlsx([row("T2", unit="城建")])).unknown_units == []


def test_creating_a_unit_from_an_unknown_name_assigns_its_tickets(session: Session) -> None:
    run(session, xlsx([row("T1", unit="镇新设办")]))
    unit, assigned = create_unit_for(session, CENTER, "镇新设办", UnitKind.DEPARTMENT)
    session.commit()
    assert assigned == 1
    assert ticket(session, "T1").unit_id == unit.id


# --- upsert -------------------------------------------------------------------------------


def test_upsert_inserts_updates_and_counts_unchanged(session: Session) -> None:
    first = run(session, xlsx([row("T1"), row("T2")]))
    assert (first.inserted, first.updated, first.unchanged) == (2, 0, 0)
    second = run(
        session, xlsx([row("T1"), row("T2", status="已办结", callback="非常满意"), row("T3")])
    )
    assert (second.inserted, second.updated, second.unchanged) == (1, 1, 1)
    t2 = ticket(session, "T2")
    assert (t2.platform_status, t2.callback_result, t2.version) == (
        "已办结", CallbackResult.SATISFIED, 2)  # fmt: skip


def test_reimport_never_touches_the_centers_own_fields(session: Session) -> None:
    unit = make_unit(session, "镇城建中心")
    session.commit()
    run(session, xlsx([row("T1")]))
    t1 = ticket(session, "T1")
    t1.notes, t1.tags, t1.repeat_group = "已电话联系", "夜间施工", "G-7"
    case = make_case(session, unit, tickets=(t1,))
    session.commit()
    run(session, xlsx([row("T1", status="已办结", content="新的描述")]))
    session.expire_all()
    t1 = ticket(session, "T1")
    assert (t1.notes, t1.tags, t1.repeat_group) == ("已电话联系", "夜间施工", "G-7")
    assert (t1.platform_status, t1.content) == ("已办结", "新的描述")
    links = session.execute(select(CaseTicket.case_id).where(CaseTicket.ticket_id == t1.id))
    assert links.scalars().all() == [case.id]


def test_a_unit_corrected_by_the_center_survives_a_reimport(session: Session) -> None:
    town = make_unit(session, "镇城建中心")
    police = make_unit(session, "镇派出所")
    session.commit()
    run(session, xlsx([row("T1"), row("T2")]))
    t1 = ticket(session, "T1")
    t1.unit_id = police.id  # the center's correction in the ledger
    session.commit()
    run(session, xlsx([row("T1", unit="城建"), row("T2", unit="镇派出所")]))
    session.expire_all()
    assert (ticket(session, "T1").unit_id, ticket(session, "T1").unit_raw) == (police.id, "城建")
    assert ticket(session, "T2").unit_id == police.id  # not corrected: follows the platform
    assert town.id != police.id


def test_columns_missing_from_a_later_file_are_left_alone(session: Session) -> None:
    run(session, xlsx([row("T1", callback="满意")]))
    report = run(session, xlsx([["T1", "2024-01-24 09:30"]], header=["工单编号", "诉求时间"]))
    assert report.unchanged == 1
    assert ticket(session, "T1").callback_result == CallbackResult.SATISFIED


def test_importing_the_same_file_twice_is_harmless(session: Session) -> None:
    data = xlsx([row("T1"), row("T2")])
    run(session, data)
    again = run(session, data)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert len(again.previous_imports) == 1
    assert session.execute(select(Ticket.id)).all().__len__() == 2


def test_batch_and_audit_rows_record_who_imported_what(session: Session) -> None:
    run(session, xlsx([row("T1"), row("T2")]), "第一批.xlsx")
    run(session, xlsx([row("T1", status="已办结")]), "第二批.xlsx")
    batches = session.execute(select(ImportBatch).order_by(ImportBatch.id)).scalars().all()
    assert [(b.file_name, b.inserted, b.updated, b.user_id) for b in batches] == [
        ("第一批.xlsx", 2, 0, None), ("第二批.xlsx", 0, 1, None)]  # fmt: skip
    t1 = ticket(session, "T1")
    log = ticket_detail(session, Actor(1, "center", Role.CENTER), t1.id).trail
    assert [(e.action, e.field, e.old, e.new) for e in log] == [
        (AuditAction.IMPORT, "", None, "T1"),
        (AuditAction.IMPORT, "platform_status", "处理中", "已办结"),
    ]
    assert log[0].note == f"导入批次 {batches[0].id}（第一批.xlsx）"
    assert log[1].note == f"导入批次 {batches[1].id}（第二批.xlsx）"
    assert {e.username for e in log} == {"center"}


def test_dry_run_reports_and_writes_nothing(engine: Engine, session: Session) -> None:
    run(session, xlsx([row("T1")]))
    before = snapshot(engine)
    report = run(session, xlsx([row("T1", status="已办结"), row("T2")]), dry_run=True)
    assert (report.inserted, report.updated) == (1, 1)
    assert report.changes == [("T1", "platform_status", "处理中", "已办结")]
    assert snapshot(engine) == before


def test_import_needs_the_import_permission(session: Session) -> None:
    unit_user = Actor(user_id=None, username="村居", role=Role.UNIT, unit_id=1)
    with pytest.raises(PermissionDenied):
        run(session, xlsx([row("T1")]), actor=unit_user)


# --- file formats ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_each_encoding(session: Session, encoding: str) -> None:
    report = run(session, csv_bytes([row("T1", unit="镇城建中心")], encoding), "x.csv")
    assert report.inserted == 1
    assert ticket(session, "T1").content == "夜间施工噪声扰民"


def test_csv_rows_are_numbered_as_lines(session: Session) -> None:
    data = csv_bytes([row("T1", content="第一行\n第二行"), row("", "2024-01-24")], "utf-8")
    report = run(session, data, "x.csv")
    assert reasons(report) == [(4, "工单编号", "缺少工单编号")]
    assert ticket(session, "T1").content == "第一行\n第二行"


def test_legacy_xls_file(session: Session) -> None:
    xlwt = pytest.importorskip("xlwt")
    wb = xlwt.Workbook()
    ws = wb.add_sheet("工单")
    for c, header in enumerate(HEADER):
        ws.write(0, c, header)
    for c, value in enumerate(row("00042", "2024/1/24 9:30")):
        ws.write(1, c, value)
    buffer = io.BytesIO()
    wb.save(buffer)
    report = run(session, buffer.getvalue(), "old.xls")
    assert report.inserted == 1
    assert ticket(session, "00042").received_at == datetime(2024, 1, 24, 9, 30)


def encrypted_xlsx() -> bytes:
    ooxml = pytest.importorskip("msoffcrypto.format.ooxml")
    out = io.BytesIO()
    ooxml.OOXMLFile(io.BytesIO(xlsx([row("T9")]))).encrypt("secret", out)
    return out.getvalue()


BROKEN: dict[str, Any] = {
    "empty": lambda: b"",
    "corrupt": lambda: xlsx([row("T9")])[:400],
    "encrypted": encrypted_xlsx,
    "header only": lambda: xlsx([]),
    "no header": lambda: xlsx([["a", "b"]], header=["甲", "乙"]),
    "binary": lambda: bytes(range(256)) * 4,
}
BROKEN_MESSAGES = {
    "empty": "是空的",
    "corrupt": "已损坏",
    "encrypted": "已加密",
    "header only": "只有表头",
    "no header": "找不到",
    "binary": "不是文本格式",
}


def snapshot(engine: Engine) -> list[Any]:
    """Every row of every table, in a stable order: equal snapshots mean an unchanged database."""
    rows: list[Any] = []
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            rows.append((table.name, conn.execute(select(table).order_by(*order)).all()))
    return rows


@pytest.mark.parametrize("kind", list(BROKEN))
def test_broken_file_is_refused_whole_and_the_database_is_unchanged(
    engine: Engine, session: Session, kind: str
) -> None:
    run(session, xlsx([row("T1")]))
    data = BROKEN[kind]()
    before = snapshot(engine)
    file_before = _sqlite_file_hash(engine)
    with pytest.raises(ImportRefused, match=BROKEN_MESSAGES[kind]):
        run(session, data, "broken.xlsx")
    session.rollback()
    assert snapshot(engine) == before
    assert _sqlite_file_hash(engine) == file_before


def _sqlite_file_hash(engine: Engine) -> str | None:
    """The database file's bytes (after a checkpoint), on SQLite; None elsewhere."""
    if engine.dialect.name != "sqlite":
        return None
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    return hashlib.sha256(open(engine.url.database, "rb").read()).hexdigest()


# --- the command line (DESIGN.md contract) ----------------------------------------------------


def test_cli_exit_0_when_every_row_is_taken(engine: Engine, tmp_path, capsys) -> None:
    path = tmp_path / "ok.xlsx"
    path.write_bytes(xlsx([row("T1"), row("T2")]))
    assert main(["import-tickets", str(path)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "inserted=2 updated=0 unchanged=0 rejected=0"


def test_cli_exit_3_lists_rejects_and_imports_the_rest(engine: Engine, tmp_path, capsys) -> None:
    path = tmp_path / "some.xlsx"
    path.write_bytes(xlsx([row("T1"), row("T2", "不是日期")]))
    assert main(["import-tickets", str(path)]) == 3
    out, err = capsys.readouterr()
    assert "第 3 行 [诉求时间] 无法识别的日期“不是日期”" in err
    assert out.splitlines()[-1] == "inserted=1 updated=0 unchanged=0 rejected=1"


def test_cli_exit_2_refuses_a_broken_file(engine: Engine, tmp_path, capsys) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    assert main(["import-tickets", str(path)]) == 2
    assert "已损坏" in capsys.readouterr().err
    with Session(engine) as s:
        assert s.execute(select(ImportBatch)).first() is None


def test_cli_dry_run_and_create_units(engine: Engine, tmp_path, capsys) -> None:
    path = tmp_path / "units.xlsx"
    path.write_bytes(xlsx([row("T1", unit="示例新设办")]))
    assert main(["import-tickets", str(path), "--dry-run", "--create-units"]) == 0
    out = capsys.readouterr().out
    assert "将新建承办单位：示例新设办" in out
    with Session(engine) as s:
        assert s.execute(select(Ticket)).first() is None
        assert s.execute(select(Unit)).first() is None
    assert main(["import-tickets", str(path), "--create-units"]) == 0
    with Session(engine) as s:
        assert ticket(s, "T1").unit_id == s.execute(select(Unit.id)).scalar_one()


def test_sample_export_imports_cleanly(session: Session) -> None:
    """The shared sample (title row, mixed date cells, text ids) goes in without rejects."""
    sample = Path(__file__).resolve().parent / "fixtures/12345-export-sample.xlsx"
    report = run(session, sample.read_bytes(), sample.name, actor=SYSTEM)
    assert (report.header_row, report.rejected) == (2, 0)
    assert report.inserted == 300


def test_new_tickets_that_fit_a_meeting_rule_are_suggested_not_assigned(session: Session) -> None:
    """§三(三)2: a 专题会 fixed the department for a class of matter; an import points it out."""
    city = make_unit(session, "镇城建中心")
    env = make_unit(session, "镇生态环境办")
    rule = add_routing_rule(
        session,
        SYSTEM,
        None,
        name="夜间施工噪声",
        unit_id=env.id,
        handling_path="环保办牵头，城建中心配合",
        keywords="施工噪声",
    )
    session.commit()
    report = run(session, xlsx([row("N1"), row("N2", content="路灯不亮")]))
    assert [(h.rule_id, h.unit_name, h.ticket_nos) for h in report.route_suggestions] == [
        (rule.id, "镇生态环境办", ("N1",))
    ]
    assert ticket(session, "N1").unit_id == city.id  # suggested, never applied silently
    detail = ticket_detail(session, CENTER, ticket(session, "N1").id)
    assert [r.id for r in detail.rules] == [rule.id]


# --- 热线考核 fields -------------------------------------------------------------------------


def test_score_fields_are_read_under_their_synonyms(session: Session) -> None:
    """热线考核: 是否先行联系, 办理结果 / 解决情况, 办结时间, 是否逾期 — each by a synonym."""
    header = ["工单号", "来电时间", "先行联系", "处理结果", "结案时间", "是否超期"]
    run(session, xlsx([["T1", "2024-03-01 09:00", "是", "实际解决", "2024/3/4 10:00", "否"],
                       ["T2", "2024-03-02 09:00", "否", "解释说明", "2024年3月9日", "是"],
                       ["T3", "2024-03-03 09:00", "", "", "", ""]], header=header))  # fmt: skip
    got = [
        (t.first_contact, t.resolution, t.finished_at, t.overdue)
        for t in session.execute(select(Ticket).order_by(Ticket.ticket_no)).scalars()
    ]
    assert got == [
        (True, Resolution.SOLVED, datetime(2024, 3, 4, 10, 0), False),
        (False, Resolution.EXPLAINED, datetime(2024, 3, 9), True),
        (None, None, None, None),
    ]


def test_an_old_solved_column_of_yes_and_no_still_imports_as_the_result(session: Session) -> None:
    """Old exports wrote 解决情况 as 是/否: they keep importing, 是 as 实际解决."""
    header = ["工单编号", "诉求时间", "解决情况"]
    run(session, xlsx([["T1", "2024-01-24", "是"], ["T2", "2024-01-24", "否"]], header=header))
    assert [
        t.resolution for t in session.execute(select(Ticket).order_by(Ticket.ticket_no)).scalars()
    ] == [  # fmt: skip
        Resolution.SOLVED,
        Resolution.UNSOLVED,
    ]


def test_files_without_the_score_columns_import_as_before(session: Session) -> None:
    report = run(session, xlsx([row("T1")]))
    assert report.inserted == 1 and not report.rejects
    t = ticket(session, "T1")
    assert (t.first_contact, t.resolution, t.finished_at, t.overdue) == (None, None, None, None)


def test_unreadable_score_cells_reject_the_row_naming_the_column(session: Session) -> None:
    header = ["工单编号", "诉求时间", "是否先行联系", "办理结果", "是否逾期"]
    report = run(session, xlsx([["T1", "2024-01-24", "也许", "实际解决", "否"],
                                ["T2", "2024-01-24", "是", "看情况", "否"],
                                ["T3", "2024-01-24", "是", "实际解决", "可能"]], header=header))  # fmt: skip
    assert [r.line() for r in report.rejects] == [
        "第 2 行 [是否先行联系] 无法识别的“是否先行联系”取值“也许”（请填 是 或 否）",
        "第 3 行 [办理结果] 无法识别的办理结果“看情况”（可识别："
        + "、".join(RESOLUTION_WORDS)
        + "）",
        "第 4 行 [是否逾期] 无法识别的“是否逾期”取值“可能”（请填 是 或 否）",
    ]
    assert session.execute(select(Ticket)).first() is None
