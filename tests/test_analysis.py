"""Supervision candidates (督办线索) on small ticket sets whose right answer is known.

Seed §三(一)1: "镇城运中心对各类工单进行分析，综合诉求内容、承办单位办理情况、回访市民反馈情况等
方面，确定督办事项"; the rules follow §二: 1. 市级督办事项; 4. 重复投诉多次，且办理工作未有明显进展
的事项; 5. 多人次集中投诉 … 的事项.
"""

from __future__ import annotations

import csv
import io
import random
from datetime import date, datetime, timedelta

import pytest
from sqlmodel import select

from duban.analysis import (
    Rule,
    bigrams,
    find_candidates,
    group_matters,
    is_specific,
    jaccard,
    mark_repeat_group,
    nested_addresses,
    normalize_text,
    same_matter,
)
from duban.cli import main
from duban.enums import CallbackResult, CaseStatus, Role
from duban.errors import PermissionDenied, ValidationError
from duban.models import AuditLog, Ticket
from duban.permissions import SYSTEM, Actor
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
    result = find_candidates(session, AS_OF, **kw)
    return [(g.rule.value, tuple(g.ticket_nos), g.proposed) for g in result.groups]


def only(session, rule: Rule):
    (group,) = find_candidates(session, AS_OF).by_rule(rule)
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
    assert [(s.ticket_a, s.ticket_b) for s in group.similar] == [("R1", "R3")]
    assert group.similar[0].score == pytest.approx(0.74, abs=0.01)
    assert group.reason.startswith(
        "近 90 天内同一事项投诉 3 次；最近一次（2024年6月10日）回访“无记录”"
    )
    assert "同一地址“示例镇和睦家园12号楼”（2 张）" in group.reason
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
    group = find_candidates(session, AS_OF).by_rule(Rule.REPEATED)[0]
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
    assert only(session, Rule.OVERDUE).reason == "超过平台办结期限仍未办结（最长超期 20 天）"


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
    (city,) = find_candidates(session, AS_OF).by_rule(Rule.CITY)
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


def test_text_is_compared_without_punctuation_or_width():
    assert normalize_text("ＡＢ路 12号，漏水！") == "ab路12号漏水"


def all_pairs_components(
    addresses: list[str], contents: list[str], categories: list[str]
) -> list[list[int]]:
    """The definition, literally: components of `same_matter` over every pair."""
    sets = [bigrams(normalize_text(c)) for c in contents]
    parent = list(range(len(addresses)))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for i in range(len(addresses)):
        for j in range(i + 1, len(addresses)):
            score = jaccard(sets[i], sets[j])
            if same_matter(addresses[i], addresses[j], score, 0.6, categories[i], categories[j]):
                parent[find(j)] = find(i)
    roots = {find(i) for i in range(len(addresses))}
    return sorted(sorted(k for k in range(len(addresses)) if find(k) == r) for r in roots)


def test_the_index_finds_exactly_the_matters_of_all_pairs():
    """The indexed grouping equals the connected components of `same_matter` over all pairs."""
    rng = random.Random(3)
    places = [
        "示例镇和平路12号",
        "和平路12号",
        "示例镇和平路",
        "示例镇和平路120号",
        "",
        "示例镇和睦家园",
    ]
    words = ["路灯不亮", "路灯坏了不亮", "夜间施工噪声扰民", "夜间施工噪声很大扰民", "积水", ""]
    for _ in range(30):
        n = rng.randrange(2, 25)
        addresses = [normalize_address(rng.choice(places)) for _ in range(n)]
        contents = [rng.choice(words) + rng.choice(["", "，请处理", "！"]) for _ in range(n)]
        categories = [rng.choice(["", "市容环境", "噪声扰民"]) for _ in range(n)]
        found = sorted(m.members for m in group_matters(addresses, contents, 60, categories))
        assert found == all_pairs_components(addresses, contents, categories)


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
    assert find_candidates(session, later).groups == ()
