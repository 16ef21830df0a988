"""A labelled set of 12345 tickets written the way the platform writes them, and the figures
of the 督办线索 rules on it (docs/ANALYSIS.md).

Each matter is a label: a repeat (one caller, one phone, 3–5 tickets over weeks) or a
concentrated complaint (5–8 callers within ten days). Between its tickets vary, as in real
exports: the address prefix (none, 赵巷镇, 青浦区赵巷镇, 上海市青浦区赵巷镇, with or without
spaces); digits full-width or half-width; 三号楼 / 3号楼 / 3幢 / 3栋; the landmark after the
number, written differently or left out (北门, 北门口, （北门）, 北大门, 小区北门); and the
complaint, reworded every time. Beside each matter stand two decoys that must stay apart:
the same road or estate at the next number with the same kind of complaint, and another
kind of matter at the same place (some of the same category: 路灯 and 积水 are both 市政设施).
Single complaints elsewhere fill the rest. The set is a CSV export, imported through
`duban.importer` as a clerk imports one.

    python -m tests.labelled_set   # prints the figures table (SQLite) for docs/ANALYSIS.md
"""

from __future__ import annotations

import csv
import io
import random
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from duban.analysis import Candidates, Rule, find_candidates
from duban.importer import import_tickets
from duban.permissions import SYSTEM

AS_OF = datetime(2024, 6, 28, 18, 0)
HEADER = [
    "工单编号",
    "诉求时间",
    "诉求地址",
    "内容描述",
    "问题分类",
    "诉求人",
    "联系电话",
    "工单状态",
]
PREFIXES = [
    "",
    "赵巷镇",
    "青浦区赵巷镇",
    "上海市青浦区赵巷镇",
    "上海市 青浦区 赵巷镇",
    "青浦区 赵巷镇 ",
]
ROADS = ["南崧路", "业辉路", "嘉松中路", "沪青平公路", "赵重公路", "崧泽大道", "镇中路", "福泉山路"]
ESTATES = ["和睦家园", "崧泽华城", "赵巷佳园", "中建锦绣", "万科城市花园", "嘉和苑"]
LANDMARKS = [
    ["北门", "北门口", "（北门）", "北大门", "小区北门", ""],
    ["南门", "南门口", "(南门)", "南大门", ""],
    ["工地", "在建工地", "工地门口", ""],
    ["菜场", "菜场门口", "菜市场旁", ""],
    ["", ""],
]
CN = "零一二三四五六七八九十"
FULL = str.maketrans("0123456789", "０１２３４５６７８９")
# topic → (category, rewordings); callers name the thing, the words around it change
TOPICS: dict[str, tuple[str, list[str]]] = {
    "垃圾": ("市容环境", ["垃圾堆放多日无人清理", "垃圾还是没人来收，臭得不行",
                        "再次反映{lm}垃圾长期堆着没人清运", "门口的垃圾桶满了好几天，垃圾溢出来",
                        "生活垃圾乱堆，苍蝇很多，要求清运", "垃圾没有及时清运，气味很大"]),
    "路灯": ("市政设施", ["路灯不亮，晚上走路很危险", "好几盏路灯坏了，一到晚上黑漆漆的",
                        "再次反映路灯至今没修好", "路灯一直不亮，老人晚上出门不方便",
                        "{lm}路灯损坏没人维修"]),
    "积水": ("市政设施", ["下雨后路面积水严重", "排水不畅，一下雨就积水",
                        "积水没人处理，出行困难", "下水道堵了，雨后积水到脚踝",
                        "{lm}积水问题反映多次还是老样子"]),
    "噪音": ("环境保护", ["夜间施工噪音扰民，影响休息", "工地晚上还在施工，噪音很大睡不着",
                        "半夜施工太吵，投诉过还是照样施工", "{lm}施工噪音到凌晨，严重扰民"]),
    "停车": ("交通管理", ["车辆乱停放堵住通道", "乱停车严重，消防通道被占",
                        "{lm}机动车乱停，出行不便", "门口乱停车堵得进不去，车辆没人管"]),
    "油烟": ("环境保护", ["饭店油烟直排，家里窗户都不敢开", "餐饮店油烟很大，熏得受不了",
                        "再次反映{lm}饭店油烟扰民", "油烟问题一直没解决，楼上全是油烟味"]),
    "电梯": ("物业管理", ["电梯经常故障停运，老人上下楼困难", "电梯又坏了，物业还是不修",
                        "电梯困人好几次了，物业不管", "{lm}电梯停运一周了没人修"]),
}  # fmt: skip


