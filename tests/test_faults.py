"""Nothing is lost: a crash in the middle of a write leaves the database exactly as it was.

Each test injects an unexpected exception half-way through a unit of work that has already
written rows (tickets inserted, a feedback row added, documents rendered), then compares
every table's rows before and after.
"""

from __future__ import annotations

from datetime import date

import openpyxl
import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session, SQLModel

from duban import audit, cases, documents
from duban.cli import main
from duban.documents import printing
from duban.enums import DocumentKind, Progress, Scope
from duban.importer import writing
from duban.permissions import SYSTEM
from tests.factories import make_ticket, make_unit

TABLES = ["ticket", "importbatch", "auditlog", "case", "step", "feedback", "document"]


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of the tables a crash could touch, in id order."""
    with engine.connect() as conn:
        return {
            name: [
                tuple(row)
                for row in conn.execute(
                    select(SQLModel.metadata.tables[name]).order_by(
                        *SQLModel.metadata.tables[name].primary_key.columns
                    )
                )
            ]
            for name in TABLES
        }


def export_file(path, rows: list[tuple[str, str, str]]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["工单编号", "诉求时间", "诉求地址", "内容描述", "工单状态"])
    for number, address, status in rows:
        ws.append([number, "2024-03-01 09:30", address, "夜间施工噪声扰民", status])
    wb.save(path)


class Crash(RuntimeError):
    pass


def crash(*_args, **_kwargs):
    raise Crash("injected")


def test_a_crash_mid_import_leaves_the_database_as_it_was(engine, tmp_path, monkeypatch):
    first = tmp_path / "first.xlsx"
    export_file(first, [("T1", "示例路1号", "处理中")])
    assert main(["import-tickets", str(first)]) == 0
    before = snapshot(engine)
    second = tmp_path / "second.xlsx"
    export_file(second, [("T1", "示例路1号", "已办结"), ("T2", "示例路2号", "处理中")])
    # new tickets are already inserted when the updates are grouped: crash right there
    monkeypatch.setattr(writing, "_group_by_keys", crash)
    with pytest.raises(Crash):
        main(["import-tickets", str(second)])
    assert snapshot(engine) == before


def test_a_crash_mid_transition_leaves_the_case_as_it_was(engine, monkeypatch):
    with Session(engine) as session:
        unit = make_unit(session)
        ticket = make_ticket(session)
        case = cases.open_case(
            session,
            SYSTEM,
            scope=Scope.REPEATED,
            lead_unit_id=unit.id,
            related_info="多次投诉",
            opinion="请于 5 个工作日内处置",
            ticket_ids=[ticket.id],
            opened_at=date(2024, 3, 4),
        )
        session.commit()
        step_id = cases.latest_handling_step(session, case.id).id
    before = snapshot(engine)
    # the feedback row is added before its audit rows: fail at the first audit write
    monkeypatch.setattr(audit, "record", crash)
    monkeypatch.setattr(audit, "record_changes", crash)
    with pytest.raises(Crash), Session(engine) as session:
        cases.register_feedback(
            session,
            SYSTEM,
            step_id,
            received_at=date(2024, 3, 8),
            date_reason="纸质反馈邮寄收到",
            text="已处置",
            signed=True,
            stamped=True,
            progress=Progress.DONE,
        )
        session.commit()
    assert snapshot(engine) == before


def test_a_crash_mid_batch_render_registers_no_document_and_leaves_no_file(
    engine, data_dir, monkeypatch
):
    with Session(engine) as session:
        unit = make_unit(session)
        ids = [
            cases.open_case(
                session,
                SYSTEM,
                scope=Scope.REPEATED,
                lead_unit_id=unit.id,
                related_info=f"情况{i}",
                opinion="请处置",
                ticket_ids=[make_ticket(session).id],
                opened_at=date(2024, 3, 4),
            ).id
            for i in range(3)
        ]
        session.commit()
    before = snapshot(engine)
    real = printing._render_case
    calls = {"n": 0}

    def render_then_crash(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash("injected")
        return real(*args, **kwargs)

    monkeypatch.setattr(printing, "_render_case", render_then_crash)
    with pytest.raises(Crash), Session(engine) as session:
        documents.render_batch(session, SYSTEM, DocumentKind.SUPERVISION_FORM, ids)
        session.commit()
    assert calls["n"] == 3  # two documents were rendered and written before the crash
    assert snapshot(engine) == before
    folder = data_dir / "documents"
    assert not folder.exists() or not [p for p in folder.rglob("*") if p.is_file()]
