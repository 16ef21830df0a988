"""督办事项: the list with filters, and one case (`?case=ID`) with the next actions the state
machine allows this user (`&action=escalate` opens the escalation form directly)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time
from typing import Any

import pandas as pd
import streamlit as st
from sqlmodel import Session

from duban import cases, documents, meetings, uploads
from duban.cases import Action, CaseDetail, CaseFilter
from duban.clock import cn_date, cn_due, now, today
from duban.enums import (
    CaseStatus,
    DocumentKind,
    FeedbackReview,
    Level,
    Progress,
    Scope,
    StepKind,
    UnitRole,
)
from duban.errors import ValidationError
from duban.permissions import Actor, Perm
from duban.units import live_units
from ui import board_data, chasing_data
from ui.case_data import case_view
from ui.case_documents import case_documents_panel
from ui.common import actor, engine, literal, user_action
from ui.shared import change_stamp

PAGE_SIZE = 200
me: Actor = actor()


def done(message: str) -> None:
    """Remember the success message across the rerun that shows the new state."""
    st.session_state["cases_flash"] = message
    st.rerun()


def past_date(label: str, where: Any = st, value: date | None = None) -> date:
    """The day something happened: today by default, never in the future."""
    return where.date_input(label, value=value or today(), max_value=today())


def act(work: Callable[[Session], object], message: str) -> None:
    """One user action = one transaction; a refusal shows its Chinese message, nothing saved."""
    with user_action():
        with Session(engine()) as session:
            work(session)
            session.commit()
        done(message)


# --- the list ---------------------------------------------------------------------------


def show_list() -> None:
    st.title("督办事项")
    with Session(engine()) as session:
        unit_names = live_units(session, me)
    c1, c2, c3, c4 = st.columns(4)
    status = c1.selectbox(
        "状态", [None, *CaseStatus], format_func=lambda s: "全部" if s is None else s.label,
        key="cases_status",
     placeholder="请选择")  # fmt: skip
    level = c2.selectbox(
        "督办类型", [None, *Level], format_func=lambda s: "全部" if s is None else s.label,
        key="cases_level",
     placeholder="请选择")  # fmt: skip
    scope = c3.selectbox(
        "协调督办范围", [None, *Scope], format_func=lambda s: "全部" if s is None else s.label,
        key="cases_scope",
     placeholder="请选择")  # fmt: skip
    unit_id = None
    if me.can(Perm.VIEW_ALL):
        unit_id = c4.selectbox(
            "承办单位", [None, *unit_names], format_func=lambda u: "全部" if u is None else unit_names[u],
            key="cases_unit",
         placeholder="请选择")  # fmt: skip
    c5, c6, c7, c8 = st.columns([2, 1, 1, 1])
    search = c5.text_input("搜索（督办编号、事由、相关情况）", key="cases_search")
    overdue = c6.checkbox("仅看逾期", key="cases_overdue")
    referred = c7.checkbox("仅看已移交纪委", key="cases_referred")
    page = int(c8.number_input("页码", min_value=1, value=1, step=1, key="cases_page"))
    filters = CaseFilter(status, level, scope, unit_id, search, overdue, referred)
    with Session(engine()) as session:
        rows, total = cases.list_cases(
            session, me, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
        )
        eligible = cases.escalation_eligible(session, me, [r.id for r in rows], today())
    st.caption(f"共 {total} 件，本页 {len(rows)} 件")
    if rows:
        frame = pd.DataFrame(
            {
                "督办编号": [r.case_no for r in rows],
                "详情": [f"./cases?case={r.id}" for r in rows],
                "事由": [r.title for r in rows],
                "督办类型": [r.level.label for r in rows],
                "状态": [r.status.label for r in rows],
                "主办单位": [r.lead_unit for r in rows],
                "立项日期": [cn_date(r.opened_at) for r in rows],
                "当前截止": [cn_due(r.due_at, r.due_provisional) for r in rows],
                "可提级": ["是" if r.id in eligible else "" for r in rows],
                "已移交纪委": ["是" if r.referred else "" for r in rows],
            }
        )
        st.dataframe(
            frame,
            hide_index=True,
            column_config={"详情": st.column_config.LinkColumn("详情", display_text="打开")},
        )
        choice = st.selectbox(
            "打开督办事项", [r.id for r in rows],
            format_func=lambda i: next(f"{r.case_no} {r.title}" for r in rows if r.id == i),
            key="cases_pick",
         placeholder="请选择")  # fmt: skip
        if st.button("打开", key="cases_open"):
            st.query_params["case"] = str(choice)
            st.rerun()
    else:
        st.info("没有符合条件的督办事项")
    if me.can(Perm.VIEW_ALL):
        show_referrals()


def show_referrals() -> None:
    with Session(engine()) as session:
        referrals = cases.list_referrals(session, me)
    with st.expander(f"移交镇纪委监察办名单（{len(referrals)} 件）"):
        if referrals:
            st.dataframe(
                pd.DataFrame(
                    {
                        "移交日期": [cn_date(r.referral.referred_at) for r in referrals],
                        "督办编号": [r.case_no for r in referrals],
                        "事由": [r.title for r in referrals],
                        "主办单位": [r.lead_unit for r in referrals],
                        "移交理由": [r.referral.reason for r in referrals],
                    }
                ),
                hide_index=True,
            )
        else:
            st.caption("暂无移交事项")


# --- one case ---------------------------------------------------------------------------


def show_case(case_id: int) -> None:
    if st.button("← 返回列表", key="cases_back"):
        st.query_params.clear()
        st.rerun()
    with user_action():
        stamp = change_stamp()  # read once: the case's data and its papers' list
        view = case_view(stamp, me, case_id)
        show_header(view.detail, view.tickets, view.rules)
        show_steps(view.detail, view.uploads)
        show_actions(view.detail, view.meetings, view.rules)
        case_documents_panel(case_id, stamp)
        show_timeline(view.timeline)


def show_header(d: CaseDetail, tickets: pd.DataFrame, rules: list[meetings.RuleRow]) -> None:
    case = d.case
    st.title(f"{literal(case.case_no)}　{literal(case.title)}")
    st.markdown(
        f"**状态：{d.state.label}**　｜　协调督办范围：{case.scope.label}"
        + (f"（{literal(case.scope_reason)}）" if case.scope_reason else "")
        + f"　｜　立项：{cn_date(case.opened_at)}"
        + (f"　｜　办结：{cn_date(case.closed_at)}" if case.closed_at else "")
    )
    if d.eligibility is not None:
        st.warning(f"符合提级条件：{literal(d.eligibility.reason)}（须人工确认后提级）")
    if d.referrals:
        st.error(
            "已移交镇纪委监察办："
            + "；".join(f"{cn_date(r.referred_at)} {literal(r.reason)}" for r in d.referrals)
        )
    lead = [u.name for u, role in d.units if role == UnitRole.LEAD]
    co = [u.name for u, role in d.units if role == UnitRole.CO]
    lines = [f"**主办单位：** {'、'.join(lead)}" + (f"　**协办：** {'、'.join(co)}" if co else "")]
    if case.start_level_reason:
        lines.append(f"**起始督办类型理由：** {literal(case.start_level_reason)}")
    if case.source_note:
        lines.append(
            f"**来源：** {literal(case.source_note)}"
            + (f"（{cn_date(case.source_date)}）" if case.source_date else "")
        )
    lines.append(f"**相关情况：** {literal(case.related_info)}")
    lines.append(f"**督办意见：** {literal(case.opinion)}")
    if case.verification_note:
        verified = f"（{cn_date(case.verified_at)} 核实）" if case.verified_at else "（核实未通过）"
        lines.append(f"**跟踪核实：** {literal(case.verification_note)}{verified}")
    if case.result_text:
        lines.append(f"**督办情况：** {literal(case.result_text)}")
    if case.reopen_reason:
        lines.append(f"**重新督办理由：** {literal(case.reopen_reason)}")
    for r in rules:
        when = f"{cn_date(r.meeting_date)} " if r.meeting_date else ""
        lines.append(
            f"**专题会处置规则：** {literal(r.rule.name)} → {literal(r.unit_name)}："
            f"{literal(r.rule.handling_path)}（{when}{literal(r.meeting_title)}"
            + ("" if r.rule.active else "，已停用")
            + "）"
        )
    st.markdown("\n\n".join(lines))  # one block: a paragraph per fact
    if not tickets.empty:
        st.subheader(f"关联工单（{len(tickets)}）")
        st.dataframe(tickets, hide_index=True)


def show_steps(d: CaseDetail, uploads_by_id: dict[int, uploads.Upload]) -> None:
    st.subheader("督办环节")
    chased = chasing_data.step_chasing(change_stamp(), d.case.id, me)  # 签收, 催办, 延期
    if not d.steps:
        st.caption("尚无环节")
    else:
        st.caption(f"催办次数：{sum(len(c.chases) for c in chased.values())}")
    for view in d.steps:
        step = view.step
        with st.container(border=True):
            head = f"**{step.level.label} · {step.kind.label}**　{cn_date(step.issued_at)}"
            if view.unit_name:
                head += f"　致 {view.unit_name}"
            if step.due_at:
                head += f"　截止 {cn_due(step.due_at, step.due_provisional)}"
            head += f"　〔{step.status.label}〕"
            st.markdown(head)
            for label, value in _step_fields(step, view.responsible_unit_name, view.tasks):
                st.markdown(f"- {label}：{literal(value)}")
            for line in chasing_data.step_lines(chased[step.id]) if step.id in chased else []:
                st.markdown(f"- {literal(line)}")
            for fb in view.feedback:
                unit = d.unit_names.get(fb.unit_id, "") if fb.unit_id else ""  # type: ignore[arg-type]
                flag = "合规" if fb.compliant else "不合规（未签字、未盖章或无扫描件）"
                timing = "" if fb.on_time is None else ("按时" if fb.on_time else "逾期")
                review = f"〔{fb.review.label}〕"
                if fb.review == FeedbackReview.RETURNED and fb.review_note:
                    review = f"〔已退回：{literal(fb.review_note)}〕"
                st.markdown(
                    f"- 书面反馈 {cn_date(fb.received_at)} {unit}：**{fb.progress.label}**，{flag}"
                    + (f"，{timing}" if timing else "")
                    + f" {review}。{literal(fb.text)}"
                    + (f"（收到日期说明：{literal(fb.date_reason)}）" if fb.date_reason else "")
                )
                upload = uploads_by_id.get(fb.upload_id) if fb.upload_id else None
                if upload is not None:
                    path = uploads.upload_path(upload)
                    if path.exists():
                        st.download_button(
                            f"下载扫描件 {upload.original_name}",
                            data=path.read_bytes,  # read when clicked, not on every view
                            file_name=upload.original_name,
                            mime=upload.content_type,
                            key=f"cases_upload_{fb.id}",
                        )
                    else:
                        st.caption(f"扫描件 {literal(upload.original_name)} 文件缺失")


def _step_fields(step, responsible: str, tasks: list[tuple[str, str]]) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    if step.kind == StepKind.ONSITE_NOTICE:
        fields += [
            ("协调督办事由", step.subject),
            ("地点", step.location),
            (
                "时间",
                f"{cn_date(step.scheduled_at)} {step.scheduled_at:%H:%M}"
                if step.scheduled_at
                else "",
            ),
            ("流程", step.body),
            ("出席范围", step.attendees),
            ("联系人", f"{step.contact_name} {step.contact_phone}".strip()),
            ("备注", step.remark),
        ]
        if step.registered_at:
            late = "（晚于通知当天）" if cases.registration_late(step) else "（当天）"
            at = f"{cn_date(step.registered_at)} {step.registered_at:%H:%M}"
            venue = "已落实" if step.venue_ready else "未落实"
            fields += [
                ("承办单位登记", at + late),
                ("已报告主要领导", step.reported_to),
                *((f"任务分解（{unit}）", task) for unit, task in tasks),
                ("会议场所", venue + (f"（{step.venue}）" if step.venue else "")),
            ]
        if step.visit_at:
            fields += [
                ("实地踏勘", cn_date(step.visit_at)),
                ("踏勘情况", step.visit_findings),
                ("处置责任单位", responsible),
            ]
    elif step.kind == StepKind.LEADER_INSTRUCTION:
        fields += [
            ("批示领导", step.subject),
            ("批办对象", step.recipient),
            ("批示内容", step.body),
        ]
    elif step.kind == StepKind.SPECIAL_REPORT:
        fields += [
            ("标题", step.subject),
            ("报送对象", step.recipient),
            ("有关情况", step.body),
            ("原因分析", step.analysis),
            ("建议", step.suggestion),
        ]
    elif step.kind == StepKind.ESCALATION_REPORT:
        fields += [
            ("标题", step.subject),
            ("主送", step.recipient),
            ("提级理由", step.report_reason),
            ("请示事项", step.body),
        ]
    elif step.kind in (StepKind.SPECIAL_MEETING, StepKind.REPORT_UP):
        fields += [("标题", step.subject), ("对象", step.recipient), ("内容", step.body)]
    elif step.kind == StepKind.ESCALATED_HANDLING:
        fields.append(("处置要求", step.body))
    if step.kind in cases.HANDLING_KINDS and step.closed_at:
        timing = "按时" if step.on_time else "逾期"
        margin = (
            f"，余 {step.margin_workdays} 个工作日"
            if step.margin_workdays is not None and step.margin_workdays >= 0
            else (f"，超期 {-step.margin_workdays} 个工作日" if step.margin_workdays else "")
        )
        fields.append(
            ("完成", cn_date(step.closed_at) + (f"（{timing}{margin}）" if step.due_at else ""))
        )
    if step.escalation_reason:
        fields.append(("提级理由", step.escalation_reason))
    return [(k, v) for k, v in fields if v]


# --- next actions -------------------------------------------------------------------------


def show_actions(d: CaseDetail, meeting_rows, rules) -> None:
    allowed = cases.allowed_actions(me, d.case)
    wanted = st.query_params.get("action", "")
    forms: list[tuple[Action, str, Callable[[], None]]] = []
    open_step = d.open_step
    notice = (
        open_step if open_step is not None and open_step.kind == StepKind.ONSITE_NOTICE else None
    )
    candidates: list[tuple[Action, bool, Callable[[], None]]] = [
        (Action.ESCALATE, True, lambda: form_escalate(d)),
        (Action.FEEDBACK, open_step is not None, lambda: form_feedback(d)),
        (
            Action.CONFIRM_FEEDBACK,
            any(fb.review == FeedbackReview.PENDING for v in d.steps for fb in v.feedback),
            lambda: form_review(d),
        ),
        (Action.ISSUE_FORM, open_step is None, lambda: form_issue_form(d)),
        (Action.ISSUE_NOTICE, open_step is None, lambda: form_notice(d)),
        (
            Action.REGISTER_NOTICE,
            notice is not None and notice.registered_at is None,
            lambda: form_register(d),
        ),
        (Action.SITE_VISIT, notice is not None and notice.visit_at is None, lambda: form_visit(d)),
        (Action.LEADER_INSTRUCTION, True, lambda: form_instruction(d)),
        (Action.SPECIAL_MEETING, True, lambda: form_meeting(d, meeting_rows, rules)),
        (Action.SPECIAL_REPORT, True, lambda: form_report(d)),
        (Action.ESCALATION_REPORT, True, lambda: form_escalation_report(d)),
        (Action.ISSUE_HANDLING, open_step is None, lambda: form_handling(d)),
        (Action.VERIFY, d.done_feedback is not None, lambda: form_verify(d)),
        (Action.REPORT_UP, True, lambda: form_report_up(d)),
        (Action.CLOSE, d.done_feedback is not None, lambda: form_close(d)),
        (Action.REOPEN, True, lambda: form_reopen(d)),
        (Action.REFER, True, lambda: form_refer(d)),
        (Action.EDIT, True, lambda: form_edit(d)),
    ]
    for action, applicable, render in candidates:
        if action in allowed and applicable:
            forms.append((action, action.label, render))
    if not forms:
        return
    st.subheader("办理")
    forms.sort(key=lambda f: f[0].value != wanted)
    for action, label, render in forms:
        # only an opened form runs (opening one reruns the page): a case offers up to a
        # dozen forms, and drawing all of them was most of the page's cost
        box = st.expander(
            label,
            expanded=action.value == wanted,
            key=f"cases_form_{action.value}",
            on_change="rerun",
        )
        if box.open:
            with box:
                render()


def _unit_choices(d: CaseDetail) -> dict[int, str]:
    return {u.id: f"{u.name}（{role.label}）" for u, role in d.units if u.id is not None}


def form_feedback(d: CaseDetail) -> None:
    step = d.open_step
    assert step is not None
    center = me.can(Perm.EDIT_CASES)
    st.caption(
        f"登记对“{step.kind.label}”（{cn_date(step.issued_at)}发出）的书面反馈。"
        "须由单位主要领导签字、加盖单位公章并上传扫描件，否则记为不合规，环节不关闭。"
        + ("" if center else "收到日期为今天（提交当天）；提交后由城运中心核验，核验通过才计入。")
    )
    with st.form("cases_f_feedback"):
        choices = _unit_choices(d)
        if me.can(Perm.VIEW_ALL):
            answering = cases.answering_unit_id(step)
            keys = list(choices)
            unit_id = st.selectbox(
                "反馈单位", keys, index=keys.index(answering) if answering in keys else 0,
                format_func=choices.get,
             placeholder="请选择")  # fmt: skip
        else:
            unit_id = me.unit_id
            st.markdown(f"反馈单位：{literal(choices.get(unit_id, ''))}")
        received, reason = None, ""
        if center:
            c1, c2 = st.columns([1, 2])
            received = past_date("收到日期", c1)
            reason = c2.text_input("收到日期不是今天时写明原因（如纸质反馈邮寄收到）")
        text = st.text_area("反馈内容")
        c1, c2 = st.columns(2)
        signed = c1.checkbox("主要领导已签字")
        stamped = c2.checkbox("已加盖单位公章")
        progress = st.selectbox(
            "处置进展", list(Progress), format_func=lambda p: p.label, index=None,
            placeholder="请选择处置进展",
        )  # fmt: skip
        scan = st.file_uploader(
            "扫描件（PDF/JPG/PNG，不超过 20 MB）", type=["pdf", "jpg", "jpeg", "png"]
        )
        if st.form_submit_button("登记反馈", type="primary"):

            def work(session: Session) -> None:
                upload_id = None
                if scan is not None:
                    upload_id = uploads.store_upload(
                        session, me, name=scan.name, data=scan.getvalue()
                    ).id
                cases.register_feedback(
                    session, me, step.id, received_at=received, date_reason=reason, text=text,
                    signed=signed, stamped=stamped, progress=progress, unit_id=unit_id,
                    upload_id=upload_id,
                )  # fmt: skip

            compliant = signed and stamped and scan is not None
            act(
                work,
                "书面反馈已登记"
                + ("" if compliant else "（不合规，环节仍在办理中）")
                + ("" if center else "，待城运中心核验"),
            )


def form_review(d: CaseDetail) -> None:
    """核验: the center confirms a unit's feedback (it then counts) or returns it."""
    pending = [
        (fb, view.step)
        for view in d.steps
        for fb in view.feedback
        if fb.review == FeedbackReview.PENDING
    ]
    labels = {
        fb.id: f"{cn_date(fb.received_at)} {d.unit_names.get(fb.unit_id, '')}"  # type: ignore[arg-type]
        f" 对“{step.kind.label}”的反馈：{fb.progress.label}，{'合规' if fb.compliant else '不合规'}"
        for fb, step in pending
    }
    with st.form("cases_f_review"):
        st.caption(
            "承办单位登记的书面反馈须经城运中心核验：确认后才关闭环节、判定按时与否并计入考核；"
            "退回须写明理由。收到日期如与原件不符，可写明理由后更正。"
        )
        picked = st.selectbox(
            "待核验的反馈", list(labels), format_func=labels.get, placeholder="请选择"
        )
        verdict = st.radio(
            "核验结论", ["确认", "退回"], index=None, horizontal=True, key="cases_review_verdict"
        )
        reason = st.text_input("退回理由或更正收到日期的理由")
        fb = next(f for f, _ in pending if f.id == picked)
        corrected = past_date("收到日期（更正时修改）", value=fb.received_at)
        if st.form_submit_button("提交核验", type="primary"):

            def work(session: Session) -> None:
                if verdict is None:
                    raise ValidationError("请选择核验结论（确认或退回）")
                version = fb.version
                if verdict == "退回":
                    cases.return_feedback(
                        session, me, fb.id, reason=reason, expected_version=version
                    )
                    return
                if corrected != fb.received_at:
                    cases.correct_feedback_date(
                        session, me, fb.id, received_at=corrected, reason=reason,
                        expected_version=version,
                    )  # fmt: skip
                    version = None
                cases.confirm_feedback(session, me, fb.id, expected_version=version)

            act(work, "书面反馈已核验" if verdict != "退回" else "书面反馈已退回")


