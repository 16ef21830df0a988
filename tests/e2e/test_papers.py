"""文书 in a real browser: the office setup step before the first paper, then a paper printed
from a case with its print preview (first page as a picture) beside the download buttons."""

from __future__ import annotations

import shutil

import pytest
from sqlmodel import Session, select

from duban.db import make_engine
from duban.models import Case
from tests.e2e.conftest import open_app, settle

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        shutil.which("soffice") is None or shutil.which("pdftoppm") is None,
        reason="the print preview needs LibreOffice and poppler-utils (CI installs them)",
    ),
]


def test_setup_then_print_a_form_with_its_preview(page, server):
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as s:
        case = s.exec(select(Case).order_by(Case.id)).first()
    open_app(page, server, f"cases?case={case.id}")
    summary = page.locator('[data-testid="stExpander"] summary').filter(has_text="生成文书")
    settle(page, summary.first.click)
    page.get_by_text("首次生成文书前，请确认发文单位信息").wait_for()
    page.get_by_label("联系人").fill("王敏")
    page.get_by_label("联系电话").fill("021-59751234")
    settle(page, page.get_by_role("button", name="保存并继续").click)
    settle(page, page.get_by_role("button", name="生成文书").click)
    page.get_by_text("已生成：督办单-").wait_for(timeout=60_000)
    assert page.get_by_role("button", name="下载 Word").first.is_visible()
    assert page.locator('[data-testid="stImage"] img').count() == 0  # the download does not wait
    settle(page, page.get_by_text("打印预览", exact=True).first.click)
    picture = page.locator('[data-testid="stImage"] img').first
    picture.wait_for(timeout=120_000)
    assert picture.evaluate("img => img.complete && img.naturalWidth") > 100
    page.get_by_text("打印预览（第 1 页）").wait_for()
