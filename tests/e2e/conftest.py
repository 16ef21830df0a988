"""Browser harness: `streamlit run app.py` on a free port with its own data, driven by
Debian's chromium through Playwright.

`playwright install` cannot download browsers here, so the system chromium is launched
by `executable_path`. Without it the tests skip with a message; CI installs it.
A failing test leaves a screenshot in tests/e2e/artifacts/.

Accounts: the server gets an administrator `admin`, a unit user `unit` (of 镇城管中队), a
center clerk `center` and a leader `leader` through the CLI; `page` is already logged in as
`admin`. A reload (page.goto, open_app) starts a new Streamlit session that the login cookie
resumes; should the login form show instead (the session ended), `open_app` logs the page in
again with the credentials `login` remembered. Log in as someone else with `login(page, server, "unit", server.users["unit"])`.

Every action that may start a script run goes through `settle(page, action)`: it waits until
the run the action started has finished, so the next action never lands on a widget that the
rerun is about to replace (an open dropdown closing under it, a click on a stale button).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# accounts the server is created with: username → (role arguments of `user add`, password)
E2E_USERS = {
    "admin": (["--role", "admin"], "e2e-admin-password"),
    "unit": (["--role", "unit", "--unit", "镇城管中队"], "e2e-unit-password"),
    "center": (["--role", "center"], "e2e-center-password"),
    "leader": (["--role", "leader"], "e2e-leader-password"),
}
# 姓名 of the accounts the tests log in with: screens name people by it, not by the login
DISPLAY_NAMES = {"admin": "孙管理", "unit": "赵承办", "center": "王敏", "leader": "钱镇长"}


# Counts the script runs the page has started: `data-test-script-state` on stApp turns to
# "running" once per run. `settle` compares the count before and after an action.
RUN_COUNTER = """
(() => {
  window.__dubanRuns = 0;
  const watch = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app) { setTimeout(watch, 20); return; }
    let last = app.getAttribute('data-test-script-state');
    new MutationObserver(() => {
      const now = app.getAttribute('data-test-script-state');
      if (now === 'running' && last !== 'running') window.__dubanRuns += 1;
      last = now;
    }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  };
  watch();
})();
"""


@dataclass
class Server:
    url: str
    data_dir: Path
    env: dict[str, str]
    users: dict[str, str] = field(default_factory=dict)  # username → password

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
        """Run `python -m duban …` against the server's own data."""
        return subprocess.run(
            [sys.executable, "-m", "duban", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One app server for the e2e session, on demo data in a temporary folder."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium); CI installs it")
    data_dir = tmp_path_factory.mktemp("e2e-data")
    env = {
        **os.environ,
        "DUBAN_DATA_DIR": str(data_dir),
        "DUBAN_DATABASE_URL": f"sqlite:///{data_dir / 'duban.db'}",
        "PYTHONPATH": str(ROOT),
    }
    server = Server(url="", data_dir=data_dir, env=env)
    init = server.cli("init", "--demo")
    assert init.returncode == 0, init.stderr
    for username, (role_args, password) in E2E_USERS.items():
        added = server.cli(
            "user", "add", username, *role_args, "--display-name", DISPLAY_NAMES[username],
            "--password-stdin", stdin=password,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        server.users[username] = password
    port = free_port()
    server.url = f"http://127.0.0.1:{port}"
    log = (data_dir / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.port", str(port), "--server.address", "127.0.0.1",
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_healthy(server.url, proc)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def browser(server: Server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


def new_context(browser):
    """A browser context at the office's screen size whose pages count their script runs."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    context.add_init_script(RUN_COUNTER)
    return context


@pytest.fixture
def page(browser, server: Server, request: pytest.FixtureRequest):
    """A fresh browser context per test (its own Streamlit session), logged in as admin."""
    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(20_000)
    login(page, server, "admin", server.users["admin"])
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def open_app(page, server: Server, path: str = "") -> None:
    """Go to a page of the app and wait until Streamlit has drawn it.

    Loading a URL starts a new session: if the page was logged in (`login`), it logs in
    again and lands on `path` (with its query parameters).
    """
    page.goto(f"{server.url}/{path}")
    _wait_drawn(page)
    credentials = getattr(page, "duban_credentials", None)
    if credentials is None:
        return
    _login_form(page).or_(_logged_in_as(page, credentials[0])).first.wait_for()
    if _login_form(page).count():
        _submit_login(page, *credentials)


def login(page, server: Server, username: str, password: str, path: str = "") -> None:
    """Open the app at `path`, log in through the login form, and remember the credentials
    so that `open_app` logs in again after a reload. Any earlier login's cookie is dropped
    first, so the form shows even when the page was logged in as someone else."""
    page.context.clear_cookies()
    page.goto(f"{server.url}/{path}")
    _wait_drawn(page)
    _submit_login(page, username, password)
    page.duban_credentials = (username, password)


def settle(page, action: Callable[[], object], *, start_within: float = 1.5) -> None:
    """Do `action`, then wait for the script run it started (if any) to finish.

    A run that starts within `start_within` seconds is waited for, and so is every run that
    follows it within half a second (a save ends in `st.rerun()`); an action that starts none
    (a click inside a form, typing) costs that wait and nothing else."""
    before = page.evaluate("() => window.__dubanRuns")
    action()
    wait = start_within
    while True:  # a run that ends in st.rerun() starts the next one: wait for the last
        try:
            page.wait_for_function(f"() => window.__dubanRuns > {before}", timeout=int(wait * 1000))
        except PlaywrightTimeoutError:
            return
        idle(page)
        before = page.evaluate("() => window.__dubanRuns")
        wait = 0.5


def idle(page) -> None:
    """Wait until no script run is going on (connected, state notRunning)."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', state="attached",
        timeout=30_000,
    )  # fmt: skip


def _wait_drawn(page) -> None:
    page.wait_for_selector('[data-testid="stAppViewContainer"]')
    page.wait_for_selector('[data-testid="stMain"]')
    # wait for the script run to finish (the status widget disappears)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=30_000
    )
    idle(page)


def _login_form(page):
    return page.locator('input[aria-label="用户名"]')


def _logged_in_as(page, username: str):
    name = DISPLAY_NAMES.get(username, username)
    return page.get_by_test_id("stSidebar").get_by_text(f"当前用户：{name}", exact=True)


def _submit_login(page, username: str, password: str) -> None:
    _login_form(page).fill(username)
    page.locator('input[aria-label="密码"]').fill(password)
    page.get_by_role("button", name="登录").click()
    _logged_in_as(page, username).wait_for()
    _wait_drawn(page)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