def form_issue_form(d: CaseDetail) -> None:
    with st.form("cases_f_issue_form"):
        st.caption("向主办单位派送《12345市民服务热线督办单》，5 个工作日内书面反馈。")
        issued = past_date("派送日期")
        if st.form_submit_button("派送督办单", type="primary"):
            act(
                lambda s: cases.issue_supervision_form(s, me, d.case.id, issued_at=issued),
                "督办单已派送",
            )


def _ticket_matter(d: CaseDetail) -> str:
    """协调督办事由 as the tickets state it (their content), else the case's 事由."""
    contents = list(dict.fromkeys(t.content.strip() for t in d.tickets if t.content.strip()))
    return "；".join(contents)[:200] or d.case.title


def form_notice(d: CaseDetail) -> None:
    with st.form("cases_f_notice"):
        issued = past_date("通知日期")
        subject = st.text_input("协调督办事由", value=_ticket_matter(d))
        location = st.text_input("协调督办地点")
        c1, c2 = st.columns(2)
        day = c1.date_input("现场督办日期", value=today())
        at = c2.time_input("时间", value=time(9, 30))
        procedure = st.text_area("协调督办流程", value="踏勘现场、听取情况汇报、明确处置责任和时限")
        attendees = st.text_area("出席范围（承办单位、村居委、职能部门）")
        c3, c4 = st.columns(2)
        contact = c3.text_input("联系人")
        phone = c4.text_input("联系电话")
        remark = st.text_input("备注")
        if st.form_submit_button("发出通知", type="primary"):
            act(
                lambda s: cases.issue_onsite_notice(
                    s, me, d.case.id, issued_at=issued, subject=subject, location=location,
                    scheduled_at=datetime.combine(day, at), procedure=procedure,
                    attendees=attendees, contact_name=contact, contact_phone=phone, remark=remark,
                ),
                "现场协调督办通知已发出",
            )  # fmt: skip