@dataclass(frozen=True)
class Place:
    """Where a matter is: a road with a lane (弄) or a house number (号), or an estate's
    building; `nearby` is the next number (the decoy's)."""

    kind: str  # "lane" | "house" | "building"
    name: str
    number: int

    def nearby(self) -> Place:
        return Place(self.kind, self.name, self.number + (2 if self.kind != "building" else 1))

    def spell(self, rng: random.Random, landmarks: list[str]) -> str:
        """One way the platform writes it."""
        digits = str(self.number)
        if rng.random() < 0.3:
            digits = digits.translate(FULL)
        if self.kind == "lane":
            body = f"{self.name}{digits}弄"
        elif self.kind == "house":
            body = f"{self.name}{digits}号"
        else:
            if self.number <= 10 and rng.random() < 0.3:
                digits = CN[self.number]
            body = f"{self.name}{digits}{rng.choice(['号楼', '幢', '栋', '号楼'])}"
        space = " " if rng.random() < 0.2 else ""
        return f"{rng.choice(PREFIXES)}{space}{body}{rng.choice(landmarks)}"


@dataclass
class Labelled:
    """The export file, and each ticket's matter label and the kind of the matter."""

    data: bytes
    label: dict[str, str]  # 工单编号 → matter
    kind: dict[str, str]  # matter → "repeat" | "concentrated" | "decoy" | "single"

    def tickets_of(self, matter: str) -> set[str]:
        return {no for no, m in self.label.items() if m == matter}


def generate(matters: int = 60, singles: int = 400, seed: int = 21) -> Labelled:
    """`matters` labelled matters (two repeats to one concentrated), each with its two
    decoys, and `singles` single complaints, all received within 90 days before AS_OF."""
    rng = random.Random(seed)
    rows: list[list[str]] = []
    label: dict[str, str] = {}
    kind: dict[str, str] = {}
    used: set[tuple[str, str, int]] = set()
    phones = iter(f"139{n:08d}" for n in rng.sample(range(10**8), 5000))

    def place() -> Place:
        while True:
            k = rng.choice(["lane", "house", "building"])
            name = rng.choice(ESTATES if k == "building" else ROADS)
            number = rng.randrange(1, 12) if k == "building" else rng.randrange(10, 400, 2)
            spots = {(k, name, number + d) for d in range(-2, 3)}
            if not spots & used:
                used.update(spots)
                return Place(k, name, number)

    def add(matter: str, where: Place, topic: str, when: datetime, caller: tuple[str, str],
            landmarks: list[str]) -> None:  # fmt: skip
        category, texts = TOPICS[topic]
        no = f"LB{len(rows) + 1:05d}"
        lm = rng.choice([x for x in landmarks if x and "(" not in x and "（" not in x] or [""])
        text = rng.choice(texts).format(lm=lm)
        rows.append([no, f"{when:%Y-%m-%d %H:%M}", where.spell(rng, landmarks), text, category,
                     caller[0], caller[1], "处理中"])  # fmt: skip
        label[no] = matter

    def person() -> tuple[str, str]:
        return rng.choice("张王李赵刘陈杨黄周吴") + rng.choice(["先生", "女士", "阿姨"]), next(
            phones
        )

    start = AS_OF - timedelta(days=85)
    for m in range(matters):
        where, topic = place(), rng.choice(list(TOPICS))
        landmarks = rng.choice(LANDMARKS)
        name = f"M{m:02d}"
        if m % 3 != 2:  # a repeat: one caller, 3–5 tickets over weeks
            kind[name] = "repeat"
            caller, when = person(), start + timedelta(days=rng.randrange(0, 20), hours=9)
            for _ in range(rng.randrange(3, 6)):
                add(name, where, topic, when, caller, landmarks)
                when += timedelta(days=rng.randrange(5, 16), hours=rng.randrange(0, 8))
        else:  # concentrated: 5–8 callers within ten days
            kind[name] = "concentrated"
            first = AS_OF - timedelta(days=rng.randrange(12, 28), hours=10)
            for _ in range(rng.randrange(5, 9)):
                when = first + timedelta(days=rng.randrange(0, 10), hours=rng.randrange(0, 10))
                add(name, where, topic, when, person(), landmarks)
        span = (start + timedelta(days=20), AS_OF - timedelta(days=1))
        # decoy 1: the next number, the same kind of complaint, other callers
        kind[f"{name}-next"] = "decoy"
        for _ in range(rng.randrange(1, 4)):
            add(f"{name}-next", where.nearby(), topic, _between(rng, *span), person(), landmarks)
        # decoy 2: another matter at the same place (same category where one exists)
        same_category = [t for t in TOPICS if t != topic and TOPICS[t][0] == TOPICS[topic][0]]
        other = rng.choice(same_category or [t for t in TOPICS if t != topic])
        kind[f"{name}-other"] = "decoy"
        for _ in range(rng.randrange(1, 4)):
            add(f"{name}-other", where, other, _between(rng, *span), person(), landmarks)
    for s in range(singles):
        name = f"S{s:03d}"
        kind[name] = "single"
        add(name, place(), rng.choice(list(TOPICS)), _between(rng, start, AS_OF), person(),
            rng.choice(LANDMARKS))  # fmt: skip
    rows.sort(key=lambda r: r[1])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return Labelled(buffer.getvalue().encode("utf-8"), label, kind)


