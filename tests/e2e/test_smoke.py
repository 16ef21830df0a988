"""The home page opens in a real browser and shows today's headline numbers."""

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from duban.boards import headline
from duban.clock import today
from duban.db import make_engine
from duban.workdays import Calendar
from tests.e2e.conftest import open_app

pytestmark = pytest.mark.e2e


def metric(page, label: str):
    """The metric whose label is exactly `label` (its value is the element's other text)."""
    return page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label)
    )


def test_home_page_shows_headline_numbers(page, server):
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as session:
        numbers = headline(session, today(), Calendar.load(session))
    engine.dispose()
    open_app(page, server)
    value = '[data-testid="stMetricValue"]'
    expect(metric(page, "在办督办事项").locator(value)).to_have_text(str(numbers.open_cases))
    expect(metric(page, "逾期环节").locator(value)).to_have_text(str(numbers.overdue_steps))