def form_register(d: CaseDetail) -> None:
    step = d.open_step
    assert step is not None
    center = me.can(Perm.EDIT_CASES)
    lead = d.lead_unit
    with st.form("cases_f_register"):
        st.caption(
            "承办单位收到通知后应在当天登记，报告主要领导，按照职责范围分解任务，并落实好会议场所等"
            "督办准备工作；晚于通知当天的登记会被标注。"
            + ("" if center else "登记时间为提交时间。")
        )
        when = None
        if center:
            c1, c2 = st.columns(2)
            day = past_date("登记日期", c1)
            at = c2.time_input("登记时间", value=now().time().replace(second=0))
            when = datetime.combine(day, at)
        reported_to = st.text_input(
            "已报告的主要领导（姓名、职务）", value=lead.head if lead is not None else ""
        )
        st.markdown("**任务分解**（按协调督办事项职责范围，每个单位写明其任务）")
        tasks = [
            (unit.id, st.text_area(f"{unit.name}（{role.label}）的任务", height=68))
            for unit, role in d.units
        ]
        ready = st.radio(
            "会议场所",
            ["已落实", "未落实"],
            index=None,
            horizontal=True,
            key="cases_register_venue",
        )
        venue = st.text_input("会议场所（地点）")
        if st.form_submit_button("登记收到通知", type="primary"):

            def work(session: Session) -> None:
                if ready is None:
                    raise ValidationError("请选择会议场所是否已落实")
                cases.register_notice_receipt(
                    session, me, step.id, registered_at=when, reported_to=reported_to,
                    tasks=[(u, t) for u, t in tasks if t.strip()],
                    venue_ready=ready == "已落实", venue=venue,
                )  # fmt: skip

            act(work, "已登记收到通知")


