"""The home page opens in a real browser and shows today's headline numbers."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import text
from sqlmodel import Session

from duban.boards import overdue_board
from duban.clock import today
from duban.db import make_engine
from duban.permissions import SYSTEM
from duban.workdays import Calendar
from tests.e2e.conftest import open_app

pytestmark = pytest.mark.e2e


def metric(page, label: str):
    """The metric whose label is exactly `label` (its value is the element's other text)."""
    return page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)
    )


def test_home_page_shows_headline_numbers(page, server):
    """The figures come from other paths than the page's own COUNT queries: open cases by
    plain SQL over the table, overdue steps as the rows the 逾期 board lists."""
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as session:
        open_cases = session.execute(
            text("SELECT count(*) FROM \"case\" WHERE status = 'open' AND deleted_at IS NULL")
        ).scalar_one()
        overdue = len(overdue_board(session, SYSTEM, today(), Calendar.load(session)))
    engine.dispose()
    assert open_cases > 0 and overdue > 0  # the demo town has both: the check means something
    open_app(page, server)
    value = '[data-testid="stMetricValue"]'
    expect(metric(page, "在办督办事项").locator(value)).to_have_text(str(open_cases))
    expect(metric(page, "逾期环节").locator(value)).to_have_text(str(overdue))
