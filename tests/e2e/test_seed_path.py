"""The seed's whole path in a real browser, as the center's clerk and a unit's user walk it:

工单 → 书面督办（督办单）→ 反馈“无进展” → 现场协调督办（通知、当天登记、实地踏勘定时限）→
提级协调督办（领导批办、从事项页召开专题会并录入处置规则、工作专报、提级办理）→ 承办单位反馈
“已办结”（城运中心核验）→ 跟踪核实 → 办结, with a reload in the middle and the case's deep link
opened in a new tab; the timeline then tells every step in words.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from duban.db import make_engine
from duban.enums import CaseStatus, FeedbackReview, Level, StepKind
from duban.models import Case, CaseTicket, Feedback, RoutingRule, Step, Ticket, Unit
from tests.e2e.conftest import ARTIFACTS, DISPLAY_NAMES, login, new_context, open_app, settle
from tests.factories import sample_file

pytestmark = pytest.mark.e2e
PDF = sample_file("pdf")
UNIT = "镇城管中队"
CLERK = ("clerk14b", "e2e-clerk-password", "王督办")  # 城运中心
HANDLER = ("unit14b", "e2e-handler-password", "李承办")  # the unit's user


@pytest.fixture
def shots(request):
    """Pages to photograph into tests/e2e/artifacts/ if the test fails."""
    pages: list = []
    yield pages
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        for n, shown in enumerate(pages):
            if not shown.is_closed():
                shown.screenshot(path=str(ARTIFACTS / f"seed_path_{n}.png"), full_page=True)


def ensure_user(server, username: str, password: str, name: str, *role: str) -> None:
    if username not in server.users:
        added = server.cli(
            "user", "add", username, *role, "--display-name", name, "--password-stdin",
            stdin=password,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
        server.users[username] = password
        DISPLAY_NAMES[username] = name


def free_ticket(engine) -> Ticket:
    """A demo ticket of 镇城管中队 that no case supervises yet."""
    with Session(engine) as s:
        return s.exec(
            select(Ticket)
            .join(Unit, Unit.id == Ticket.unit_id)
            .where(~Ticket.id.in_(select(CaseTicket.ticket_id)), Unit.name == UNIT)  # type: ignore[union-attr]
            .order_by(Ticket.id.desc())  # type: ignore[union-attr]
        ).first()


def expander(page, label: str):
    return page.locator('[data-testid="stExpander"] summary').filter(
        has=page.get_by_text(label, exact=True)
    )


def form(page, button: str):
    """The form whose submit button is `button`."""
    return page.locator('[data-testid="stForm"]').filter(
        has=page.get_by_role("button", name=button, exact=True)
    )


def open_form(page, label: str) -> None:
    settle(page, expander(page, label).click)


def choose(page, scope, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label` (inside `scope`)."""
    settle(page, scope.get_by_role("combobox", name=label, exact=True).click)
    page.keyboard.type(option)  # long lists draw only the options in view
    settle(page, page.get_by_role("option", name=option, exact=True).click)


def submit(page, button: str, message: str) -> None:
    settle(page, page.get_by_role("button", name=button, exact=True).click)
    page.get_by_text(message).first.wait_for()


def attach_scan(page, scope) -> None:
    settle(
        page,
        lambda: scope.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            {"name": "回执.pdf", "mimeType": "application/pdf", "buffer": PDF}
        ),
    )
    scope.get_by_text("回执.pdf").first.wait_for()


def timeline_text(page) -> str:
    """The 办理记录 grid as the screen reader reads it (the grid draws on a canvas)."""
    grid = page.get_by_test_id("stDataFrame").last
    grid.scroll_into_view_if_needed()
    grid.locator("table").first.wait_for(state="attached")
    return grid.locator("table").first.text_content() or ""