def form_visit(d: CaseDetail) -> None:
    step = d.open_step
    assert step is not None
    choices = _unit_choices(d)
    with st.form("cases_f_visit"):
        visit = past_date("踏勘日期")
        findings = st.text_area("踏勘情况")
        unit_id = st.selectbox(
            "处置责任单位", list(choices), format_func=choices.get, placeholder="请选择"
        )
        mode = st.radio("处置时限", ["工作日天数", "具体日期"], horizontal=True)
        c1, c2 = st.columns(2)
        n = c1.number_input("工作日天数", min_value=1, max_value=60, value=5, step=1)
        deadline = c2.date_input("具体日期", value=today())
        if st.form_submit_button("记录实地踏勘", type="primary"):
            act(
                lambda s: cases.record_site_visit(
                    s, me, step.id, visit_at=visit, findings=findings, responsible_unit_id=unit_id,
                    deadline=deadline if mode == "具体日期" else None,
                    deadline_workdays=int(n) if mode == "工作日天数" else None,
                ),
                "实地踏勘已记录，处置时限已明确",
            )  # fmt: skip


def form_instruction(d: CaseDetail) -> None:
    with st.form("cases_f_instruction"):
        issued = past_date("批示日期")
        leader = st.text_input("批示领导", value=me.name if me.can(Perm.INSTRUCT) else "")
        recipient = st.text_input("批办对象", value=d.lead_unit.name if d.lead_unit else "")
        text = st.text_area("批示内容")
        if st.form_submit_button("录入批示", type="primary"):
            act(
                lambda s: cases.record_leader_instruction(
                    s,
                    me,
                    d.case.id,
                    leader=leader,
                    recipient=recipient,
                    text=text,
                    issued_at=issued,
                ),
                "领导批示已录入",
            )


