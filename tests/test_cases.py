"""The supervision workflow of the seed (§二 协调督办范围, §三 协调督办类型), through its services."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from duban import cases, meetings, routing
from duban.cases import (
    Action,
    CaseFilter,
    CaseState,
    allowed_actions,
    case_timeline,
    close_case,
    eligible_for_escalation,
    escalate_case,
    issue_escalated_handling,
    issue_onsite_notice,
    issue_supervision_form,
    list_cases,
    list_referrals,
    open_case,
    recompute_due_dates,
    record_leader_instruction,
    record_site_visit,
    record_special_report,
    refer_case,
    register_feedback,
    register_notice_receipt,
    registration_late,
    reopen_case,
    report_up,
    update_case,
    verify_case,
)
from duban.clock import today
from duban.enums import (
    AuditAction,
    CaseStatus,
    DocumentKind,
    FeedbackReview,
    Level,
    Progress,
    Role,
    Scope,
    StepKind,
    StepStatus,
)
from duban.errors import ConflictError, PermissionDenied, TransitionError, ValidationError
from duban.models import AuditLog, Case, CaseCounter, Document, Feedback, Step, Ticket, Unit, User
from duban.permissions import SYSTEM, Actor, Perm
from duban.settings import set_setting
from duban.uploads import store_upload
from duban.workdays import set_year_schedule
from tests.factories import make_ticket, make_unit, sample_file
from tests.helpers import clock_on

SCAN = sample_file("pdf")
CLERK = Actor(user_id=None, username="clerk", role=Role.CENTER)
LEADER = Actor(user_id=None, username="leader", role=Role.LEADER)


@dataclass
class Town:
    dept: Unit  # 镇生态环境办 — lead unit
    village: Unit  # a co-unit
    other: Unit  # handles nothing here
    tickets: list[Ticket]
    session: Session

    def unit_user(self, unit: Unit) -> Actor:
        """The unit's account (a stored user: a unit attaches only its own unit's scans)."""
        name = f"u{unit.id}"
        user = self.session.exec(select(User).where(User.username == name)).first()
        if user is None:
            user = User(
                username=name, username_key=name, role=Role.UNIT, unit_id=unit.id, password_hash="-"
            )
            self.session.add(user)
            self.session.commit()
        return Actor(user_id=user.id, username=name, role=Role.UNIT, unit_id=unit.id)


@pytest.fixture
def town(session: Session) -> Town:
    dept = make_unit(session, "镇生态环境办")
    village = make_unit(session, "示例一村村委会")
    other = make_unit(session, "镇城管中队")
    tickets = [
        make_ticket(
            session,
            received_at=datetime(2024, 2, 26 + i, 20, 0),
            category="噪声扰民",
            title="夜间施工噪声扰民",
            content="工地夜间打桩，噪声很大，多次反映未解决",
            address="示例镇示例路8号",
            unit_id=dept.id,
        )
        for i in range(3)
    ]
    session.commit()
    return Town(dept, village, other, tickets, session)


def registration(town: Town) -> dict[str, Any]:
    """当天登记's parts: the leader reported to, the task division, the venue."""
    return {
        "reported_to": "张主任",
        "tasks": [(town.dept.id, "核查施工许可，督促夜间停工"), (town.village.id, "配合现场踏勘")],
        "venue_ready": True,
        "venue": "镇生态环境办三楼会议室",
    }


def open_written(session: Session, town: Town, on: date = date(2024, 3, 4), **kw: Any) -> Case:
    values: dict[str, Any] = {
        "scope": Scope.REPEATED,
        "lead_unit_id": town.dept.id,
        "ticket_ids": [t.id for t in town.tickets],
        "related_info": "同一地址三次投诉夜间施工噪声，承办单位答复后仍未解决",
        "opinion": "请于5个工作日内核查施工许可，督促夜间停工，并书面反馈",
        "opened_at": on,
    }
    values.update(kw)
    case = open_case(session, CLERK, **values)
    session.commit()
    return case


def current_step(session: Session, case: Case) -> Step:
    step = cases.latest_handling_step(session, case.id)
    assert step is not None
    return step


def feedback(
    session: Session,
    step: Step,
    on: date,
    progress: Progress = Progress.DONE,
    *,
    signed: bool = True,
    stamped: bool = True,
    actor: Actor = CLERK,
    scan: bool = True,
    confirm: bool = True,
    **kw: Any,
) -> Feedback:
    """Feedback received on `on`, signed, stamped and scanned unless told otherwise.

    The center enters paper it received that day (with the reason the date is not today); a
    unit submits it on that day (the clock is set to it) and the center confirms it unless
    `confirm=False`.
    """
    if scan and "upload_id" not in kw:
        kw["upload_id"] = store_upload(session, actor, name="回执.pdf", data=SCAN).id
    center = actor.can(Perm.EDIT_CASES)
    if center:
        kw.setdefault("date_reason", "纸质反馈邮寄收到")
    with clock_on(on if not center else today()):
        fb = register_feedback(
            session,
            actor,
            step.id,
            received_at=on,
            text=kw.pop("text", "已核查处理"),
            signed=signed,
            stamped=stamped,
            progress=progress,
            **kw,
        )
    if not center and confirm:
        cases.confirm_feedback(session, CLERK, fb.id)
    session.commit()
    return fb


def snapshot(session: Session) -> tuple[Any, ...]:
    """Counts and versions that any write would change."""
    session.expire_all()
    return (
        session.exec(select(func.count()).select_from(AuditLog)).one(),
        session.exec(select(func.count()).select_from(Feedback)).one(),
        session.exec(select(func.count()).select_from(Step)).one(),
        tuple(session.exec(select(Case.version, Case.status, Case.level).order_by(Case.id))),
        tuple(session.exec(select(Step.version, Step.status).order_by(Step.id))),
    )


def assert_refused(session: Session, call, error=TransitionError, match: str = ".") -> None:
    """The call is refused with a Chinese message and nothing at all is written."""
    before = snapshot(session)
    with pytest.raises(error, match=match):
        call()
    session.rollback()
    assert snapshot(session) == before


# --- 确定督办事项 / 督办编号 --------------------------------------------------------------


def test_case_numbers_are_per_year_with_the_configured_prefix(session, town):
    """督办编号 is assigned by the system: per-year sequence, configurable prefix."""
    first = open_written(session, town, ticket_ids=[town.tickets[0].id])
    second = open_written(session, town, ticket_ids=[town.tickets[1].id])
    set_setting(session, SYSTEM, "case_no_prefix", "示例督")
    next_year = open_written(session, town, on=date(2025, 1, 6), ticket_ids=[town.tickets[2].id])
    assert [first.case_no, second.case_no] == ["赵巷督〔2024〕第001号", "赵巷督〔2024〕第002号"]
    assert next_year.case_no == "示例督〔2025〕第001号"


