"""Everything a user reads is Chinese (issue 14): every page and every tab, for each role, in a
real browser. Fails on Streamlit's English widget texts (placeholders, upload boxes), on raw
values (None / True / False / nan / NaT) and on internal names anywhere on screen."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import _wait_drawn, idle, login, new_context, settle

pytestmark = pytest.mark.e2e

ROLES = ["admin", "center", "unit", "leader"]

# Streamlit's own English, as 1.67 writes it in widgets
FRAMEWORK_TEXT = re.compile(
    r"Choose (an )?options?|Upload|Browse files|Drag and drop|per file|No options|"
    r"No results|Select all|Clear all|Press Enter|Please choose|Add row|Delete row|"
    r"Skip to|Download as|Show/hide|Fullscreen|Search|YYYY"
)
# a raw value where a word belongs: None / True / False / nan / NaN / NaT as a whole word
RAW_VALUE = re.compile(r"(?<![A-Za-z])(None|True|False|nan|NaN|NaT)(?![A-Za-z])")
# internal names that must never reach a reader
INTERNAL = re.compile(r"docs/KPI\.md|\bversion\b|\busername\b|\bunit_id\b|\brole\b")

VISIBLE_TEXT = """() => {
  const parts = [];
  for (const sel of ['[data-testid="stMain"]', '[data-testid="stSidebar"]']) {
    const el = document.querySelector(sel);
    if (el) parts.push(el.innerText);
  }
  for (const el of document.querySelectorAll('[placeholder]')) parts.push(el.getAttribute('placeholder'));
  for (const el of document.querySelectorAll('[aria-label]')) parts.push(el.getAttribute('aria-label'));
  for (const el of document.querySelectorAll('[title]')) parts.push(el.getAttribute('title'));
  for (const el of document.querySelectorAll('[data-testid="stSkipToContent"]')) parts.push(el.textContent);
  return parts.join('\\n');
}"""


def problems(text: str) -> list[str]:
    """The lines of the screen's text with English framework text, raw values or internals."""
    found = []
    for line in text.splitlines():
        if FRAMEWORK_TEXT.search(line) or RAW_VALUE.search(line) or INTERNAL.search(line):
            found.append(line.strip()[:120])
    return found


def nav_links(page) -> list[tuple[str, str]]:
    links = page.get_by_test_id("stSidebarNav").locator("a")
    return [(links.nth(i).inner_text().strip(), links.nth(i).get_attribute("href"))
            for i in range(links.count())]  # fmt: skip


def grid_texts(page) -> list[str]:
    """Headers and cells of every st.dataframe / st.data_editor in view (the grid is a
    canvas; its accessible table holds the texts of the columns and rows it draws). A
    checkbox cell reads "true"/"false" there and shows a tick box on screen."""
    cells = page.locator(
        '[data-testid="stDataFrame"] [role="columnheader"], [data-testid="stDataFrame"] [role="gridcell"]'
    ).all_inner_texts()
    return [c for c in cells if c not in ("true", "false")]


def screen(page) -> str:
    idle(page)
    return page.evaluate(VISIBLE_TEXT) + "\n" + "\n".join(grid_texts(page))


@pytest.mark.parametrize("role", ROLES)
def test_every_page_and_tab_is_in_chinese_for(browser, server, role: str) -> None:
    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, server, role, server.users[role])
    found: dict[str, list[str]] = {}
    for title, href in nav_links(page):
        title = title.splitlines()[-1]  # after the icon's name
        page.goto(href)
        _wait_drawn(page)
        seen = problems(screen(page))
        tabs = page.get_by_test_id("stMain").get_by_role("tab")
        for i in range(tabs.count()):
            tab = tabs.nth(i)
            name = tab.inner_text().strip()
            settle(page, tab.click)
            seen += [f"[{name}] {p}" for p in problems(screen(page))]
        if seen:
            found[title] = sorted(set(seen))
    context.close()
    assert not found, "\n".join(f"{t}: {p}" for t, ps in found.items() for p in ps)


def test_the_grid_toolbar_tooltips_are_in_chinese(browser, server) -> None:
    """Hovering a grid's toolbar shows what each button does, in Chinese."""
    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.set_viewport_size({"width": 1440, "height": 900})
    login(page, server, "center", server.users["center"], path="ledger")
    grid = page.get_by_test_id("stDataFrame").first
    grid.hover()
    buttons = page.get_by_test_id("stElementToolbarButton")
    buttons.first.wait_for()
    tips = []
    for i in range(buttons.count()):
        grid.hover()
        buttons.nth(i).locator("button").hover()
        page.wait_for_function(
            """(shown) => {
                const tip = [...document.querySelectorAll('[data-testid="stTooltipContent"]')].pop();
                return tip && tip.innerText.trim() && !shown.includes(tip.innerText.trim());
            }""",
            arg=tips,
        )
        tips.append(page.get_by_test_id("stTooltipContent").last.inner_text().strip())
    context.close()
    assert tips == ["显示/隐藏列", "下载为 CSV", "搜索", "全屏"]