def form_meeting(d: CaseDetail, meeting_rows, rules: list[meetings.RuleRow]) -> None:
    """镇领导专题会 from the case: hold a new one on this case (or link one already held), then
    record its decision for the same class of matter right here (the new meeting preselected)."""
    case = d.case
    with st.form("cases_f_meeting_new"):
        st.markdown("**召开专题会（讨论本事项）**")
        c1, c2 = st.columns([3, 1])
        title = c1.text_input("会议名称", value=f"热线工作专题会：{case.title}"[:200])
        held = past_date("会议日期", c2)
        chair = st.text_input("主持（镇分管领导）")
        attendees = st.text_area("参会单位和人员", value="、".join(u.name for u, _ in d.units))
        summary = st.text_area("指示要求和决定")
        if st.form_submit_button("保存专题会", type="primary"):

            def work(session: Session) -> None:
                meeting = meetings.create_meeting(
                    session, me, held_at=held, title=title, chair=chair, attendees=attendees,
                    summary=summary, case_ids=[case.id],
                )  # fmt: skip
                st.session_state["cases_new_meeting"] = meeting.id

            act(work, f"专题会“{title}”已保存，本事项已提交专题会")
    linked = {m.id for m in d.meetings}
    options = {r.meeting.id: r.meeting for r in meeting_rows if r.meeting.id not in linked}
    if options:
        with st.form("cases_f_meeting"):
            meeting_id = st.selectbox(
                "或提交已召开的专题会", list(options),
                format_func=lambda i: f"{cn_date(options[i].held_at)} {options[i].title}",
                placeholder="请选择",
            )  # fmt: skip
            if st.form_submit_button("关联专题会"):
                act(lambda s: meetings.link_case(s, me, meeting_id, case.id), "已关联专题会")
    if d.meetings:
        form_rule(d)