def test_a_rolled_back_case_gives_its_number_back(session, town):
    """督办编号 gap-free: a case that is not saved does not consume a number."""
    open_case(
        session,
        CLERK,
        scope=Scope.REPEATED,
        lead_unit_id=town.dept.id,
        ticket_ids=[town.tickets[0].id],
        related_info="x",
        opinion="y",
        opened_at=date(2024, 3, 4),
    )
    session.rollback()
    case = open_written(session, town)
    assert case.case_no == "赵巷督〔2024〕第001号"


def test_concurrent_case_numbers_are_unique_and_gap_free(engine, session, town):
    """督办编号 unique and gap-free even when two staff save at the same moment."""
    unit_id = town.dept.id
    per_thread, threads = 8, 2
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def staff() -> None:
        try:
            barrier.wait()
            for _ in range(per_thread):
                with Session(engine) as s:
                    open_case(
                        s,
                        CLERK,
                        scope=Scope.LEADER,
                        lead_unit_id=unit_id,
                        source_note="镇领导交办",
                        related_info="同时保存",
                        opinion="请处理",
                        title="并发测试",
                        opened_at=date(2024, 5, 6),
                    )
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=staff) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    session.expire_all()
    seqs = sorted(session.exec(select(Case.seq).where(Case.year == 2024)))
    assert seqs == list(range(1, per_thread * threads + 1))
    assert session.get(CaseCounter, 2024).last_seq == per_thread * threads


def test_opening_links_tickets_lead_and_co_units_and_sends_the_form(session, town):
    """§三(一)1: 确定督办事项，向承办单位派送《督办单》 — 主办, 协办, tickets."""
    case = open_written(session, town, co_unit_ids=[town.village.id], title="")
    detail = cases.case_detail(session, CLERK, case.id)
    assert [(u.name, role.label) for u, role in detail.units] == [
        ("镇生态环境办", "主办"),
        ("示例一村村委会", "协办"),
    ]
    assert [t.id for t in detail.tickets] == [t.id for t in town.tickets]
    assert case.title == "夜间施工噪声扰民"  # from the first ticket when left empty
    (step,) = [v.step for v in detail.steps]
    assert (step.kind, step.level, step.unit_id) == (
        StepKind.SUPERVISION_FORM,
        Level.WRITTEN,
        town.dept.id,
    )


def test_written_supervision_due_in_five_working_days(session, town):
    """§三(一)2: 在 5 个工作日内完成工单处置 — 2024-02-08 + 5 working days = 2024-02-21."""
    case = open_written(session, town, on=date(2024, 2, 8))
    step = current_step(session, case)
    assert (step.due_at, step.due_workdays, step.due_provisional) == (date(2024, 2, 21), 5, False)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"scope": Scope.OTHER}, "其他需协调督办事项"),
        ({"related_info": " "}, "相关情况"),
        ({"opinion": ""}, "督办意见"),
        ({"ticket_ids": [], "source_note": ""}, "来源说明"),
        ({"lead_unit_id": 9999}, "主办单位"),
        ({"scope": "nonsense"}, "协调督办范围无效"),
    ],
)
def test_opening_refuses_incomplete_input(session, town, kw, message):
    """§二: scope is one of the six categories (其他 needs a reason); 相关情况, 督办意见 required."""
    assert_refused(session, lambda: open_written(session, town, **kw), ValidationError, message)


def test_a_ticket_is_supervised_by_one_open_case_at_a_time(session, town):
    """确定督办事项: the same 工单 cannot be put under two open cases."""
    first = open_written(session, town)
    assert_refused(
        session,
        lambda: open_written(session, town, ticket_ids=[town.tickets[0].id]),
        ValidationError,
        first.case_no,
    )


def test_starting_above_the_written_level_needs_a_reason(session, town):
    """A city-level or leader-instructed item may start at 现场/提级; the reason is recorded."""
    assert_refused(
        session,
        lambda: open_written(session, town, scope=Scope.CITY, start_level=Level.ONSITE),
        TransitionError,
        "须写明理由",
    )
    case = open_written(
        session,
        town,
        scope=Scope.CITY,
        start_level=Level.ONSITE,
        start_level_reason="市级督办事项，直接现场协调",
    )
    assert (case.level, case.start_level_reason) == (Level.ONSITE, "市级督办事项，直接现场协调")
    assert cases.latest_handling_step(session, case.id) is None  # the notice comes next


# --- the seed's paths ---------------------------------------------------------------------


def test_written_then_compliant_done_feedback_then_verified_closes(session, town):
    """§三(一): 书面反馈…由单位主要领导签字并加盖单位公章 → 已办结, verified, closed;
    the result becomes 督办情况."""
    case = open_written(session, town)
    step = current_step(session, case)
    fb = feedback(session, step, date(2024, 3, 8), Progress.DONE)
    session.refresh(step)
    assert fb.compliant and fb.on_time
    assert (step.status, step.closed_at, step.on_time, step.margin_workdays) == (
        StepStatus.CLOSED,
        date(2024, 3, 8),
        True,
        1,  # due Monday 2024-03-11, answered the Friday before
    )
    verify_case(session, CLERK, case.id, note="现场核实已停止夜间施工", on=date(2024, 3, 11))
    close_case(session, CLERK, case.id, result_text="已督促停工，市民满意", on=date(2024, 3, 12))
    session.commit()
    assert (case.status, case.closed_at, case.result_text) == (
        CaseStatus.CLOSED,
        date(2024, 3, 12),
        "已督促停工，市民满意",
    )
    changes = session.exec(
        select(AuditLog.old, AuditLog.new).where(AuditLog.action == AuditAction.TRANSITION)
    ).all()
    assert changes == [("书面督办", "已办结")]


def test_non_compliant_feedback_is_recorded_but_keeps_the_step_open(session, town):
    """§三(一)2: feedback must be 主要领导签字 and 加盖公章; without both it is 不合规 and
    does not close the step."""
    case = open_written(session, town)
    step = current_step(session, case)
    fb = feedback(session, step, date(2024, 3, 7), Progress.DONE, stamped=False)
    session.refresh(step)
    assert not fb.compliant
    assert (step.status, step.closed_at, step.on_time) == (StepStatus.OPEN, None, None)
    assert_refused(
        session,
        lambda: verify_case(session, CLERK, case.id, note="核实", on=date(2024, 3, 8)),
        match="合规",
    )
    feedback(session, step, date(2024, 3, 8), Progress.DONE)
    session.refresh(step)
    assert step.status == StepStatus.CLOSED


