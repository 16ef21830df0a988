"""首页, 看板 and 督办线索 through AppTest: what a leader and the center's staff see and click.

The pages use today's date, so the data is placed relative to it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa
import pytest
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from duban.clock import today
from duban.enums import CallbackResult, Level, Progress, Role, StepStatus
from duban.models import CaseTicket
from duban.permissions import Actor
from duban.settings import get_setting
from duban.text import normalize_address
from tests.factories import make_case, make_feedback, make_step, make_ticket, make_unit
from tests.helpers import open_page

ADMIN = Actor(None, "admin", Role.ADMIN)
LEADER = Actor(None, "leader", Role.LEADER)
CLERK = Actor(None, "clerk", Role.CENTER)


@pytest.fixture
def world(engine):
    """镇城建中心: one step 30 days overdue. 镇城管中队: an on-site step due today, and a
    written case whose feedback says 无进展 (eligible to go up a level)."""
    day = today()
    with Session(engine) as s:
        town, patrol = make_unit(s, "镇城建中心"), make_unit(s, "镇城管中队")
        late = make_case(s, town, case_no="逾期件", title="路灯损坏", opened_at=day - timedelta(40))
        make_step(s, late, issued_at=day - timedelta(40), due_at=day - timedelta(30))
        soon = make_case(s, patrol, case_no="到期件", title="占道经营", level=Level.ONSITE,
                         opened_at=day - timedelta(3))  # fmt: skip
        make_step(s, soon, issued_at=day - timedelta(3), due_at=day)
        stuck = make_case(
            s, patrol, case_no="无进展件", title="违章搭建", opened_at=day - timedelta(10)
        )
        step = make_step(s, stuck, issued_at=day - timedelta(10), due_at=day + timedelta(30),
                         status=StepStatus.CLOSED)  # fmt: skip
        make_feedback(s, step, received_at=day - timedelta(2), progress=Progress.NONE)
        s.commit()
        return {"town": town.id, "patrol": patrol.id, "late": late.id, "soon": soon.id,
                "stuck": stuck.id}  # fmt: skip


def shown(at: AppTest, column: str = "督办编号") -> list:
    return at.dataframe[0].value[column].tolist() if at.dataframe else []


# --- 首页 ----------------------------------------------------------------------------------


def test_home_shows_todays_numbers_and_the_three_urgent_lists(world):
    at = open_page(LEADER, "pages/home.py")
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["在办督办事项"], metrics["逾期环节"]) == ("3", "1")
    assert (metrics["即将到期"], metrics["待提级"]) == ("1", "2")
    assert [h.value for h in at.subheader] == ["逾期最久", "即将到期", "待提级"]
    links = [(p.label, p.proto.query_string) for p in at.page_link]
    assert links == [
        ("逾期件 路灯损坏", f"case={world['late']}"),
        ("到期件 占道经营", f"case={world['soon']}"),
        ("逾期件 路灯损坏", f"case={world['late']}"),
        ("无进展件 违章搭建", f"case={world['stuck']}"),
    ]
    assert "逾期 " in at.caption[1].value and "个工作日 · 未反馈" in at.caption[1].value


def test_a_unit_user_sees_their_own_unit_on_the_home_page(world):
    at = open_page(Actor(None, "城建", Role.UNIT, unit_id=world["town"]), "pages/home.py")
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["在办督办事项"], metrics["逾期环节"], metrics["待提级"]) == ("1", "1", "1")


# --- 看板 ----------------------------------------------------------------------------------


def test_the_overdue_board_links_every_row_to_its_case(world):
    """A click on a row opens its case in the same tab: each row carries its case (hidden)."""
    at = open_page(LEADER, "pages/boards.py")
    assert [t.label for t in at.tabs] == ["逾期", "即将到期", "待提级", "承办单位"]
    assert shown(at) == ["逾期件"]
    assert shown(at, "case_id") == [world["late"]]
    assert "点选一行即打开该督办事项" in [c.value for c in at.caption]
    assert shown(at, "最近反馈") == ["未反馈"]


def test_the_due_soon_board_opens_from_its_url(world):
    at = open_page(LEADER, "pages/boards.py", boards_tab="即将到期")
    assert shown(at) == ["到期件"]
    assert shown(at, "督办类型") == ["现场协调督办"]


def test_the_escalation_board_offers_one_click_escalation(world):
    at = open_page(CLERK, "pages/boards.py", boards_tab="待提级")
    assert shown(at) == ["逾期件", "无进展件"] or shown(at) == ["无进展件", "逾期件"]
    links = dict(zip(shown(at), shown(at, "case_id"), strict=True))
    assert links["无进展件"] == world["stuck"]
    assert "点选一行即打开该事项的提级表单" in at.caption[-1].value
    assert "无进展" in dict(zip(shown(at), shown(at, "理由"), strict=True))["无进展件"]


def test_filters_apply_to_every_board(world):
    at = open_page(LEADER, "pages/boards.py")
    at.selectbox(key="boards_level").set_value(Level.ONSITE).run()
    assert not at.dataframe and at.success[0].value == "没有逾期的督办环节。"
    at.session_state["boards_tab"] = "即将到期"
    at.run()
    assert shown(at) == ["到期件"]


def chart_rows(chart) -> set[tuple]:
    """The rows a chart sends to the browser (its datasets, in Arrow IPC), as (who, what, n)."""
    rows = set()
    for dataset in chart.proto.datasets:
        for row in pa.ipc.open_stream(dataset.data.data).read_all().to_pylist():
            rows.add((row.get("承办单位", row.get("月份")), row["指标"], row["数量"]))
    return rows


def test_the_unit_board_is_a_table_with_charts_and_a_unit_pick_filters_the_others(world):
    at = open_page(LEADER, "pages/boards.py", boards_tab="承办单位")
    table = at.dataframe[0].value.set_index("承办单位")
    assert table.loc["镇城建中心", ["在办督办事项", "逾期环节"]].tolist() == [1, 1]
    assert table.loc["镇城管中队", ["在办督办事项", "逾期环节"]].tolist() == [2, 0]
    bars, trend = at.get("vega_lite_chart")  # bar per unit, trend per month
    assert chart_rows(bars) >= {("镇城建中心", "逾期环节", 1), ("镇城管中队", "在办督办事项", 2)}
    assert {kind for _, kind, _ in chart_rows(trend)} == {"新立案", "到期环节", "逾期环节"}
    # picking 镇城管中队 (row or bar) sets the unit filter the other boards read
    at.session_state["boards_unit"] = world["patrol"]
    del at.query_params["boards_tab"]  # the user switches tabs
    at.session_state["boards_tab"] = "逾期"
    at.run()
    assert at.success[0].value == "没有逾期的督办环节。"
    at.session_state["boards_tab"] = "待提级"
    at.run()
    assert shown(at) == ["无进展件"]


def test_a_link_can_open_a_board_filtered_to_one_unit(world):
    at = open_page(LEADER, "pages/boards.py", boards_tab="待提级", boards_unit="镇城管中队")
    assert at.selectbox(key="boards_unit").value == world["patrol"]
    assert shown(at) == ["无进展件"]


def test_a_unit_user_cannot_look_at_other_units(world):
    at = open_page(Actor(None, "城管", Role.UNIT, unit_id=world["patrol"]), "pages/boards.py",
                   boards_tab="待提级", boards_unit=str(world["town"]))  # fmt: skip
    assert at.selectbox(key="boards_own").value == "镇城管中队"
    assert at.selectbox(key="boards_own").disabled
    assert shown(at) == ["无进展件"]  # 镇城建中心's overdue case is not theirs


# --- 督办线索 ------------------------------------------------------------------------------


@pytest.fixture
def cluster(engine):
    """Three complaints about one building in the last weeks, the latest still 处理中."""
    now = datetime.combine(today(), datetime.min.time()) + timedelta(hours=9)
    with Session(engine) as s:
        ids = [
            make_ticket(
                s,
                ticket_no=f"R{k}",
                received_at=now - timedelta(days=20 - 5 * k),
                address="示例镇和睦家园12号楼",
                address_norm=normalize_address("示例镇和睦家园12号楼"),
                content="物业不维修电梯，电梯经常故障停运" + "，又坏了" * k,
                category="物业服务",
                caller="张先生",
                phone="14700000001",
                platform_status="处理中",
                callback_result=CallbackResult.UNSATISFIED,
            ).id
            for k in (1, 2, 3)
        ]
        s.commit()
    return ids


def test_candidates_show_groups_with_reasons_and_thresholds(cluster):
    at = open_page(CLERK, "pages/candidates.py")
    assert [t.label for t in at.tabs] == [
        "重复投诉（1）", "集中投诉（0）", "不满意回访（1）", "市级督办（0）", "超期工单（0）",
        "热线考核失分（0）",
    ]  # fmt: skip
    page = "\n".join(m.value for m in at.markdown)
    assert "示例镇和睦家园12号楼：物业服务" in page
    assert "重复投诉：同一事项近 90 天内投诉 ≥ 3 次" in page
    assert any("近 90 天内同一事项投诉 3 次" in m.value for m in at.markdown)
    groups = [d.value for d in at.dataframe if "联系电话" in d.value.columns]
    assert groups[0]["联系电话"].tolist() == ["14700000001"] * 3


def test_one_click_open_a_case_from_a_group(cluster):
    """立案 hands the group to 新建督办 (`case_new_prefill`) and opens it."""
    at = open_page(CLERK, "pages/candidates.py")
    at.button(key="candidates_open_repeated-R1").click().run()
    assert not at.exception
    assert at.title[0].value == "新建督办"
    assert at.session_state["case_new_ticket_ids"] == cluster
    assert at.session_state["case_new_scope"].value == "repeated"
    assert at.session_state["case_new_title"] == "示例镇和睦家园12号楼：物业服务"


def test_a_group_already_supervised_links_to_its_case_instead(engine, cluster):
    with Session(engine) as s:
        case = make_case(s, make_unit(s), case_no="已督办件")
        s.add(CaseTicket(case_id=case.id, ticket_id=cluster[0]))
        s.commit()
        case_id = case.id
    at = open_page(CLERK, "pages/candidates.py")
    assert not [b for b in at.button if b.label == "立案"]
    assert [(p.value, p.proto.query_string) for p in at.page_link] == [
        ("已督办件", f"case={case_id}")
    ]


def test_an_admin_tunes_the_thresholds_where_they_take_effect(engine, cluster):
    at = open_page(ADMIN, "pages/candidates.py")
    assert at.tabs[0].label == "重复投诉（1）"
    (field,) = [n for n in at.number_input if n.label == "重复投诉：最少投诉次数"]
    field.set_value(4)
    [b for b in at.button if b.label == "保存阈值"][0].click().run()
    assert not at.exception
    assert at.success[0].value == "已保存：重复投诉：最少投诉次数"
    assert at.tabs[0].label == "重复投诉（0）"
    with Session(engine) as s:
        assert get_setting(s, "candidate_repeat_min") == 4


def test_the_center_reads_the_thresholds_but_does_not_change_them(cluster):
    at = open_page(CLERK, "pages/candidates.py")
    assert not [b for b in at.button if b.label == "保存阈值"]
    assert "阈值由管理员在此调整。" in [c.value for c in at.caption]


def pick_row(at: AppTest, key: str, row: int) -> AppTest:
    """One click on a board's row (its selection, as the browser sends it)."""
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_click_on_a_board_row_opens_its_case_in_the_same_tab(world):
    at = pick_row(open_page(LEADER, "pages/boards.py"), "boards_overdue", 0)
    assert at.title[0].value == "逾期件\u3000路灯损坏"
    assert dict(at.query_params) == {"case": str(world["late"])}


def test_a_click_on_a_waiting_case_opens_its_escalation_form(world):
    at = open_page(CLERK, "pages/boards.py", boards_tab="待提级")
    row = shown(at).index("无进展件")
    at = pick_row(at, "boards_escalation", row)
    assert dict(at.query_params) == {"case": str(world["stuck"]), "action": "escalate"}
    assert at.expander[0].label == "提级" and at.expander[0].proto.expanded
