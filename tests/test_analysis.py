"""Supervision candidates (督办线索) on small ticket sets whose right answer is known.

Seed §三(一)1: "镇城运中心对各类工单进行分析，综合诉求内容、承办单位办理情况、回访市民反馈情况等
方面，确定督办事项"; the rules follow §二: 1. 市级督办事项; 4. 重复投诉多次，且办理工作未有明显进展
的事项; 5. 多人次集中投诉 … 的事项.
"""

from __future__ import annotations

import csv
import io
import random
import threading
import time
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import Session, select

from duban import analysis
from duban.address import parse_address
from duban.analysis import (
    Rule,
    bigrams,
    find_candidates,
    group_matters,
    index,
    is_specific,
    jaccard,
    mark_repeat_group,
    matters,
    nested_addresses,
    normalize_text,
    same_matter,
)
from duban.cli import main
from duban.enums import CallbackResult, CaseStatus, Role
from duban.errors import PermissionDenied, ValidationError
from duban.keywords import key_words
from duban.models import AuditLog, Ticket
from duban.permissions import SYSTEM, Actor
from duban.records import apply_changes, restore, soft_delete
from duban.settings import set_setting
from duban.text import normalize_address
from tests.factories import make_case, make_ticket, make_unit

AS_OF = datetime(2024, 6, 28, 18, 0)  # the 90-day window starts 2024-03-31, the 30-day 2024-05-30
ELEVATOR = "物业不维修电梯，电梯经常故障停运，老人上下楼困难"


def ticket(session, no: str, day: str, address: str, content: str, **kw):
    """A ticket as the importer stores it (normalised address), received at 9:00 on `day`."""
    return make_ticket(
        session,
        ticket_no=no,
        received_at=datetime.fromisoformat(f"{day} 09:00"),
        address=address,
        address_norm=normalize_address(address),
        content=content,
        **kw,
    )


def groups(session, **kw) -> list[tuple[str, tuple[str, ...], bool]]:
    """Every group as (rule, its 工单编号, proposed?), in the order the page shows them."""
    result = find_candidates(session, SYSTEM, AS_OF, **kw)
    return [(g.rule.value, tuple(g.ticket_nos), g.proposed) for g in result.groups]


def only(session, rule: Rule):
    (group,) = find_candidates(session, SYSTEM, AS_OF).by_rule(rule)
    return group


# --- 重复投诉 ------------------------------------------------------------------------------


@pytest.fixture
def repeat_cluster(session):
    """One caller, one building, three complaints in three wordings and three spellings."""
    who = {"caller": "张先生", "phone": "14700000001"}
    ticket(session, "R1", "2024-05-06", "示例镇和睦家园12号楼", ELEVATOR,
           callback_result=CallbackResult.UNSATISFIED, platform_status="已办结", **who)  # fmt: skip
    ticket(session, "R2", "2024-05-20", "示例镇和睦家园 12 号楼", "电梯又坏了，物业还是不修，老人上楼很困难",
           callback_result=CallbackResult.UNSATISFIED, platform_status="已办结", **who)  # fmt: skip
    ticket(session, "R3", "2024-06-10", "和睦家园12号楼", ELEVATOR + "，已经反映过多次",
           platform_status="处理中", **who)  # fmt: skip
    session.commit()


def test_a_repeat_cluster_with_different_wording_is_one_group(session, repeat_cluster):
    """§二 4 "重复投诉多次，且办理工作未有明显进展": three complaints about one building within
    90 days, the latest still 处理中 — proposed, whatever the wording and spelling."""
    assert groups(session) == [
        ("repeated", ("R1", "R2", "R3"), True),
        ("unsatisfied", ("R1", "R2"), True),
    ]


def test_a_group_says_why_its_tickets_belong_together(session, repeat_cluster):
    group = only(session, Rule.REPEATED)
    assert group.shared_addresses == (("示例镇和睦家园12号楼", 2),)
    # R1 and R3 near-identical; R1 and R2 reworded, sharing key words at one address key
    assert [(s.ticket_a, s.ticket_b) for s in group.similar] == [("R1", "R3"), ("R1", "R2")]
    assert group.similar[0].score == pytest.approx(0.74, abs=0.01)
    assert group.reason.startswith(
        "近 90 天内同一事项投诉 3 次；最近一次（2024年6月10日）回访“无记录”"
    )
    assert group.address_key == "示例镇和睦家园12幢"
    assert "地址键“示例镇和睦家园12幢”（2 张）" in group.reason
    assert {"电梯", "老人", "困难"} <= set(group.keywords)
    assert "共同关键词：" in group.reason and "电梯" in group.reason
    assert "同一来电号码在同一地址来电 2 次" in group.reason
    assert "工单 R1 与 R3 内容相似度 0.74" in group.reason
    assert group.callers == 1


