"""Demo data: a realistic, clearly fictional town (`python -m duban init --demo`).

Deterministic (seeded) and fast: units and tickets are written with one bulk insert each;
about 80 supervision cases are then run THROUGH the workflow's services (`duban.cases`), so
they carry real steps, feedback, audit rows and frozen outcomes, at every level and state.
All their dates count back from the `end` date.
Names of people are fictional (张先生, 李女士 …), phone numbers use the unassigned 147/141
ranges, addresses are in the fictional 示例镇 ("demo town").
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Engine, insert
from sqlmodel import Session, col, select

from duban import cases, chasing, meetings, uploads
from duban.address import parse_prefixes
from duban.clock import now, today
from duban.enums import (
    CallbackResult,
    CaseStatus,
    ChaseWay,
    Level,
    Progress,
    Resolution,
    Role,
    Scope,
    StepStatus,
    UnitKind,
)
from duban.models import Case, CaseTicket, Step, Ticket, Unit
from duban.permissions import Actor
from duban.settings import DEFAULTS
from duban.standard_address import address_columns
from duban.text import normalize_address
from duban.workdays import Calendar

SEED = 20240124

DEPARTMENTS = [
    ("镇城建中心", ["城建中心", "赵巷镇城建中心"]),
    ("镇城管中队", ["城管中队", "城管"]),
    ("镇市场监管所", ["市场监管所", "市场所"]),
    ("镇派出所", ["派出所"]),
    ("镇房管办", ["房管办", "房屋管理办公室"]),
    ("镇社区事务受理中心", ["受理中心"]),
    ("镇生态环境办", ["环保办", "生态环境办"]),
    ("镇农业农村办", ["农业农村办", "农办"]),
    ("镇劳动保障所", ["劳动保障所", "劳保所"]),
    ("镇社会事业办", ["社会事业办"]),
    ("镇安全生产办", ["安监办", "安全办"]),
    ("镇规划建设办", ["规建办"]),
]
VILLAGES = [f"示例{name}村村委会" for name in "一二三四五六七八九十"] + [
    f"示例{name}居委会" for name in ("东苑", "西苑", "南苑", "北苑", "中心", "和睦")
]
OTHERS = [
    ("新城一站大居管理办", UnitKind.COMMUNITY, ["一站大居", "新城一站大居"]),
    ("示例供水公司", UnitKind.ENTERPRISE, ["供水公司"]),
    ("示例物业管理有限公司", UnitKind.ENTERPRISE, ["物业公司"]),
]

# (category, responsible department, complaint texts)
TOPICS: list[tuple[str, str, list[str]]] = [
    (
        "噪声扰民",
        "镇生态环境办",
        [
            "夜间施工噪声扰民，晚上十一点后仍在作业，影响休息",
            "小区旁工地凌晨打桩，噪声很大，多次反映未解决",
            "广场舞音响声音过大，晚上九点以后仍不停止",
        ],
    ),
    (
        "违章搭建",
        "镇城管中队",
        [
            "楼顶违章搭建阳光房，存在安全隐患，要求拆除",
            "邻居在公共绿地上搭建棚屋，占用公共区域",
            "底楼住户私自扩建院子，侵占消防通道",
        ],
    ),
    (
        "物业服务",
        "镇房管办",
        [
            "物业不维修电梯，电梯经常故障停运，老人上下楼困难",
            "小区物业不作为，垃圾长期无人清运，气味难闻",
            "物业擅自提高停车费，未经业主大会同意",
        ],
    ),
    (
        "房屋管理",
        "镇房管办",
        [
            "楼道堆物占用消防通道，存在火灾隐患",
            "楼上住户装修破坏承重墙，担心房屋安全",
            "房屋外墙渗水，多次报修物业未处理",
        ],
    ),
    (
        "市容环境",
        "镇城管中队",
        [
            "路边摊贩占道经营，油烟污染严重，影响通行",
            "道路两侧垃圾堆放无人清理，影响环境",
            "小区门口共享单车乱停放，堵塞人行道",
        ],
    ),
    (
        "道路交通",
        "镇城建中心",
        [
            "道路破损坑洼严重，雨天积水，电动车通行危险",
            "路灯损坏多日不亮，夜间出行不安全",
            "窨井盖缺失，存在安全隐患，请尽快修复",
        ],
    ),
    (
        "排水管网",
        "镇城建中心",
        [
            "小区雨污水管道堵塞，污水外溢，气味难闻",
            "下雨后道路积水严重，排水不畅",
        ],
    ),
    (
        "食品安全",
        "镇市场监管所",
        [
            "餐饮店后厨卫生状况差，发现蟑螂，要求检查",
            "超市销售过期食品，要求查处",
        ],
    ),
    (
        "消费维权",
        "镇市场监管所",
        [
            "健身房突然关门，预付卡余额无法退还",
            "培训机构拒绝退费，合同纠纷协商无果",
        ],
    ),
    (
        "治安管理",
        "镇派出所",
        [
            "小区内电动车被盗，监控无法查看",
            "出租屋群租，人员进出复杂，存在安全隐患",
        ],
    ),
    (
        "劳动保障",
        "镇劳动保障所",
        [
            "公司拖欠工资三个月未发放，要求协调解决",
            "用人单位未依法缴纳社保，要求查处",
        ],
    ),
    (
        "农村管理",
        "镇农业农村办",
        [
            "村内河道漂浮垃圾多，河水发黑发臭",
            "农田旁焚烧秸秆，烟雾影响居民生活",
        ],
    ),
    (
        "供水问题",
        "示例供水公司",
        [
            "小区停水未提前通知，至今仍未恢复供水",
            "自来水水压低，高层住户用水困难",
        ],
    ),
]
SURNAMES = "张王李赵刘陈杨黄周吴徐孙朱马胡郭林何高罗"
ROADS = ["示例路", "和平路", "育才路", "新城大道", "惠民路", "丰收路", "赵中路", "业辉路"]
COMMUNITIES = ["示例花苑", "和睦家园", "新城一站大居", "丰泽苑", "育才小区", "惠民新村"]
STATUSES = ["已办结"] * 8 + ["处理中", "待回访"]
CALLBACKS = (
    [CallbackResult.SATISFIED] * 6
    + [CallbackResult.BASIC] * 2
    + [CallbackResult.UNSATISFIED, CallbackResult.NONE]
)


def generate_demo(
    engine: Engine, tickets: int = 2400, end: datetime | None = None
) -> dict[str, int]:
    """Fill an empty database with units, a year of tickets and supervision cases.

    Refuses nothing destructive: if tickets already exist, only missing units are added
    and nothing else is generated twice.
    """
    rng = random.Random(SEED)
    end = end or now()
    with Session(engine) as session:
        units = _ensure_units(session)
        if session.exec(select(col(Ticket.id)).limit(1)).first() is not None:
            return {"单位": len(units), "工单": 0, "督办事项": 0, "专题会": 0, "处置规则": 0}
        rows = _ticket_rows(rng, units, tickets, end)
        session.execute(insert(Ticket), rows)
        session.commit()
        made = DemoCases(session, rng, units, min(end.date(), today())).run()
        session.commit()
    return {"单位": len(units), "工单": len(rows), **made}


def _ensure_units(session: Session) -> dict[str, int]:
    existing = {u.name: u.id for u in session.exec(select(Unit))}
    wanted: list[tuple[str, UnitKind, list[str]]] = [
        (name, UnitKind.DEPARTMENT, aliases) for name, aliases in DEPARTMENTS
    ]
    wanted += [
        (name, UnitKind.VILLAGE, [name.replace("村委会", "村").replace("居委会", "居")])
        for name in VILLAGES
    ]
    wanted += OTHERS
    for name, kind, aliases in wanted:
        if name not in existing:
            unit = Unit(
                name=name,
                kind=kind,
                aliases=aliases,
                head=f"{name[:2]}负责人",
                contact="联络员",
                phone="021-5900" + f"{len(existing):04d}",
            )
            session.add(unit)
            session.flush()
            existing[name] = unit.id
    session.commit()
    return existing  # type: ignore[return-value]  # ids are set: these rows were flushed


def _phone(rng: random.Random) -> str:
    return rng.choice(["147", "141"]) + f"{rng.randrange(10**8):08d}"


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(["先生", "女士"])


def _ticket_rows(
    rng: random.Random, units: dict[str, int], n: int, end: datetime
) -> list[dict[str, Any]]:
    """Ordinary tickets plus repeat clusters and concentrated complaints, in time order."""
    prefixes = parse_prefixes(DEFAULTS["address_prefixes"])  # 示例镇 stays in the keys
    start = end - timedelta(days=365)
    specs: list[dict[str, Any]] = []
    # ~85 % scattered single complaints
    for _ in range(int(n * 0.85)):
        category, dept, texts = rng.choice(TOPICS)
        owner = dept if rng.random() < 0.6 else rng.choice(VILLAGES)
        address = f"示例镇{rng.choice(ROADS)}{rng.randrange(1, 900)}号"
        specs.append(
            _spec(
                rng,
                start + timedelta(minutes=rng.randrange(365 * 24 * 60)),
                category,
                owner,
                address,
                rng.choice(texts),
            )
        )
    # repeated complaints by one caller about one place, worded differently
    while len(specs) < int(n * 0.93):
        category, dept, texts = rng.choice(TOPICS)
        address = f"示例镇{rng.choice(COMMUNITIES)}{rng.randrange(1, 60)}号楼"
        caller, phone = _person(rng), _phone(rng)
        first = start + timedelta(days=rng.randrange(300))
        # clusters older than two months were already confirmed by staff as repeats
        group = f"演示重复组{len(specs)}" if first < end - timedelta(days=60) else ""
        for k in range(rng.randrange(3, 7)):
            when = first + timedelta(days=k * rng.randrange(5, 20), minutes=rng.randrange(600))
            text = rng.choice(texts) + rng.choice(
                ["", "，已经反映过多次", "，希望尽快处理", "，问题依旧"]
            )
            spec = _spec(rng, when, category, dept, address, text, caller, phone, unsatisfied=True)
            specs.append({**spec, "repeat_group": group})
    # concentrated complaints: many callers, one place, a short window
    while len(specs) < n:
        category, dept, texts = rng.choice(TOPICS)
        address = f"示例镇{rng.choice(ROADS)}{rng.randrange(1, 900)}号"
        first = start + timedelta(days=rng.randrange(330))
        text = rng.choice(texts)
        for _ in range(rng.randrange(5, 10)):
            when = first + timedelta(days=rng.randrange(20), minutes=rng.randrange(1440))
            specs.append(_spec(rng, when, category, dept, address, text))
    specs = [s for s in specs if s["received_at"] <= end][:n]
    specs.sort(key=lambda s: s["received_at"])
    rows = []
    for i, spec in enumerate(specs):
        received: datetime = spec["received_at"]
        owner = spec.pop("owner")
        spec.update(
            ticket_no=f"{received:%y%m%d}{i:05d}",
            unit_id=units[owner],
            unit_raw=owner,
            platform_due_at=(received + timedelta(days=7)).replace(hour=17, minute=0, second=0),
            address_norm=normalize_address(spec["address"]),
            **address_columns(spec["address"], prefixes),
            raw={},
            notes="",
            tags="",
            repeat_group=spec.get("repeat_group", ""),
            title=spec["content"][:20],
            created_at=now(),
            updated_at=now(),
            version=1,
            **_score_fields(i, received, spec["platform_status"] == "已办结"),
        )
        rows.append(spec)
    return rows


def _score_fields(i: int, received: datetime, done: bool) -> dict[str, Any]:
    """热线考核 fields, by the ticket's position (no draw from the generator: the rest of the
    demo stays as it was): 先行联系 7 in 8, 解释说明 1 in 6 handled, some finished late."""
    result = Resolution.EXPLAINED if i % 6 == 1 else Resolution.SOLVED
    return {
        "first_contact": i % 8 != 3,
        "resolution": result.value if done else None,
        "finished_at": received + timedelta(days=2 + i % 7, hours=3) if done else None,
    }


def _spec(
    rng: random.Random,
    when: datetime,
    category: str,
    owner: str,
    address: str,
    content: str,
    caller: str | None = None,
    phone: str | None = None,
    unsatisfied: bool = False,
) -> dict[str, Any]:
    status = rng.choice(STATUSES)
    callback = (
        CallbackResult.UNSATISFIED if unsatisfied and rng.random() < 0.6 else rng.choice(CALLBACKS)
    )
    if status != "已办结":
        callback = CallbackResult.NONE
    return {
        "received_at": when.replace(second=0, microsecond=0),
        "category": category,
        "owner": owner,
        "address": address,
        "content": content,
        "caller": caller or _person(rng),
        "phone": phone or _phone(rng),
        "platform_status": status,
        "callback_result": callback.value,
        "resolved": status == "已办结" and callback != CallbackResult.UNSATISFIED,
        "city_supervised": rng.random() < 0.01,
    }


# --- supervision cases, run through the workflow -------------------------------------------

DEMO_ACTOR = Actor(user_id=None, username="演示数据", role=Role.ADMIN)


def demo_scan() -> bytes:
    """A blank one-page PDF standing for the signed and stamped reply (uploads are checked
    by structure, so it is a real PDF)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(buffer, "PDF")
    return buffer.getvalue()


