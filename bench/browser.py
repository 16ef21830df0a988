"""What a user waits for in a real browser, against a bare Streamlit app drawing the same
widgets from precomputed data, both served and driven in the same run.

    python -m bench.browser [--tries 10]                      # the demo town (init --demo)
    python -m bench.browser --tickets 100000 --database sqlite # synthetic data (bench.synth)
    python -m bench --browser …                                # beside the other figures

Both apps run under `streamlit run` on loopback; one headless Debian chromium (Playwright,
`executable_path`) drives them. Each try is a new browser context (a first visit: no
cookie, no cache) on each app in turn — duban, then the floor, or the other way round on
odd tries — doing the same steps, each timed from the user's click (or the address typed)
until the widget acted on next is visible and Streamlit's script run has finished
(`data-test-script-state="notRunning"`):

1. first visit → the login form;
2. 登录 → 首页 (its metrics);
3. sidebar → 工单台账 (its grid), 看板 (its 逾期 table); a case link on 首页 → the case page;
4. 保存 of one edited 备注 in the ledger grid → "已保存：修改 1 条";
5. 生成文书 (督办单) in the case's 生成文书 panel → its 下载 Word button → the file
   downloaded (the panel's opening and the grid's typing are not timed: the user's own).

The floor (`bench/floor_app.py`) is a plain Streamlit script with the same page list, login
form, metrics and links, ledger editor (same rows, columns and column types), board table,
case sections and a download button with a docx rendered once beforehand. It reads one
pickle and never the database. Set-up (untimed): the data, a center account, and the
floor's data computed through the app's own page-data functions (`ui/*_data.py`), so both
show the same rows. One untimed round on each app first (the server's first view of each
page compiles and imports). Reported: p50 and p95 of the tries, and their ratios
app ÷ floor; target ≤ 1.5× at p50, ≤ 2× for the two steps that write (save, 督办单).
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import CHROMIUM, CHROMIUM_ARGS, Server, percentile
from bench.measure import Figure, load_average, machine, show_ratio, show_time
from tests.e2e.conftest import RUN_COUNTER, settle

ROOT = Path(__file__).resolve().parent.parent
USERNAME = "bench-browser"
PASSWORD = "Browser-bench-pass-2026"
TIMEOUT_MS = 90_000
NOTES_OFFSET = 13  # grid cells from 工单编号 (pinned, first) to 备注 (tests/e2e/test_ledger.py)
RUN_STATE = '[data-testid="stApp"][data-test-script-state="notRunning"]'

STEPS: dict[str, float | None] = {  # step → target ratio to its floor (p50); None: a part
    "first visit → login form": 1.5,
    "登录 → 首页": 1.5,
    "switch → 工单台账": 1.5,
    "save one edit in the ledger": 2.0,
    "switch → 看板": 1.5,
    "switch → a case": 1.5,
    "督办单: click → downloaded file": 2.0,
    "… of which until 下载 Word is usable": None,
}


@dataclass
class Plan:
    """What the driver clicks: the case link on 首页 and the case page's title."""

    case_link: str
    case_title: str


# --- set-up --------------------------------------------------------------------------------------


def ensure_user(url: str) -> None:
    """The center account the browser logs in with (kept in reused benchmark data)."""
    from sqlmodel import Session

    from duban.auth import create_user, find_user
    from duban.db import open_database
    from duban.enums import Role
    from duban.permissions import SYSTEM

    engine = open_database(url)
    with Session(engine) as session:
        if find_user(session, USERNAME) is None:
            create_user(session, SYSTEM, USERNAME, PASSWORD, Role.CENTER)
            session.commit()
    engine.dispose()