def test_co_unit_feedback_is_recorded_beside_but_does_not_close(session, town):
    """The case closes on the lead unit's feedback; a co-unit's feedback is recorded beside it."""
    case = open_written(session, town, co_unit_ids=[town.village.id])
    step = current_step(session, case)
    feedback(session, step, date(2024, 3, 6), Progress.DONE, actor=town.unit_user(town.village))
    session.refresh(step)
    assert step.status == StepStatus.OPEN
    lead = feedback(session, step, date(2024, 3, 7), actor=town.unit_user(town.dept))
    session.refresh(step)
    assert (lead.unit_id, step.status) == (town.dept.id, StepStatus.CLOSED)


def test_no_progress_then_onsite_overdue_escalated_meeting_rule_feedback_verified_closed(
    session, town
):
    """§三 end to end: 经书面督办仍未有处置进展的，纳入提级办理范围 → 现场协调督办 (notice,
    当天登记, 实地踏勘 fixing 处置时限) → 经现场协调督办仍未有处置进展 (overdue) → 提级:
    专题会 明确同类事项的处置部门和处置路径 → 提级办理 5 个工作日 → 跟踪核实, 上报区领导 → 办结."""
    case = open_written(session, town, co_unit_ids=[town.village.id])
    form = current_step(session, case)
    feedback(session, form, date(2024, 3, 8), Progress.NONE, text="施工方拒不配合")
    (elig,) = eligible_for_escalation(session, date(2024, 3, 8))
    assert (elig.case_id, elig.step_id, elig.reason) == (case.id, form.id, "书面督办反馈“无进展”")

    escalate_case(session, CLERK, case.id, on=date(2024, 3, 11))
    session.commit()
    session.refresh(form)
    assert case.level == Level.ONSITE
    assert (form.status, form.escalation_reason) == (StepStatus.CLOSED, "书面督办反馈“无进展”")

    notice = issue_onsite_notice(
        session,
        CLERK,
        case.id,
        issued_at=date(2024, 3, 12),
        location="示例镇示例路8号工地",
        scheduled_at=datetime(2024, 3, 13, 9, 30),
        procedure="踏勘现场、听取情况、明确责任",
        attendees="镇生态环境办、示例一村村委会、镇城建中心",
        contact_name="王",
        contact_phone="021-59000000",
    )
    register_notice_receipt(
        session, CLERK, notice.id, registered_at=datetime(2024, 3, 13, 8, 0), **registration(town)
    )
    record_site_visit(
        session,
        CLERK,
        notice.id,
        visit_at=date(2024, 3, 13),
        findings="夜间仍在施工，未办理夜间施工许可",
        responsible_unit_id=town.dept.id,
        deadline_workdays=3,
    )
    session.commit()
    assert registration_late(notice) is True  # registered the day after the notice
    assert (notice.due_at, notice.due_workdays) == (date(2024, 3, 18), 3)
    assert eligible_for_escalation(session, date(2024, 3, 18)) == []
    (elig,) = eligible_for_escalation(session, date(2024, 3, 19))
    assert elig.reason == "现场协调督办已逾期且无合规反馈（截止2024年3月18日）"

    escalate_case(session, CLERK, case.id, on=date(2024, 3, 19))
    session.commit()
    session.refresh(notice)
    assert (case.level, notice.status) == (Level.ESCALATED, StepStatus.ESCALATED)

    meeting = meetings.create_meeting(
        session,
        CLERK,
        held_at=date(2024, 3, 21),
        title="热线工作专题会（夜间施工噪声）",
        chair="镇分管领导",
        attendees="城运中心、生态环境办、城建中心",
        summary="夜间施工噪声由生态环境办牵头查处",
        case_ids=[case.id],
    )
    rule = meetings.add_routing_rule(
        session,
        CLERK,
        meeting.id,
        name="夜间施工噪声",
        category="噪声扰民",
        keywords="夜间施工、打桩",
        unit_id=town.dept.id,
        handling_path="生态环境办当日核查，无夜间施工许可的责令停工",
    )
    handling = issue_escalated_handling(
        session, CLERK, case.id, issued_at=date(2024, 3, 21), requirement="落实停工措施"
    )
    session.commit()
    assert handling.due_at == date(2024, 3, 28)
    suggested = routing.match_rules(
        session, category="噪声扰民", content="夜间施工扰民", address="示例镇和平路1号"
    )
    assert suggested == [rule]

    feedback(session, handling, date(2024, 3, 27), Progress.DONE)
    verify_case(session, CLERK, case.id, note="复查已停工", on=date(2024, 3, 28))
    report_up(session, CLERK, case.id, text="已办结，情况上报", issued_at=date(2024, 3, 28))
    close_case(session, CLERK, case.id, result_text="提级办理后停工整改", on=date(2024, 3, 29))
    session.commit()

    kinds = [v.step.kind for v in cases.case_detail(session, CLERK, case.id).steps]
    assert kinds == [
        StepKind.SUPERVISION_FORM,
        StepKind.ONSITE_NOTICE,
        StepKind.SPECIAL_MEETING,
        StepKind.ESCALATED_HANDLING,
        StepKind.REPORT_UP,
    ]
    transitions = session.exec(
        select(AuditLog.old, AuditLog.new)
        .where(AuditLog.action == AuditAction.TRANSITION)
        .order_by(AuditLog.id)
    ).all()
    assert transitions == [
        ("书面督办", "现场协调督办"),
        ("现场协调督办", "提级协调督办"),
        ("提级协调督办", "已办结"),
    ]


def test_leader_instructed_matter_goes_straight_to_escalation(session, town):
    """§二 2 区、镇领导批示交办事项 without a ticket, straight to §三(三) 提级协调督办:
    领导批办, 工作专报, 提级办理 5 个工作日, then feedback, verification, closing."""
    case = open_case(
        session,
        CLERK,
        scope=Scope.LEADER,
        lead_unit_id=town.dept.id,
        title="河道发黑发臭",
        source_note="区领导批示：请赵巷镇抓紧处理",
        source_date=date(2024, 4, 1),
        related_info="区领导批示交办",
        opinion="提级办理",
        start_level=Level.ESCALATED,
        start_level_reason="区领导批示交办",
        opened_at=date(2024, 4, 2),
    )
    record_leader_instruction(
        session,
        LEADER,
        case.id,
        leader="镇分管领导",
        recipient="镇生态环境办",
        text="三日内拿出整治方案",
        issued_at=date(2024, 4, 2),
    )
    record_special_report(
        session, CLERK, case.id, subject="河道整治专报", text="情况报告", issued_at=date(2024, 4, 3)
    )
    handling = issue_escalated_handling(
        session, CLERK, case.id, issued_at=date(2024, 4, 3), requirement="落实整治"
    )
    session.commit()
    assert (case.level, case.case_no, handling.due_at) == (
        Level.ESCALATED,
        "赵巷督〔2024〕第001号",
        date(2024, 4, 11),  # 4–6 April is 清明
    )
    feedback(session, handling, date(2024, 4, 12), Progress.DONE)
    session.refresh(handling)
    assert (handling.on_time, handling.margin_workdays) == (False, -1)
    verify_case(session, CLERK, case.id, note="已清理", on=date(2024, 4, 15))
    close_case(session, CLERK, case.id, result_text="河道已清理", on=date(2024, 4, 15))
    session.commit()
    assert case.status == CaseStatus.CLOSED
    assert [v.step.kind for v in cases.case_detail(session, CLERK, case.id).steps] == [
        StepKind.LEADER_INSTRUCTION,
        StepKind.SPECIAL_REPORT,
        StepKind.ESCALATED_HANDLING,
    ]


