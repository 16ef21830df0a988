"""督办事项, 新建督办 and 专题会 pages through AppTest: the path a user takes, role by role."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from duban import cases, meetings, uploads
from duban.cases import Action
from duban.clock import today
from duban.enums import (
    CaseStatus,
    FeedbackReview,
    Level,
    Progress,
    Role,
    Scope,
    StepKind,
    StepStatus,
)
from duban.models import Case, Feedback, Meeting, RoutingRule, Step, Upload, User
from duban.permissions import Actor
from tests import helpers
from tests.factories import make_case, make_step, make_ticket, make_unit, sample_file

ADMIN = Actor(None, "admin", Role.ADMIN)
CLERK = Actor(None, "clerk", Role.CENTER)
LEADER = Actor(None, "leader", Role.LEADER)
PDF = sample_file("pdf")
REASON = "收到日期不是今天时写明原因（如纸质反馈邮寄收到）"


def scan(s: Session) -> int:
    return uploads.store_upload(s, CLERK, name="回执.pdf", data=PDF).id  # type: ignore[return-value]


@pytest.fixture
def world(engine):
    """Two units; a written case of 镇生态环境办 from a ticket, and an on-site case of 镇城管中队."""
    with Session(engine) as s:
        env = make_unit(s, "镇生态环境办")
        city = make_unit(s, "镇城管中队")
        ticket = make_ticket(
            s, category="噪声扰民", content="工地夜间施工噪声", address="示例镇示例路8号",
            unit_id=env.id,
        )  # fmt: skip
        spare = make_ticket(
            s, category="噪声扰民", content="夜间施工打桩", address="示例镇示例路9号",
            unit_id=env.id, title="夜间打桩",
        )  # fmt: skip
        s.commit()
        written = cases.open_case(
            s, CLERK, scope=Scope.REPEATED, lead_unit_id=env.id, ticket_ids=[ticket.id],
            title="工地夜间噪声", related_info="多次投诉", opinion="请核查",
            opened_at=date(2024, 3, 4),
        )  # fmt: skip
        onsite = cases.open_case(
            s, CLERK, scope=Scope.CITY, lead_unit_id=city.id, source_note="市级督办",
            title="违章搭建", related_info="市级督办", opinion="现场协调",
            start_level=Level.ONSITE, start_level_reason="市级督办事项", opened_at=date(2024, 3, 5),
        )  # fmt: skip
        s.commit()
        return {
            "env": env.id,
            "city": city.id,
            "written": written.id,
            "onsite": onsite.id,
            "spare_ticket": spare.id,
            "written_no": written.case_no,
            "onsite_no": onsite.case_no,
        }


def unit_user(unit_id: int) -> Actor:
    return Actor(None, "unit", Role.UNIT, unit_id=unit_id)


def unit_account(engine, unit_id: int) -> Actor:
    """A stored unit account (a unit attaches only scans its own unit uploaded)."""
    with Session(engine) as s:
        user = User(
            username="handler", username_key="handler", role=Role.UNIT, unit_id=unit_id,
            password_hash="-",
        )  # fmt: skip
        s.add(user)
        s.commit()
        return Actor(user.id, "handler", Role.UNIT, unit_id=unit_id)


def open_page(actor: Actor, page: str = "pages/cases.py", **params: str) -> AppTest:
    return helpers.open_page(actor, page, **params)


def widget(widgets, label: str):
    found = [w for w in widgets if w.label == label]
    assert found, f"no widget labelled {label!r}: {[w.label for w in widgets]}"
    return found[0]


def texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def expanders(at: AppTest) -> list[str]:
    """The action forms offered (the documents panel's 生成文书 is not one)."""
    return [e.label for e in at.expander if e.label != "生成文书"]


def open_form(at: AppTest, action: Action) -> AppTest:
    """Click an action's heading: only an opened form is drawn."""
    assert action.label in expanders(at), expanders(at)
    at.session_state[f"cases_form_{action.value}"] = True
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_list_shows_cases_and_filters_by_level(world):
    at = open_page(CLERK)
    shown = at.dataframe[0].value["督办编号"].tolist()
    assert shown == [world["onsite_no"], world["written_no"]]
    at.selectbox(key="cases_level").set_value(Level.ONSITE).run()
    assert at.dataframe[0].value["督办编号"].tolist() == [world["onsite_no"]]


def test_the_detail_shows_header_units_tickets_steps_and_marks_provisional_dates(engine, world):
    """Steps with due dates, 暂估 marked (a year whose holidays are unknown)."""
    with Session(engine) as s:
        step = s.exec(select(Step).where(Step.case_id == world["written"])).one()
        step.due_provisional = True
        s.add(step)
        s.commit()
    at = open_page(CLERK, case=str(world["written"]))
    assert at.title[0].value.startswith(world["written_no"])
    body = texts(at)
    assert "**主办单位：** 镇生态环境办" in body
    assert "截止 2024年3月11日（暂估）" in body
    assert at.dataframe[0].value["内容描述"].tolist() == ["工地夜间施工噪声"]
    assert "登记书面反馈" in expanders(at) and "提级" in expanders(at)
    assert "发出现场协调督办通知" not in expanders(at)  # not allowed at 书面督办


def test_registering_compliant_feedback_with_a_scan_closes_the_step(engine, world):
    """书面反馈 with received date, text, 签字, 公章, scanned file and 处置进展."""
    at = open_form(open_page(CLERK, case=str(world["written"])), Action.FEEDBACK)
    widget(at.date_input, "收到日期").set_value(date(2024, 3, 8))
    widget(at.text_input, REASON).input("纸质反馈3月8日邮寄送达")
    widget(at.text_area, "反馈内容").input("已责令夜间停工")
    widget(at.checkbox, "主要领导已签字").check()
    widget(at.checkbox, "已加盖单位公章").check()
    widget(at.selectbox, "处置进展").set_value(Progress.DONE)
    at.file_uploader[0].set_value(("回执.pdf", PDF, "application/pdf"))
    widget(at.button, "登记反馈").click().run()
    assert not at.error, [e.value for e in at.error]
    assert at.success[0].value == "书面反馈已登记"
    with Session(engine) as s:
        fb = s.exec(select(Feedback)).one()
        upload = s.get(Upload, fb.upload_id)
        step = s.get(Step, fb.step_id)
        assert (fb.compliant, fb.progress, upload.original_name) == (
            True,
            Progress.DONE,
            "回执.pdf",
        )
        assert (step.status, step.closed_at) == (StepStatus.CLOSED, date(2024, 3, 8))
    assert "下载扫描件 回执.pdf" in [b.label for b in at.download_button]


def test_feedback_without_a_stamp_is_registered_as_non_compliant(engine, world):
    """Feedback without both signature and stamp is recorded but 不合规 and does not close."""
    at = open_form(open_page(CLERK, case=str(world["written"])), Action.FEEDBACK)
    widget(at.date_input, "收到日期").set_value(date(2024, 3, 8))
    widget(at.text_input, REASON).input("纸质反馈邮寄收到")
    widget(at.text_area, "反馈内容").input("已处理")
    widget(at.checkbox, "主要领导已签字").check()
    widget(at.selectbox, "处置进展").set_value(Progress.DONE)
    widget(at.button, "登记反馈").click().run()
    assert "不合规" in at.success[0].value
    with Session(engine) as s:
        assert s.exec(select(Step.status).where(Step.case_id == world["written"])).one() == (
            StepStatus.OPEN
        )


def test_one_click_escalation_link_opens_the_form_and_escalates(engine, world):
    """`?case=ID&action=escalate` (the boards' 提级 link) opens the form; staff confirm.
    The 督办单 of 2024 is long past due without feedback: 纳入提级办理范围."""
    at = open_page(CLERK, case=str(world["written"]), action="escalate")
    assert expanders(at)[0] == "提级" and at.expander[0].proto.expanded
    assert "书面督办已逾期且无合规反馈" in at.info[0].value
    widget(at.button, "确认提级至现场协调督办").click().run()
    assert at.success[0].value == "已提级至现场协调督办"
    with Session(engine) as s:
        case = s.get(Case, world["written"])
        step = s.exec(select(Step).where(Step.case_id == case.id)).one()
        assert (case.level, step.status) == (Level.ONSITE, StepStatus.ESCALATED)
        assert step.escalation_reason.startswith("书面督办已逾期且无合规反馈")


def test_escalating_a_case_that_is_not_eligible_needs_a_reason(engine, world):
    """Going up without eligibility needs an explicit override reason; never silent."""
    with Session(engine) as s:
        step = cases.latest_handling_step(s, world["written"])
        cases.register_feedback(
            s, CLERK, step.id, received_at=date(2024, 3, 8), text="正在整改", signed=True,
            stamped=True, progress=Progress.SOME, date_reason="纸质反馈", upload_id=scan(s),
        )  # fmt: skip
        s.commit()
    at = open_page(CLERK, case=str(world["written"]), action="escalate")
    assert "不满足提级条件" in at.warning[0].value
    widget(at.button, "确认提级至现场协调督办").click().run()
    assert "不满足提级条件" in at.error[0].value
    with Session(engine) as s:
        assert s.get(Case, world["written"]).level == Level.WRITTEN
    widget(at.text_area, "提级理由（必填）").input("市民集中反映，领导要求现场协调")
    widget(at.button, "确认提级至现场协调督办").click().run()
    assert at.success[0].value == "已提级至现场协调督办"
    with Session(engine) as s:
        case = s.get(Case, world["written"])
        step = s.exec(select(Step).where(Step.case_id == case.id)).one()
        assert (case.level, step.status) == (Level.ONSITE, StepStatus.CLOSED)
        assert step.escalation_reason == "经人工确认提级：市民集中反映，领导要求现场协调"


def test_the_onsite_notice_registration_and_site_visit_through_the_page(engine, world):
    """现场协调督办: notice fields, 当天登记, 实地踏勘 with the deadline in working days."""
    at = open_form(open_page(CLERK, case=str(world["onsite"])), Action.ISSUE_NOTICE)
    widget(at.date_input, "通知日期").set_value(date(2024, 3, 6))
    widget(at.text_input, "协调督办地点").input("示例镇示例路8号")
    widget(at.date_input, "现场督办日期").set_value(date(2024, 3, 7))
    widget(at.button, "发出通知").click().run()
    assert at.success[0].value == "现场协调督办通知已发出"
    open_form(at, Action.REGISTER_NOTICE)
    widget(at.date_input, "登记日期").set_value(date(2024, 3, 6))
    widget(at.text_input, "已报告的主要领导（姓名、职务）").input("李队长")
    widget(at.text_area, "镇城管中队（主办）的任务").input("牵头拆除违建")
    widget(at.button, "登记收到通知").click().run()
    assert at.error[0].value == "请选择会议场所是否已落实"
    at.radio(key="cases_register_venue").set_value("已落实")
    widget(at.text_input, "会议场所（地点）").input("中队二楼会议室")
    widget(at.button, "登记收到通知").click().run()
    assert at.success[0].value == "已登记收到通知"
    body = texts(at)
    for shown in (
        "已报告主要领导：李队长",
        "任务分解（镇城管中队）：牵头拆除违建",
        "会议场所：已落实（中队二楼会议室）",
    ):
        assert shown in body
    open_form(at, Action.SITE_VISIT)
    widget(at.date_input, "踏勘日期").set_value(date(2024, 3, 7))
    widget(at.text_area, "踏勘情况").input("违建属实")
    widget(at.number_input, "工作日天数").set_value(3)
    widget(at.button, "记录实地踏勘").click().run()
    assert not at.error, [e.value for e in at.error]
    with Session(engine) as s:
        notice = s.exec(select(Step).where(Step.case_id == world["onsite"])).one()
        assert (notice.kind, notice.due_at, notice.responsible_unit_id) == (
            StepKind.ONSITE_NOTICE,
            date(2024, 3, 12),
            world["city"],
        )
        assert cases.registration_late(notice) is False
    assert "截止 2024年3月12日" in texts(at)


def test_closing_through_the_page(engine, world):
    """办结 needs compliant 已办结 feedback and the center's verification; 督办情况 recorded."""
    with Session(engine) as s:
        step = cases.latest_handling_step(s, world["written"])
        cases.register_feedback(
            s, CLERK, step.id, received_at=date(2024, 3, 8), text="已办", signed=True,
            stamped=True, progress=Progress.DONE, date_reason="纸质反馈", upload_id=scan(s),
        )  # fmt: skip
        s.commit()
    at = open_form(open_page(CLERK, case=str(world["written"])), Action.VERIFY)
    widget(at.date_input, "核实日期").set_value(date(2024, 3, 11))
    widget(at.text_area, "核实情况").input("现场已停工")
    widget(at.button, "记录跟踪核实").click().run()
    open_form(at, Action.CLOSE)
    widget(at.date_input, "办结日期").set_value(date(2024, 3, 12))
    widget(at.text_area, "督办情况（办结结果，将写入督办单）").input("已停工整改")
    widget(at.button, "办结").click().run()
    assert at.success[0].value == "督办事项已办结"
    with Session(engine) as s:
        case = s.get(Case, world["written"])
        assert (case.status, case.result_text) == (CaseStatus.CLOSED, "已停工整改")
    assert expanders(at) == ["重新督办", "移交镇纪委监察办"]


def test_unit_users_see_only_their_cases_and_only_register_feedback(world):
    """Unit users (Role.UNIT) only see their unit's cases and can only register feedback."""
    me = unit_user(world["env"])
    at = open_page(me)
    assert at.dataframe[0].value["督办编号"].tolist() == [world["written_no"]]
    at = open_page(me, case=str(world["written"]))
    assert expanders(at) == ["登记书面反馈"]
    at = open_page(me, case=str(world["onsite"]))
    assert "只能处理本单位的事项" in at.error[0].value


def test_leaders_record_an_instruction(engine, world):
    """Leaders can record a 批示 (Perm.INSTRUCT) and nothing else."""
    at = open_page(LEADER, case=str(world["written"]))
    assert expanders(at) == ["领导批办"]
    open_form(at, Action.LEADER_INSTRUCTION)
    widget(at.date_input, "批示日期").set_value(date(2024, 3, 6))
    widget(at.text_area, "批示内容").input("请生态环境办三日内办结")
    widget(at.button, "录入批示").click().run()
    assert at.success[0].value == "领导批示已录入"
    with Session(engine) as s:
        step = s.exec(select(Step).where(Step.kind == StepKind.LEADER_INSTRUCTION)).one()
        assert (step.subject, step.recipient) == ("leader", "镇生态环境办")


def test_new_case_from_a_ledger_selection_with_a_rule_suggestion(engine, world):
    """确定督办事项 from selected tickets; a 专题会 rule is SUGGESTED, applied only on request."""
    with Session(engine) as s:
        meeting = meetings.create_meeting(
            s, CLERK, held_at=date(2024, 2, 1), title="专题会", chair="分管领导"
        )
        meetings.add_routing_rule(
            s, CLERK, meeting.id, name="夜间施工噪声", category="噪声扰民", keywords="夜间",
            unit_id=world["city"], handling_path="城管中队夜间巡查",
        )  # fmt: skip
        s.commit()
    prefill = {
        "ticket_ids": [world["spare_ticket"]],
        "scope": "concentrated",
        "title": "夜间打桩扰民",
        "reason": "多人次集中投诉夜间打桩",
    }
    at = helpers.open_page(CLERK, "pages/case_new.py", state={"case_new_prefill": prefill})
    assert "处置路径：城管中队夜间巡查" in texts(at)
    assert at.selectbox(key="case_new_lead").value == world["env"]  # not applied silently
    widget(at.button, "采用该部门为主办单位").click().run()
    assert at.selectbox(key="case_new_lead").value == world["city"]
    assert at.selectbox(key="case_new_scope").value == Scope.CONCENTRATED
    widget(at.button, "确定督办事项").click().run()
    assert not at.exception and not at.error
    with Session(engine) as s:
        case = s.exec(select(Case).where(Case.title == "夜间打桩扰民")).one()
        assert (case.lead_unit_id, case.related_info, case.scope) == (
            world["city"],
            "多人次集中投诉夜间打桩",
            Scope.CONCENTRATED,
        )
        assert "城管中队夜间巡查" in case.opinion


def test_new_case_refuses_missing_fields_in_chinese(engine, world):
    at = open_page(CLERK, "pages/case_new.py")
    assert at.selectbox(key="case_new_scope").value is None  # the user must choose
    widget(at.button, "确定督办事项").click().run()
    assert "请选择协调督办范围" in at.error[0].value
    with Session(engine) as s:
        assert len(s.exec(select(Case)).all()) == 2


def test_meetings_page_records_a_meeting_and_its_routing_rule(engine, world):
    """镇领导专题会 … 明确同类事项的处置部门和处置路径, then the rules are searchable."""
    at = open_page(CLERK, "pages/meetings.py")
    widget(at.date_input, "会议日期").set_value(date(2024, 3, 20))
    widget(at.text_input, "主持（镇分管领导）").input("镇分管领导")
    widget(at.text_area, "指示要求和决定").input("违章搭建由城管中队牵头")
    widget(at.button, "保存专题会").click().run()
    assert at.success[0].value == "专题会“热线工作专题会”已保存"
    widget(at.text_input, "事项类别名称").input("违章搭建")
    widget(at.text_input, "工单分类（与台账分类一致）").input("违章搭建")
    widget(at.selectbox, "处置部门").set_value(world["city"])
    widget(at.text_area, "处置路径").input("城管中队立案查处")
    widget(at.button, "保存规则").click().run()
    assert not at.error, [e.value for e in at.error]
    with Session(engine) as s:
        rule = s.exec(select(RoutingRule)).one()
        meeting = s.exec(select(Meeting)).one()
        assert (rule.meeting_id, rule.unit_id) == (meeting.id, world["city"])
    at.text_input(key="meetings_search").input("查处").run()
    assert at.dataframe[-1].value["处置路径"].tolist() == ["城管中队立案查处"]


def test_saving_a_calendar_year_recomputes_provisional_due_dates(engine):
    """A step's due date is recomputed if the holiday calendar for its year changes."""
    with Session(engine) as s:
        unit = make_unit(s, "镇房管办")
        case = make_case(s, unit, opened_at=date(2026, 12, 28))
        step = make_step(
            s, case, issued_at=date(2026, 12, 28), due_at=date(2027, 1, 4), due_provisional=True
        )
        s.commit()
        step_id = step.id
    at = open_page(ADMIN, "pages/settings.py")
    widget(at.number_input, "年份").set_value(2027)
    widget(at.text_area, "放假日期（每行一个日期，或用 ~ 写范围，如 2027-02-06~2027-02-13）").input(
        "2027-01-01"
    )
    widget(at.button, "保存该年安排").click().run()
    assert not at.error
    with Session(engine) as s:
        step = s.get(Step, step_id)
        assert (step.due_at, step.due_provisional) == (date(2027, 1, 5), False)


def test_an_unknown_case_id_shows_a_chinese_message(world):
    at = open_page(CLERK, case="9999")
    assert "不存在" in at.error[0].value
    at = open_page(CLERK, case="abc")
    assert "督办事项编号无效" in at.error[0].value


# --- feedback the center can trust, and a smoother case walk ------------------------------


def test_a_unit_submits_feedback_without_a_date_and_the_center_confirms_it(engine, world):
    """The unit's form has no date (收到日期 is the day of submission); its reply is 待核验 and
    leaves the step open until the center confirms it on the case page."""
    handler = unit_account(engine, world["env"])
    at = open_form(open_page(handler, case=str(world["written"])), Action.FEEDBACK)
    assert not at.date_input
    widget(at.text_area, "反馈内容").input("已责令夜间停工")
    widget(at.checkbox, "主要领导已签字").check()
    widget(at.checkbox, "已加盖单位公章").check()
    at.file_uploader[0].set_value(("回执.pdf", PDF, "application/pdf"))
    widget(at.button, "登记反馈").click().run()
    assert at.error[0].value == "请选择处置进展"  # no preselected 处置进展
    widget(at.selectbox, "处置进展").set_value(Progress.DONE)
    widget(at.button, "登记反馈").click().run()
    assert at.success[0].value == "书面反馈已登记，待城运中心核验"
    with Session(engine) as s:
        fb = s.exec(select(Feedback)).one()
        assert (fb.received_at, fb.review, fb.compliant) == (
            today(),
            FeedbackReview.PENDING,
            True,
        )
        assert s.get(Step, fb.step_id).status == StepStatus.OPEN
    assert "〔待核验〕" in texts(at)

    at = open_form(open_page(CLERK, case=str(world["written"])), Action.CONFIRM_FEEDBACK)
    widget(at.button, "提交核验").click().run()
    assert at.error[0].value == "请选择核验结论（确认或退回）"
    at.radio(key="cases_review_verdict").set_value("确认")
    widget(at.button, "提交核验").click().run()
    assert at.success[0].value == "书面反馈已核验"
    with Session(engine) as s:
        fb = s.exec(select(Feedback)).one()
        step = s.get(Step, fb.step_id)
        assert (fb.review, step.status, step.on_time) == (
            FeedbackReview.CONFIRMED,
            StepStatus.CLOSED,
            False,  # due 2024-03-11, submitted today
        )
    assert "核验书面反馈" not in expanders(at)


def test_the_center_returns_a_unit_reply_with_a_reason(engine, world):
    with Session(engine) as s:
        step = cases.latest_handling_step(s, world["written"])
        me = unit_user(world["env"])
        cases.register_feedback(
            s, me, step.id, text="已处理", signed=True, stamped=True, progress=Progress.DONE,
        )  # fmt: skip
        s.commit()
    at = open_form(open_page(CLERK, case=str(world["written"])), Action.CONFIRM_FEEDBACK)
    at.radio(key="cases_review_verdict").set_value("退回")
    widget(at.text_input, "退回理由或更正收到日期的理由").input("无扫描件，请补交")
    widget(at.button, "提交核验").click().run()
    assert at.success[0].value == "书面反馈已退回"
    assert "〔已退回：无扫描件，请补交〕" in texts(at)


def test_the_notice_subject_is_prefilled_from_the_ticket(engine, world):
    with Session(engine) as s:
        step = cases.latest_handling_step(s, world["written"])
        cases.register_feedback(
            s, CLERK, step.id, text="无法处置", signed=True, stamped=True,
            progress=Progress.NONE, upload_id=scan(s),
        )  # fmt: skip
        cases.escalate_case(s, CLERK, world["written"])
        s.commit()
    at = open_form(open_page(CLERK, case=str(world["written"])), Action.ISSUE_NOTICE)
    assert widget(at.text_input, "协调督办事由").value == "工地夜间施工噪声"


def test_a_meeting_started_from_the_case_page_and_its_routing_rule(engine, world):
    """提级: hold the 专题会 from the case (prefilled with it), then record its decision right
    there with the new meeting preselected; the case then shows the rule."""
    with Session(engine) as s:
        cases.escalate_case(s, CLERK, world["onsite"], override_reason="现场协调后仍推诿")
        s.commit()
    at = open_form(open_page(CLERK, case=str(world["onsite"])), Action.SPECIAL_MEETING)
    assert widget(at.text_input, "会议名称").value == "热线工作专题会：违章搭建"
    widget(at.text_input, "主持（镇分管领导）").input("王副镇长")
    widget(at.text_area, "指示要求和决定").input("违章搭建由城管中队牵头")
    widget(at.button, "保存专题会").click().run()
    assert at.success[0].value == "专题会“热线工作专题会：违章搭建”已保存，本事项已提交专题会"
    with Session(engine) as s:
        meeting = s.exec(select(Meeting)).one()
        step = s.exec(select(Step).where(Step.kind == StepKind.SPECIAL_MEETING)).one()
        assert (step.case_id, step.meeting_id) == (world["onsite"], meeting.id)
    assert widget(at.selectbox, "专题会").value == meeting.id  # the new meeting, preselected
    widget(at.text_input, "事项类别名称").input("违章搭建")
    widget(at.text_input, "工单分类（与台账分类一致）").input("违章搭建")
    widget(at.selectbox, "处置部门").set_value(world["city"])
    widget(at.text_area, "处置路径").input("城管中队立案查处")
    widget(at.button, "保存处置规则").click().run()
    assert at.success[0].value == "处置规则“违章搭建”已保存"
    assert "**专题会处置规则：** 违章搭建 → 镇城管中队：城管中队立案查处" in texts(at)
