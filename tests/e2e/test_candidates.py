"""督办线索 → 立案 → 督办单 → 即将到期, in a real browser.

Seed §三(一)1: "镇城运中心对各类工单进行分析 … 确定督办事项，向承办单位派送《督办单》"; §三(一)2:
"在 5 个工作日内完成工单处置，书面反馈". A group proposed on 督办线索 becomes a case whose
督办单, sent three working days ago, is due in two: the 即将到期 board lists it.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from duban.clock import today
from duban.db import make_engine
from duban.models import Case, CaseTicket, Step
from duban.workdays import Calendar
from tests.e2e.conftest import open_app

pytestmark = pytest.mark.e2e


def three_working_days_ago(server) -> str:
    """The issue date whose 5-working-day deadline falls 2 working days from today."""
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as s:
        calendar = Calendar.load(s)
    day = today()
    while calendar.between(day, today()) < 3:
        day -= timedelta(days=1)
    return day.strftime("%Y/%m/%d")


def first_proposed_group(page):
    """Open the rule tabs in turn; the first group offering 立案 (the demo data decides which)."""
    for rule in ("重复投诉", "集中投诉", "不满意回访", "市级督办"):
        page.get_by_role("tab", name=re.compile(f"^{rule}")).click()
        page.get_by_role("tab", name=re.compile(f"^{rule}"), selected=True).wait_for()
        page.wait_for_timeout(500)
        page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')")
        groups = page.locator('[data-testid="stVerticalBlockBorderWrapper"]').filter(
            has=page.get_by_role("button", name="立案", exact=True)
        )
        if groups.count():
            return rule, groups.first
    raise AssertionError("the demo data offers no candidate group to open")


def test_a_candidate_group_becomes_a_case_due_soon(page, server):
    open_app(page, server, "candidates")
    rule, group = first_proposed_group(page)
    group.get_by_role("button", name="立案", exact=True).click()

    page.get_by_role("heading", name="新建督办").wait_for()
    assert page.get_by_role("textbox", name="相关情况").input_value().startswith(f"{rule}：")
    page.get_by_role("textbox", name="督办意见").fill("请于5个工作日内核查处置并书面反馈")
    opened = page.get_by_label("立项日期")
    opened.fill(three_working_days_ago(server))
    opened.press("Enter")
    page.get_by_role("button", name="确定督办事项").click()
    page.get_by_text("已确定督办事项").wait_for()
    case_no = page.locator("h1").first.inner_text().split()[0]
    assert case_no.startswith("赵巷督〔")

    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as s:
        case = s.exec(select(Case).where(Case.case_no == case_no)).one()
        (step,) = s.exec(select(Step).where(Step.case_id == case.id)).all()
        linked = s.exec(select(CaseTicket).where(CaseTicket.case_id == case.id)).all()
    assert step.kind.value == "supervision_form" and linked

    open_app(page, server, "boards?boards_tab=即将到期")
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    assert page.get_by_role("gridcell", name=case_no).count() == 1

    open_app(page, server, "candidates")  # the group is now shown as supervised, not proposed
    page.get_by_role("tab", name=re.compile(f"^{rule}")).click()
    page.get_by_role("link", name=case_no).first.wait_for()