def test_escalation_without_eligibility_needs_an_override_reason(session, town):
    """纳入提级办理范围 only 经…仍未有处置进展; otherwise an explicit reason, never silently."""
    case = open_written(session, town)
    assert_refused(
        session,
        lambda: escalate_case(session, CLERK, case.id, on=date(2024, 3, 5)),
        match="不满足提级条件",
    )
    escalate_case(
        session, CLERK, case.id, on=date(2024, 3, 5), override_reason="市民集中反映，领导要求"
    )
    session.commit()
    step = session.exec(select(Step).where(Step.case_id == case.id)).one()
    assert (case.level, step.status) == (Level.ONSITE, StepStatus.ESCALATED)
    assert step.escalation_reason == "经人工确认提级：市民集中反映，领导要求"


def test_reopen_returns_to_the_level_it_closed_at_and_needs_a_new_verification(session, town):
    """A closed case can be reopened with a reason (e.g. the citizen calls again)."""
    case = open_written(session, town)
    feedback(session, current_step(session, case), date(2024, 3, 7))
    verify_case(session, CLERK, case.id, note="核实", on=date(2024, 3, 8))
    close_case(session, CLERK, case.id, result_text="已办结", on=date(2024, 3, 8))
    session.commit()
    assert_refused(
        session,
        lambda: reopen_case(session, CLERK, case.id, reason=" ", on=date(2024, 4, 1)),
        match="请写明理由",
    )
    reopen_case(session, CLERK, case.id, reason="市民再次来电反映", on=date(2024, 4, 1))
    session.commit()
    assert (case.status, case.level, case.verified_at, case.reopen_reason) == (
        CaseStatus.OPEN,
        Level.WRITTEN,
        None,
        "市民再次来电反映",
    )
    assert_refused(
        session,
        lambda: close_case(session, CLERK, case.id, result_text="x", on=date(2024, 4, 2)),
        match="尚未跟踪核实",
    )
    issue_supervision_form(session, CLERK, case.id, issued_at=date(2024, 4, 2))
    session.commit()


def test_referral_to_the_discipline_office_is_listed(session, town):
    """§三 工作要求(三): 对主观推诿、整改不力…的典型事项，移交镇纪委监察办监督."""
    case = open_written(session, town)
    assert_refused(
        session,
        lambda: refer_case(session, CLERK, case.id, reason="", on=date(2024, 3, 20)),
        match="请写明理由",
    )
    refer_case(session, CLERK, case.id, reason="多次推诿，整改不力", on=date(2024, 3, 20))
    session.commit()
    (row,) = list_referrals(session, LEADER)
    assert (row.case_no, row.referral.reason, row.lead_unit) == (
        case.case_no,
        "多次推诿，整改不力",
        "镇生态环境办",
    )
    (listed,), _ = list_cases(session, CLERK, CaseFilter(referred_only=True))
    assert listed.referred


# --- refusals -----------------------------------------------------------------------------


def test_feedback_on_a_closed_step_is_refused(session, town):
    """Every transition is checked: feedback on a closed step changes nothing."""
    case = open_written(session, town)
    step = current_step(session, case)
    feedback(session, step, date(2024, 3, 7))
    assert_refused(session, lambda: feedback(session, step, date(2024, 3, 8)), match="已完成")


def test_feedback_on_a_closed_case_is_refused(session, town):
    case = open_written(session, town)
    step = current_step(session, case)
    feedback(session, step, date(2024, 3, 7))
    verify_case(session, CLERK, case.id, note="核实", on=date(2024, 3, 8))
    close_case(session, CLERK, case.id, result_text="办结", on=date(2024, 3, 8))
    session.commit()
    assert_refused(
        session,
        lambda: feedback(session, step, date(2024, 3, 9)),
        match="当前为“已办结”，不能登记书面反馈",
    )


def test_escalating_a_closed_case_is_refused(session, town):
    """提级 is only for open cases."""
    case = open_written(session, town)
    feedback(session, current_step(session, case), date(2024, 3, 7))
    verify_case(session, CLERK, case.id, note="核实", on=date(2024, 3, 8))
    close_case(session, CLERK, case.id, result_text="办结", on=date(2024, 3, 8))
    session.commit()
    assert_refused(
        session,
        lambda: escalate_case(session, CLERK, case.id, override_reason="再提"),
        match="当前为“已办结”，不能提级",
    )


def test_escalating_beyond_the_escalated_level_is_refused(session, town):
    case = open_written(session, town, start_level=Level.ESCALATED, start_level_reason="领导批示")
    assert_refused(
        session,
        lambda: escalate_case(session, CLERK, case.id, override_reason="再提"),
        match="当前为“提级协调督办”，不能提级",
    )


def test_a_due_date_before_the_issue_date_is_refused(session, town):
    """处置时限 fixed at the visit cannot lie before the notice was issued."""
    case = open_written(session, town, start_level=Level.ONSITE, start_level_reason="市级督办")
    notice = issue_onsite_notice(
        session, CLERK, case.id, issued_at=date(2024, 3, 12), location="现场"
    )
    session.commit()
    assert_refused(
        session,
        lambda: record_site_visit(
            session,
            CLERK,
            notice.id,
            visit_at=date(2024, 3, 13),
            findings="情况",
            responsible_unit_id=town.dept.id,
            deadline=date(2024, 3, 11),
        ),
        match="处置时限 2024年3月11日 早于发出日期",
    )