def floor_data(url: str, data_dir: Path) -> tuple[dict[str, Any], Plan]:
    """Everything the floor app shows, read once through the app's own page-data functions
    (as the bench user sees it), and the case the driver opens: the first one linked on
    首页 that has a 督办单 step. Its 督办单 is rendered once here (the paper both apps list)."""
    from sqlmodel import Session
    from streamlit.runtime.pages_manager import PagesManager

    from bench.pages import app_environment
    from duban import cases
    from duban.auth import actor_for, find_user
    from duban.boards import BoardFilter
    from duban.clock import cn_date, cn_due, today
    from duban.documents import (
        KINDS,
        document_file,
        document_preview,
        preview_available,
        render_document,
    )
    from duban.enums import DocumentKind, Level, Scope
    from duban.tickets import PAGE_SIZE, TicketFilter
    from duban.views import COLUMNS, LEDGER
    from ui import board_data, case_data, ledger_data
    from ui.case_documents import CASE_KINDS
    from ui.common import engine, literal
    from ui.navigation import PAGES
    from ui.shared import change_stamp

    with app_environment(url, data_dir):
        PagesManager.uses_pages_directory = False  # as app.py leaves it (ui.common.engine)
        with Session(engine()) as session:
            user = find_user(session, USERNAME)
            assert user is not None
            me = actor_for(user)
        day, stamp = today(), change_stamp()
        data: dict[str, Any] = {
            "role": me.role.label,
            "pages": [
                (Path(p.path).stem, p.title, p.icon, p.section) for p in PAGES if me.role in p.roles
            ],
        }
        # 首页
        summary = board_data.summary(stamp, me, day, BoardFilter())
        numbers = summary.numbers
        label = lambda r: f"{literal(r.case_no)} {literal(r.title)}"  # noqa: E731
        overdue = [
            (r.case_id, label(r), f"{r.unit_name} · {r.kind.label}截止 {cn_due(r.due_at, r.provisional)} · "
             f"逾期 {r.workdays} 个工作日 · {r.last_feedback}")
            for r in summary.overdue
        ]  # fmt: skip
        soon = [
            (r.case_id, label(r), f"{r.unit_name} · {r.kind.label}截止 {cn_due(r.due_at, r.provisional)} · "
             + ("今天到期" if r.workdays == 0 else f"还剩 {r.workdays} 个工作日"))
            for r in summary.due_soon
        ]  # fmt: skip
        eligible = [
            (r.case_id, label(r), f"{r.unit_name} · 可提至{r.next_level.label if r.next_level else ''} · {r.reason}")
            for r in summary.eligible
        ]  # fmt: skip

        def more(tab: str, count: int) -> tuple[str, str] | None:
            return (tab, f"查看全部 {count} 项 →") if count > board_data.URGENT else None

        data["home"] = {
            "caption": f"今天是 {cn_date(day)} · 当前用户：{literal(me.username)}",
            "metrics": [("在办督办事项", numbers.open_cases, None)]
            + [(level.label, numbers.open_by_level[level], None) for level in Level]
            + [
                ("逾期环节", numbers.overdue_steps, None),
                ("即将到期", numbers.due_soon_steps, "今天或 2 个工作日内到期的督办环节"),
                ("待提级", summary.eligible_count, None),
            ],  # fmt: skip
            "lists": [
                ("逾期最久", overdue, "没有逾期的督办环节。", more("逾期", numbers.overdue_steps)),
                (
                    "即将到期",
                    soon,
                    "近 2 个工作日内没有到期的督办环节。",
                    more("即将到期", numbers.due_soon_steps),
                ),
                (
                    "待提级",
                    eligible,
                    "目前没有待提级的督办事项。",
                    more("待提级", summary.eligible_count),
                ),
            ],  # fmt: skip
        }
        # 工单台账
        units, categories, statuses = ledger_data.choices(stamp, me)
        frame, total, pages = ledger_data.ticket_page(stamp, me, TicketFilter(), 1)
        data["ledger"] = {
            "frame": frame, "total": total, "pages": pages, "page_size": PAGE_SIZE,
            "units": list(units.values()), "categories": categories, "statuses": statuses,
            "grid": ledger_data.GRID, "shown": list(COLUMNS[LEDGER]),
            "links": " · ".join(f"[{n}](/ledger?ticket={i})"
                                for i, n in zip(frame["id"][:10], frame["ticket_no"][:10], strict=True))
            + (" …" if len(frame) > 10 else ""),
        }  # fmt: skip
        # 看板
        data["boards"] = {
            "caption": f"{cn_date(day)} · 截止日逢休息日顺延至下一个工作日 · 标“暂估”的截止日期所在年份节假日尚未录入",
            "units": list(board_data.active_units(stamp, me).values()),
            "levels": ["全部", *(v.label for v in Level)],
            "scopes": ["全部", *(v.label for v in Scope)],
            "overdue": board_data.overdue_frame(stamp, me, day, BoardFilter()),
        }  # fmt: skip
        # the case: the first linked on 首页 with a 督办单 step
        kind = CASE_KINDS[0]
        assert kind == DocumentKind.SUPERVISION_FORM
        linked = [row for _, rows, _, _ in data["home"]["lists"] for row in rows]
        for case_id, link, _ in linked:  # noqa: B007 - the loop finds the case and its link
            steps = case_data.paper_steps(stamp, me, kind, case_id)
            if steps:
                break
        else:
            raise RuntimeError("no case linked on 首页 has a 督办单 step to print")
        with Session(engine()) as session:
            doc = render_document(session, me, kind, case_id=case_id, step_id=steps[0][0])
            session.commit()
            file_name, docx = document_file(session, me, doc.id)
            png = document_preview(session, me, doc.id) if preview_available() else None
        stamp = change_stamp()
        view = case_data.case_view(stamp, me, case_id)
        detail = view.detail
        title = f"{literal(detail.case.case_no)}　{literal(detail.case.title)}"
        data["case"] = {
            "id": case_id,
            "title": title,
            "status": f"**状态：{detail.state.label}**　｜　协调督办范围：{detail.case.scope.label}"
            f"　｜　立项：{cn_date(detail.case.opened_at)}",
            "facts": "\n\n".join(
                [
                    "**主办单位：** " + "、".join(u.name for u, _ in detail.units),
                    f"**相关情况：** {literal(detail.case.related_info)}",
                    f"**督办意见：** {literal(detail.case.opinion)}",
                ]
            ),  # fmt: skip
            "tickets": view.tickets,
            "steps": [
                f"**{v.step.level.label} · {v.step.kind.label}**　{cn_date(v.step.issued_at)}"
                + "".join(
                    f"\n- 书面反馈 {cn_date(fb.received_at)}：**{fb.progress.label}**。"
                    f"{literal(fb.text)}"
                    for fb in v.feedback
                )
                for v in detail.steps
            ],  # fmt: skip
            "actions": [a.label for a in cases.allowed_actions(me, detail.case)],
            "kinds": [DocumentKind(k).label for k in CASE_KINDS],
            "paper_steps": [f"{label}（{cn_date(issued)}发出）" for _, label, issued in steps],
            "description": KINDS[kind].description,
            "papers": [
                f"{r.kind.label} · `{r.file_name}`  \n{r.created_at:%Y-%m-%d %H:%M} {r.created_by}"
                f" · 模板 {r.template_name}"
                for r in case_data.case_papers(stamp, me, case_id)
            ],
            "file_name": file_name,
            "docx": docx,
            "png": png,
            "timeline": view.timeline,
        }
    return data, Plan(case_link=link.replace("\\", ""), case_title=title.replace("\\", ""))


