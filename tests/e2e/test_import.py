"""In a real browser (issue 14): import an export whose tickets match a 专题会 routing rule and
name a unit the system does not know, map the unit, see the summary — and no exception box."""

from __future__ import annotations

import io

import openpyxl
import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from duban.db import make_engine
from duban.meetings import add_routing_rule
from duban.models import Ticket, Unit
from duban.permissions import SYSTEM
from tests.e2e.conftest import open_app, settle

pytestmark = pytest.mark.e2e

NUMBER = "E2EIMPORT0000000001"
NEW_UNIT = "赵巷新城物业服务中心"


@pytest.fixture(scope="module")
def noise_rule(server) -> None:
    """A meeting fixed that 夜间渣土车噪声 goes to 镇城管中队."""
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as session:
        unit = session.exec(select(Unit).where(Unit.name == "镇城管中队")).one()
        add_routing_rule(session, SYSTEM, None, name="夜间渣土车噪声", unit_id=unit.id,
                         handling_path="城管中队牵头查处", keywords="渣土车噪声")  # fmt: skip
        session.commit()
    engine.dispose()


def export_file() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["工单编号", "受理时间", "诉求地址", "诉求内容", "责任单位"])
    sheet.append([NUMBER, "2099/1/24 9:30", "端到端导入路1号", "夜间渣土车噪声扰民", NEW_UNIT])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_import_suggests_the_rule_maps_the_unknown_unit_and_never_breaks(
    page, server, noise_rule
) -> None:
    open_app(page, server, "ledger")
    settle(page, lambda: page.get_by_role("tab", name="导入").click())
    # the upload box speaks Chinese and names the server's real limit
    drawn = page.evaluate("""() => {
      const box = document.querySelector('[data-testid="stFileUploaderDropzone"]');
      const hint = box.querySelector('[data-testid="stFileUploaderDropzoneInstructions"] > div');
      const label = box.querySelector('button [data-testid="stMarkdownContainer"]');
      return [getComputedStyle(hint, '::after').content, getComputedStyle(label, '::after').content,
              box.innerText.trim()];
    }""")
    assert drawn == ['"可拖放文件到此处，单个文件不超过 20 MB"', '"选择文件"', "upload"]  # icon
    settle(page, lambda: page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        {"name": "12345导出.xlsx", "mimeType": "application/octet-stream", "buffer": export_file()}
    ))  # fmt: skip
    settle(page, lambda: page.get_by_role("button", name="预览").click())
    expect(page.get_by_text("预览：12345导出.xlsx")).to_be_visible()
    settle(page, lambda: page.get_by_role("button", name="确认导入").click())

    main = page.get_by_test_id("stMain")
    expect(main.get_by_text("导入完成")).to_be_visible()
    expect(main).to_contain_text("新增 1 条，更新 0 条，未变化 0 条，未导入 0 条")
    expect(main).to_contain_text("专题会处置规则“夜间渣土车噪声”适用于 1 张新工单")
    expect(main).to_contain_text("处置部门 镇城管中队")
    expect(main.get_by_role("heading", name="未匹配的承办单位")).to_be_visible()
    expect(page.get_by_test_id("stException")).to_have_count(0)

    form = page.get_by_test_id("stForm").filter(has_text=NEW_UNIT)
    settle(page, lambda: form.get_by_role("combobox").first.click())
    page.keyboard.type("新建为单位")  # the list draws only the options in view
    settle(page, lambda: page.get_by_role("option", name="新建为单位").click())
    settle(page, lambda: form.get_by_role("button", name="保存单位对应").click())
    expect(main).to_contain_text("已保存单位对应，1 条已导入的工单已指定单位")
    expect(main.get_by_role("heading", name="未匹配的承办单位")).to_have_count(0)
    expect(page.get_by_test_id("stException")).to_have_count(0)

    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as session:
        ticket = session.exec(select(Ticket).where(Ticket.ticket_no == NUMBER)).one()
        unit = session.get(Unit, ticket.unit_id)
    engine.dispose()
    assert unit is not None and unit.name == NEW_UNIT
