"""督办 in a real browser: open a case from a ticket, register signed feedback with its scan,
and escalate it (经书面督办仍未有处置进展的，纳入提级办理范围)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from duban.db import make_engine
from duban.enums import FeedbackReview, Level, Progress, StepStatus
from duban.models import Case, CaseTicket, Feedback, Step, Ticket, Upload
from tests.e2e.conftest import open_app, settle
from tests.factories import sample_file

pytestmark = pytest.mark.e2e
PDF = sample_file("pdf")


def free_ticket(server) -> Ticket:
    """A demo ticket that no case supervises yet."""
    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as s:
        return s.exec(
            select(Ticket)
            .where(~Ticket.id.in_(select(CaseTicket.ticket_id)), Ticket.unit_id.is_not(None))  # type: ignore[union-attr]
            .order_by(Ticket.id.desc())  # type: ignore[union-attr]
        ).first()


def expander(page, label: str):
    return page.locator('[data-testid="stExpander"] summary').filter(has_text=label).first


def test_open_a_case_from_a_ticket_register_feedback_and_escalate(page, server):
    ticket = free_ticket(server)
    open_app(page, server, "case_new")
    page.get_by_label("按工单编号添加（多个用逗号或空格分隔）").fill(ticket.ticket_no)
    settle(page, page.get_by_role("button", name="添加工单").click)
    page.get_by_role("button", name="清空工单").wait_for()
    settle(page, page.get_by_role("combobox", name="协调督办范围").click)  # no preselected 范围
    page.keyboard.type("重复投诉多次")
    settle(
        page, page.get_by_role("option", name="重复投诉多次，且办理工作未有明显进展的事项").click
    )
    page.get_by_role("textbox", name="相关情况").fill("同一地址多次投诉，前期答复后仍未解决")
    page.get_by_role("textbox", name="督办意见").fill("请于5个工作日内核查处置并书面反馈")
    settle(page, page.get_by_role("button", name="确定督办事项").click)
    page.get_by_text("已确定督办事项").wait_for()
    assert "赵巷督〔" in page.locator("h1").first.inner_text()

    settle(page, expander(page, "登记书面反馈").click)
    page.get_by_label("反馈内容").fill("涉及多个部门，本单位无法单独处置")
    settle(page, page.get_by_text("主要领导已签字").click)
    settle(page, page.get_by_text("已加盖单位公章").click)
    settle(page, page.get_by_role("combobox", name="处置进展").click)
    page.keyboard.type("无进展")  # the open list may draw only the options in view
    settle(page, page.get_by_role("option", name="无进展", exact=True).click)
    settle(
        page,
        lambda: page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            {"name": "回执.pdf", "mimeType": "application/pdf", "buffer": PDF}
        ),
    )
    page.get_by_text("回执.pdf").first.wait_for()
    settle(page, page.get_by_role("button", name="登记反馈").click)
    page.get_by_text("书面反馈已登记").wait_for()
    page.get_by_text("符合提级条件：书面督办反馈“无进展”").first.wait_for()

    settle(page, expander(page, "提级").click)
    settle(page, page.get_by_role("button", name="确认提级至现场协调督办").click)
    page.get_by_text("已提级至现场协调督办").wait_for()

    engine = make_engine(server.env["DUBAN_DATABASE_URL"])
    with Session(engine) as s:
        case = s.exec(
            select(Case)
            .join(CaseTicket, CaseTicket.case_id == Case.id)
            .where(CaseTicket.ticket_id == ticket.id)
        ).one()
        step = s.exec(select(Step).where(Step.case_id == case.id)).one()
        fb = s.exec(select(Feedback).where(Feedback.step_id == step.id)).one()
        assert case.level == Level.ONSITE
        assert (step.status, step.escalation_reason) == (StepStatus.CLOSED, "书面督办反馈“无进展”")
        # entered by the center with its scan: compliant and confirmed at entry
        assert (fb.progress, fb.compliant, fb.review) == (
            Progress.NONE,
            True,
            FeedbackReview.CONFIRMED,
        )
        assert s.get(Upload, fb.upload_id).original_name == "回执.pdf"