# --- the browser -------------------------------------------------------------------------------


def idle(page) -> None:
    """Wait until Streamlit's script run has finished."""
    page.wait_for_selector(RUN_STATE, state="attached", timeout=TIMEOUT_MS)


def timed(page, action: Callable[[], object], ready: Callable[[], object]) -> float:
    """Seconds from `action` until `ready` (the next widget to act on is there) and the
    script run is over. Timed clicks are `force=True`: their target is already visible and
    the run that drew it over, and after typing into the grid Playwright's "stable" check
    (two equal animation frames) took a constant 1.5 s per click on both apps. Then, untimed, any run chained to it is waited for, so that the next
    action never lands on a widget about to be replaced (`tests.e2e.conftest.settle`)."""
    started = time.perf_counter()
    action()
    ready()
    idle(page)
    seconds = time.perf_counter() - started
    settle(page, lambda: None, start_within=0.3)
    return seconds


def nav(page, title: str) -> Callable[[], None]:
    return lambda: (
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click(force=True)
    )


def edit_first_note(page, value: str) -> None:
    """Type `value` into the first row's 备注 in the grid (the canvas: click the row's 工单编号,
    walk right, Enter opens the cell editor), then leave the grid, as a user does before 保存."""
    grid = page.locator('[data-testid="stDataFrame"]').first
    canvas = grid.locator('[data-testid="data-grid-canvas"]')
    first, notes = (
        grid.locator("#glide-cell-1-0"),
        grid.locator(f"#glide-cell-{1 + NOTES_OFFSET}-0"),
    )
    grid.scroll_into_view_if_needed()
    for attempt in range(6):
        box = canvas.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 100, box["y"] + 35 + 17)
        page.wait_for_timeout(300 + 200 * attempt)
        if first.get_attribute("aria-selected") != "true":
            continue
        for _ in range(NOTES_OFFSET):
            page.keyboard.press("ArrowRight")
        page.wait_for_timeout(300)
        if notes.get_attribute("aria-selected") == "true":
            break
    else:
        raise RuntimeError("the grid did not select the 备注 cell")
    page.keyboard.press("Enter")
    editor = page.locator("textarea.gdg-input")
    editor.wait_for()
    editor.fill(value)
    editor.press("Enter")
    page.get_by_text("工单详情：").click()  # the grid hands its edits to the form on blur
    page.wait_for_timeout(800)