def form_rule(d: CaseDetail) -> None:
    """专题会决定: the department and path for the same class of matter (同类事项)."""
    held = {m.id: m for m in reversed(d.meetings)}  # newest first
    keys = list(held)
    fresh = st.session_state.get("cases_new_meeting")
    units = board_data.active_units(change_stamp(), me)
    ticket = d.tickets[0] if d.tickets else None
    with st.form("cases_f_rule"):
        st.markdown("**录入专题会明确的处置规则（同类事项的处置部门和处置路径）**")
        meeting_id = st.selectbox(
            "专题会", keys, index=keys.index(fresh) if fresh in keys else 0,
            format_func=lambda i: f"{cn_date(held[i].held_at)} {held[i].title}",
            placeholder="请选择",
        )  # fmt: skip
        name = st.text_input("事项类别名称", value=ticket.category if ticket else "")
        c1, c2, c3 = st.columns(3)
        category = c1.text_input(
            "工单分类（与台账分类一致）", value=ticket.category if ticket else ""
        )
        keywords = c2.text_input("关键词（任一命中，用、分隔）")
        pattern = c3.text_input("地址范围（可用 * 通配）")
        unit_id = st.selectbox(
            "处置部门", list(units), format_func=units.get, index=None,
            placeholder="请选择处置部门",
        )  # fmt: skip
        path = st.text_area("处置路径")
        if st.form_submit_button("保存处置规则", type="primary"):
            act(
                lambda s: meetings.add_routing_rule(
                    s, me, meeting_id, name=name, category=category, keywords=keywords,
                    address_pattern=pattern, unit_id=unit_id,  # type: ignore[arg-type]
                    handling_path=path,
                ),
                f"处置规则“{name}”已保存",
            )  # fmt: skip


