"""Each role's allowed and refused actions, called through the service layer (issue #8).

"Roles: 管理员 (everything, settings, users), 城运中心 (edit tickets and cases, issue documents,
see callers' contact data), 承办单位 (sees only the tickets and cases of their own unit,
registers feedback and uploads the signed scan, sees no caller phone numbers), 领导 (reads
everything, records a 批示 on a case, sees no phone numbers unless granted). Permissions are
checked in duban/ service functions, not only by hiding pages: a unit user calling a service
for another unit's case gets a refusal."

Every action below is tried by every role; the table says who may. A refusal must be a
`PermissionDenied` naming the account and change nothing; an allowed call must succeed.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from sqlmodel import Session, select

from duban import (
    audit,
    auth,
    backup,
    cases,
    documents,
    importer,
    settings,
    tickets,
    uploads,
    workdays,
)
from duban.enums import AuditAction, DocumentKind, Progress, Role, Scope, StepKind
from duban.errors import PermissionDenied
from duban.models import AuditLog, Step, User
from duban.permissions import SYSTEM, Actor
from tests.factories import make_ticket, make_unit, sample_file


@dataclass
class World:
    unit_a: int
    unit_b: int
    ticket_a: int
    case_a: int
    case_b: int
    step_a: int


CONTENT = "东方路口井盖缺失，夜间行人易跌落"


@pytest.fixture
def world(session: Session) -> World:
    """Two units, a ticket of unit A with a caller, and one open case per unit."""
    a = make_unit(session, "镇城管中队")
    b = make_unit(session, "镇房管办")
    ticket = make_ticket(
        session, unit_id=a.id, caller="张先生", phone="13812345678", content=CONTENT
    )
    make_ticket(session, unit_id=b.id, caller="李女士", phone="13900001111")
    opened = date(2024, 3, 4)
    case_a = cases.open_case(
        session, SYSTEM, scope=Scope.REPEATED, lead_unit_id=a.id, related_info="多次投诉",
        opinion="请于 5 个工作日内处置", title="井盖缺失", ticket_ids=[ticket.id], opened_at=opened,
    )  # fmt: skip
    case_b = cases.open_case(
        session, SYSTEM, scope=Scope.REPEATED, lead_unit_id=b.id, related_info="多次投诉",
        opinion="请于 5 个工作日内处置", title="物业不作为", opened_at=opened,
        source_note="镇领导批示交办",
    )  # fmt: skip
    session.commit()
    step = session.exec(select(Step).where(Step.case_id == case_a.id)).one()
    return World(a.id, b.id, ticket.id, case_a.id, case_b.id, step.id)


ACCOUNTS = {  # role name in the table → (username, role, unit, may see contacts)
    "admin": ("管理员甲", Role.ADMIN, None, False),
    "center": ("城运乙", Role.CENTER, None, False),
    "leader": ("领导丙", Role.LEADER, None, False),
    "leader+contacts": ("领导丁", Role.LEADER, None, True),
    "unit A": ("城管戊", Role.UNIT, "a", False),
    "unit B": ("房管己", Role.UNIT, "b", False),
}


def actors(session: Session, w: World) -> dict[str, Actor]:
    """One account per role (inserted directly: hashing passwords is not under test here)."""
    made = {}
    for key, (name, role, unit, contacts) in ACCOUNTS.items():
        user = session.exec(select(User).where(User.username == name)).first()
        if user is None:
            unit_id = {"a": w.unit_a, "b": w.unit_b, None: None}[unit]
            user = User(
                username=name, username_key=auth.username_key(name), role=role,
                unit_id=unit_id, can_see_contacts=contacts,
                password_hash="not-a-real-hash",
            )  # fmt: skip
            session.add(user)
            session.commit()
        made[key] = auth.actor_for(user)
    return made


CSV = "工单编号,诉求时间,诉求地址,内容描述,承办单位\nP0001,2024-03-01 09:00,示例路1号,路灯不亮,镇城管中队\n"

Action = Callable[[Session, Actor, World], object]
EVERYONE_BUT_UNIT_B = {"admin", "center", "leader", "leader+contacts", "unit A"}
ACTIONS: dict[str, tuple[Action, set[str]]] = {
    "管理用户": (
        lambda s, a, w: auth.create_user(s, a, "newbie", "long enough 1", Role.CENTER),
        {"admin"},
    ),
    "修改系统设置": (
        lambda s, a, w: settings.set_setting(s, a, "office_phone", "021-00000000"),
        {"admin"},
    ),
    "修改工作日历": (
        lambda s, a, w: workdays.set_year_schedule(s, a, 2031, [date(2031, 1, 1)], []),
        {"admin"},
    ),
    "备份数据": (lambda s, a, w: backup.create_backup(s, a), {"admin"}),
    "查看操作日志": (lambda s, a, w: audit.search(s, a), {"admin", "center"}),
    "导入工单": (
        lambda s, a, w: importer.import_tickets(s, a, CSV.encode(), "导出.csv", dry_run=True),
        {"admin", "center"},
    ),
    "修改工单": (
        lambda s, a, w: tickets.save_ledger(
            s, a, edits=[tickets.RowEdit(w.ticket_a, 1, {"notes": "已电话联系"})]
        ),
        {"admin", "center"},
    ),
    "确定督办事项": (
        lambda s, a, w: cases.open_case(
            s,
            a,
            scope=Scope.CONCENTRATED,
            lead_unit_id=w.unit_b,
            related_info="集中投诉",
            opinion="请处置",
            title="噪声扰民",
            opened_at=date(2024, 3, 5),
            source_note="区领导批示",
        ),
        {"admin", "center"},
    ),
    "生成文书": (
        lambda s, a, w: documents.render_document(
            s, a, DocumentKind.SUPERVISION_FORM, case_id=w.case_a
        ),
        {"admin", "center"},
    ),
    "录入领导批示": (
        lambda s, a, w: cases.record_leader_instruction(
            s,
            a,
            w.case_a,
            leader="分管副镇长",
            recipient="镇城管中队",
            text="请限期整改",
            issued_at=date(2024, 3, 5),
        ),
        {"admin", "center", "leader", "leader+contacts"},
    ),
    "登记本单位事项的书面反馈": (
        lambda s, a, w: cases.register_feedback(
            s,
            a,
            w.step_a,
            text="已处置",
            signed=True,
            stamped=True,
            progress=Progress.DONE,
        ),
        {"admin", "center", "unit A"},
    ),
    "上传签字盖章的扫描件": (
        lambda s, a, w: uploads.store_upload(s, a, name="反馈.pdf", data=sample_file("pdf")),
        {"admin", "center", "unit A", "unit B"},
    ),
    "查看本单位的督办事项": (
        lambda s, a, w: cases.case_detail(s, a, w.case_a),
        EVERYONE_BUT_UNIT_B,
    ),
    "查看本单位的工单": (
        lambda s, a, w: tickets.ticket_detail(s, a, w.ticket_a),
        EVERYONE_BUT_UNIT_B,
    ),
}
ROLE_NAMES = ["admin", "center", "leader", "leader+contacts", "unit A", "unit B"]


def audit_count(session: Session) -> int:
    return len(session.exec(select(AuditLog.id)).all())


# What an allowed call shows its user (the values a page would display), per action.
Outcome = Callable[[Session, World, object], object]
OUTCOMES: dict[str, Outcome] = {
    "管理用户": lambda s, w, r: (r.username, r.role),
    "修改系统设置": lambda s, w, r: settings.get_setting(s, "office_phone"),
    "修改工作日历": lambda s, w, r: workdays.Calendar.load(s).year_status([2031])[2031],
    "备份数据": lambda s, w, r: r.backup.path.is_dir(),
    "查看操作日志": lambda s, w, r: "case" in {row.entity for row in r.rows},
    "导入工单": lambda s, w, r: (r.dry_run, r.inserted, r.rejects),
    "修改工单": lambda s, w, r: (
        len(r.updated),
        tickets.ticket_detail(s, SYSTEM, w.ticket_a).ticket["notes"],
    ),
    "确定督办事项": lambda s, w, r: (r.title, r.lead_unit_id == w.unit_b),
    "生成文书": lambda s, w, r: (r.kind, r.case_id == w.case_a),
    "录入领导批示": lambda s, w, r: (r.kind, r.case_id == w.case_a),
    "登记本单位事项的书面反馈": lambda s, w, r: (r.progress, r.step_id == w.step_a, r.compliant),
    "上传签字盖章的扫描件": lambda s, w, r: (r.original_name, r.content_type),
    "查看本单位的督办事项": lambda s, w, r: r.case.title,
    "查看本单位的工单": lambda s, w, r: (r.ticket["id"] == w.ticket_a, r.ticket["content"]),
}
SEEN: dict[str, object] = {
    "管理用户": ("newbie", Role.CENTER),
    "修改系统设置": "021-00000000",
    "修改工作日历": "管理员已录入",
    "备份数据": True,
    "查看操作日志": True,
    "导入工单": (True, 1, []),
    "修改工单": (1, "已电话联系"),
    "确定督办事项": ("噪声扰民", True),
    "生成文书": (DocumentKind.SUPERVISION_FORM, True),
    "录入领导批示": (StepKind.LEADER_INSTRUCTION, True),
    "登记本单位事项的书面反馈": (Progress.DONE, True, False),  # no scan attached: not 合规
    "上传签字盖章的扫描件": ("反馈.pdf", "application/pdf"),
    "查看本单位的督办事项": "井盖缺失",
    "查看本单位的工单": (True, CONTENT),
}


@pytest.mark.parametrize("role", ROLE_NAMES)
@pytest.mark.parametrize("action", list(ACTIONS))
def test_role_is_allowed_or_refused(session, world, action, role):
    call, allowed = ACTIONS[action]
    actor = actors(session, world)[role]
    if role in allowed:
        result = call(session, actor, world)
        session.commit()
        assert OUTCOMES[action](session, world, result) == SEEN[action]
    else:
        before = audit_count(session)
        with pytest.raises(PermissionDenied, match=actor.username):
            call(session, actor, world)
        session.rollback()
        assert audit_count(session) == before  # a refusal writes nothing


def test_a_unit_user_lists_only_their_own_units_cases(session, world):
    rows, total = cases.list_cases(session, actors(session, world)["unit A"])
    assert [r.id for r in rows] == [world.case_a] and total == 1
    rows, total = cases.list_cases(session, actors(session, world)["leader"])
    assert total == 2


def test_a_unit_user_sees_only_their_own_units_tickets(session, world):
    page = tickets.query_tickets(session, actors(session, world)["unit A"], tickets.TicketFilter())
    assert [r["id"] for r in page.rows] == [world.ticket_a]


@pytest.mark.parametrize(
    ("role", "sees_phone"),
    [
        ("admin", True),
        ("center", True),
        ("leader", False),
        ("leader+contacts", True),
        ("unit A", False),
    ],
)
def test_caller_phone_numbers_only_for_roles_that_may_see_them(session, world, role, sees_phone):
    detail = tickets.ticket_detail(session, actors(session, world)[role], world.ticket_a)
    shown = detail.ticket["phone"]
    assert (shown == "13812345678") is sees_phone
    if not sees_phone:
        assert shown == "138****5678"


def test_a_refused_unit_user_learns_nothing_about_the_other_units_case(session, world):
    with pytest.raises(PermissionDenied) as refused:
        cases.case_detail(session, actors(session, world)["unit B"], world.case_a)
    assert "井盖缺失" not in str(refused.value)
    assert "只能处理本单位的事项" in str(refused.value)


def test_the_audit_log_names_who_acted(session, world):
    center = actors(session, world)["center"]
    cases.record_leader_instruction(
        session, center, world.case_a, leader="分管副镇长", recipient="镇城管中队",
        text="请限期整改", issued_at=date(2024, 3, 5),
    )  # fmt: skip
    session.commit()
    rows = audit.search(session, center, username="城运乙").rows
    assert [(r.user_id, r.action, r.entity, r.note) for r in rows] == [
        (center.user_id, AuditAction.CREATE, "step", "分管副镇长批办至镇城管中队：请限期整改")
    ]
