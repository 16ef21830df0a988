"""Demo data: a realistic, clearly fictional town (`python -m duban init --demo`).

Deterministic (seeded) and fast: units and tickets are written with one bulk insert each.
Names of people are fictional (张先生, 李女士 …), phone numbers use the unassigned 147/141
ranges, addresses are in the fictional 示例镇 ("demo town").
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert
from sqlmodel import Session, select

from duban.clock import now
from duban.enums import CallbackResult, UnitKind
from duban.models import Ticket, Unit
from duban.text import normalize_address

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
        if session.exec(select(Ticket.id).limit(1)).first() is not None:
            return {"单位": len(units), "工单": 0, "督办事项": 0}
        rows = _ticket_rows(rng, units, tickets, end)
        session.execute(insert(Ticket), rows)
        session.commit()
    return {"单位": len(units), "工单": len(rows), "督办事项": 0}


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
    return existing


def _phone(rng: random.Random) -> str:
    return rng.choice(["147", "141"]) + f"{rng.randrange(10**8):08d}"


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(["先生", "女士"])


def _ticket_rows(
    rng: random.Random, units: dict[str, int], n: int, end: datetime
) -> list[dict[str, Any]]:
    """Ordinary tickets plus repeat clusters and concentrated complaints, in time order."""
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
        for k in range(rng.randrange(3, 7)):
            when = first + timedelta(days=k * rng.randrange(5, 20), minutes=rng.randrange(600))
            text = rng.choice(texts) + rng.choice(
                ["", "，已经反映过多次", "，希望尽快处理", "，问题依旧"]
            )
            specs.append(
                _spec(rng, when, category, dept, address, text, caller, phone, unsatisfied=True)
            )
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
            raw={},
            notes="",
            tags="",
            repeat_group="",
            title=spec["content"][:20],
            created_at=now(),
            updated_at=now(),
            version=1,
        )
        rows.append(spec)
    return rows


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
