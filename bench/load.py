"""Load test: simulated staff in real browsers against `streamlit run app.py`, then a check
that no acknowledged save was lost, doubled or silently overwritten.

    python -m bench.load [--users 20] [--duration 300] [--database sqlite|postgresql]

Setup (untimed): a fresh database with the demo town (`python -m duban init --demo`), one
center account per simulated person (`python -m duban user add staffNN --role center
--password-stdin`), and `TARGETS` extra tickets imported with the addresses 压测路01号 …
so that about two people share each ticket (they do collide). Then the server starts on
loopback and one headless Debian chromium opens one browser context per person.

Each person logs in once and then, until the time is up, repeats what the center does all
day, always through the page (no URL reloads: one Streamlit session per person):
1. 工单台账 from the sidebar, filter by keyword to one shared ticket;
2. edit its 备注 cell in the grid, appending a unique marker (`L07-0012`), and 保存;
   "已保存：修改 1 条" is an acknowledgement; a refusal naming the row (someone saved it
   first) is the version check working, counted as a conflict, and the grid is refreshed;
3. 督办事项: search an open case, open it, 登记书面反馈 with a unique marker (unsigned, so the
   step stays open for the next one); "书面反馈已登记" is an acknowledgement;
4. 看板 and 首页.
Every action's page time (click until Streamlit has finished the run and the expected
content shows) is recorded; an error is any failed action or any error message on a page.

The consistency check then reads the database: every acknowledged ticket marker must be in
its ticket's 备注 exactly once (appending makes a lost update visible: a save based on an
old 备注 would drop the markers saved since) and in exactly one audit row; every
acknowledged feedback marker in exactly one feedback row; no marker of a refused save may
be anywhere. Exit status 0 only with no errors and a clean check.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openpyxl
from sqlalchemy import text

from bench.measure import load_average, machine, rss_mb
from duban.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--disable-dev-shm-usage"]  # fmt: skip
PASSWORD = "load-test-password"
TIMEOUT_MS = 120_000
NOTES_OFFSET = 13  # grid columns from the pinned 工单编号 to 备注 (as tests/e2e/test_ledger.py)
STATUS = '[data-testid="stStatusWidget"]'
SAVE_ANSWER = re.compile(r"已保存：|未保存|没有需要保存的修改")  # the ledger's answers to 保存


@dataclass
class Acks:
    """What the clients were told was saved, and what was refused."""

    notes: dict[str, str] = field(default_factory=dict)  # marker → ticket address key
    feedback: dict[str, str] = field(default_factory=dict)  # marker → case number
    refused: set[str] = field(default_factory=set)  # markers of saves refused as stale
    unknown: set[str] = field(default_factory=set)  # markers whose outcome was not seen


@dataclass
class Stats:
    """Every action's page time, and what went wrong or had to be done again."""

    times: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    conflicts: int = 0  # saves refused by the version check (someone saved the row first)
    retries: int = 0  # grid input the browser had not taken yet, done again

    def record(self, action: str, seconds: float) -> None:
        self.times.setdefault(action, []).append(seconds)

    @property
    def served(self) -> int:
        return sum(len(v) for v in self.times.values())


