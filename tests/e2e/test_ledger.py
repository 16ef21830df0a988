"""In a real browser: upload a 12345 export, read the summary, edit a cell of the grid,
save, reload and see the edit — the center's daily routine on the 工单台账 page."""

from __future__ import annotations

import io

import openpyxl
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import open_app

pytestmark = pytest.mark.e2e

NUMBERS = ("E2E0000000000000001", "E2E0000000000000002")
ADDRESS = "端到端测试路"
NOTE = "浏览器备注已回电"
# the grid's column order: 工单编号 (pinned, so first), 选择, then pages/ledger.py GRID without
# id/version: 备注 is 13 cells right of 工单编号
NOTES_OFFSET = 13


def export_file() -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["12345市民服务热线工单导出"])
    ws.merge_cells("A1:E1")
    ws.append(["工单编号", "受理时间", "诉求地址", "诉求内容", "责任单位"])
    ws.append([NUMBERS[0], "2099/1/24 9:30", f"{ADDRESS}1号", "路灯不亮", "镇城建中心"])
    ws.append([NUMBERS[1], "2099年1月25日 10时05分", f"{ADDRESS}2号", "井盖缺失", "镇城建中心"])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def wait_idle(page) -> None:
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000
    )


def select_cell(page, grid, col: int, row: int) -> None:
    """Click a cell of the canvas grid by position and check (through the grid's hidden
    accessibility table) that it is the selected one. `col` counts from 1 at 工单编号."""
    canvas = grid.locator('[data-testid="data-grid-canvas"]')
    cell = grid.locator(f"#glide-cell-{col}-{row}")
    for _ in range(5):
        box = canvas.bounding_box()
        # row marker ≈ 30 px, then the pinned 工单编号; header and rows 35 px high
        page.mouse.click(box["x"] + 100, box["y"] + 35 * (row + 1) + 17)
        page.wait_for_timeout(300)
        if cell.get_attribute("aria-selected") == "true":
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"could not select cell {col},{row} of the grid")


def test_upload_edit_save_reload(page, server) -> None:
    open_app(page, server, "ledger")
    tab(page, "导入")
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        {"name": "12345导出.xlsx", "mimeType": "application/octet-stream", "buffer": export_file()}
    )
    page.get_by_role("button", name="预览").click()
    page.get_by_text("预览：12345导出.xlsx").wait_for()
    page.get_by_role("button", name="确认导入").click()
    page.get_by_text("导入完成").wait_for()
    summary = page.get_by_text("导入完成").inner_text()
    assert "新增 2 条，更新 0 条，未变化 0 条，未导入 0 条" in summary

    tab(page, "台账")
    keyword = page.get_by_label("关键词（地址或内容）")
    keyword.fill(ADDRESS)
    keyword.press("Enter")
    page.get_by_text("共 2 条").wait_for()
    keyword.blur()
    wait_idle(page)

    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # let the canvas settle after the rerun
    # newest first: the first row is NUMBERS[1]; click its 工单编号 cell, walk right to 备注
    select_cell(page, grid, col=1, row=0)
    for _ in range(NOTES_OFFSET):
        page.keyboard.press("ArrowRight")
    # the grid scrolls past the pinned column to 备注 and only then draws (and selects) it
    expect(grid.locator(f"#glide-cell-{1 + NOTES_OFFSET}-0")).to_have_attribute(
        "aria-selected", "true"
    )
    page.keyboard.press("Enter")  # opens the cell's editor (a textarea over the canvas)
    editor = page.locator("textarea.gdg-input")
    editor.wait_for()
    editor.fill(NOTE)
    editor.press("Enter")
    # the grid hands its edits to the form when it loses focus: click outside it first and
    # give it a moment, as a user does on the way to the button
    page.get_by_text("工单详情：").click()
    page.wait_for_timeout(800)
    page.get_by_role("button", name="保存", exact=True).click()
    page.get_by_text("已保存：修改 1 条").wait_for()

    open_app(page, server, "ledger")  # a reload: a new session, logged in again
    tab(page, "工单详情")
    number = page.get_by_label("输入工单编号查看详情")
    number.fill(NUMBERS[1])
    number.press("Enter")
    page.get_by_text(f"工单 {NUMBERS[1]}").wait_for()
    table = page.locator('[data-testid="stTable"]').first
    assert NOTE in table.inner_text()
