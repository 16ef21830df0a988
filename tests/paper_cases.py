"""The demo cases papers are judged on (issue 17), built through the workflow services as
staff would: one ticket, nine tickets, ≈5,000 characters of text, on-site from the start,
escalated through every level, and leader-assigned without a ticket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlmodel import Session

from duban import cases, meetings, uploads
from duban.enums import Level, Progress, Role, Scope
from duban.models import Case, Unit
from duban.permissions import Actor
from tests.factories import make_ticket, make_unit, sample_file

CLERK = Actor(user_id=None, username="clerk", role=Role.CENTER)

LONG_TEXT = (
    "市民反映：赵巷镇示例路八十八弄小区东侧工地自二〇二五年九月起夜间持续施工，"
    "渣土车进出频繁，噪声和扬尘严重影响周边居民休息，多次拨打热线未见明显改善。"
) * 72  # 4,968 characters, a paragraph every 69
LONG_TEXT = "\n".join(LONG_TEXT[i : i + 690] for i in range(0, len(LONG_TEXT), 690))


@dataclass
class PaperTown:
    """The six demo cases and their units."""

    lead: Unit
    co: Unit
    one: Case
    nine: Case
    long: Case
    onsite: Case
    escalated: Case
    leader: Case


def feedback(session: Session, step_id: int, on: date, progress: Progress, text: str) -> None:
    scan = uploads.store_upload(session, CLERK, name="回执.pdf", data=sample_file("pdf"))
    cases.register_feedback(
        session, CLERK, step_id, received_at=on, date_reason="纸质反馈邮寄收到", text=text,
        signed=True, stamped=True, progress=progress, upload_id=scan.id,
    )  # fmt: skip


def ticket(session: Session, n: int, day: datetime, content: str, address: str = "") -> int:
    return make_ticket(
        session,
        f"2601010018{n:02d}",
        received_at=day,
        address=address or f"赵巷镇示例路{n}弄{n + 10}号东侧人行道",
        content=content,
        title="",
    ).id  # type: ignore[return-value]


def build_paper_town(session: Session) -> PaperTown:
    lead = make_unit(session, "镇城市建设管理事务中心")
    co = make_unit(session, "赵巷镇示例三村村民委员会")
    other = make_unit(session, "镇城管中队")
    opinion = "请承办单位核查处置，依法整治，并将处置情况书面反馈，加盖单位公章。"

    one = cases.open_case(
        session, CLERK, scope=Scope.REPEATED, lead_unit_id=lead.id, related_info="已派单 3 次。",
        opinion=opinion, ticket_ids=[ticket(session, 1, datetime(2025, 12, 4, 7, 31),
        "小区门口道路积水，雨天无法通行。")], opened_at=date(2025, 12, 8),
    )  # fmt: skip

    nine_ids = [
        ticket(
            session,
            10 + n,
            datetime(2025, 12, 1 + n, 17, 31),
            f"第{n + 1}位市民反映：示例路沿线路灯损坏已逾两周，夜间行人摔倒，"
            "要求尽快修复并排查其他路段的照明设施。",
        )
        for n in range(9)
    ]
    nine = cases.open_case(
        session, CLERK, scope=Scope.CONCENTRATED, lead_unit_id=lead.id, co_unit_ids=[co.id],
        related_info="九位市民集中反映同一问题。", opinion=opinion, ticket_ids=nine_ids,
        title="示例路沿线路灯损坏", opened_at=date(2025, 12, 12),
    )  # fmt: skip

    long = cases.open_case(
        session, CLERK, scope=Scope.REPEATED, lead_unit_id=lead.id, related_info="同一工地三个月内来电 12 次，市民对办理结果不满意。",
        opinion=opinion, ticket_ids=[ticket(session, 30, datetime(2025, 11, 3, 9, 5), LONG_TEXT)],
        title="示例路工地夜间施工噪声扬尘扰民", opened_at=date(2025, 11, 5),
    )  # fmt: skip

    onsite = cases.open_case(
        session, CLERK, scope=Scope.CITY, lead_unit_id=lead.id,
        related_info="市级督办事项。", opinion=opinion, start_level=Level.ONSITE,
        start_level_reason="市级督办事项，直接启动现场协调督办", title="示例河道黑臭",
        ticket_ids=[ticket(session, 40, datetime(2025, 10, 9, 10, 0), "河道黑臭，气味难闻。")],
        opened_at=date(2025, 10, 13),
    )  # fmt: skip
    notice = cases.issue_onsite_notice(
        session, CLERK, onsite.id, location="示例河道北岸", issued_at=date(2025, 10, 13),
        scheduled_at=datetime(2025, 10, 14, 9, 30), procedure="踏勘现场，明确处置责任和时限",
        attendees="镇城建中心、示例三村",
    )  # fmt: skip
    cases.register_notice_receipt(
        session, CLERK, notice.id, registered_at=datetime.combine(date(2025, 10, 13), time(15)),
        reported_to="镇城建中心主任", tasks=[(lead.id, "河道清淤和截污")], venue_ready=True,
        venue="示例三村会议室",
    )  # fmt: skip
    cases.record_site_visit(
        session, CLERK, notice.id, visit_at=date(2025, 10, 14), findings="河道淤积",
        responsible_unit_id=lead.id, deadline_workdays=5,
    )  # fmt: skip

    escalated = cases.open_case(
        session, CLERK, scope=Scope.CROSS_FUNCTION, lead_unit_id=lead.id, co_unit_ids=[other.id],
        related_info="职能交叉。", opinion=opinion, title="示例小区违章搭建阳光房",
        ticket_ids=[ticket(session, 50, datetime(2025, 6, 2, 8, 0), "小区内违章搭建阳光房。")],
        opened_at=date(2025, 6, 3),
    )  # fmt: skip
    form = cases.latest_handling_step(session, escalated.id)
    feedback(session, form.id, date(2025, 6, 6), Progress.NONE, "已告知，无进展。")  # type: ignore[union-attr]
    cases.escalate_case(session, CLERK, escalated.id, on=date(2025, 6, 9))
    notice = cases.issue_onsite_notice(
        session, CLERK, escalated.id, location="示例小区 12 号楼", issued_at=date(2025, 6, 10)
    )
    cases.record_site_visit(
        session, CLERK, notice.id, visit_at=date(2025, 6, 11), findings="搭建属实",
        responsible_unit_id=lead.id, deadline_workdays=3,
    )  # fmt: skip
    feedback(session, notice.id, date(2025, 6, 16), Progress.NONE, "业主拒不配合。")
    cases.escalate_case(session, CLERK, escalated.id, on=date(2025, 6, 17))
    cases.record_escalation_report(
        session, CLERK, escalated.id, subject="关于“示例小区违章搭建阳光房”提级办理的报告",
        reason="经书面督办、现场协调督办仍无处置进展，涉及城建、城管两个部门职责。",
        request="建议由镇分管领导批办，明确镇城管中队牵头立案查处。", issued_at=date(2025, 6, 17),
    )  # fmt: skip
    meeting = meetings.create_meeting(
        session, CLERK, held_at=date(2025, 6, 19), title="12345热线工作专题会（第1次）",
        chair="镇分管副镇长", attendees="城运中心、城建中心、城管中队", case_ids=[escalated.id],
        summary="职能交叉事项按会议明确的部门和路径办理，不得推诿。",
    )  # fmt: skip
    meetings.add_routing_rule(
        session, CLERK, meeting.id, name="小区内违章搭建", unit_id=other.id,
        handling_path="城管中队立案查处，村居配合劝导", keywords="阳光房、搭建",
    )  # fmt: skip
    meetings.add_routing_rule(
        session, CLERK, meeting.id, name="道路积水", unit_id=lead.id,
        handling_path="城建中心疏通排水管网。", category="道路积水",
    )  # fmt: skip
    cases.record_special_report(
        session, CLERK, escalated.id, subject="关于示例小区违章搭建阳光房有关情况的专报",
        text="该事项市民反映强烈。", analysis="职责边界不清。", suggestion="建议由城管中队牵头。",
        issued_at=date(2025, 6, 20),
    )  # fmt: skip
    handling = cases.issue_escalated_handling(
        session, CLERK, escalated.id, requirement="按专题会要求拆除。", issued_at=date(2025, 6, 23)
    )
    feedback(session, handling.id, date(2025, 6, 27), Progress.DONE, "已拆除。")
    cases.verify_case(session, CLERK, escalated.id, note="现场核实已拆除", on=date(2025, 6, 30))
    cases.close_case(
        session, CLERK, escalated.id, on=date(2025, 6, 30), result_text="已拆除，市民满意。"
    )

    leader = cases.open_case(
        session, CLERK, scope=Scope.LEADER, lead_unit_id=lead.id, title="区领导批示：示例路交通拥堵",
        source_note="区领导批示：请赵巷镇抓紧研究解决示例路交通拥堵。", related_info="区领导批示交办。",
        opinion=opinion, start_level=Level.ESCALATED, start_level_reason="区领导批示交办事项",
        opened_at=date(2025, 9, 1),
    )  # fmt: skip
    cases.record_special_report(
        session, CLERK, leader.id, subject="关于示例路交通拥堵有关情况的专报",
        text="示例路早晚高峰拥堵。", suggestion="建议由城建中心牵头。", issued_at=date(2025, 9, 2),
    )  # fmt: skip
    session.commit()
    return PaperTown(lead, co, one, nine, long, onsite, escalated, leader)