def new_context(browser):
    """One browser profile per app for the whole run: its HTTP cache keeps Streamlit's static
    files from the warm-up, as a staff member's browser keeps them from day to day."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, locale="zh-CN", accept_downloads=True
    )
    context.add_init_script(RUN_COUNTER)  # counts script runs for `settle`
    return context


def one_try(context, url: str, plan: Plan, marker: str) -> dict[str, float]:
    """One user's visit to one app in a new tab without cookies (a new Streamlit session,
    logged out): every step's seconds."""
    context.clear_cookies()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    steps = list(STEPS)
    times: dict[str, float] = {}
    try:
        username = page.locator('input[aria-label="用户名"]')
        times[steps[0]] = timed(page, lambda: page.goto(url), username.wait_for)
        username.fill(USERNAME)
        page.locator('input[aria-label="密码"]').fill(PASSWORD)
        times[steps[1]] = timed(
            page,
            lambda: page.get_by_role("button", name="登录").click(force=True),
            page.get_by_test_id("stMetric").first.wait_for,
        )
        grid = page.locator('[data-testid="stDataFrame"]').first
        times[steps[2]] = timed(
            page,
            nav(page, "工单台账"),
            lambda: (page.get_by_role("heading", name="工单台账").wait_for(), grid.wait_for()),
        )
        edit_first_note(page, marker)
        times[steps[3]] = timed(
            page,
            lambda: page.get_by_role("button", name="保存", exact=True).click(force=True),
            page.get_by_text("已保存：修改 1 条").wait_for,
        )
        times[steps[4]] = timed(
            page,
            nav(page, "看板"),
            lambda: (page.get_by_role("heading", name="看板").wait_for(), grid.wait_for()),
        )
        link = page.get_by_role("link", name=plan.case_link).first
        timed(page, nav(page, "首页"), link.wait_for)
        panel = page.get_by_test_id("stExpander").filter(has_text="生成文书").first
        times[steps[5]] = timed(
            page,
            lambda: link.click(force=True),
            lambda: (
                page.get_by_role("heading", name=plan.case_title).wait_for(),
                panel.wait_for(),
            ),
        )
        render = panel.get_by_role("button", name="生成文书")
        settle(page, panel.locator("summary").click)
        started = time.perf_counter()
        render.click(force=True)
        word = panel.get_by_role("button", name="下载 Word").first
        word.wait_for()
        idle(page)
        times[steps[7]] = time.perf_counter() - started
        download_file(page, word)
        times[steps[6]] = time.perf_counter() - started
    except Exception:
        shot = Path(tempfile.gettempdir()) / "duban-bench-browser-failure.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"  failed at {url}; screenshot {shot}", flush=True)
        raise
    finally:
        page.close()
    return times