def test_a_deadline_fixed_on_a_rest_day_is_refused(session, town):
    """Deadlines fall on working days, so boards and KPIs judge lateness the same way."""
    case = open_written(session, town, start_level=Level.ONSITE, start_level_reason="市级督办")
    notice = issue_onsite_notice(
        session, CLERK, case.id, issued_at=date(2024, 9, 25), location="现场"
    )
    session.commit()
    assert_refused(
        session,
        lambda: record_site_visit(
            session,
            CLERK,
            notice.id,
            visit_at=date(2024, 9, 26),
            findings="情况",
            responsible_unit_id=town.dept.id,
            deadline=date(2024, 10, 3),  # National Day holiday
        ),
        error=ValidationError,
        match="2024年10月3日 是休息日",
    )


@pytest.mark.parametrize(
    ("action", "match"),
    [
        (
            lambda s, c, t, st: feedback(s, st, date(2024, 3, 1)),
            "早于该环节发出日期",
        ),
        (
            lambda s, c, t, st: feedback(s, st, date(2999, 1, 1)),
            "晚于今天",
        ),
        (
            lambda s, c, t, st: issue_supervision_form(s, CLERK, c.id, issued_at=date(2024, 3, 5)),
            "已有办理中的“督办单”",
        ),
        (
            lambda s, c, t, st: issue_onsite_notice(
                s, CLERK, c.id, issued_at=date(2024, 3, 5), location="x"
            ),
            "当前为“书面督办”，不能发出现场协调督办通知",
        ),
        (
            lambda s, c, t, st: issue_escalated_handling(
                s, CLERK, c.id, issued_at=date(2024, 3, 5), requirement="x"
            ),
            "不能提级办理",
        ),
        (
            lambda s, c, t, st: register_notice_receipt(
                s, CLERK, st.id, reported_to="张主任", tasks=[(t.dept.id, "x")], venue_ready=False
            ),
            "不能登记收到通知",
        ),
        (
            lambda s, c, t, st: close_case(s, CLERK, c.id, result_text="x", on=date(2024, 3, 6)),
            "尚未收到承办单位合规",
        ),
        (
            lambda s, c, t, st: reopen_case(s, CLERK, c.id, reason="x"),
            "当前为“书面督办”，不能重新督办",
        ),
        (
            lambda s, c, t, st: feedback(s, st, date(2024, 3, 6), unit_id=t.other.id),
            "不是本事项的承办单位",
        ),
        (
            lambda s, c, t, st: record_leader_instruction(
                s, LEADER, c.id, leader="l", recipient="r", text="t", issued_at=date(2024, 3, 1)
            ),
            "早于立项日期",
        ),
    ],
)
def test_invalid_transitions_are_refused_and_change_nothing(session, town, action, match):
    """Every transition goes through the state machine; an invalid one is refused in Chinese."""
    case = open_written(session, town)
    step = current_step(session, case)
    assert_refused(session, lambda: action(session, case, town, step), match=match)


def test_closing_needs_verification_and_a_result(session, town):
    """办结 needs compliant 已办结 feedback AND the center's 跟踪核实; 督办情况 required."""
    case = open_written(session, town)
    feedback(session, current_step(session, case), date(2024, 3, 7))
    assert_refused(
        session,
        lambda: close_case(session, CLERK, case.id, result_text="x", on=date(2024, 3, 8)),
        match="尚未跟踪核实",
    )
    assert_refused(
        session,
        lambda: verify_case(session, CLERK, case.id, note="x", on=date(2024, 3, 6)),
        match="早于反馈收到日期",
    )
    verify_case(session, CLERK, case.id, note="核实", on=date(2024, 3, 8))
    session.commit()
    assert_refused(
        session,
        lambda: close_case(session, CLERK, case.id, result_text=" ", on=date(2024, 3, 8)),
        match="督办情况",
    )


def test_a_failed_verification_is_recorded_and_blocks_closing(session, town):
    """跟踪核实 may find the matter not done: recorded, and the case cannot close on it."""
    case = open_written(session, town)
    feedback(session, current_step(session, case), date(2024, 3, 7))
    verify_case(session, CLERK, case.id, note="现场仍在施工", confirmed=False, on=date(2024, 3, 8))
    session.commit()
    assert (case.verified_at, case.verification_note) == (None, "现场仍在施工")
    assert_refused(
        session,
        lambda: close_case(session, CLERK, case.id, result_text="x", on=date(2024, 3, 8)),
        match="尚未跟踪核实",
    )


def test_a_stale_page_cannot_escalate_twice(session, town):
    """A save based on a stale version is refused, never a double escalation."""
    case = open_written(session, town)
    version = case.version
    escalate_case(
        session, CLERK, case.id, on=date(2024, 3, 5), override_reason="x", expected_version=version
    )
    session.commit()
    assert_refused(
        session,
        lambda: escalate_case(
            session, CLERK, case.id, override_reason="y", expected_version=version
        ),
        ConflictError,
        "已被",
    )


# --- permissions --------------------------------------------------------------------------


def test_unit_users_only_register_feedback_on_their_own_cases(session, town):
    """Unit users see only their unit's cases and can only register feedback."""
    case = open_written(session, town)
    step = current_step(session, case)
    outsider = town.unit_user(town.other)
    own = town.unit_user(town.dept)
    assert_refused(
        session,
        lambda: feedback(session, step, date(2024, 3, 7), actor=outsider),
        PermissionDenied,
        "只能处理本单位",
    )
    assert_refused(
        session,
        lambda: escalate_case(session, own, case.id, override_reason="x"),
        PermissionDenied,
        "无权",
    )
    assert_refused(
        session,
        lambda: open_case(
            session, own, scope=Scope.LEADER, lead_unit_id=town.dept.id, source_note="x",
            related_info="x", opinion="x", title="x",
        ),
        PermissionDenied,
        "无权确定督办事项",
    )  # fmt: skip
    assert_refused(
        session,
        lambda: feedback(session, step, date(2024, 3, 7), actor=own, unit_id=town.village.id),
        PermissionDenied,
        "本单位",
    )
    fb = feedback(session, step, date(2024, 3, 7), actor=own)
    assert fb.unit_id == town.dept.id
    assert [r.id for r in list_cases(session, own)[0]] == [case.id]
    assert list_cases(session, outsider)[0] == []
    assert allowed_actions(own, case) == [Action.FEEDBACK]


def test_leaders_record_instructions_but_do_not_run_the_workflow(session, town):
    """Leaders record a 批示 (Perm.INSTRUCT); escalating and closing are the center's."""
    case = open_written(session, town)
    record_leader_instruction(
        session, LEADER, case.id, leader="镇长", recipient="生态环境办", text="抓紧办理",
        issued_at=date(2024, 3, 5),
    )  # fmt: skip
    session.commit()
    assert_refused(
        session,
        lambda: escalate_case(session, LEADER, case.id, override_reason="x"),
        PermissionDenied,
        "无权提级",
    )
    assert set(allowed_actions(LEADER, case)) == {Action.LEADER_INSTRUCTION}


