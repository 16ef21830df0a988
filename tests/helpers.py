"""Helpers shared by the tests: open a page the way a logged-in user reaches it; set the clock."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from unittest.mock import patch

from streamlit.testing.v1 import AppTest

from duban.permissions import Actor

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_page(
    actor: Actor, page: str, *, state: Mapping[str, Any] | None = None, **params: str
) -> AppTest:
    """Run the app as `actor`, switch to `page` with session `state` and query `params`, run
    it, and fail the test on any exception the page raised."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["actor"] = actor
    at.run()
    at.switch_page(page)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def clock_on(day: date) -> Any:
    """The application clock (`duban.clock`) stands at noon of `day`: a context manager."""
    return patch("duban.clock.now", return_value=datetime.combine(day, time(12)))