Scenario = Callable[["DemoCases", date, list[Ticket], int, list[int]], Case]

# (category, name, keywords, address pattern, department, handling path) — 专题会 decisions
RULES = [
    (
        "噪声扰民",
        "工地夜间施工噪声",
        "夜间施工、打桩",
        "",
        "镇生态环境办",
        "生态环境办当日核查夜间施工许可，无证施工责令停工；城管中队夜间巡查配合",
    ),
    (
        "违章搭建",
        "楼顶及绿地违章搭建",
        "",
        "",
        "镇城管中队",
        "城管中队立案调查，房管办提供产权信息，村居委做好劝导",
    ),
    (
        "物业服务",
        "物业不履约",
        "电梯、垃圾",
        "",
        "镇房管办",
        "房管办约谈物业企业，限期整改并纳入物业考核",
    ),
    (
        "供水问题",
        "一站大居供水",
        "",
        "示例镇新城一站大居*",
        "示例供水公司",
        "供水公司24小时内到场，大居管理办协调住户",
    ),
]


# matters a district leader hands down without a ticket (→ 提级协调督办 at once)
LEADER_TOPICS = [
    ("河道发黑发臭问题", "镇农业农村办"),
    ("农贸市场周边占道经营问题", "镇城管中队"),
    ("老旧小区加装电梯矛盾", "镇房管办"),
]