# --- setup ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    """`python -m duban …` against the test's data (exit 3, some rows rejected, is fine)."""
    done = subprocess.run(
        [sys.executable, "-m", "duban", *args], cwd=ROOT, env=env, input=stdin,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode not in (0, 3):
        raise RuntimeError(f"duban {' '.join(args)}: {done.stderr or done.stdout}")
    return done.stdout


def ticket_number(key: int) -> str:
    """The 工单编号 of the shared ticket 压测路{key}号."""
    return f"LOAD{key:014d}"


def target_export(count: int) -> bytes:
    """The shared tickets: one per address 压测路NN号, so a keyword finds exactly one."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["工单编号", "受理时间", "诉求地址", "诉求内容", "责任单位", "工单状态"])
    for k in range(1, count + 1):
        ws.append([ticket_number(k), "2024/6/1 9:30", f"示例镇压测路{k:02d}号",
                   "压测工单：路灯不亮", "镇城建中心", "处理中"])  # fmt: skip
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def prepare(env: dict[str, str], folder: Path, users: int, targets: int) -> list[str]:
    """Demo data, accounts, shared tickets; returns the open cases' numbers to give feedback on."""
    cli(env, "init", "--demo")
    for n in range(users):
        cli(env, "user", "add", f"staff{n:02d}", "--role", "center", "--password-stdin",
            stdin=PASSWORD)  # fmt: skip
    export = folder / "load-targets.xlsx"
    export.write_bytes(target_export(targets))
    cli(env, "import-tickets", str(export))
    engine = make_engine(env["DUBAN_DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                'SELECT DISTINCT c.case_no FROM "case" c JOIN step s ON s.case_id = c.id '
                "WHERE c.status = 'open' AND s.status = 'open' AND c.deleted_at IS NULL "
                "AND s.deleted_at IS NULL AND s.kind IN ('supervision_form', 'onsite_notice', "
                "'escalated_handling') ORDER BY c.case_no"
            )
        ).all()
    engine.dispose()
    return [r[0] for r in rows]


def reset_postgres(pg_url: str, schema: str) -> str:
    """An empty schema in the PostgreSQL database; the URL that works in it."""
    from sqlalchemy.engine import make_url

    engine = make_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    url = make_url(pg_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


class Server:
    """`streamlit run SCRIPT` on loopback, its log in `log`, its memory sampled (also the
    browser benchmark's servers: duban and its floor app)."""

    def __init__(self, env: dict[str, str], log: Path, script: str = "app.py") -> None:
        self.script = script
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", script, "--server.port", str(self.port),
                "--server.address", "127.0.0.1", "--server.headless", "true",
                "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            ],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.peak_mb = 0.0
        self.loads = [load_average()]  # the machine's load average during the test
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set() and self.proc.poll() is None:
            try:
                self.peak_mb = max(self.peak_mb, rss_mb(self.proc.pid))
            except OSError:
                return
            self.loads.append(load_average())
            self._stop.wait(0.5)

    def wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_path.read_text()[-2000:]
                raise RuntimeError(f"{self.script} exited with {self.proc.returncode}: {tail}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as resp:
                    if resp.read().decode().strip() == "ok":
                        self._sampler.start()
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{self.url} did not answer within {timeout} s")

    def stop(self) -> None:
        self._stop.set()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# --- one simulated person ----------------------------------------------------------------------


class Retry(Exception):
    """A browser step to do again: the grid had not taken the input yet."""


async def _poll(check: Callable[[], Awaitable[bool]], seconds: float = 20) -> bool:
    """Whether `check` comes true within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return False


async def _absent(locator) -> bool:
    return not await locator.count()


async def _shows(read: Callable[..., Awaitable[str]], text: str) -> bool:
    """Whether `read` (the cell editor's value, a grid cell's text) gives `text`; False while
    the grid is redrawn and the element is gone."""
    from playwright.async_api import Error

    try:
        return (await read(timeout=5000)).strip() == text
    except Error:
        return False


async def idle(page) -> None:
    """Wait until Streamlit has finished the current script run."""
    await page.wait_for_timeout(150)
    await page.wait_for_function(
        f"() => !document.querySelector('{STATUS}')", timeout=TIMEOUT_MS, polling=100
    )


async def page_error(page) -> str | None:
    """The text of an error or exception the page shows, if any."""
    for selector in ('[data-testid="stException"]', '[data-testid="stAlertContentError"]'):
        found = page.locator(selector)
        if await found.count():
            return (await found.first.inner_text())[:200]
    return None


class Staff:
    """One person at a browser: logs in once, then works until the deadline."""

    def __init__(self, n: int, browser, url: str, cases: list[str], targets: int,
                 acks: Acks, stats: Stats, artifacts: Path) -> None:  # fmt: skip
        self.n, self.browser, self.url, self.artifacts = n, browser, url, artifacts
        self.cases, self.targets = cases, targets
        self.acks, self.stats = acks, stats
        self.saves = 0
        self.page = None

    async def timed(self, action: str, work: Callable[[], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        result = await work()
        await idle(self.page)
        self.stats.record(action, time.perf_counter() - started)
        problem = await page_error(self.page)
        if problem:
            raise RuntimeError(f"{action}: page shows an error: {problem}")
        return result

    async def login(self) -> None:
        context = await self.browser.new_context(viewport={"width": 1400, "height": 1000},
                                                 locale="zh-CN")  # fmt: skip
        self.page = page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        await page.goto(self.url)
        await page.locator('[data-testid="stMain"]').wait_for()
        await page.locator('input[aria-label="用户名"]').fill(f"staff{self.n:02d}")
        await page.locator('input[aria-label="密码"]').fill(PASSWORD)

        async def submit() -> None:
            await page.get_by_role("button", name="登录").click()
            await page.get_by_text(f"当前用户：staff{self.n:02d}", exact=True).wait_for()

        await self.timed("login", submit)

    async def nav(self, title: str, heading: str) -> None:
        page = self.page

        async def go() -> None:
            await page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
            await page.get_by_role("heading", name=heading).first.wait_for()

        await self.timed(f"open {title}", go)

    async def filter_ticket(self, key: int) -> None:
        page = self.page
        keyword = page.get_by_label("关键词（地址或内容）")

        async def work() -> None:
            await keyword.fill(f"压测路{key:02d}号")
            await keyword.press("Enter")
            # "共 1 条" is on screen already from the last round's filter: wait for this
            # ticket's own link under the grid
            await page.get_by_role("link", name=ticket_number(key), exact=True).wait_for()
            await page.get_by_text("共 1 条").first.wait_for()

        await self.timed("filter ledger", work)

    async def select_notes_cell(self, key: int) -> str:
        """Select the 备注 cell of the first row — the ticket of `key` — and return the text
        it shows.

        The grid is a canvas: click the row, walk right with the keyboard, and check through
        the grid's accessibility table. A rerun can redraw the grid under the pointer, so
        the walk is retried; `Retry` if the grid never took the clicks."""
        from playwright.async_api import Error

        page = self.page
        grid = page.locator('[data-testid="stDataFrame"]').first
        canvas = grid.locator('[data-testid="data-grid-canvas"]')
        first = grid.locator("#glide-cell-1-0")  # 工单编号, pinned first
        notes = grid.locator(f"#glide-cell-{1 + NOTES_OFFSET}-0")
        for attempt in range(10):
            try:
                await idle(page)
                await grid.scroll_into_view_if_needed(timeout=10_000)
                box = await canvas.bounding_box(timeout=10_000)
                if box is None:  # not laid out yet
                    raise Error("the grid has no box yet")
                await page.mouse.click(box["x"] + 100, box["y"] + 35 + 17)  # row marker ≈ 30 px
                await page.wait_for_timeout(300 + 200 * attempt)
                if await first.get_attribute("aria-selected", timeout=5000) == "true":
                    if (await first.inner_text(timeout=5000)).strip() != ticket_number(key):
                        raise Retry("the grid still showed another ticket")
                    for _ in range(NOTES_OFFSET):
                        await page.keyboard.press("ArrowRight")
                    await page.wait_for_timeout(300 + 200 * attempt)
                    if await notes.get_attribute("aria-selected", timeout=5000) == "true":
                        return (await notes.inner_text(timeout=5000)).strip()
            except Error:
                pass  # the grid was redrawn meanwhile: start again
            await page.wait_for_timeout(500 + 500 * attempt)
        raise Retry("the grid did not select the 备注 cell")

    async def type_note(self, shown: str, value: str) -> None:
        """Open the selected cell's editor, replace `shown` by `value`, and wait until the grid
        shows it (the grid keeps an edit only once its editor closed)."""
        from playwright.async_api import TimeoutError as PlaywrightTimeout

        page = self.page
        await page.keyboard.press("Enter")
        editor = page.locator("textarea.gdg-input")
        try:
            await editor.wait_for(timeout=30_000)
        except PlaywrightTimeout as exc:  # a starved renderer lost the key press: nothing typed
            raise Retry("the cell editor did not open") from exc
        if not await _poll(lambda: _shows(editor.input_value, shown)):
            raise Retry(f"the cell editor did not show the 备注 {shown!r}")
        try:
            await editor.fill(value, timeout=10_000)
            await editor.press("Enter", timeout=10_000)
        except PlaywrightTimeout as exc:  # the grid was redrawn and closed the editor
            raise Retry("the cell editor closed before it took the input") from exc
        cell = page.locator('[data-testid="stDataFrame"]').first.locator(
            f"#glide-cell-{1 + NOTES_OFFSET}-0"
        )
        if not await _poll(lambda: _shows(cell.inner_text, value)):
            raise Retry("the grid did not keep the edit")
        await page.get_by_text("工单详情：").click()  # the grid hands over on blur
        await page.wait_for_timeout(800)

    async def refresh(self) -> None:
        """刷新: reload the grid (drops an edit not saved) and clear the last save's message,
        so the next 保存 cannot be mistaken for the previous one's answer."""
        page = self.page
        await self.timed("refresh ledger", lambda: page.get_by_role("button", name="刷新").click())
        await _poll(lambda: _absent(page.get_by_text(SAVE_ANSWER)), seconds=60)

    async def edit_and_save(self, key: int) -> None:
        """Append a marker to the shared ticket's 备注 and 保存; the answer decides the ack.

        When the grid did not take the input (a starved browser), the pending edit is thrown
        away with 刷新 and the edit is done again: counted as a retry, not an error."""
        page = self.page
        self.saves += 1
        marker = f"L{self.n:02d}-{self.saves:04d}"
        answer = page.get_by_text(SAVE_ANSWER)
        for _ in range(4):
            if await answer.count():  # a message from an earlier 保存 is still shown
                await self.refresh()
            try:
                shown = await self.select_notes_cell(key)
                await self.type_note(shown, f"{shown} {marker}".strip())
            except Retry:
                self.stats.retries += 1
                await self.refresh()
                continue
            self.acks.unknown.add(marker)

            async def save() -> str:
                await page.get_by_role("button", name="保存", exact=True).click()
                await answer.first.wait_for()
                return await answer.first.inner_text()

            said = await self.timed("save ticket", save)
            self.acks.unknown.discard(marker)
            if "没有需要保存的修改" in said:  # the form got no edit: nothing was saved
                self.stats.retries += 1
                continue
            if "以下行未保存" in said:
                self.acks.refused.add(marker)
                self.stats.conflicts += 1
                await self.refresh()
            elif "修改 1 条" in said:
                self.acks.notes[marker] = f"压测路{key:02d}号"
            else:
                raise RuntimeError(f"save of {marker}: unexpected answer {said!r}")
            return
        raise RuntimeError(f"could not edit the 备注 for {marker} in 4 attempts")

    async def feedback(self, case_no: str) -> None:
        page = self.page
        self.saves += 1
        marker = f"F{self.n:02d}-{self.saves:04d}"
        search = page.get_by_label("搜索（督办编号、事由、相关情况）")

        async def find() -> None:
            await search.fill(case_no)
            await search.press("Enter")
            await page.get_by_text("共 1 件").first.wait_for()

        await self.timed("search cases", find)

        async def open_case() -> None:
            await page.get_by_role("button", name="打开", exact=True).click()
            await page.get_by_role("button", name="← 返回列表").wait_for()

        await self.timed("open case", open_case)
        await page.get_by_text("登记书面反馈", exact=True).first.click()
        form = page.get_by_test_id("stForm").filter(has=page.get_by_label("反馈内容"))
        await form.get_by_label("反馈内容").fill(marker)
        await form.get_by_role("combobox", name="处置进展", exact=True).click()  # no default
        await page.keyboard.type("有进展")
        await page.get_by_role("option", name="有进展", exact=True).click()
        self.acks.unknown.add(marker)

        async def submit() -> None:
            await form.get_by_role("button", name="登记反馈").click()
            await page.get_by_text("书面反馈已登记").first.wait_for()

        await self.timed("register feedback", submit)
        self.acks.unknown.discard(marker)
        self.acks.feedback[marker] = case_no

    async def round(self, number: int) -> None:
        """One round of the day's routine."""
        key = (self.n + number) % self.targets + 1
        await self.nav("工单台账", "工单台账")
        await self.filter_ticket(key)
        await self.edit_and_save(key)
        await self.nav("督办事项", "督办事项")
        await self.feedback(self.cases[(self.n + number) % len(self.cases)])
        await self.nav("看板", "看板")
        await self.nav("首页", "12345 热线督办台账")

    async def run(self, deadline: float) -> None:
        """Rounds until the deadline. A failure is counted with a screenshot; the person
        then starts over in a new browser session (logs in again) and carries on."""
        number = 0
        while time.monotonic() < deadline:
            try:
                if self.page is None:
                    await self.login()
                await self.round(number)
                number += 1
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                self.stats.errors.append(f"staff{self.n:02d} round {number}: "
                                         f"{exc.__class__.__name__}: {str(exc)[:300]}")  # fmt: skip
                if self.page is not None:  # what the person saw when it failed
                    self.artifacts.mkdir(parents=True, exist_ok=True)
                    shot = self.artifacts / f"staff{self.n:02d}-{len(self.stats.errors)}.png"
                    await self.page.screenshot(path=str(shot), full_page=True)
                    await self.page.context.close()
                    self.page = None
                number += 1
        if self.page is not None:
            await self.page.context.close()


async def simulate(url: str, users: int, duration: float, cases: list[str], targets: int,
                   acks: Acks, stats: Stats, ramp: float, artifacts: Path) -> None:  # fmt: skip
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        deadline = time.monotonic() + ramp * users + duration
        staff = [
            Staff(n, browser, url, cases, targets, acks, stats, artifacts) for n in range(users)
        ]
        tasks = []
        for person in staff:
            tasks.append(asyncio.create_task(person.run(deadline)))
            await asyncio.sleep(ramp)  # people arrive one after another
        await asyncio.gather(*tasks)
        await browser.close()


# --- the check -----------------------------------------------------------------------------------


def check(url: str, acks: Acks) -> list[str]:
    """Problems found in the database: acknowledged saves lost or doubled, refused saves
    landed, or a save accepted on top of a value it had not seen (a broken audit chain)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        tickets = conn.execute(
            text("SELECT id, address, notes FROM ticket WHERE address LIKE '示例镇压测路%'")
        ).all()
        trail = conn.execute(
            text(
                "SELECT entity_id, old, new, username, at FROM auditlog WHERE entity = 'ticket' "
                "AND field = 'notes' ORDER BY id"
            )
        ).all()
        feedback = Counter(t for (t,) in conn.execute(text("SELECT text FROM feedback")))
    engine.dispose()
    problems: list[str] = []
    notes = {address.removeprefix("示例镇"): value or "" for _, address, value in tickets}
    changes: dict[int, list[tuple[str, str, str, object]]] = {}
    for ticket_id, old, new, who, at in trail:
        changes.setdefault(ticket_id, []).append((old or "", new or "", who, at))
    for ticket_id, address, value in tickets:
        seen = ""  # each accepted save must start from the value the previous one left
        for old, new, _, _ in changes.get(ticket_id, []):
            if old != seen:
                problems.append(f"{address}: a save replaced {old!r}, but the 备注 was {seen!r}")
            seen = new
        if seen != (value or ""):
            problems.append(f"{address}: 备注 is {value!r}, the last audited save left {seen!r}")
    saved = Counter(new.split()[-1] for _, _, new, _, _ in trail if new and new.split())
    in_notes = Counter(m for value in notes.values() for m in value.split())
    for marker, address in acks.notes.items():
        here = notes.get(address, "").split().count(marker)
        if here != 1:
            dropped = [
                f"{who} at {str(at)[:19]} wrote {new!r} over {old!r}"
                for values in changes.values()
                for old, new, who, at in values
                if marker in old.split() and marker not in new.split()
            ]
            elsewhere = [
                a for a, value in notes.items() if a != address and marker in value.split()
            ]
            problems.append(f"ticket marker {marker}: in the 备注 of {address} {here} times"
                            + (f" (dropped by {'; '.join(dropped)})" if dropped else "")
                            + (f" (found in {', '.join(elsewhere)})" if elsewhere else ""))  # fmt: skip
        if saved[marker] != 1:
            problems.append(f"ticket marker {marker}: saved by {saved[marker]} audited saves")
    for marker in acks.feedback:
        if feedback[marker] != 1:
            problems.append(f"feedback marker {marker}: in {feedback[marker]} feedback rows")
    for marker in acks.refused:
        if in_notes[marker] or saved[marker]:
            problems.append(f"the refused save {marker} is in the database")
    return problems


# --- the command ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def report(stats: Stats, acks: Acks, problems: list[str], server: Server, users: int,
           duration: float, database: str) -> None:  # fmt: skip
    every = [t for times in stats.times.values() for t in times]
    print(f"\nload test: {users} users, {duration:.0f} s, {database}; "
          f"machine load average {min(server.loads):.1f}–{max(server.loads):.1f}")  # fmt: skip
    print(f"requests served (completed page actions): {stats.served:,} "
          f"({stats.served / duration:.1f}/s)")  # fmt: skip
    if every:
        print(f"page time over all actions: p50 {statistics.median(every):.2f} s, "
              f"p95 {percentile(every, 0.95):.2f} s, max {max(every):.2f} s")  # fmt: skip
    for action, times in sorted(stats.times.items()):
        print(f"  {action:<20} n={len(times):>5}  p50 {statistics.median(times):6.2f} s  "
              f"p95 {percentile(times, 0.95):6.2f} s")  # fmt: skip
    print(f"grid input done again (browser had not taken it yet): {stats.retries}")
    print(f"saves acknowledged: {len(acks.notes)} ticket edits, {len(acks.feedback)} feedback; "
          f"refused as stale (version check): {len(acks.refused)}; outcome not seen: "
          f"{len(acks.unknown)}")  # fmt: skip
    print(f"server peak RSS: {server.peak_mb:.0f} MB")
    print(f"errors: {len(stats.errors)}")
    for error in stats.errors:
        print(f"  {error}")
    print(f"consistency check: {'clean' if not problems else f'{len(problems)} problems'}")
    for problem in problems:
        print(f"  {problem}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=300, help="seconds of work after ramp-up")
    parser.add_argument("--ramp", type=float, default=2.0, help="seconds between arrivals")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--artifacts", type=Path,
                        default=Path(tempfile.gettempdir()) / "duban-load-artifacts",
                        help="screenshots of the pages where a person's work failed")  # fmt: skip
    parser.add_argument("--keep", type=Path, help="keep the database, data and server log here")
    parser.add_argument("--pg-url", default=os.environ.get(
        "DUBAN_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/duban_bench"))  # fmt: skip
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print("Debian chromium is needed (apt-get install chromium)")
        return 2
    targets = max(1, args.users // 2)
    with tempfile.TemporaryDirectory(prefix="duban-load-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.database == "postgresql":
            url = reset_postgres(args.pg_url, "bench_load")
        else:
            url = f"sqlite:///{folder / 'duban.db'}"
        env = {**os.environ, "DUBAN_DATA_DIR": str(folder / "data"), "DUBAN_DATABASE_URL": url,
               "PYTHONPATH": str(ROOT)}  # fmt: skip
        print("machine: " + "; ".join(f"{k} {v}" for k, v in machine().items()))
        started = time.perf_counter()
        cases = prepare(env, folder, args.users, targets)
        print(f"setup: demo data, {args.users} accounts, {targets} shared tickets, "
              f"{len(cases)} open cases ({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip
        server = Server(env, folder / "streamlit.log")
        acks, stats = Acks(), Stats()
        try:
            server.wait_healthy()
            asyncio.run(simulate(server.url, args.users, args.duration, cases, targets,
                                 acks, stats, args.ramp, args.artifacts))  # fmt: skip
        finally:
            server.stop()
        problems = check(url, acks)
        report(stats, acks, problems, server, args.users, args.duration, args.database)
    return 0 if not stats.errors and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