def test_a_repeat_whose_latest_callback_is_satisfied_and_closed_is_not_proposed(session):
    """ "办理工作未有明显进展": the latest ticket 满意 and 已办结 means progress was made."""
    for no, day in (("S1", "2024-05-01"), ("S2", "2024-05-15"), ("S3", "2024-06-01")):
        ticket(session, no, day, "示例镇育才小区5号楼", "楼道堆物占用消防通道",
               callback_result=CallbackResult.SATISFIED, platform_status="已办结")  # fmt: skip
    session.commit()
    assert groups(session) == []


def test_thresholds_come_from_the_settings(session, repeat_cluster):
    set_setting(session, SYSTEM, "candidate_repeat_min", 4)
    set_setting(session, SYSTEM, "candidate_unsatisfied_min", 3)
    session.commit()
    assert groups(session) == []


# --- 集中投诉 ------------------------------------------------------------------------------


def test_a_concentrated_complaint_by_six_callers_is_one_group(session):
    """§二 5 "多人次集中投诉": six different callers about one restaurant within 30 days
    (one of them twice); every callback 满意, so it is not a repeat without progress."""
    text = "惠民路88号饭店油烟直排，熏得窗户都不能开"
    for k in range(6):
        ticket(session, f"C{k + 1}", f"2024-06-{10 + k}", "示例镇惠民路88号", text,
               phone=f"1410000000{k}", callback_result=CallbackResult.SATISFIED,
               platform_status="已办结")  # fmt: skip
    ticket(session, "C7", "2024-06-20", "示例镇惠民路88号", text + "，还是没人管",
           phone="14100000000", callback_result=CallbackResult.SATISFIED, platform_status="已办结")  # fmt: skip
    session.commit()
    assert groups(session) == [("concentrated", ("C1", "C2", "C3", "C4", "C5", "C6", "C7"), True)]
    group = only(session, Rule.CONCENTRATED)
    assert group.callers == 6
    assert group.reason.startswith(
        "近 30 天内 6 位不同来电人反映同一事项（共 7 张工单，按来电号码区分）"
    )


# --- near misses ---------------------------------------------------------------------------


def test_near_misses_stay_apart(session, repeat_cluster):
    """Same wording elsewhere, too few, too old, neighbouring house numbers, four callers,
    one vague road with three different matters, one door with three different kinds of
    complaint: none of these is a group."""
    ticket(session, "N1", "2024-06-01", "示例镇育才路5号", ELEVATOR, platform_status="处理中")
    for no, day in (("N2", "2024-03-20"), ("N3", "2024-05-02"), ("N4", "2024-06-02")):
        # three at one address, but the first is before the 90-day window
        ticket(
            session,
            no,
            day,
            "示例镇丰收路7号",
            "窨井盖缺失，存在安全隐患",
            platform_status="处理中",
        )
    for no, place in (
        ("N5", "示例镇和平路12号"),
        ("N6", "示例镇和平路120号"),
        ("N7", "示例镇和平路121号"),
    ):
        ticket(
            session,
            no,
            "2024-06-05",
            place,
            "路灯损坏多日不亮，夜间出行不安全",
            platform_status="处理中",
        )
    for k in range(4):  # four callers: one short of a concentrated complaint
        ticket(session, f"N{8 + k}", f"2024-06-{20 + k}", "示例镇赵中路9号", "广场舞音响声音过大",
               phone=f"1410000001{k}", callback_result=CallbackResult.SATISFIED, platform_status="已办结")  # fmt: skip
    for no, text in (
        ("N12", "新城大道路灯不亮"),
        ("N13", "新城大道道路积水严重"),
        ("N14", "新城大道窨井盖缺失"),
    ):
        ticket(session, no, "2024-06-06", "示例镇新城大道", text, platform_status="处理中")
    for no, category, text in (
        ("N15", "治安管理", "小区内电动车被盗"),
        ("N16", "劳动保障", "公司拖欠工资"),
        ("N17", "市容环境", "门口垃圾堆放"),
    ):
        ticket(session, no, "2024-06-07", "示例镇育才路19号", text, category=category,
               callback_result=CallbackResult.UNSATISFIED, platform_status="处理中")  # fmt: skip
    session.commit()
    assert groups(session) == [
        ("repeated", ("R1", "R2", "R3"), True),
        ("unsatisfied", ("R1", "R2"), True),
    ]