class DemoCases:
    """Runs the seed's paths on demo tickets: each scenario is one case's story."""

    def __init__(self, session: Session, rng: random.Random, units: dict[str, int], end: date):
        self.s, self.rng, self.units, self.end = session, rng, units, end
        self.cal = Calendar.load(session)
        self.meetings = 0
        self.rules = 0
        self.leader_items = 0
        self.pool = self._ticket_groups()
        self.used: set[int] = set()

    # -- dates ---------------------------------------------------------------------------
    def wd(self, day: date, n: int) -> date:
        """N working days after `day`."""
        return self.cal.add(day, n).day

    def back(self, day: date, n: int) -> date:
        """The working day N working days before `day`."""
        while not self.cal.is_workday(day):
            day -= timedelta(days=1)
        while n > 0:
            day -= timedelta(days=1)
            if self.cal.is_workday(day):
                n -= 1
        return day

    # -- tickets ---------------------------------------------------------------------------
    def _ticket_groups(self) -> list[list[Ticket]]:
        """Repeat clusters (one caller, one place) and concentrated complaints, then singles."""
        tickets = self.s.exec(
            select(Ticket).order_by(col(Ticket.received_at), col(Ticket.id))
        ).all()
        by_caller: dict[tuple[str, str], list[Ticket]] = defaultdict(list)
        for t in tickets:
            by_caller[(t.address_norm, t.phone)].append(t)
        groups = [g for g in by_caller.values() if len(g) >= 3]
        grouped = {t.id for g in groups for t in g}
        by_place: dict[tuple[str, str], list[Ticket]] = defaultdict(list)
        for t in tickets:
            if t.id not in grouped:
                by_place[(t.address_norm, t.content)].append(t)
        groups += [g for g in by_place.values() if len(g) >= 5]
        grouped = {t.id for g in groups for t in g}
        groups += [
            [t] for t in tickets if t.id not in grouped and t.callback_result == "unsatisfied"
        ]
        return groups

    def tickets_before(self, day: date) -> list[Ticket]:
        """An unused group whose last ticket came in before `day` (the case follows them)."""
        for group in self.pool:
            if group[-1].received_at.date() < day and not any(t.id in self.used for t in group):
                self.used.update(t.id for t in group)  # type: ignore[misc]  # ids are set: these rows were flushed
                return group
        return []

    # -- building blocks -----------------------------------------------------------------
    def open(self, day: date, tickets: list[Ticket], lead: int, co: list[int], **kw: Any) -> Case:
        first = tickets[0] if tickets else None
        scope = kw.pop(
            "scope", Scope.CONCENTRATED if len({t.phone for t in tickets}) > 2 else Scope.REPEATED
        )
        return cases.open_case(
            self.s, DEMO_ACTOR, scope=scope, lead_unit_id=lead, co_unit_ids=co,
            ticket_ids=[t.id for t in tickets], title=kw.pop("title", ""),  # type: ignore[misc]  # ids are set: these rows were flushed
            related_info=kw.pop("related_info", None) or (
                f"{first.address}，{len(tickets)} 件工单反映：{first.content}。"
                "承办单位前期答复后问题仍未解决，回访市民不满意。" if first else ""
            ),
            opinion=kw.pop("opinion", "请承办单位于5个工作日内核查处置，书面反馈处置情况，由单位主要领导签字并加盖单位公章。"),
            opened_at=day, **kw,
        )  # fmt: skip

    def step(self, case: Case) -> Step:
        step = cases.latest_handling_step(self.s, case.id)  # type: ignore[arg-type]  # ids are set: these rows were flushed
        assert step is not None
        return step

    def answer(self, case: Case, day: date, progress: Progress, *, compliant: bool = True) -> None:
        texts = {
            Progress.DONE: "已完成处置，现场复查问题已解决，已向市民反馈。",
            Progress.SOME: "已约谈责任方，整改方案已制定，正在落实中。",
            Progress.NONE: "涉及多个部门职责，本单位无法单独处置，暂无进展。",
        }
        scan = uploads.store_upload(self.s, DEMO_ACTOR, name="书面反馈扫描件.pdf", data=demo_scan())
        cases.register_feedback(
            self.s, DEMO_ACTOR, self.step(case).id, received_at=day, text=texts[progress],  # type: ignore[arg-type]  # ids are set: these rows were flushed
            signed=True, stamped=compliant, progress=progress, upload_id=scan.id,
            date_reason="演示数据：按纸质反馈收到日期登记",
        )  # fmt: skip

    def close(self, case: Case, day: date) -> None:
        cases.verify_case(self.s, DEMO_ACTOR, case.id, note="城运中心回访核实，问题已解决", on=day)  # type: ignore[arg-type]  # ids are set: these rows were flushed
        cases.close_case(
            self.s, DEMO_ACTOR, case.id, on=day,  # type: ignore[arg-type]  # ids are set: these rows were flushed
            result_text="承办单位已按督办要求完成处置，经城运中心跟踪核实，市民诉求已解决。",
        )  # fmt: skip

    def escalate(self, case: Case, day: date) -> None:
        cases.escalate_case(self.s, DEMO_ACTOR, case.id, on=day)  # type: ignore[arg-type]  # ids are set: these rows were flushed

    def onsite(self, case: Case, day: date, *, n: int = 5, late: bool = False) -> Step:
        """Notice, the unit's registration and the joint site visit fixing N working days."""
        lead = self.s.get(Unit, case.lead_unit_id)
        notice = cases.issue_onsite_notice(
            self.s, DEMO_ACTOR, case.id, issued_at=day, location=self._place(case),  # type: ignore[arg-type]  # ids are set: these rows were flushed
            scheduled_at=datetime.combine(self.wd(day, 1), time(9, 30)),
            procedure="踏勘现场，听取承办单位汇报，协调明确处置责任和时限",
            attendees=f"{lead.name if lead else ''}、相关村居委、镇城建中心",
            contact_name="城运中心 王老师", contact_phone="021-59000000",
        )  # fmt: skip
        registered = self.wd(day, 1) if late else day
        cases.register_notice_receipt(
            self.s, DEMO_ACTOR, notice.id,  # type: ignore[arg-type]  # ids are set: these rows were flushed
            registered_at=min(datetime.combine(registered, time(16, 0)), now()),
            reported_to=lead.head if lead and lead.head else "单位主要领导",
            tasks=[(case.lead_unit_id, "牵头核查现场情况，制定处置方案")],  # type: ignore[list-item]  # ids are set: these rows were flushed
            venue_ready=True, venue=f"{lead.name if lead else ''}会议室",
        )  # fmt: skip
        cases.record_site_visit(
            self.s, DEMO_ACTOR, notice.id, visit_at=self.wd(day, 1), deadline_workdays=n,  # type: ignore[arg-type]  # ids are set: these rows were flushed
            findings="现场情况属实，前期处置不到位，需承办单位限期整改",
            responsible_unit_id=case.lead_unit_id,  # type: ignore[arg-type]  # every demo case has a lead unit
        )  # fmt: skip
        return notice

    def _place(self, case: Case) -> str:
        first = self.s.exec(
            select(col(Ticket.address))
            .join(CaseTicket, col(CaseTicket.ticket_id) == col(Ticket.id))
            .where(col(CaseTicket.case_id) == case.id)
        ).first()
        return first or "示例镇人民政府"

    def meeting(self, case: Case, day: date) -> None:
        """A 专题会 on the case; the first ones fix a routing rule each (同类事项)."""
        held = meetings.create_meeting(
            self.s, DEMO_ACTOR, held_at=day, title=f"12345热线工作专题会（第{self.meetings + 1}次）",
            chair="镇分管副镇长", attendees="城运中心、城建中心、城管中队、生态环境办、房管办、相关村居",
            summary="各承办单位要高度重视热线疑难事项，主要领导亲自过问；职能交叉事项按会议明确的"
            "部门和路径办理，不得推诿；城运中心跟踪核实，逾期未办结的列入考核。",
            case_ids=[case.id],  # type: ignore[list-item]  # ids are set: these rows were flushed
        )  # fmt: skip
        self.meetings += 1
        for category, name, keywords, pattern, unit, path in RULES[self.rules : self.rules + 2]:
            meetings.add_routing_rule(
                self.s, DEMO_ACTOR, held.id, name=name, category=category, keywords=keywords,
                address_pattern=pattern, unit_id=self.units[unit], handling_path=path,
            )  # fmt: skip
            self.rules += 1

    def escalated_handling(self, case: Case, day: date) -> None:
        cases.issue_escalated_handling(
            self.s, DEMO_ACTOR, case.id, issued_at=day,  # type: ignore[arg-type]  # ids are set: these rows were flushed
            requirement="按专题会要求落实处置方案和措施，5个工作日内书面反馈。",
        )  # fmt: skip

    # -- the stories ---------------------------------------------------------------------
    def closed_written(self, day, tickets, lead, co) -> Case:
        case = self.open(day, tickets, lead, co)
        answered = self.wd(day, self.rng.choice([2, 3, 4, 5, 5, 7]))
        self.answer(case, answered, Progress.DONE)
        self.close(case, self.wd(answered, 1))
        return case

    def closed_onsite(self, day, tickets, lead, co) -> Case:
        case = self.open(day, tickets, lead, co)
        self.answer(case, self.wd(day, 4), Progress.NONE)
        self.escalate(case, self.wd(day, 5))
        self.onsite(case, self.wd(day, 6), late=self.rng.random() < 0.3)
        answered = self.wd(day, self.rng.choice([9, 11, 13]))
        self.answer(case, answered, Progress.DONE)
        self.close(case, self.wd(answered, 1))
        return case

    def _to_escalated(self, day: date, tickets, lead, co) -> Case:
        """书面 overdue → 现场 overdue → 提级, then a 专题会 (13 working days after opening)."""
        case = self.open(day, tickets, lead, co, scope=Scope.CROSS_FUNCTION)
        self.escalate(case, self.wd(day, 6))
        self.onsite(case, self.wd(day, 7), n=3)
        self.escalate(case, self.wd(day, 12))
        lead = self.s.get(Unit, case.lead_unit_id)
        cases.record_escalation_report(
            self.s, DEMO_ACTOR, case.id, subject=f"关于“{case.title}”提级办理的报告",  # type: ignore[arg-type]  # ids are set: these rows were flushed
            reason="经书面督办、现场协调督办，承办单位均逾期未反馈处置情况，事项涉及多个部门职责，仍无处置进展。",
            request=f"建议由镇分管领导批办，明确{lead.name if lead else '主办单位'}牵头、相关部门配合，"
            "在5个工作日内落实具体处置方案和措施。",
            issued_at=self.wd(day, 12),
        )  # fmt: skip
        if self.meetings < 3:
            self.meeting(case, self.wd(day, 13))
        else:
            cases.record_leader_instruction(
                self.s, DEMO_ACTOR, case.id, leader="镇分管副镇长", recipient="主办单位",  # type: ignore[arg-type]  # ids are set: these rows were flushed
                text="请主办单位牵头，相关部门配合，限期解决。", issued_at=self.wd(day, 13),
            )  # fmt: skip
        return case

    def closed_escalated(self, day, tickets, lead, co) -> Case:
        case = self._to_escalated(day, tickets, lead, co)
        self.escalated_handling(case, self.wd(day, 13))
        self.answer(case, self.wd(day, 17), Progress.DONE)
        cases.report_up(
            self.s, DEMO_ACTOR, case.id, text="提级办理事项已办结，跟踪核实情况上报。",  # type: ignore[arg-type]  # ids are set: these rows were flushed
            issued_at=self.wd(day, 18),
        )  # fmt: skip
        self.close(case, self.wd(day, 18))
        return case

    def open_escalated(self, day, tickets, lead, co) -> Case:
        case = self._to_escalated(day, tickets, lead, co)
        self.escalated_handling(case, self.wd(day, 14))
        if self.rng.random() < 0.5:
            self.answer(case, self.wd(day, 16), Progress.DONE, compliant=False)
        return case

    def open_written(self, day, tickets, lead, co) -> Case:
        return self.open(day, tickets, lead, co)

    def no_progress(self, day, tickets, lead, co) -> Case:
        case = self.open(day, tickets, lead, co)
        self.answer(case, self.wd(day, 2), Progress.NONE)
        return case

    def non_compliant(self, day, tickets, lead, co) -> Case:
        case = self.open(day, tickets, lead, co)
        self.answer(case, self.wd(day, 1), Progress.DONE, compliant=False)
        return case

    def some_progress(self, day, tickets, lead, co) -> Case:
        case = self.open(
            day, tickets, lead, co, scope=Scope.OTHER, scope_reason="媒体关注，需跟踪督办"
        )
        self.answer(case, self.wd(day, 4), Progress.SOME)
        cases.issue_supervision_form(self.s, DEMO_ACTOR, case.id, issued_at=self.wd(day, 5))  # type: ignore[arg-type]  # ids are set: these rows were flushed
        return case

    def onsite_open(self, day, tickets, lead, co) -> Case:
        case = self.open(day, tickets, lead, co)
        self.answer(case, self.wd(day, 3), Progress.NONE)
        self.escalate(case, self.wd(day, 4))
        self.onsite(case, self.wd(day, 5), n=self.rng.choice([3, 5]), late=self.rng.random() < 0.4)
        return case

    def city_onsite(self, day, tickets, lead, co) -> Case:
        case = self.open(
            day, tickets, lead, co, scope=Scope.CITY, start_level=Level.ONSITE,
            start_level_reason="市级督办事项，直接启动现场协调督办",
        )  # fmt: skip
        self.onsite(case, day, n=5)
        return case

    def leader_escalated(self, day, tickets, lead, co) -> Case:
        topic, unit = LEADER_TOPICS[self.leader_items % len(LEADER_TOPICS)]
        self.leader_items += 1
        case = self.open(
            day, [], self.units[unit], co, scope=Scope.LEADER, title=f"区领导批示：{topic}",
            source_note=f"区领导批示：请赵巷镇高度重视，抓紧研究解决{topic}。",
            source_date=day, related_info=f"区领导批示交办，{topic}涉及多个部门职责。",
            opinion="提级办理，请主办单位牵头制定整治方案。", start_level=Level.ESCALATED,
            start_level_reason="区领导批示交办事项",
        )  # fmt: skip
        cases.record_leader_instruction(
            self.s, DEMO_ACTOR, case.id, leader="镇党委书记", recipient=unit,  # type: ignore[arg-type]  # ids are set: these rows were flushed
            text=f"请{unit}牵头，相关部门配合，一周内拿出整治方案。", issued_at=day,
        )  # fmt: skip
        cases.record_special_report(
            self.s, DEMO_ACTOR, case.id, subject=f"关于{topic}的工作专报",  # type: ignore[arg-type]  # ids are set: these rows were flushed
            text=f"{topic}市民反映强烈，区领导已作批示，镇党委书记批办{unit}牵头处置。",
            analysis=f"{topic}涉及多个部门职责，职责边界不清，前期处置未形成合力。",
            suggestion=f"建议由{unit}牵头，相关部门配合，一周内拿出整治方案，城运中心跟踪督办。",
            issued_at=self.wd(day, 1),
        )  # fmt: skip
        self.escalated_handling(case, self.wd(day, 1))
        return case

    def reopened(self, day, tickets, lead, co) -> Case:
        case = self.closed_written(day, tickets, lead, co)
        again = self.back(self.end, 3)
        cases.reopen_case(self.s, DEMO_ACTOR, case.id, reason="市民再次来电反映问题复发", on=again)  # type: ignore[arg-type]  # ids are set: these rows were flushed
        cases.issue_supervision_form(self.s, DEMO_ACTOR, case.id, issued_at=again)  # type: ignore[arg-type]  # ids are set: these rows were flushed
        return case

    def refer(self, case: Case, day: date) -> None:
        cases.refer_case(
            self.s, DEMO_ACTOR, case.id, on=day,  # type: ignore[arg-type]  # ids are set: these rows were flushed
            reason="承办单位主观推诿、整改不力，经书面、现场和提级督办仍未解决，造成不良影响。",
        )  # fmt: skip

    def follow_up(self) -> None:
        """签收, 催办 and one 延期申请 (duban.chasing) on the papers sent: most units sign the
        day they receive a paper or the next, some later, a few not yet; overdue steps get a
        phone chase the working day after their deadline."""
        latest = min(now(), datetime.combine(self.end, time(18)))
        papers = self.s.exec(
            select(Step).where(col(Step.kind).in_(chasing.SIGN_KINDS)).order_by(col(Step.id))
        ).all()
        for step in papers:
            assert step.id is not None
            roll = self.rng.random()
            delay = 0 if roll < 0.5 else 1 if roll < 0.8 else 2 if roll < 0.9 else None
            if delay is None:
                continue
            day = self.wd(step.issued_at, delay) if delay else step.issued_at
            at = datetime.combine(day, time(self.rng.randrange(8, 17), self.rng.choice((0, 30))))
            if at <= latest:
                chasing.sign_for(self.s, DEMO_ACTOR, step.id, signed_at=at)
        open_steps = self.s.exec(
            select(Step)
            .join(Case, col(Case.id) == col(Step.case_id))
            .where(col(Step.status) == StepStatus.OPEN, col(Case.status) == CaseStatus.OPEN)
            .where(col(Step.due_at).is_not(None))
            .order_by(col(Step.id))
        ).all()
        for step in open_steps:
            assert step.id is not None and step.due_at is not None
            chased_on = self.wd(step.due_at, 1)
            if step.due_at < self.end and chased_on <= self.end:
                chasing.record_chase(
                    self.s, DEMO_ACTOR, step.id, chased_on=chased_on, way=ChaseWay.PHONE,
                    reached=f"{_person(self.rng)}（办公室）", note="电话提醒尽快书面反馈",
                )  # fmt: skip
        waiting = [s for s in open_steps if s.due_at and s.due_at >= self.end >= s.issued_at]
        if waiting and waiting[0].id is not None:
            chasing.request_extension(
                self.s, DEMO_ACTOR, waiting[0].id, workdays=3,
                reason="涉及多个部门，需协调后处置", requested_on=self.end,
            )  # fmt: skip

    # -- the plan ------------------------------------------------------------------------
    def run(self) -> dict[str, int]:
        """About 80 cases: (story, how many, working days before `end` it opens)."""
        rng = self.rng
        plan: list[tuple[Scenario, int, Callable[[], int]]] = [
            (DemoCases.closed_written, 22, lambda: rng.randrange(25, 240)),
            (DemoCases.closed_onsite, 7, lambda: rng.randrange(30, 200)),
            (DemoCases.closed_escalated, 4, lambda: rng.randrange(40, 180)),
            (DemoCases.reopened, 3, lambda: rng.randrange(40, 120)),
            (DemoCases.open_escalated, 4, lambda: rng.randrange(17, 30)),
            (DemoCases.onsite_open, 8, lambda: rng.choice([7, 8, 12, 15, 18])),
            (DemoCases.city_onsite, 3, lambda: rng.choice([2, 4, 9])),
            (DemoCases.leader_escalated, 3, lambda: rng.choice([2, 5, 9])),
            (DemoCases.open_written, 15, lambda: rng.choice([0, 1, 2, 3, 4, 7, 9, 12, 15])),
            (DemoCases.no_progress, 4, lambda: rng.choice([2, 3, 5])),
            (DemoCases.non_compliant, 4, lambda: rng.choice([1, 3, 8])),
            (DemoCases.some_progress, 3, lambda: rng.choice([6, 8, 10])),
        ]
        jobs = [(self.back(self.end, when()), story) for story, n, when in plan for _ in range(n)]
        jobs.sort(key=lambda job: job[0])
        villages = [self.units[v] for v in VILLAGES]
        made: list[Case] = []
        for day, story in jobs:
            tickets = self.tickets_before(day) if story is not DemoCases.leader_escalated else []
            if tickets and tickets[0].unit_id:
                lead = tickets[0].unit_id
            else:
                lead = self.units[rng.choice(DEPARTMENTS)[0]]
            co = [rng.choice(villages)] if rng.random() < 0.3 else []
            co = [u for u in co if u != lead]
            made.append(story(self, day, tickets, lead, co))
        escalated = [c for c in made if c.level == Level.ESCALATED and c.lead_unit_id]
        for case in escalated[:3]:
            self.refer(case, self.back(self.end, 1))
        self.follow_up()
        return {"督办事项": len(made), "专题会": self.meetings, "处置规则": self.rules}
