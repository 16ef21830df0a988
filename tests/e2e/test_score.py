"""热线考核 in a real browser: the page ranks both groups, and the tickets that cost a unit
points on an indicator are one click away (the issue: "for any unit and indicator the
tickets that cost it points … one click away"); a unit user sees only its own."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlmodel import Session, select

from duban.clock import today
from duban.db import make_engine
from duban.enums import CallbackResult
from duban.models import Ticket, Unit
from tests.e2e.conftest import login, open_app, settle

pytestmark = pytest.mark.e2e

UNIT = "镇城管中队"  # the e2e unit user's unit (tests/e2e/conftest.py)


@pytest.fixture(scope="module")
def lost_tickets(server) -> None:
    """This month: one ticket of the unit not contacted first, one answered 不满意."""
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    day = today()
    with Session(engine) as session:
        unit = session.exec(select(Unit).where(Unit.name == UNIT)).one()
        for no, contact, callback in (
            ("E2ESCORE0001", False, CallbackResult.SATISFIED),
            ("E2ESCORE0002", True, CallbackResult.UNSATISFIED),
        ):
            session.add(
                Ticket(
                    ticket_no=no,
                    received_at=datetime(day.year, day.month, day.day, 0, 1),
                    address="端到端考核路1号",
                    content="考核浏览器测试",
                    unit_id=unit.id,
                    first_contact=contact,
                    callback_result=callback,
                )  # fmt: skip
            )
        session.commit()
    engine.dispose()


def pick(page, label: str, option: str) -> None:
    """Choose in a selectbox as a user does with a long list: type, then click the option."""
    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.keyboard.type(option)
    page.get_by_role("option").filter(has_text=option).first.wait_for()
    settle(page, lambda: page.keyboard.press("Enter"))


def test_the_page_ranks_both_groups_and_drills_down_to_the_tickets(page, server, lost_tickets) -> None:  # fmt: skip
    open_app(page, server, "score")
    page.get_by_role("heading", name="村居排名").wait_for()
    page.get_by_role("heading", name="部门排名").wait_for()
    pick(page, "承办单位", UNIT)
    page.get_by_text(f"{UNIT} · 先行联系失分").wait_for()
    page.get_by_text("E2ESCORE0001").first.wait_for(state="attached")
    assert page.get_by_text("E2ESCORE0002").count() == 0
    indicators = page.get_by_test_id("stButtonGroup").filter(has_text="先行联系")
    settle(page, indicators.get_by_text("市民满意", exact=True).click)
    page.get_by_text(f"{UNIT} · 市民满意失分").wait_for()
    page.get_by_text("E2ESCORE0002").first.wait_for(state="attached")
    assert page.get_by_text("E2ESCORE0001").count() == 0
    page.get_by_text(f"{UNIT} 近 12 个月总得分").first.wait_for(state="attached")


def test_a_unit_user_sees_only_its_own_lost_tickets(page, server, lost_tickets) -> None:
    login(page, server, "unit", server.users["unit"], "score")
    page.get_by_text(f"本单位：{UNIT}").wait_for()
    assert page.get_by_role("heading", name="部门排名").count() == 1
    assert page.get_by_role("heading", name="村居排名").count() == 0
    page.get_by_text("E2ESCORE0001").first.wait_for(state="attached")
    page.get_by_text(f"{UNIT} · 先行联系失分").wait_for()
    assert page.get_by_test_id("stSelectbox").filter(has_text="承办单位").count() == 0