LOST_CLICKS: list[str] = []  # clicks on 下载 Word that started no download (reported)


def download_file(page, word) -> None:
    """Click 下载 Word and wait for the whole file. A click that starts no download within
    15 s is clicked again, as a user would, and counted in LOST_CLICKS (the time counts)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    for attempt in range(3):
        try:
            with page.expect_download(timeout=15_000) as download:
                word.click(force=True)
        except PlaywrightTimeoutError:
            LOST_CLICKS.append(page.url)
            if attempt == 2:
                raise
            continue
        download.value.path()  # waits until the file is complete
        return


# --- the measurement ---------------------------------------------------------------------------


@dataclass
class StepResult:
    step: str
    app: list[float]
    floor: list[float]
    target: float | None

    def p(self, which: str, q: float) -> float:
        values = getattr(self, which)
        return statistics.median(values) if q == 0.5 else percentile(values, q)

    @property
    def ratio(self) -> float:
        return self.p("app", 0.5) / self.p("floor", 0.5)

    @property
    def ratio95(self) -> float:
        return self.p("app", 0.95) / self.p("floor", 0.95)

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.ratio <= self.target

    @property
    def target_text(self) -> str:
        return "" if self.target is None else f"≤ {self.target:g}× floor (p50)"


@dataclass
class Outcome:
    steps: list[StepResult]
    app_mb: float
    floor_mb: float
    loads: list[float]


def measure(url: str, folder: Path, tries: int, *, warm_up: bool = True) -> Outcome:
    """Set up, serve both apps, drive `tries` visits to each (after one untimed round)."""
    from playwright.sync_api import sync_playwright

    data_dir = folder / "app-data"
    ensure_user(url)
    data, plan = floor_data(url, data_dir)
    pickled = folder / "floor.pickle"
    pickled.write_bytes(pickle.dumps(data))
    bare = {k: v for k, v in os.environ.items() if not k.startswith("DUBAN_")}
    env = {**bare, "DUBAN_DATABASE_URL": url, "DUBAN_DATA_DIR": str(data_dir)}
    servers = {  # the floor is not told where the database is
        "app": Server(env, folder / "app.log"),
        "floor": Server(
            {**bare, "DUBAN_FLOOR_DATA": str(pickled)}, folder / "floor.log", "bench/floor_app.py"
        ),
    }
    times: dict[str, dict[str, list[float]]] = {name: {s: [] for s in STEPS} for name in servers}
    loads = [load_average()]
    try:
        for server in servers.values():
            server.wait_healthy()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            contexts = {name: new_context(browser) for name in servers}
            for name, server in servers.items() if warm_up else ():  # each page's first view
                one_try(contexts[name], server.url, plan, f"浏览器基准预热 {name}")
            for n in range(tries):
                order = list(servers) if n % 2 == 0 else list(servers)[::-1]
                for name in order:
                    got = one_try(contexts[name], servers[name].url, plan, f"浏览器基准 {name} {n}")
                    for step, seconds in got.items():
                        times[name][step].append(seconds)
                loads.append(load_average())
                print(f"  try {n + 1}/{tries}: " + ", ".join(
                    f"{name} {sum(times[name][s][-1] for s in list(STEPS)[:-1]):.1f} s"
                    for name in servers) + f" (load {loads[-1]:.1f})", flush=True)  # fmt: skip
            browser.close()
    finally:
        for server in servers.values():
            server.stop()
    steps = [StepResult(s, times["app"][s], times["floor"][s], t) for s, t in STEPS.items()]
    return Outcome(steps, servers["app"].peak_mb, servers["floor"].peak_mb, loads)


def figures(outcome: Outcome, database: str, tickets: int) -> list[Figure]:
    """The steps as the harness's figures: p50 beside the floor's p50, p95 in the note."""
    out = []
    for r in outcome.steps:
        out.append(
            Figure(
                database, tickets, f"browser: {r.step}", r.p("app", 0.5), outcome.app_mb,
                "bare Streamlit app (p50)", r.p("floor", 0.5),
                target=r.target_text, met=r.met,
                note=f"p95 {show_time(r.p('app', 0.95))} vs {show_time(r.p('floor', 0.95))}, "
                f"{show_ratio(r.ratio95)}; {len(r.app)} tries",
            )
        )  # fmt: skip
    return out


def table(outcome: Outcome) -> str:
    """The steps as a Markdown table (docs/PERFORMANCE.md)."""
    rows = [
        "| step | duban p50 | duban p95 | floor p50 | floor p95 | ratio p50 | ratio p95 | target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in outcome.steps:
        mark = " ✗" if r.met is False else ""
        rows.append(
            f"| {r.step} | {show_time(r.p('app', 0.5))} | {show_time(r.p('app', 0.95))} | "
            f"{show_time(r.p('floor', 0.5))} | {show_time(r.p('floor', 0.95))} | "
            f"{show_ratio(r.ratio)}{mark} | {show_ratio(r.ratio95)} | {r.target_text or '–'} |"
        )
    rows.append("")
    rows.append(
        f"{len(outcome.steps[0].app)} tries each; load average "
        f"{min(outcome.loads):.1f}–{max(outcome.loads):.1f}; server peak RSS: duban "
        f"{outcome.app_mb:.0f} MB, floor {outcome.floor_mb:.0f} MB."
    )
    return "\n".join(rows) + "\n"


def demo_database(folder: Path) -> str:
    """A fresh SQLite database with the demo town (`python -m duban init --demo`)."""
    url = f"sqlite:///{folder / 'duban.db'}"
    env = {**os.environ, "DUBAN_DATABASE_URL": url, "DUBAN_DATA_DIR": str(folder / "app-data")}
    done = subprocess.run([sys.executable, "-m", "duban", "init", "--demo"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"init --demo: {done.stderr or done.stdout}")
    return url


def ticket_count(url: str) -> int:
    from sqlalchemy import func, select

    from duban.db import make_engine
    from duban.models import Ticket

    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(Ticket)).scalar_one()
    engine.dispose()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.browser", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--tries", type=int, default=10, help="visits to each app (default 10)")
    parser.add_argument(
        "--tickets", type=int, help="synthetic data of this size (default: the demo town)"
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--no-warm-up", action="store_true",
                        help="skip the untimed first round (the harness's own test)")  # fmt: skip
    parser.add_argument("--keep", type=Path, help="keep the database, data and server logs here")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print("Debian chromium is needed (apt-get install chromium)")
        return 2
    print("machine: " + "; ".join(f"{k} {v}" for k, v in machine().items()))
    print(f"load average at start: {load_average():.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="duban-bench-browser-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.tickets:
            from bench.run import PG_URL, prepare

            run = prepare(args.database, args.tickets, folder, PG_URL, folder)
            run.engine.dispose()
            url, database = run.url, args.database
        else:
            url, database = demo_database(folder), "sqlite"
        tickets = ticket_count(url)
        print(f"\n== browser, {database}, {tickets:,} tickets ({'synthetic' if args.tickets else 'demo town'}) ==",
              flush=True)  # fmt: skip
        outcome = measure(url, folder, args.tries, warm_up=not args.no_warm_up)
    for figure in figures(outcome, database, tickets):
        print(figure.line())
    print()
    print(table(outcome))
    if LOST_CLICKS:
        print(f"clicks on 下载 Word that started no download and were repeated: {len(LOST_CLICKS)}")
    if args.markdown:
        args.markdown.write_text(table(outcome))
    return 0


if __name__ == "__main__":
    sys.exit(main())