def paper_prefill(d: CaseDetail, kind: DocumentKind) -> dict[str, str]:
    """What the 专报 / 提级办理报告 form starts from (facts and reasons, never 督办意见)."""
    with Session(engine()) as session:
        return documents.paper_prefill(session, me, d.case.id, kind, today())


def form_report(d: CaseDetail) -> None:
    start = paper_prefill(d, DocumentKind.SPECIAL_REPORT)
    with st.form("cases_f_report"):
        st.caption(
            "专报报镇主要领导、分管领导：写明有关情况、原因分析和建议（不是给承办单位的督办意见）。"
        )
        issued = past_date("报送日期")
        subject = st.text_input("专报标题", value=start["subject"])
        recipient = st.text_input("报送对象", value=start["recipient"])
        text = st.text_area("有关情况", value=start["situation"], height=150)
        analysis = st.text_area("原因分析", value=start["analysis"])
        suggestion = st.text_area("建议", value=start["suggestion"])
        if st.form_submit_button("记录工作专报", type="primary"):
            act(
                lambda s: cases.record_special_report(
                    s, me, d.case.id, subject=subject, text=text, recipient=recipient,
                    issued_at=issued, analysis=analysis, suggestion=suggestion,
                ),
                "工作专报已记录",
            )  # fmt: skip


def form_escalation_report(d: CaseDetail) -> None:
    start = paper_prefill(d, DocumentKind.ESCALATION_REPORT)
    with st.form("cases_f_escalation_report"):
        st.caption("梳理汇总督办经过，报请镇分管领导批办；据此生成《提级办理报告》。")
        issued = past_date("报告日期")
        subject = st.text_input("报告标题", value=start["subject"])
        recipient = st.text_input("主送领导", value=start["recipient"])
        reason = st.text_area("提级理由", value=start["reason"])
        request = st.text_area("请示事项", value=start["request"])
        if st.form_submit_button("记录提级办理报告", type="primary"):
            act(
                lambda s: cases.record_escalation_report(
                    s, me, d.case.id, subject=subject, reason=reason, request=request,
                    recipient=recipient, issued_at=issued,
                ),
                "提级办理报告已记录，可在“生成文书”中生成",
            )  # fmt: skip


def form_handling(d: CaseDetail) -> None:
    with st.form("cases_f_handling"):
        st.caption("承办单位应在 5 个工作日内完成处置并书面反馈。")
        issued = past_date("下达日期")
        requirement = st.text_area("处置方案和措施要求")
        if st.form_submit_button("下达提级办理要求", type="primary"):
            act(
                lambda s: cases.issue_escalated_handling(
                    s, me, d.case.id, requirement=requirement, issued_at=issued
                ),
                "提级办理要求已下达",
            )