def _between(rng: random.Random, low: datetime, high: datetime) -> datetime:
    return low + timedelta(minutes=rng.randrange(int((high - low).total_seconds() // 60)))


@dataclass(frozen=True)
class Figures:
    """Per rule: matters of its kind found whole (all their tickets in one group), and
    groups holding a ticket of another matter (impure)."""

    rule: Rule
    matters: int
    whole: int
    groups: int
    impure: int

    @property
    def whole_share(self) -> float:
        return self.whole / self.matters if self.matters else 1.0

    @property
    def impure_share(self) -> float:
        return self.impure / self.groups if self.groups else 0.0


RULE_KIND = {Rule.REPEATED: "repeat", Rule.CONCENTRATED: "concentrated"}


def measure(found: Candidates, labelled: Labelled) -> list[Figures]:
    """The figures of every rule that made groups, and of both rules the set is built for."""
    figures = []
    for rule in Rule:
        groups = [set(g.ticket_nos) for g in found.by_rule(rule)]
        if rule not in RULE_KIND and not groups:
            continue
        impure = sum(len({labelled.label[no] for no in g}) > 1 for g in groups)
        matters = [m for m, k in labelled.kind.items() if k == RULE_KIND.get(rule)]
        whole = sum(any(labelled.tickets_of(m) <= g for g in groups) for m in matters)
        figures.append(Figures(rule, len(matters), whole, len(groups), impure))
    return figures


def run(session: Session, labelled: Labelled) -> Candidates:
    """Import the set as a clerk does, then analyse it as 督办线索 does."""
    import_tickets(session, SYSTEM, labelled.data, "12345工单导出.csv")
    session.commit()
    found = find_candidates(session, SYSTEM, AS_OF)
    session.commit()
    return found


def table(figures: list[Figures], labelled: Labelled) -> str:
    """The figures as the Markdown table docs/ANALYSIS.md shows."""
    tickets = len(labelled.label)
    kinds = defaultdict(int)
    for k in labelled.kind.values():
        kinds[k] += 1
    lines = [
        f"标注集：{tickets} 张工单；重复投诉 {kinds['repeat']} 件、集中投诉 "
        f"{kinds['concentrated']} 件，诱饵 {kinds['decoy']} 件，零散工单 {kinds['single']} 件。",
        "",
        "| 规则 | 该类事项 | 完整找出 | 完整找出占比 | 线索组 | 混入他事项的组 | 混入占比 |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in figures:
        whole = f"{f.whole_share:.1%}" if f.matters else "—"
        lines.append(
            f"| {f.rule.label} | {f.matters or '—'} | {f.whole if f.matters else '—'} | {whole} "
            f"| {f.groups} | {f.impure} | {f.impure_share:.1%} |"
        )
    return "\n".join(lines)


def main() -> int:
    from duban.db import open_database

    labelled = generate()
    with tempfile.TemporaryDirectory() as folder:
        engine = open_database(f"sqlite:///{Path(folder) / 'labelled.db'}")
        with Session(engine) as session:
            found = run(session, labelled)
        engine.dispose()
    print(table(measure(found, labelled), labelled))
    return 0


if __name__ == "__main__":
    sys.exit(main())