def test_a_vague_address_joins_tickets_only_by_similar_text(session):
    """A road without a house number is not one matter; near-identical complaints on it are."""
    for no, day, text in (
        ("V1", "2024-06-01", "新城大道路灯坏了好几盏，晚上很黑"),
        ("V2", "2024-06-08", "新城大道路灯坏了好几盏，晚上很黑，希望尽快修"),
        ("V3", "2024-06-15", "新城大道的路灯坏了好几盏，晚上很黑"),
        ("V4", "2024-06-16", "新城大道道路积水严重"),
    ):
        ticket(session, no, day, "示例镇新城大道", text, platform_status="处理中")
    session.commit()
    assert groups(session) == [("repeated", ("V1", "V2", "V3"), True)]


# --- already supervised -------------------------------------------------------------------


def test_tickets_already_in_an_open_case_are_shown_as_such_not_proposed(session):
    unit = make_unit(session)
    a = [ticket(session, f"A{k}", f"2024-06-0{k}", "示例镇丰泽苑3号楼", "楼上装修破坏承重墙",
                platform_status="处理中") for k in (1, 2, 3)]  # fmt: skip
    b = [ticket(session, f"B{k}", f"2024-06-0{k}", "示例镇丰泽苑4号楼", "外墙渗水多次报修未处理",
                platform_status="处理中") for k in (1, 2, 3)]  # fmt: skip
    case = make_case(session, unit, tickets=(a[0],), case_no="测试督〔2024〕第001号")
    make_case(session, unit, tickets=(b[0],), status=CaseStatus.CLOSED, closed_at=date(2024, 5, 1))
    session.commit()
    assert groups(session) == [
        ("repeated", ("A1", "A2", "A3"), False),
        ("repeated", ("B1", "B2", "B3"), True),  # a closed case does not stop a new one
    ]
    group = find_candidates(session, SYSTEM, AS_OF).by_rule(Rule.REPEATED)[0]
    assert group.cases == [(case.id, "测试督〔2024〕第001号")]
    assert group.reason.endswith("（已在督办事项 测试督〔2024〕第001号 中）")


# --- 市级督办 / 超期工单 -------------------------------------------------------------------------


def test_city_supervised_and_overdue_tickets_are_proposed(session):
    """§二 1 "市级督办事项", and tickets past the platform's due date still being handled."""
    ticket(session, "M1", "2024-06-01", "示例镇业辉路3号", "拖欠工资", city_supervised=True)
    ticket(session, "O1", "2024-06-01", "示例镇业辉路4号", "噪声扰民", platform_status="处理中",
           platform_due_at=datetime(2024, 6, 8, 17, 0))  # fmt: skip
    ticket(session, "O2", "2024-06-01", "示例镇业辉路5号", "噪声扰民", platform_status="已办结",
           platform_due_at=datetime(2024, 6, 8, 17, 0))  # fmt: skip
    ticket(session, "O3", "2024-06-25", "示例镇业辉路6号", "噪声扰民", platform_status="处理中",
           platform_due_at=datetime(2024, 7, 2, 17, 0))  # fmt: skip
    session.commit()
    assert groups(session) == [("city", ("M1",), True), ("overdue", ("O1",), True)]
    assert only(session, Rule.OVERDUE).reason == "超过平台办结期限仍未办结（最早期限 2024年6月8日）"


def test_one_click_case_prefill_carries_the_group(session, repeat_cluster):
    group = only(session, Rule.REPEATED)
    prefill = group.prefill()
    assert prefill["ticket_ids"] == group.ticket_ids
    assert prefill["scope"] == "repeated"
    assert prefill["title"] == "示例镇和睦家园12号楼：物业不维修电梯"
    assert prefill["reason"].startswith("重复投诉：近 90 天内同一事项投诉 3 次")


def test_staff_confirm_a_repeat_group_and_it_is_recorded_on_its_tickets(session, repeat_cluster):
    """§二 4 重复投诉多次: a confirmed group counts in the 重复投诉率 via Ticket.repeat_group."""
    group = only(session, Rule.REPEATED)
    assert mark_repeat_group(session, SYSTEM, group) == 3
    session.commit()
    marks = session.exec(
        select(Ticket.ticket_no, Ticket.repeat_group).order_by(Ticket.ticket_no)
    ).all()
    assert marks == [("R1", group.key), ("R2", group.key), ("R3", group.key)]
    audited = session.exec(select(AuditLog).where(AuditLog.field == "repeat_group")).all()
    assert len(audited) == 3
    assert mark_repeat_group(session, SYSTEM, group) == 0  # already marked: nothing changes