# --- eligibility (SQL) --------------------------------------------------------------------


def test_eligibility_ignores_closed_escalated_and_co_unit_feedback(session, town):
    """Only open cases below 提级 whose answering unit said 无进展 or who missed the deadline."""
    in_time = open_written(
        session, town, ticket_ids=[town.tickets[0].id], co_unit_ids=[town.village.id]
    )
    feedback(session, current_step(session, in_time), date(2024, 3, 6), Progress.NONE,
             actor=town.unit_user(town.village))  # fmt: skip
    top = open_written(
        session, town, ticket_ids=[town.tickets[1].id], start_level=Level.ESCALATED,
        start_level_reason="领导批示",
    )  # fmt: skip
    issue_escalated_handling(session, CLERK, top.id, issued_at=date(2024, 3, 4), requirement="x")
    closed = open_written(session, town, ticket_ids=[town.tickets[2].id])
    feedback(session, current_step(session, closed), date(2024, 3, 6))
    verify_case(session, CLERK, closed.id, note="x", on=date(2024, 3, 6))
    close_case(session, CLERK, closed.id, result_text="x", on=date(2024, 3, 6))
    session.commit()
    assert eligible_for_escalation(session, date(2024, 3, 8)) == []
    late = eligible_for_escalation(session, date(2024, 3, 12))
    assert [e.case_id for e in late] == [in_time.id]  # overdue; co-unit 无进展 did not count
    assert eligible_for_escalation(session, date(2024, 3, 12), [top.id, closed.id]) == []


def test_a_non_compliant_no_progress_answer_also_makes_the_case_eligible(session, town):
    """仍未有处置进展: the center's judgement 无进展 counts even on an unsigned answer."""
    case = open_written(session, town)
    feedback(session, current_step(session, case), date(2024, 3, 6), Progress.NONE, signed=False)
    (elig,) = eligible_for_escalation(session, date(2024, 3, 6), [case.id])
    assert elig.reason == "书面督办反馈“无进展”（反馈不合规）"


def test_a_step_answered_with_progress_is_not_eligible(session, town):
    """有进展 in writing, even late, is not 未有处置进展."""
    case = open_written(session, town)
    feedback(session, current_step(session, case), date(2024, 3, 13), Progress.SOME)
    assert eligible_for_escalation(session, date(2024, 3, 20)) == []


# --- deadlines after a calendar change; frozen outcomes -------------------------------------


def test_provisional_due_dates_become_final_and_closed_steps_keep_their_outcome(
    session, town, monkeypatch
):
    """Deadlines in a year without a known schedule are 暂估 and recomputed once it is entered;
    the outcome of a closed step is history and is never rewritten."""
    monkeypatch.setattr("duban.clock.now", lambda: datetime(2027, 1, 20, 12))
    answered = open_written(session, town, ticket_ids=[town.tickets[0].id], on=date(2026, 12, 24))
    waiting = open_written(session, town, ticket_ids=[town.tickets[1].id], on=date(2026, 12, 28))
    done_step = current_step(session, answered)
    open_step = current_step(session, waiting)
    assert (open_step.due_at, open_step.due_provisional) == (date(2027, 1, 4), True)
    feedback(session, done_step, date(2026, 12, 31))
    session.refresh(done_step)
    frozen = (done_step.closed_at, done_step.on_time, done_step.margin_workdays, done_step.due_at)

    set_year_schedule(session, SYSTEM, 2027, [date(2027, 1, 1)], [])
    changed = recompute_due_dates(session, SYSTEM)
    session.commit()
    session.refresh(open_step)
    session.refresh(done_step)
    assert changed == 1
    assert (open_step.due_at, open_step.due_provisional) == (date(2027, 1, 5), False)
    assert (
        done_step.closed_at,
        done_step.on_time,
        done_step.margin_workdays,
        done_step.due_at,
    ) == frozen


# --- editing, listing, timeline -----------------------------------------------------------


def test_edits_are_versioned_and_audited(session, town):
    """Every change is audited; a stale save is refused naming the row."""
    case = open_written(session, town)
    version = case.version
    update_case(session, CLERK, case.id, {"opinion": "请三日内反馈"}, expected_version=version)
    session.commit()
    row = session.exec(select(AuditLog).where(AuditLog.field == "opinion")).one()
    assert row.new == "请三日内反馈"
    assert_refused(
        session,
        lambda: update_case(session, CLERK, case.id, {"title": "x"}, expected_version=version),
        ConflictError,
        case.case_no,
    )
    assert_refused(
        session,
        lambda: update_case(session, CLERK, case.id, {"status": "closed"}, expected_version=None),
        ValidationError,
        "不能在此修改",
    )


def test_the_list_filters_by_level_status_unit_and_overdue(session, town):
    a = open_written(session, town, ticket_ids=[town.tickets[0].id])
    b = open_written(
        session, town, ticket_ids=[town.tickets[1].id], lead_unit_id=town.village.id,
        start_level=Level.ONSITE, start_level_reason="市级",
    )  # fmt: skip
    assert {r.id for r in list_cases(session, CLERK)[0]} == {a.id, b.id}
    assert [r.id for r in list_cases(session, CLERK, CaseFilter(level=Level.ONSITE))[0]] == [b.id]
    assert [r.id for r in list_cases(session, CLERK, CaseFilter(unit_id=town.dept.id))[0]] == [a.id]
    overdue, total = list_cases(session, CLERK, CaseFilter(overdue_only=True), on=date(2024, 3, 12))
    assert ([r.id for r in overdue], total) == ([a.id], 1)
    assert overdue[0].due_at == date(2024, 3, 11)
    assert list_cases(session, CLERK, CaseFilter(search=a.case_no))[1] == 1


