"""In a real browser, a login lasts (issue 14): a reload, a second tab and a deep link stay
logged in until logout; a deep link opened while logged out comes back after login."""

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from duban.db import make_engine
from duban.models import Case
from tests.e2e.conftest import _wait_drawn, login, new_context, settle

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def case(server) -> Case:
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as session:
        found = session.exec(select(Case).order_by(Case.id)).first()
    engine.dispose()
    assert found is not None
    return found


def login_form(page):
    return page.locator('input[aria-label="用户名"]')


def logged_in(page):
    return page.get_by_test_id("stSidebar").get_by_text("当前用户：孙管理", exact=True)


def test_a_reload_and_a_new_tab_stay_logged_in_until_logout(browser, server, case) -> None:
    context = new_context(browser)
    page = context.new_page()
    login(page, server, "admin", server.users["admin"])
    cookie = {c["name"]: c for c in context.cookies()}["duban_session"]
    assert (cookie["sameSite"], cookie["path"]) == ("Strict", "/")

    page.reload()  # F5
    _wait_drawn(page)
    expect(logged_in(page)).to_be_visible()
    expect(login_form(page)).to_have_count(0)

    tab = context.new_page()  # a bookmark / the boards' links, in a second tab
    tab.goto(f"{server.url}/cases?case={case.id}")
    _wait_drawn(tab)
    expect(logged_in(tab)).to_be_visible()
    expect(tab.get_by_role("heading", name=case.case_no).first).to_be_visible()

    settle(page, lambda: page.get_by_role("button", name="退出登录").click())
    expect(login_form(page)).to_be_visible()
    page.reload()
    _wait_drawn(page)
    expect(login_form(page)).to_be_visible()
    tab.reload()  # the session ended on the server: the other tab is logged out too
    _wait_drawn(tab)
    expect(login_form(tab)).to_be_visible()
    context.close()


def test_a_deep_link_opened_while_logged_out_opens_after_login(browser, server, case) -> None:
    context = new_context(browser)
    page = context.new_page()
    login(page, server, "admin", server.users["admin"], path=f"cases?case={case.id}")
    expect(page.get_by_role("heading", name=case.case_no).first).to_be_visible()
    assert page.url.endswith(f"/cases?case={case.id}")
    context.close()
