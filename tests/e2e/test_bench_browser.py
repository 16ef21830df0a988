"""The browser benchmark (`bench.browser`) at its smallest: one try of every step on duban
and on the floor app, on the demo town. No timings are asserted; the harness must run both
apps through every step (the floor's server is not even told where the database is) and
print each step's p50 and p95 beside the floor's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import browser
from tests.e2e.conftest import CHROMIUM, ROOT

pytestmark = pytest.mark.e2e


def test_one_try_of_every_step_on_both_apps(tmp_path: Path) -> None:
    """Run as a user runs it: its own process (and its own Playwright, which cannot start
    inside the e2e session's)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    table = tmp_path / "browser.md"
    run = subprocess.run(
        [sys.executable, "-m", "bench.browser", "--tries", "1", "--no-warm-up",
         "--keep", str(tmp_path / "run"), "--markdown", str(table)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    for step in browser.STEPS:
        assert f"browser: {step}" in out, step
        assert f"| {step} |" in table.read_text(), step
    assert "1 tries each" in table.read_text()
