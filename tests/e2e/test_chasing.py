"""In a real browser, a unit user opens the app on its to-do list (待办) and signs for a 督办单
(issue #19): "a browser test shows a unit user its list and signs for a 督办单"."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from duban.cases import latest_handling_step, open_case
from duban.clock import today
from duban.db import make_engine
from duban.enums import Scope
from duban.models import StepReceipt, Unit
from duban.permissions import SYSTEM
from tests.e2e.conftest import ARTIFACTS, login, new_context, settle
from tests.factories import make_ticket

pytestmark = pytest.mark.e2e

TITLE = "签收测试事项：占道经营"


@pytest.fixture(scope="module")
def fresh_form(server) -> tuple[int, str]:
    """A 督办单 sent today to the unit user's unit (镇城管中队), not yet signed for."""
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    day = today()
    with Session(engine) as session:
        unit = session.exec(select(Unit).where(Unit.name == "镇城管中队")).one()
        ticket = make_ticket(session, unit_id=unit.id)
        case = open_case(  # opening a written case sends its 督办单, due in 5 working days
            session,
            SYSTEM,
            scope=Scope.REPEATED,
            lead_unit_id=unit.id,
            ticket_ids=[ticket.id],
            title=TITLE,
            related_info="同一地点多次投诉占道经营",
            opinion="请核查处置并书面反馈",
            opened_at=day,
        )
        step = latest_handling_step(session, case.id)
        assert step is not None
        session.commit()
        ids = (step.id, case.case_no)
    engine.dispose()
    return ids


@pytest.fixture
def unit_page(browser, server, request):
    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def test_a_unit_user_sees_its_list_and_signs_for_a_form(unit_page, server, fresh_form):
    step_id, case_no = fresh_form
    page = unit_page
    login(page, server, "unit", server.users["unit"])
    expect(page.get_by_role("heading", name="待办", exact=True)).to_be_visible()
    pending = page.get_by_role("heading", name="待签收（")
    before = int(pending.inner_text().split("（")[1].rstrip("）"))
    item = page.locator(f".st-key-todo_item_0_{step_id}")  # its card under 待签收
    expect(item).to_contain_text(case_no)
    expect(item).to_contain_text(TITLE)
    expect(item).to_contain_text("未签收")
    settle(page, lambda: item.get_by_role("button", name="签收").click())
    expect(page.get_by_text("已签收（")).to_be_visible()
    expect(pending).to_have_text(f"待签收（{before - 1}）")
    expect(page.get_by_text(TITLE)).to_have_count(0)  # signed, not yet due: off the list
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as session:
        receipt = session.get(StepReceipt, step_id)
        assert receipt is not None and receipt.on_time and not receipt.on_behalf
    engine.dispose()