def test_the_timeline_shows_steps_feedback_state_changes_edits_and_documents(session, town):
    """Each case has a timeline: every step, feedback, document, state change and edit."""
    case = open_written(session, town)
    feedback(session, current_step(session, case), date(2024, 3, 8), Progress.NONE)
    update_case(session, CLERK, case.id, {"title": "工地夜间噪声"}, expected_version=None)
    escalate_case(session, CLERK, case.id, on=date(2024, 3, 11))
    doc = Document(
        kind=DocumentKind.SUPERVISION_FORM,
        case_id=case.id,
        template_name="t.docx",
        template_sha256="0" * 64,
        file_name="督办单.docx",
        path="documents/x.docx",
        sha256="1" * 64,
    )
    session.add(doc)
    session.commit()
    entries = case_timeline(session, CLERK, case.id)
    assert [e.what for e in entries] == [  # oldest first, in the order things happened
        "新增事项",
        "新增环节",
        "新增书面反馈",
        "修改环节",
        "修改事项",
        "修改环节",
        "修改事项",
        "流转事项",
        "生成文书：督办单",
    ]
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    detail = [e.detail for e in entries]
    assert detail[0] == "确定督办事项 赵巷督〔2024〕第001号（书面督办）"
    assert detail[1] == "派送《12345市民服务热线督办单》，截止2024年3月11日"
    assert detail[2] == (
        "登记书面反馈（收到日期2024年3月8日）：无进展，合规；收到日期说明：纸质反馈邮寄收到；"
        "城运中心登记，已核验"
    )
    assert detail[4] == "事由：夜间施工噪声扰民 → 工地夜间噪声"
    assert "状态：书面督办 → 现场协调督办" in detail[7]
    assert detail[8] == "督办单.docx"
    assert all(e.who for e in entries)


def test_allowed_actions_follow_the_state(session, town):
    """The page offers only the actions the state machine allows from the case's state."""
    case = open_written(session, town)
    assert cases.case_state(case) == CaseState.WRITTEN
    assert Action.ISSUE_FORM in allowed_actions(CLERK, case)
    assert Action.ISSUE_NOTICE not in allowed_actions(CLERK, case)
    case.status = CaseStatus.CLOSED
    assert allowed_actions(CLERK, case) == [Action.REOPEN, Action.REFER]


# --- 当天登记 (§三(二)2) --------------------------------------------------------------------


def onsite_notice_for(session: Session, town: Town) -> tuple[Case, Step]:
    """A case taken to 现场协调督办 and its notice issued on 2024-03-12."""
    case = open_written(session, town)
    feedback(session, current_step(session, case), date(2024, 3, 7), Progress.NONE)
    escalate_case(session, CLERK, case.id, on=date(2024, 3, 11))
    notice = issue_onsite_notice(
        session, CLERK, case.id, issued_at=date(2024, 3, 12), location="示例镇示例路8号工地"
    )
    session.commit()
    return case, notice


def test_same_day_registration_records_the_leader_the_task_division_and_the_venue(session, town):
    """“承办单位收到…通知后，应在当天进行登记，报告主要领导，按照协调督办事项职责范围分解任务，
    并落实好会议场所等督办准备工作。”"""
    case, notice = onsite_notice_for(session, town)
    register_notice_receipt(
        session, CLERK, notice.id, registered_at=datetime(2024, 3, 12, 16, 30), **registration(town)
    )
    session.commit()
    session.refresh(notice)
    assert (notice.registered_at, notice.reported_to) == (datetime(2024, 3, 12, 16, 30), "张主任")
    assert (notice.venue_ready, notice.venue) == (True, "镇生态环境办三楼会议室")
    assert registration_late(notice) is False
    detail = cases.case_detail(session, CLERK, case.id, on=date(2024, 3, 12))
    (view,) = [v for v in detail.steps if v.step.id == notice.id]
    assert view.tasks == [
        ("镇生态环境办", "核查施工许可，督促夜间停工"),
        ("示例一村村委会", "配合现场踏勘"),
    ]
    (entry,) = [e for e in case_timeline(session, CLERK, case.id) if "登记收到" in e.detail]
    assert "（当天），已报告主要领导张主任" in entry.detail
    assert (
        "任务分解：镇生态环境办：核查施工许可，督促夜间停工；示例一村村委会：配合现场踏勘"
        in entry.detail
    )
    assert "会议场所已落实：（空） → 是" in entry.detail
    assert "登记时间：（空） → 2024年3月12日 16:30" in entry.detail


def test_registration_later_than_the_notice_day_is_flagged(session, town):
    case, notice = onsite_notice_for(session, town)
    register_notice_receipt(
        session, CLERK, notice.id, registered_at=datetime(2024, 3, 13, 9, 0), **registration(town)
    )
    session.commit()
    assert registration_late(notice) is True
    assert any("晚于通知当天" in e.detail for e in case_timeline(session, CLERK, case.id))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"reported_to": " "}, "请填写报告的主要领导"),
        ({"tasks": []}, "请按职责范围分解任务"),
        ({"tasks": [(None, "配合")]}, "任务分解第 1 行的单位"),
        ({"tasks": [(999_999, "配合")]}, "不存在或已删除"),
        ({"venue": ""}, "已落实会议场所时请填写场所"),
    ],
)
def test_registration_needs_every_part(session, town, change, message):
    _, notice = onsite_notice_for(session, town)
    values = {**registration(town), **change}
    if "tasks" in change and change["tasks"] and change["tasks"][0][0] is None:
        values["tasks"] = change["tasks"]
    assert_refused(
        session,
        lambda: register_notice_receipt(
            session, CLERK, notice.id, registered_at=datetime(2024, 3, 12, 16), **values
        ),
        ValidationError,
        message,
    )


def test_a_unit_registers_at_the_servers_time_and_cannot_choose_another_day(session, town):
    _, notice = onsite_notice_for(session, town)
    unit = town.unit_user(town.dept)
    assert_refused(
        session,
        lambda: register_notice_receipt(
            session, unit, notice.id, registered_at=datetime(2024, 3, 12, 16), **registration(town)
        ),
        PermissionDenied,
        "以提交时间为准",
    )
    register_notice_receipt(session, unit, notice.id, **registration(town))
    session.commit()
    assert notice.registered_at is not None
    assert notice.registered_at.date() == today()


# --- feedback the center can trust ----------------------------------------------------------


def test_a_unit_cannot_backdate_feedback_even_through_the_service(session, town):
    """收到日期 of a unit is the server's date of submission: a reply to a step already overdue
    cannot be dated before its deadline."""
    case = open_written(session, town)
    step = current_step(session, case)
    unit = town.unit_user(town.dept)
    scan = store_upload(session, unit, name="回执.pdf", data=SCAN)
    call = {
        "text": "已处置",
        "signed": True,
        "stamped": True,
        "progress": Progress.DONE,
        "upload_id": scan.id,
    }
    session.commit()
    assert_refused(
        session,
        lambda: register_feedback(session, unit, step.id, received_at=date(2024, 3, 8), **call),
        PermissionDenied,
        "以提交当天.*为收到日期",
    )
    fb = register_feedback(session, unit, step.id, **call)
    session.commit()
    assert fb.received_at == today()
    assert fb.on_time is False  # due 2024-03-11, submitted today