def form_verify(d: CaseDetail) -> None:
    with st.form("cases_f_verify"):
        on = past_date("核实日期")
        note = st.text_area("核实情况")
        confirmed = st.radio("核实结论", ["属实，已办结", "未办结"], horizontal=True)
        if st.form_submit_button("记录跟踪核实", type="primary"):
            act(
                lambda s: cases.verify_case(
                    s, me, d.case.id, note=note, confirmed=confirmed == "属实，已办结", on=on
                ),
                "跟踪核实已记录",
            )


def form_report_up(d: CaseDetail) -> None:
    with st.form("cases_f_report_up"):
        issued = past_date("上报日期")
        recipient = st.text_input("上报对象", value="区领导")
        text = st.text_area("上报内容")
        if st.form_submit_button("记录上报", type="primary"):
            act(
                lambda s: cases.report_up(
                    s, me, d.case.id, text=text, recipient=recipient, issued_at=issued
                ),
                "办理情况已上报",
            )


def form_escalate(d: CaseDetail) -> None:
    nxt = d.case.level.next()
    if d.eligibility is not None:
        st.info(f"符合提级条件：{literal(d.eligibility.reason)}")
    else:
        st.warning("该事项目前不满足提级条件（未反馈“无进展”，也未逾期），如确需提级须写明理由。")
    with st.form("cases_f_escalate"):
        reason = st.text_area(
            "提级理由" + ("（可补充）" if d.eligibility is not None else "（必填）")
        )
        label = f"确认提级至{nxt.label}" if nxt else "确认提级"
        if st.form_submit_button(label, type="primary"):

            def work(session: Session) -> None:
                cases.escalate_case(
                    session, me, d.case.id, override_reason=reason,
                    expected_version=d.case.version,
                )  # fmt: skip
                st.query_params.pop("action", None)

            act(work, f"已提级至{nxt.label if nxt else ''}")


def _dated_text_form(
    key: str,
    labels: tuple[str, str, str],
    run: Callable[[Session, date, str], object],
    message: str,
    caption: str = "",
) -> None:
    """A form of a date and one text (办结, 重新督办, 移交): labels are date, text, button."""
    date_label, text_label, button = labels
    with st.form(key):
        if caption:
            st.caption(caption)
        on = past_date(date_label)
        text = st.text_area(text_label)
        if st.form_submit_button(button, type="primary"):
            act(lambda s: run(s, on, text), message)


def form_close(d: CaseDetail) -> None:
    _dated_text_form(
        "cases_f_close",
        ("办结日期", "督办情况（办结结果，将写入督办单）", "办结"),
        lambda s, on, text: cases.close_case(
            s, me, d.case.id, result_text=text, on=on, expected_version=d.case.version
        ),
        "督办事项已办结",
    )


def form_reopen(d: CaseDetail) -> None:
    _dated_text_form(
        "cases_f_reopen",
        ("重新督办日期", "重新督办理由（如市民再次来电反映）", "重新督办"),
        lambda s, on, text: cases.reopen_case(
            s, me, d.case.id, reason=text, on=on, expected_version=d.case.version
        ),
        "已重新督办",
    )


def form_refer(d: CaseDetail) -> None:
    _dated_text_form(
        "cases_f_refer",
        ("移交日期", "移交理由", "移交"),
        lambda s, on, text: cases.refer_case(s, me, d.case.id, reason=text, on=on),
        "已移交",
        caption="对主观推诿、整改不力造成不良影响的典型事项，移交镇纪委监察办监督。",
    )


def form_edit(d: CaseDetail) -> None:
    case = d.case
    with st.form("cases_f_edit"):
        title = st.text_input("事由", value=case.title)
        related = st.text_area("相关情况", value=case.related_info)
        opinion = st.text_area("督办意见", value=case.opinion)
        source = st.text_area("来源说明", value=case.source_note)
        if st.form_submit_button("保存修改"):
            values = {
                "title": title,
                "related_info": related,
                "opinion": opinion,
                "source_note": source,
            }
            act(
                lambda s: cases.update_case(s, me, case.id, values, expected_version=case.version),
                "已保存",
            )


# --- timeline -----------------------------------------------------------------------------


def show_timeline(timeline: pd.DataFrame) -> None:
    st.subheader("办理记录")
    if timeline.empty:
        st.caption("暂无记录")
    else:
        # every entry visible at once: the whole history reads top to bottom, no inner scroll
        st.dataframe(timeline, hide_index=True, height=35 * (len(timeline) + 1) + 3)


# --- page -------------------------------------------------------------------------------

flash = st.session_state.pop("cases_flash", None)
if flash:
    st.success(flash)
param = st.query_params.get("case", "")
if param:
    if param.isdigit():
        show_case(int(param))
    else:
        st.error(f"督办事项编号无效：{literal(param)}")
else:
    show_list()
