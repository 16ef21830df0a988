"""The home page opens in a real browser and shows today's headline numbers."""

import pytest
from sqlmodel import Session

from duban.boards import headline
from duban.clock import today
from duban.db import make_engine
from duban.workdays import Calendar
from tests.e2e.conftest import open_app

pytestmark = pytest.mark.e2e


def test_home_page_shows_headline_numbers(page, server):
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as session:
        numbers = headline(session, today(), Calendar.load(session))
    open_app(page, server)
    metrics = page.locator('[data-testid="stMetric"]')
    metrics.first.wait_for()
    text = metrics.all_inner_texts()
    assert any("在办督办事项" in t and str(numbers.open_cases) in t for t in text), text
    assert any("逾期环节" in t and str(numbers.overdue_steps) in t for t in text), text
