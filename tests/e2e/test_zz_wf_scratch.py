import pytest
from tests.e2e.conftest import open_app
from tests.e2e.test_cases import test_open_a_case_from_a_ticket_register_feedback_and_escalate as flow

pytestmark = pytest.mark.e2e

@pytest.fixture
def page(browser, server):
    server.cli("user", "add", "boss", "--role", "admin", "--password-stdin", stdin="Secret-Passw0rd!\n")
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    p = context.new_page()
    p.set_default_timeout(20_000)
    open_app(p, server)
    p.get_by_label("用户名").fill("boss")
    p.get_by_label("密码").fill("Secret-Passw0rd!")
    p.get_by_role("button", name="登录").click()
    p.get_by_text("当前用户：boss").first.wait_for()
    yield p
    p.screenshot(path="/tmp/wf/e2e_last.png", full_page=True)
    context.close()

def test_flow(page, server):
    flow(page, server)
