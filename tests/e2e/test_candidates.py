"""督办线索 → 立案 → 督办单 → 即将到期, in a real browser.

Seed §三(一)1: "镇城运中心对各类工单进行分析 … 确定督办事项，向承办单位派送《督办单》"; §三(一)2:
"在 5 个工作日内完成工单处置，书面反馈". A group proposed on 督办线索 becomes a case whose
督办单, sent three working days ago, is due in two: the 即将到期 board lists it.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from duban.clock import today
from duban.db import make_engine
from duban.models import Case, CaseTicket, Step, Unit
from duban.workdays import Calendar
from tests.e2e.conftest import open_app

pytestmark = pytest.mark.e2e


def three_working_days_ago(server) -> date:
    """The issue date whose 5-working-day deadline falls 2 working days from today."""
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as s:
        calendar = Calendar.load(s)
    day = today()
    while calendar.between(day, today()) < 3:
        day -= timedelta(days=1)
    return day


def set_date(page, label: str, day: date) -> None:
    """Type a date into a date input, segment by segment (year, month, day)."""
    for part, value in (
        ("year", f"{day.year}"),
        ("month", f"{day.month:02d}"),
        ("day", f"{day.day:02d}"),
    ):
        segment = page.get_by_role("spinbutton", name=f"{part}, {label}")
        segment.click()
        segment.press_sequentially(value)


def settle(page) -> None:
    """Let the script run a click started finish (the running indicator disappears)."""
    page.wait_for_timeout(500)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")


def first_proposed_group(page):
    """Open the rule tabs in turn; the first 立案 button found (the demo data decides which)."""
    for rule in ("重复投诉", "集中投诉", "不满意回访", "市级督办"):
        page.get_by_role("tab", name=re.compile(f"^{rule}")).click()
        page.get_by_role("tab", name=re.compile(f"^{rule}"), selected=True).wait_for()
        settle(page)
        buttons = page.get_by_role("button", name="立案", exact=True)
        if buttons.count():
            return rule, buttons.first
    raise AssertionError("the demo data offers no candidate group to open")


def test_a_candidate_group_becomes_a_case_due_soon(page, server):
    open_app(page, server, "candidates")
    rule, button = first_proposed_group(page)
    button.click()

    page.get_by_role("heading", name="新建督办").wait_for()
    settle(page)
    expect(page.get_by_role("textbox", name="相关情况")).to_have_value(re.compile(f"^{rule}："))
    page.get_by_role("textbox", name="督办意见").fill("请于5个工作日内核查处置并书面反馈")
    issued = three_working_days_ago(server)
    set_date(page, "立项日期", issued)
    page.get_by_role("button", name="确定督办事项").click()
    page.get_by_text("已确定督办事项").wait_for()
    case_no = page.locator("h1").first.inner_text().split()[0]
    assert case_no.startswith("赵巷督〔")

    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as s:
        case = s.exec(select(Case).where(Case.case_no == case_no)).one()
        (step,) = s.exec(select(Step).where(Step.case_id == case.id)).all()
        linked = s.exec(select(CaseTicket).where(CaseTicket.case_id == case.id)).all()
        unit = s.get(Unit, case.lead_unit_id)
    assert step.kind.value == "supervision_form" and step.issued_at == issued and linked

    # the 即将到期 board of the case's unit (the grid's accessible table lists its cells)
    open_app(page, server, f"boards?boards_tab=即将到期&boards_unit={unit.name}")
    cells = page.locator('[data-testid="stDataFrame"] td[role="gridcell"]')
    cells.first.wait_for(state="attached")
    expect(cells.filter(has_text=case_no)).to_have_count(1)

    open_app(page, server, "candidates")  # the group is now shown as supervised, not proposed
    page.get_by_role("tab", name=re.compile(f"^{rule}")).click()
    page.get_by_role("link", name=case_no).first.wait_for()
