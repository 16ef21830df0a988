"""In a real browser, a unit user sees only their own unit's cases, even when typing another
unit's case URL (issue #8): "An end-to-end browser test logs in as a unit user and cannot
reach another unit's case even by URL." "承办单位 sees only the tickets and cases of their
own unit."
"""

from datetime import date

import pytest
from sqlmodel import Session, select

from duban.db import make_engine
from duban.models import Unit
from tests.e2e.conftest import ARTIFACTS, login, new_context, open_app
from tests.factories import make_case, make_ticket

pytestmark = pytest.mark.e2e

OWN_TITLE = "本单位测试事项：井盖缺失"
OTHER_TITLE = "他单位测试事项：机密内容"


@pytest.fixture(scope="module")
def two_cases(server) -> tuple[int, int]:
    """One case of the unit user's own unit (镇城管中队), one of another unit."""
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as session:
        own = session.exec(select(Unit).where(Unit.name == "镇城管中队")).one()
        other = session.exec(select(Unit).where(Unit.name == "镇房管办")).one()
        own_case = make_case(
            session,
            own,
            tickets=(make_ticket(session, unit_id=own.id, caller="张先生", phone="14700001111"),),
            title=OWN_TITLE,
            opened_at=date(2024, 3, 4),
        )
        other_case = make_case(
            session,
            other,
            tickets=(make_ticket(session, unit_id=other.id, caller="李女士", phone="14100002222"),),
            title=OTHER_TITLE,
            opened_at=date(2024, 3, 4),
        )
        session.commit()
        ids = (own_case.id, other_case.id)
    engine.dispose()
    return ids


@pytest.fixture
def unit_page(browser, server, request):
    """A browser context not yet logged in (the `page` fixture is the admin's)."""
    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def main_text(page) -> str:
    return page.get_by_test_id("stMain").inner_text()


def test_a_unit_user_cannot_open_another_units_case_by_url(unit_page, server, two_cases):
    own_id, other_id = two_cases
    # the URL is typed before logging in; after login the app opens it — and refuses it
    login(unit_page, server, "unit", server.users["unit"], path=f"cases?case={other_id}")
    unit_page.get_by_text("只能处理本单位的事项").wait_for()
    assert OTHER_TITLE not in main_text(unit_page)
    assert "14100002222" not in unit_page.content()
    assert f"case={other_id}" in unit_page.url

    # the same user, the same way, reaches their own unit's case (the refusal is specific)
    open_app(unit_page, server, f"cases?case={own_id}")
    unit_page.get_by_text(OWN_TITLE).first.wait_for()
    assert "只能处理本单位的事项" not in main_text(unit_page)

    # the list offers only the own unit's cases (searching it as a user would)
    open_app(unit_page, server, "cases")
    assert options_matching(unit_page, "本单位测试事项") == 1
    assert options_matching(unit_page, "他单位测试事项") == 0


def options_matching(page, text: str) -> int:
    """How many cases the 打开督办事项 picker offers for a search text."""
    picker = page.get_by_test_id("stSelectbox").filter(has_text="打开督办事项")
    picker.locator("input").fill(text)
    page.wait_for_timeout(300)
    count = page.get_by_role("option").filter(has_text=text).count()
    page.keyboard.press("Escape")
    return count


def test_a_unit_user_cannot_open_admin_pages_by_url(unit_page, server):
    login(unit_page, server, "unit", server.users["unit"])
    sidebar = unit_page.get_by_test_id("stSidebar")
    assert "当前用户：赵承办" in sidebar.inner_text()
    assert "角色：承办单位（镇城管中队）" in sidebar.inner_text()
    open_app(unit_page, server, "users")
    assert "用户管理" not in main_text(unit_page)
    assert "新建用户" not in main_text(unit_page)


def test_logout_returns_to_the_login_form(unit_page, server):
    login(unit_page, server, "unit", server.users["unit"])
    unit_page.get_by_role("button", name="退出登录").click()
    unit_page.get_by_text("已退出登录").wait_for()
    unit_page.locator('input[aria-label="用户名"]').wait_for()
    unit_page.get_by_text("当前用户：赵承办").wait_for(state="detached")