def test_only_repeat_groups_may_be_marked_and_only_by_staff(session, repeat_cluster):
    group = only(session, Rule.REPEATED)
    leader = Actor(user_id=None, username="leader", role=Role.LEADER)
    with pytest.raises(PermissionDenied):
        mark_repeat_group(session, leader, group)
    ticket(
        session, "C1", "2024-06-01", "示例镇育才路8号", "市级督办：路灯不亮", city_supervised=True
    )
    session.commit()
    (city,) = find_candidates(session, SYSTEM, AS_OF).by_rule(Rule.CITY)
    with pytest.raises(ValidationError, match="不是重复投诉"):
        mark_repeat_group(session, SYSTEM, city)


# --- the same-matter relation and its index ------------------------------------------------


@pytest.mark.parametrize(
    ("address", "specific"),
    [("示例镇和睦家园12号楼", True), ("示例一村3组", True), ("示例镇新城大道", False), ("", False)],
)
def test_an_address_is_specific_down_to_a_house_or_group(address, specific):
    assert is_specific(address) is specific


def test_nested_addresses_are_found_by_substring():
    addresses = ["示例镇和睦家园12号楼", "和睦家园12号楼", "示例镇和睦家园12号楼302室", "示例镇和平路12号",
                 "示例镇和平路120号", "示例镇"]  # fmt: skip
    assert nested_addresses(addresses) == [
        ("和睦家园12号楼", "示例镇和睦家园12号楼"),
        ("和睦家园12号楼", "示例镇和睦家园12号楼302室"),
        ("示例镇和睦家园12号楼", "示例镇和睦家园12号楼302室"),
    ]


def test_nested_pairs_of_a_few_new_addresses_are_those_of_all_pairs():
    """An incremental run pairs only its new addresses with the known ones; the pairs are
    the same as pairing everything and keeping those holding a new address."""
    rng = random.Random(2)
    parts = ["示例镇", "和睦家园", "和平路", "12号", "120号", "3号楼", "302室", "1组", "新城大道"]
    for _ in range(50):
        known = {normalize_address("".join(rng.choices(parts, k=rng.randrange(1, 5))))
                 for _ in range(300)}  # fmt: skip
        new = {*rng.sample(sorted(known), 3), normalize_address("".join(rng.choices(parts, k=3)))}
        everything = sorted(known | new)
        expected = [p for p in nested_addresses(everything) if p[0] in new or p[1] in new]
        assert matters._nested_with(everything, new) == expected


def test_text_is_compared_without_punctuation_or_width():
    assert normalize_text("ＡＢ路 12号，漏水！") == "ab路12号漏水"


def all_pairs_components(
    addresses: list[str], contents: list[str], categories: list[str], phones: list[str]
) -> list[list[int]]:
    """The definition, literally: components of `same_matter` over every pair."""
    texts = [normalize_text(c) for c in contents]
    sets = [bigrams(t) for t in texts]
    words = [key_words(t, a) for t, a in zip(texts, addresses, strict=True)]
    parent = list(range(len(addresses)))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for i in range(len(addresses)):
        for j in range(i + 1, len(addresses)):
            score = jaccard(sets[i], sets[j])
            caller = len(phones[i]) >= 7 and phones[i] == phones[j]
            if same_matter(addresses[i], addresses[j], score, 0.6, categories[i], categories[j],
                           shared=len(words[i] & words[j]), no_text=not texts[i] and not texts[j],
                           same_caller=caller):  # fmt: skip
                parent[find(j)] = find(i)
    roots = {find(i) for i in range(len(addresses))}
    return sorted(sorted(k for k in range(len(addresses)) if find(k) == r) for r in roots)


def test_the_index_finds_exactly_the_matters_of_all_pairs():
    """The indexed grouping equals the connected components of `same_matter` over all pairs:
    near-identical texts, shared key words of one category, one caller at one address."""
    rng = random.Random(3)
    places = ["和平路12号", "示例镇和平路12号", "和平路", "和平路120号", "", "和睦家园"]
    words = ["路灯不亮", "路灯坏了不亮", "夜间施工噪声扰民", "夜间施工噪声很大扰民", "积水",
             "门口垃圾没人收", "垃圾堆放多日", ""]  # fmt: skip
    for _ in range(40):
        n = rng.randrange(2, 30)
        addresses = [parse_address(rng.choice(places)).key for _ in range(n)]
        contents = [rng.choice(words) + rng.choice(["", "，请处理", "！"]) for _ in range(n)]
        categories = [rng.choice(["", "市容环境", "噪声扰民"]) for _ in range(n)]
        phones = [rng.choice(["", "13800000001", "13800000002", "110"]) for _ in range(n)]
        found = sorted(
            m.members for m in group_matters(addresses, contents, 60, categories, phones=phones)
        )
        assert found == all_pairs_components(addresses, contents, categories, phones)