def test_the_center_enters_another_date_only_with_a_reason(session, town):
    case = open_written(session, town)
    step = current_step(session, case)
    assert_refused(
        session,
        lambda: feedback(session, step, date(2024, 3, 8), date_reason=""),
        ValidationError,
        "不是今天，请写明原因",
    )
    fb = feedback(session, step, date(2024, 3, 8), date_reason="纸质反馈3月8日邮寄送达")
    assert (fb.received_at, fb.date_reason) == (date(2024, 3, 8), "纸质反馈3月8日邮寄送达")
    (entry,) = [e for e in case_timeline(session, CLERK, case.id) if e.what == "新增书面反馈"]
    assert "收到日期说明：纸质反馈3月8日邮寄送达" in entry.detail


def test_signed_and_stamped_feedback_without_scan_is_not_compliant(session, town):
    """签字/盖章 count only with the scan attached: without it the step stays open and the
    case cannot be closed."""
    case = open_written(session, town)
    step = current_step(session, case)
    fb = feedback(session, step, date(2024, 3, 8), scan=False)
    assert (fb.signed, fb.stamped, fb.compliant) == (True, True, False)
    session.refresh(step)
    assert (step.status, step.on_time) == (StepStatus.OPEN, None)
    assert cases.done_feedback(session, case.id) is None
    assert any("缺扫描件" in e.detail for e in case_timeline(session, CLERK, case.id))


def test_unit_feedback_waits_for_the_center_and_counts_once_confirmed(session, town):
    """Feedback a unit enters is 待核验: it neither closes the step nor makes the case eligible;
    the center's confirmation closes the step with the outcome of the day it was submitted."""
    case = open_written(session, town)
    step = current_step(session, case)
    unit = town.unit_user(town.dept)
    none = feedback(session, step, date(2024, 3, 7), Progress.NONE, actor=unit, confirm=False)
    assert none.review == FeedbackReview.PENDING
    assert eligible_for_escalation(session, date(2024, 3, 8), [case.id]) == []
    cases.confirm_feedback(session, CLERK, none.id, expected_version=none.version)
    session.commit()
    assert [e.reason for e in eligible_for_escalation(session, date(2024, 3, 8), [case.id])] == [
        "书面督办反馈“无进展”"
    ]

    other = open_written(session, town, ticket_ids=[], source_note="区领导批示", title="另一事项")
    step2 = current_step(session, other)
    done = feedback(session, step2, date(2024, 3, 8), actor=unit, confirm=False)
    session.refresh(step2)
    assert (step2.status, cases.done_feedback(session, other.id)) == (StepStatus.OPEN, None)
    assert_refused(
        session,
        lambda: close_case(session, CLERK, other.id, result_text="x", on=date(2024, 3, 9)),
        match="尚未收到承办单位合规",
    )
    with clock_on(date(2024, 3, 20)):
        cases.confirm_feedback(session, CLERK, done.id)  # confirmed after the deadline
    session.commit()
    session.refresh(step2)
    assert (step2.status, step2.closed_at, step2.on_time) == (
        StepStatus.CLOSED,
        date(2024, 3, 8),
        True,
    )
    assert cases.done_feedback(session, other.id).id == done.id
    assert_refused(
        session,
        lambda: cases.confirm_feedback(session, CLERK, done.id),
        match="已核验，不能再核验",
    )


def test_returned_feedback_never_counts_and_needs_a_reason(session, town):
    case = open_written(session, town)
    step = current_step(session, case)
    unit = town.unit_user(town.dept)
    fb = feedback(session, step, date(2024, 3, 8), actor=unit, confirm=False)
    assert_refused(
        session, lambda: cases.return_feedback(session, CLERK, fb.id, reason=" "), match="写明理由"
    )
    assert_refused(
        session,
        lambda: cases.return_feedback(session, unit, fb.id, reason="x"),
        PermissionDenied,
        "无权",
    )
    cases.return_feedback(session, CLERK, fb.id, reason="扫描件未盖章，请重新提交")
    session.commit()
    session.refresh(step)
    assert (fb.review, fb.review_note, step.status) == (
        FeedbackReview.RETURNED,
        "扫描件未盖章，请重新提交",
        StepStatus.OPEN,
    )
    assert_refused(session, lambda: cases.confirm_feedback(session, CLERK, fb.id), match="已退回")
    assert any(
        "退回书面反馈：扫描件未盖章" in e.detail for e in case_timeline(session, CLERK, case.id)
    )


def test_the_center_corrects_a_pending_date_only_with_a_reason(session, town):
    case = open_written(session, town)
    step = current_step(session, case)
    unit = town.unit_user(town.dept)
    fb = feedback(session, step, date(2024, 3, 12), actor=unit, confirm=False)
    assert fb.on_time is False
    assert_refused(
        session,
        lambda: cases.correct_feedback_date(
            session, CLERK, fb.id, received_at=date(2024, 3, 8), reason=""
        ),
        match="写明理由",
    )
    assert_refused(
        session,
        lambda: cases.correct_feedback_date(
            session, unit, fb.id, received_at=date(2024, 3, 8), reason="x"
        ),
        PermissionDenied,
    )
    cases.correct_feedback_date(
        session, CLERK, fb.id, received_at=date(2024, 3, 8), reason="纸质原件3月8日已送达"
    )
    cases.confirm_feedback(session, CLERK, fb.id)
    session.commit()
    session.refresh(step)
    assert (fb.received_at, fb.on_time, step.on_time) == (date(2024, 3, 8), True, True)
    entry = next(e for e in case_timeline(session, CLERK, case.id) if "更正收到日期" in e.detail)
    assert "收到日期：2024年3月12日 → 2024年3月8日" in entry.detail
    assert_refused(
        session,
        lambda: cases.correct_feedback_date(
            session, CLERK, fb.id, received_at=date(2024, 3, 7), reason="x"
        ),
        match="已核验",
    )


def test_the_timeline_reads_in_words(session, town):
    """No 是否按时 → True, no 责任单位 → 1, no login names: 是/否, unit names, 姓名."""
    clerk = Actor(user_id=None, username="clerk", role=Role.CENTER)
    case, notice = onsite_notice_for(session, town)
    register_notice_receipt(
        session, clerk, notice.id, registered_at=datetime(2024, 3, 12, 16), **registration(town)
    )
    record_site_visit(
        session, clerk, notice.id, visit_at=date(2024, 3, 13), findings="夜间仍在施工",
        responsible_unit_id=town.dept.id, deadline_workdays=3,
    )  # fmt: skip
    session.commit()
    text = "\n".join(f"{e.who} {e.what} {e.detail}" for e in case_timeline(session, clerk, case.id))
    assert "责任单位：（空） → 镇生态环境办" in text
    assert "是否按时：（空） → 是" in text
    for raw in ("True", "False", "None", f"→ {town.dept.id}\n", "_id"):
        assert raw not in text