def test_the_seeds_whole_path_in_the_browser(browser, server, shots):
    ensure_user(server, *CLERK, "--role", "center")
    ensure_user(server, *HANDLER, "--role", "unit", "--unit", UNIT)
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    ticket = free_ticket(engine)
    center = new_context(browser)
    page = center.new_page()
    shots.append(page)
    page.set_default_timeout(60_000)
    login(page, server, CLERK[0], CLERK[1])

    # 确定督办事项 from the ticket: 事由 from the ticket, 范围 chosen by the user
    open_app(page, server, "case_new")
    page.get_by_role("textbox", name="按工单编号添加（多个用逗号或空格分隔）", exact=True).fill(
        ticket.ticket_no
    )
    settle(page, page.get_by_role("button", name="添加工单").click)
    page.get_by_role("button", name="清空工单").wait_for()
    new = form(page, "确定督办事项")
    assert new.get_by_role("textbox", name="事由（简要名称）", exact=True).input_value() != ""
    choose(page, new, "协调督办范围", "重复投诉多次，且办理工作未有明显进展的事项")
    new.get_by_role("textbox", name="相关情况", exact=True).fill(
        "同一地址多次投诉，前期答复后仍未解决"
    )
    new.get_by_role("textbox", name="督办意见", exact=True).fill(
        "请于5个工作日内核查处置并书面反馈"
    )
    submit(page, "确定督办事项", "已确定督办事项")
    case_url = page.url.split("/", 3)[3]
    assert "case=" in case_url

    # 书面督办 answered 无进展 (the center enters the signed, stamped, scanned paper)
    open_form(page, "登记书面反馈")
    reply = form(page, "登记反馈")
    reply.get_by_role("textbox", name="反馈内容", exact=True).fill(
        "涉及多个部门，本单位无法单独处置"
    )
    settle(page, reply.get_by_text("主要领导已签字").click)
    settle(page, reply.get_by_text("已加盖单位公章").click)
    choose(page, reply, "处置进展", "无进展")
    attach_scan(page, reply)
    submit(page, "登记反馈", "书面反馈已登记")
    page.get_by_text("符合提级条件：书面督办反馈“无进展”").first.wait_for()
    open_form(page, "提级")
    submit(page, "确认提级至现场协调督办", "已提级至现场协调督办")

    # 现场协调督办: the notice (事由 from the ticket), 当天登记 with all its parts, the visit
    open_form(page, "发出现场协调督办通知")
    notice = form(page, "发出通知")
    assert (
        notice.get_by_role("textbox", name="协调督办事由", exact=True).input_value()
        == ticket.content.strip()[:200]
    )
    notice.get_by_role("textbox", name="协调督办地点", exact=True).fill(
        ticket.address or "赵巷镇现场"
    )
    notice.get_by_role("textbox", name="出席范围（承办单位、村居委、职能部门）", exact=True).fill(
        f"{UNIT}、相关村居委"
    )
    submit(page, "发出通知", "现场协调督办通知已发出")
    open_form(page, "登记收到通知")
    register = form(page, "登记收到通知")
    register.get_by_role("textbox", name="已报告的主要领导（姓名、职务）", exact=True).fill(
        "赵队长"
    )
    register.get_by_role("textbox", name=f"{UNIT}（主办）的任务", exact=True).fill(
        "牵头核查现场，制定整改方案"
    )
    settle(page, register.get_by_text("已落实", exact=True).click)
    register.get_by_role("textbox", name="会议场所（地点）", exact=True).fill("中队二楼会议室")
    submit(page, "登记收到通知", "已登记收到通知")
    page.get_by_text("已报告主要领导：赵队长").wait_for()

    open_app(page, server, case_url)  # F5 in the middle: the case comes back as it was
    page.get_by_text("任务分解（镇城管中队）：牵头核查现场，制定整改方案").wait_for()
    open_form(page, "实地踏勘")
    visit = form(page, "记录实地踏勘")
    visit.get_by_role("textbox", name="踏勘情况", exact=True).fill("现场情况属实，前期处置不到位")
    submit(page, "记录实地踏勘", "实地踏勘已记录，处置时限已明确")

    # 提级协调督办: 批办, 专题会 from the case page with its rule, 工作专报, 提级办理
    open_form(page, "提级")
    page.get_by_role("textbox", name="提级理由（必填）", exact=True).fill(
        "现场协调督办后仍推诿，报请分管领导"
    )
    submit(page, "确认提级至提级协调督办", "已提级至提级协调督办")
    open_form(page, "领导批办")
    instruction = form(page, "录入批示")
    instruction.get_by_role("textbox", name="批示领导", exact=True).fill("镇分管领导张副镇长")
    instruction.get_by_role("textbox", name="批示内容", exact=True).fill(
        "请城管中队牵头，五个工作日内办结"
    )
    submit(page, "录入批示", "领导批示已录入")
    open_form(page, "镇领导专题会")
    meeting = form(page, "保存专题会")
    meeting.get_by_role("textbox", name="主持（镇分管领导）", exact=True).fill("张副镇长")
    meeting.get_by_role("textbox", name="指示要求和决定", exact=True).fill(
        "同类事项由城管中队牵头处置"
    )
    submit(page, "保存专题会", "本事项已提交专题会")
    rule = form(page, "保存处置规则")
    rule.get_by_role("textbox", name="事项类别名称", exact=True).fill("同址反复投诉")
    rule.get_by_role("textbox", name="关键词（任一命中，用、分隔）", exact=True).fill("噪声、占道")
    choose(page, rule, "处置部门", UNIT)
    rule.get_by_role("textbox", name="处置路径", exact=True).fill("城管中队立案查处，村居配合")
    submit(page, "保存处置规则", "处置规则“同址反复投诉”已保存")
    page.get_by_text("同址反复投诉 → 镇城管中队：城管中队立案查处，村居配合").wait_for()
    open_form(page, "工作专报")
    report = form(page, "记录工作专报")
    report.get_by_role("textbox", name="有关情况", exact=True).fill(
        "该事项市民反映强烈，已提级办理"
    )
    report.get_by_role("textbox", name="建议", exact=True).fill("由城管中队牵头，五个工作日内拆除")
    submit(page, "记录工作专报", "工作专报已记录")
    open_form(page, "提级办理")
    form(page, "下达提级办理要求").get_by_role(
        "textbox", name="处置方案和措施要求", exact=True
    ).fill("五个工作日内拆除")
    submit(page, "下达提级办理要求", "提级办理要求已下达")

    # the unit answers 已办结 from the case's deep link; it waits for the center's check
    unit_context = new_context(browser)
    unit = unit_context.new_page()
    shots.append(unit)
    unit.set_default_timeout(60_000)
    login(unit, server, HANDLER[0], HANDLER[1], case_url)
    open_form(unit, "登记书面反馈")
    answer = form(unit, "登记反馈")
    assert answer.locator('[data-testid="stDateInput"]').count() == 0  # no date for a unit
    answer.get_by_role("textbox", name="反馈内容", exact=True).fill("违建已拆除，现场已恢复")
    settle(unit, answer.get_by_text("主要领导已签字").click)
    settle(unit, answer.get_by_text("已加盖单位公章").click)
    choose(unit, answer, "处置进展", "已办结")
    attach_scan(unit, answer)
    submit(unit, "登记反馈", "书面反馈已登记，待城运中心核验")
    unit_context.close()

    # the center opens the same deep link in a new tab: 核验, 核实, 办结
    tab = center.new_page()
    shots.append(tab)
    tab.set_default_timeout(60_000)
    tab.duban_credentials = page.duban_credentials
    open_app(tab, server, case_url)
    tab.get_by_text("〔待核验〕").first.wait_for()
    open_form(tab, "核验书面反馈")
    settle(tab, form(tab, "提交核验").get_by_text("确认", exact=True).click)
    submit(tab, "提交核验", "书面反馈已核验")
    open_form(tab, "跟踪核实")
    form(tab, "记录跟踪核实").get_by_role("textbox", name="核实情况", exact=True).fill(
        "现场复查，违建已拆除"
    )
    submit(tab, "记录跟踪核实", "跟踪核实已记录")
    open_form(tab, "办结")
    form(tab, "办结").get_by_role(
        "textbox", name="督办情况（办结结果，将写入督办单）", exact=True
    ).fill("已拆除违建")
    submit(tab, "办结", "督办事项已办结")

    text = timeline_text(tab)
    for words in (
        "确定督办事项",
        "派送《12345市民服务热线督办单》",
        "登记书面反馈",
        "无进展，合规",
        "提级",
        "发出《现场协调督办通知》",
        "登记收到现场协调督办通知（当天），已报告主要领导赵队长",
        "任务分解：镇城管中队：牵头核查现场，制定整改方案",
        "会议场所已落实（中队二楼会议室）",
        "实地踏勘，明确处置时限",
        "批办至",
        "提交镇领导专题会",
        "工作专报报送",
        "下达提级办理要求",
        "待城运中心核验",
        "城运中心核验书面反馈：确认",
        "跟踪核实",
        "办结",
        CLERK[2],
        HANDLER[2],
    ):
        assert words in text, words
    for raw in ("True", "False", "None", CLERK[0], HANDLER[0]):
        assert raw not in text, raw
    center.close()

    with Session(engine) as s:
        case = s.exec(
            select(Case)
            .join(CaseTicket, CaseTicket.case_id == Case.id)
            .where(CaseTicket.ticket_id == ticket.id)
        ).one()
        assert (case.status, case.level) == (CaseStatus.CLOSED, Level.ESCALATED)
        kinds = [st.kind for st in s.exec(select(Step).where(Step.case_id == case.id))]
        assert kinds == [
            StepKind.SUPERVISION_FORM,
            StepKind.ONSITE_NOTICE,
            StepKind.LEADER_INSTRUCTION,
            StepKind.SPECIAL_MEETING,
            StepKind.SPECIAL_REPORT,
            StepKind.ESCALATED_HANDLING,
        ]
        done = s.exec(select(Feedback).join(Step).where(Step.case_id == case.id)).all()[-1]
        assert done.review == FeedbackReview.CONFIRMED
        assert s.exec(select(RoutingRule).where(RoutingRule.name == "同址反复投诉")).one()