# --- CLI -----------------------------------------------------------------------------------


def test_cli_prints_one_group_per_line(session, repeat_cluster, capsys):
    assert main(["candidates", "--as-of", "2024-06-28"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split("\t")[:2] == ["重复投诉", "R1 R2 R3"]
    assert lines[1].split("\t")[:2] == ["不满意回访", "R1 R2"]
    assert "内容相似度 0.74" in lines[0]
    assert len(lines) == 2


def test_cli_writes_csv(session, repeat_cluster, capsys):
    assert main(["candidates", "--as-of", "2024-06-28", "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["规则", "工单编号", "理由"]
    assert [r[:2] for r in rows[1:]] == [["重复投诉", "R1 R2 R3"], ["不满意回访", "R1 R2"]]


def test_windows_count_back_from_the_day_of_analysis(session, repeat_cluster):
    later = AS_OF + timedelta(days=60)  # R1 and R2 fall out of the 90-day window
    assert find_candidates(session, SYSTEM, later).groups == ()


# --- the stored index: an incremental run equals a full one --------------------------------


def signature(result) -> list[tuple]:
    """Everything a group shows: rule, tickets, reason, evidence, callers, open cases."""
    return [
        (
            g.rule.value,
            tuple(g.ticket_nos),
            g.reason,
            g.similar,
            g.shared_addresses,
            g.callers,
            g.open_cases,
        )  # fmt: skip
        for g in result.groups
    ]


def incremental_and_full(session, as_of: datetime = AS_OF):
    """A run as the page makes it (the index kept, committed), then a full rebuild of the
    index from nothing, rolled back so the next run is incremental again."""
    mine = find_candidates(session, SYSTEM, as_of)
    session.commit()
    full = find_candidates(session, SYSTEM, as_of, rebuild=True)
    session.rollback()
    assert full.index.rebuilt
    assert signature(mine) == signature(full)
    return mine


def nos(result, rule: Rule) -> list[tuple[str, ...]]:
    return [tuple(g.ticket_nos) for g in result.by_rule(rule)]


@pytest.fixture
def town(session):
    """A repeat cluster over three spellings of one building, a vague road with reworded
    complaints, one door with two kinds of complaint, and a 市级督办 ticket from before the
    window still open."""
    who = {"caller": "张先生", "phone": "14700000001"}
    ticket(session, "R1", "2024-05-06", "示例镇和睦家园12号楼", ELEVATOR,
           callback_result=CallbackResult.UNSATISFIED, platform_status="已办结", **who)  # fmt: skip
    ticket(session, "R2", "2024-05-20", "示例镇和睦家园12号楼", "电梯又坏了，物业还是不修，老人上楼很困难",
           callback_result=CallbackResult.UNSATISFIED, platform_status="已办结", **who)  # fmt: skip
    ticket(session, "R3", "2024-06-10", "和睦家园12号楼", ELEVATOR + "，已经反映过多次",
           platform_status="处理中", **who)  # fmt: skip
    for no, day, text in (
        ("V1", "2024-06-01", "新城大道路灯坏了好几盏，晚上很黑"),
        ("V2", "2024-06-08", "新城大道路灯坏了好几盏，晚上很黑，希望尽快修"),
        ("V3", "2024-06-16", "新城大道道路积水严重"),
    ):
        ticket(session, no, day, "示例镇新城大道", text, platform_status="处理中")
    ticket(session, "D1", "2024-06-03", "示例镇育才路19号", "门口垃圾堆放", category="市容环境",
           platform_status="处理中")  # fmt: skip
    ticket(session, "D2", "2024-06-04", "示例镇育才路19号", "门口垃圾堆放无人清运", category="市容环境",
           platform_status="处理中")  # fmt: skip
    ticket(session, "M0", "2024-01-15", "示例镇业辉路3号", "拖欠工资", city_supervised=True,
           platform_status="处理中")  # fmt: skip
    session.commit()


def test_a_second_run_with_nothing_new_prepares_nothing(session, town):
    first = find_candidates(session, SYSTEM, AS_OF)
    session.commit()
    assert first.index.rebuilt and first.index.prepared == 9  # the window, and M0
    again = find_candidates(session, SYSTEM, AS_OF)
    assert (again.index.rebuilt, again.index.prepared, again.index.links) == (False, 0, 0)
    assert signature(again) == signature(first)
    assert again.index.last is not None and again.index.last.prepared == 9


def test_incremental_runs_equal_full_runs_as_tickets_arrive_change_and_go(session, town):
    """After each change the kept index gives exactly what a rebuild from nothing gives,
    having prepared only the tickets that are new or whose matter could have changed."""
    incremental_and_full(session)

    # new tickets: one spelling with the flat joins the building's complaints, one
    # rewording joins the road's lamps, another kind of complaint comes to the door
    ticket(session, "R4", "2024-06-20", "示例镇和睦家园12号楼302室", ELEVATOR + "，还是没有修好",
           platform_status="处理中", caller="李女士", phone="14700000002")  # fmt: skip
    ticket(session, "V4", "2024-06-21", "示例镇新城大道", "新城大道的路灯坏了好几盏，晚上很黑",
           platform_status="处理中")  # fmt: skip
    ticket(session, "D3", "2024-06-22", "示例镇育才路19号", "门口垃圾堆放，无人清运", category="物业服务",
           platform_status="处理中")  # fmt: skip
    session.commit()
    mine = incremental_and_full(session)
    assert mine.index.prepared == 3
    assert ("R1", "R2", "R3", "R4") in nos(mine, Rule.REPEATED)
    assert ("V1", "V2", "V4") in nos(mine, Rule.REPEATED)
    assert ("D1", "D2", "D3") in nos(mine, Rule.REPEATED)  # two categories, one wording

    # an edited address takes the ticket out of its matter
    r2 = session.exec(select(Ticket).where(Ticket.ticket_no == "R2")).one()
    apply_changes(session, SYSTEM, r2, {"address": "示例镇丰收路7号",
                  "address_norm": normalize_address("示例镇丰收路7号")},
                  expected_version=None, label="R2")  # fmt: skip
    session.commit()
    mine = incremental_and_full(session)
    assert mine.index.prepared == 1
    assert ("R1", "R3", "R4") in nos(mine, Rule.REPEATED)

    # a new callback only: judged afresh, nothing to compare again
    v4 = session.exec(select(Ticket).where(Ticket.ticket_no == "V4")).one()
    apply_changes(session, SYSTEM, v4, {"callback_result": CallbackResult.SATISFIED,
                  "platform_status": "已办结"}, expected_version=None, label="V4")  # fmt: skip
    session.commit()
    mine = incremental_and_full(session)
    assert mine.index.prepared == 0
    assert ("V1", "V2", "V4") not in nos(mine, Rule.REPEATED)  # the latest is 满意 and done

    # a deleted ticket leaves its matter; a new spelling nested only in the deleted one's is
    # still compared with it, so once restored the three join again without a new comparison
    r3 = session.exec(select(Ticket).where(Ticket.ticket_no == "R3")).one()
    soft_delete(session, SYSTEM, r3, expected_version=None, label="R3")
    session.commit()
    mine = incremental_and_full(session)
    assert ("R1", "R3", "R4") not in nos(mine, Rule.REPEATED)
    ticket(session, "R5", "2024-06-25", "新和睦家园12号楼", ELEVATOR + "，已经反映过多次！",
           platform_status="处理中")  # fmt: skip
    session.commit()
    mine = incremental_and_full(session)
    assert mine.index.prepared == 1 and "R5" not in str(nos(mine, Rule.REPEATED))
    restore(session, SYSTEM, session.exec(select(Ticket).where(Ticket.ticket_no == "R3")).one())
    session.commit()
    mine = incremental_and_full(session)
    assert mine.index.prepared == 0
    assert ("R1", "R3", "R4", "R5") in nos(mine, Rule.REPEATED)


def test_a_late_ticket_meets_indexed_tickets_from_before_the_window(session, town):
    """A ticket imported late (received 2024-04-02) is compared with tickets indexed by an
    earlier analysis that the current window no longer holds, so looking back to a day
    when they were all recent gives what a full run gives."""
    lamps = "新城大道路灯坏了好几盏，晚上很黑"
    ticket(session, "E1", "2024-03-10", "示例镇新城大道", lamps, platform_status="处理中")
    ticket(
        session,
        "E2",
        "2024-03-20",
        "示例镇新城大道",
        lamps + "，希望尽快修",
        platform_status="处理中",
    )
    session.commit()
    assert nos(incremental_and_full(session, datetime(2024, 3, 25)), Rule.REPEATED) == []
    incremental_and_full(session)  # as of 2024-06-28: E1 and E2 are outside the window
    ticket(session, "L1", "2024-04-02", "示例镇新城大道", lamps + "！", platform_status="处理中")
    session.commit()
    assert incremental_and_full(session).index.prepared == 1
    earlier = incremental_and_full(session, datetime(2024, 4, 20))
    assert earlier.index.prepared == 0
    assert nos(earlier, Rule.REPEATED) == [("E1", "E2", "L1")]


def test_a_new_city_ticket_meets_closed_city_tickets_that_may_reopen(session, town):
    """市级督办 tickets are grouped at any distance in time, so a new one is compared with
    the indexed ones a window no longer holds: M0 closed is out of the window, open again it
    is back, joined to the new one at its other spelling without a new comparison."""
    incremental_and_full(session)
    m0 = session.exec(select(Ticket).where(Ticket.ticket_no == "M0")).one()
    apply_changes(session, SYSTEM, m0, {"platform_status": "已办结"}, expected_version=None,
                  label="M0")  # fmt: skip
    session.commit()
    assert nos(incremental_and_full(session), Rule.CITY) == []
    ticket(session, "M1", "2024-06-20", "业辉路3号", "拖欠工资！", city_supervised=True,
           platform_status="处理中")  # fmt: skip
    session.commit()
    assert nos(incremental_and_full(session), Rule.CITY) == [("M1",)]
    apply_changes(session, SYSTEM, m0, {"platform_status": "处理中"}, expected_version=None,
                  label="M0")  # fmt: skip
    session.commit()
    mine = incremental_and_full(session)
    assert mine.index.prepared == 0
    assert nos(mine, Rule.CITY) == [("M0", "M1")]


def test_open_city_tickets_from_before_the_window_stay_joined(session):
    """Two 市级督办 tickets about one matter, both older than the window and still open,
    are one group whichever run found their link."""
    ticket(session, "C1", "2024-01-10", "示例镇业辉路3号", "拖欠工资三个月", city_supervised=True,
           platform_status="处理中")  # fmt: skip
    ticket(session, "C2", "2024-02-10", "业辉路3号", "拖欠工资三个月了", city_supervised=True,
           platform_status="处理中")  # fmt: skip
    session.commit()
    assert nos(incremental_and_full(session, datetime(2024, 2, 15)), Rule.CITY) == [("C1", "C2")]
    mine = incremental_and_full(session)
    assert mine.index.prepared == 0
    assert nos(mine, Rule.CITY) == [("C1", "C2")]


def test_the_evidence_kept_does_not_depend_on_the_order_links_are_read():
    """Of several equally strong links between two nodes, the earliest tickets' is kept."""
    nodes = [("a", "x"), ("a", "x"), ("a", "y")]
    wordings = ["w0", "w1", "w2"]
    links = [("w1", "w2", 0.75), ("w0", "w2", 0.75)]
    for order in (links, links[::-1]):
        (matter,) = matters._Matters.of(nodes, wordings, order).group()
        assert matter.links == [analysis.Link(0, 2, 0.75)]


def test_two_runs_at_once_prepare_each_ticket_once(engine, session, town):
    """A second analysis started while the first still holds its new index rows uncommitted
    waits for it, then finds the tickets prepared: nothing is prepared twice."""
    first = find_candidates(session, SYSTEM, AS_OF)  # holds the index lock until it commits
    assert first.index.rebuilt
    second: list = []

    def run() -> None:
        with Session(engine) as other:
            second.append(find_candidates(other, SYSTEM, AS_OF))
            other.commit()

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(0.5)  # let it reach the lock (it waits there whether or not it got that far)
    session.commit()
    worker.join(timeout=60)
    (found,) = second
    assert (found.index.rebuilt, found.index.prepared) == (False, 0)
    assert signature(found) == signature(first)


def test_a_new_algorithm_version_or_threshold_rebuilds_the_index(session, town, monkeypatch):
    incremental_and_full(session)
    monkeypatch.setattr(index, "INDEX_VERSION", index.INDEX_VERSION + 1)
    mine = incremental_and_full(session)
    assert mine.index.rebuilt and mine.index.prepared == 9
    set_setting(session, SYSTEM, "candidate_similarity_percent", 80)
    session.commit()
    mine = incremental_and_full(session)
    assert mine.index.rebuilt
    assert ("V1", "V2") not in nos(mine, Rule.REPEATED)  # 0.8 keeps the lamps apart
    set_setting(session, SYSTEM, "candidate_repeat_window_days", 120)  # a longer look-back
    session.commit()
    mine = incremental_and_full(session)
    assert mine.index.rebuilt and mine.index.last.horizon_days == 120
    assert find_candidates(session, SYSTEM, AS_OF).index.prepared == 0


def shake(session, rng, count: int, kinds: list[str], changed, restore_odds: float) -> None:
    """Random edits: `count` live tickets each deleted or changed in one of `kinds` (the
    fields `changed(ticket, kind)` gives), then now and then a deleted one restored."""
    live = session.exec(select(Ticket).where(Ticket.deleted_at.is_(None))).all()
    for t in rng.sample(live, count):
        change = rng.choice([*kinds, "delete"])
        if change == "delete":
            soft_delete(session, SYSTEM, t, expected_version=None, label=t.ticket_no)
            continue
        apply_changes(session, SYSTEM, t, changed(t, change), expected_version=None,
                      label=t.ticket_no)  # fmt: skip
    gone = session.exec(select(Ticket).where(Ticket.deleted_at.is_not(None))).all()
    if gone and rng.random() < restore_odds:
        restore(session, SYSTEM, rng.choice(gone))
    session.commit()


def test_random_changes_keep_incremental_runs_equal_to_full_runs(session):
    """Tickets arrive, move, change wording or category, get deleted and restored, in a
    random order over places that nest and wordings that nearly repeat."""
    rng = random.Random(11)
    places = ["示例镇和平路12号", "和平路12号", "示例镇和平路12号302室", "示例镇和平路", "",
              "示例镇和睦家园", "示例镇和睦家园3号楼", "和睦家园3号楼"]  # fmt: skip
    words = ["路灯不亮", "路灯坏了不亮", "夜间施工噪声扰民", "夜间施工噪声很大扰民", "积水严重"]
    kinds = ["", "市容环境", "噪声扰民"]

    def fields() -> dict:
        place = rng.choice(places)
        return {
            "address": place, "address_norm": normalize_address(place),
            "content": rng.choice(words) + rng.choice(["", "，请处理", "！", "，多次反映"]),
            "category": rng.choice(kinds), "city_supervised": rng.random() < 0.15,
            "platform_status": rng.choice(["处理中", "已办结"]),
            "callback_result": rng.choice(list(CallbackResult)),
        }  # fmt: skip

    made = 0

    def add(count: int) -> None:
        nonlocal made
        for _ in range(count):
            made += 1
            day = AS_OF - timedelta(days=rng.randrange(0, 130), hours=rng.randrange(0, 9))
            make_ticket(session, ticket_no=f"X{made:03d}", received_at=day, phone=f"141{made:08d}",
                        **fields())  # fmt: skip
        session.commit()

    add(40)
    for step in range(8):

        def changed(ticket: Ticket, change: str) -> dict:
            values = fields()
            keep = {"move": ("address", "address_norm"), "reword": ("content",),
                    "kind": ("category", "city_supervised"),
                    "status": ("platform_status", "callback_result")}[change]  # fmt: skip
            return {k: values[k] for k in keep}

        shake(session, rng, 4, ["move", "reword", "kind", "status"], changed, restore_odds=0.5)
        add(rng.randrange(1, 6))
        as_of = AS_OF - timedelta(days=rng.choice([0, 0, 0, 15, 45]))
        mine = incremental_and_full(session, as_of)
        assert mine.groups, f"step {step}: nothing to compare"


def test_candidates_reach_a_leader_with_callers_masked_and_refuse_a_unit_user(session):
    """The groups span every unit: a unit user is refused; a leader without contact rights
    sees callers, phones and numbers inside the content masked (the analysis masks, not
    the page)."""
    for no, day in (("M1", "2024-06-10"), ("M2", "2024-06-12"), ("M3", "2024-06-14")):
        ticket(session, no, day, "示例镇和睦家园12号楼302室", ELEVATOR + "，回电13812345678",
               caller="张先生", phone="13812345678", platform_status="处理中")  # fmt: skip
    session.commit()
    leader = Actor(user_id=None, username="领导", role=Role.LEADER)
    group = find_candidates(session, leader, AS_OF).by_rule(Rule.REPEATED)[0]
    assert {(t.caller, t.phone) for t in group.tickets} == {("张**", "138****5678")}
    assert all("13812345678" not in t.content for t in group.tickets)
    staff = find_candidates(session, SYSTEM, AS_OF).by_rule(Rule.REPEATED)[0]
    assert {(t.caller, t.phone) for t in staff.tickets} == {("张先生", "13812345678")}
    clerk = Actor(user_id=None, username="联络员", role=Role.UNIT, unit_id=1)
    with pytest.raises(PermissionDenied, match="查看督办线索"):
        find_candidates(session, clerk, AS_OF)
