"""热线考核 (docs/KPI.md): the platform's per-unit score computed from hand-built tickets, each
cell compared with the answer worked out by hand below.

The town (March 2024):
- 村居: 和睦村 (kind 村居; four tickets, one overdue by the platform's word, one finished late,
  one still open past its 办理时限; a manual deduction of 0.5), 新城居委会 (a 部门 by kind,
  a 村居 by its name; one ticket, no callback), 东村 (no tickets).
- 部门: 规划办 (one perfect ticket), 城建中心 and 城管中队 (equal totals by different ways:
  a tie), 市场所 (one bad ticket).
Outside the period: a February ticket of 和睦村; a deleted ticket; a ticket without a unit.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from duban import score
from duban.analysis import Rule, find_candidates
from duban.enums import CallbackResult, Resolution, Role, UnitKind
from duban.errors import PermissionDenied, ValidationError
from duban.kpi import Period
from duban.models import AuditLog, ScoreDeduction, Unit
from duban.permissions import SYSTEM, Actor, Perm
from tests.factories import make_ticket, make_unit

ROOT = Path(__file__).resolve().parent.parent
MARCH = Period.month(2024, 3)
CENTER = Actor(user_id=None, username="center", role=Role.CENTER)
LEADER = Actor(user_id=None, username="leader", role=Role.LEADER)
S, B, U, N = (CallbackResult.SATISFIED, CallbackResult.BASIC, CallbackResult.UNSATISFIED,
              CallbackResult.NONE)  # fmt: skip
SOLVED, EXPLAINED = Resolution.SOLVED, Resolution.EXPLAINED


def at(day: int, month: int = 3) -> datetime:
    return datetime(2024, month, day, 9, 0)


def ticket(session: Session, unit: Unit | None, no: str, **kw) -> None:
    make_ticket(
        session,
        no,
        unit_id=unit.id if unit else None,
        received_at=kw.pop("received_at", at(10)),
        **kw,
    )


@pytest.fixture
def town(session: Session) -> dict[str, Unit]:
    units = {
        "和睦村": make_unit(session, "和睦村", kind=UnitKind.VILLAGE),
        "新城居委会": make_unit(session, "新城居委会"),
        "东村": make_unit(session, "东村", kind=UnitKind.VILLAGE),
        "旧办": make_unit(session, "旧办", active=False),
        "规划办": make_unit(session, "规划办"),
        "城建中心": make_unit(session, "城建中心"),
        "城管中队": make_unit(session, "城管中队"),
        "市场所": make_unit(session, "市场所"),
    }
    a = units["和睦村"]
    ticket(session, a, "A1", first_contact=True, resolution=SOLVED, callback_result=S,
           platform_due_at=at(15), finished_at=at(14), platform_status="已办结")  # fmt: skip
    ticket(session, a, "A2", first_contact=False, resolution=EXPLAINED, callback_result=B,
           platform_due_at=at(15), finished_at=at(16), platform_status="已办结")  # fmt: skip
    ticket(session, a, "A3", first_contact=True, resolution=SOLVED, callback_result=U,
           platform_due_at=at(15), finished_at=at(13), overdue=True, platform_status="已办结")  # fmt: skip
    ticket(session, a, "A4", callback_result=N, platform_due_at=at(20), platform_status="处理中")
    ticket(session, a, "A0", received_at=at(28, 2), first_contact=False, callback_result=U)
    ticket(session, a, "AX", first_contact=False, callback_result=U, deleted_at=at(11))
    ticket(session, None, "NX", first_contact=False, callback_result=U)
    # 已办结 without 办结时间, 办理时限 long past: cannot be judged late
    ticket(session, units["新城居委会"], "B1", first_contact=True, resolution=SOLVED,
           platform_due_at=at(1), platform_status="已办结")  # fmt: skip
    ticket(session, units["规划办"], "G1", first_contact=True, resolution=SOLVED, callback_result=S)
    for no, contact in (("C1", True), ("C2", False)):
        ticket(session, units["城建中心"], no, first_contact=contact, resolution=SOLVED,
               callback_result=S)  # fmt: skip
    for no, result in (("D1", SOLVED), ("D2", EXPLAINED)):
        ticket(session, units["城管中队"], no, first_contact=True, resolution=result,
               callback_result=S)  # fmt: skip
    ticket(session, units["市场所"], "H1", first_contact=False, resolution=EXPLAINED,
           callback_result=U, overdue=True)  # fmt: skip
    score.add_deduction(session, CENTER, a.id, date(2024, 3, 15), "0.5", "台账资料不全")
    score.add_deduction(
        session, CENTER, units["城管中队"].id, date(2024, 3, 20), 15, "推诿扯皮被通报"
    )
    score.add_deduction(session, CENTER, units["城管中队"].id, date(2024, 4, 1), 9, "下月的扣分")
    session.commit()
    return units


# Worked by hand. 村居 tickets 5, 部门 tickets 6.
# 和睦村: 5×4/5=4; 30×2/3=20; 20×(2+1)/3=20; 40×(1+0.8)/3=24; 减分 3 逾期 + 0.5 = 3.5 → 64.50
#   办结 3 (A1 A2 A3), 逾期 A2 (late) A3 (platform) A4 (open past due); 按时 (3−2)/(3+1) = 25%
# 新城居委会: 5×1/5=1; 30; 20; no callback → 0; → 51.00
# 规划办: 5/6 + 30 + 20 + 40 = 90.83; 城建中心: 5×2/6 + 15 + 20 + 40 = 76.67
# 城管中队: 5×2/6 + 30 + 20 + 40 − 15 = 76.67 (a tie); 市场所: 5/6 + 0 + 20 + 0 − 1 = 19.83
EXPECTED = [
    ["和睦村", "村居", "4", "4.00", "66.7%", "20.00", "3", "3", "25.0%", "3.50", "2", "1", "20.00", "66.7%", "24.00", "64.50", "1"],
    ["新城居委会", "村居", "1", "1.00", "100.0%", "30.00", "1", "0", "100.0%", "0.00", "1", "0", "20.00", "—", "0.00", "51.00", "2"],
    ["东村", "村居", "0", "0.00", "—", "0.00", "0", "0", "—", "0.00", "0", "0", "0.00", "—", "0.00", "0.00", "—"],
    ["规划办", "部门", "1", "0.83", "100.0%", "30.00", "0", "0", "—", "0.00", "1", "0", "20.00", "100.0%", "40.00", "90.83", "1"],
    ["城建中心", "部门", "2", "1.67", "50.0%", "15.00", "0", "0", "—", "0.00", "2", "0", "20.00", "100.0%", "40.00", "76.67", "2"],
    ["城管中队", "部门", "2", "1.67", "100.0%", "30.00", "0", "0", "—", "15.00", "1", "1", "20.00", "100.0%", "40.00", "76.67", "2"],
    ["市场所", "部门", "1", "0.83", "0.0%", "0.00", "0", "1", "0.0%", "1.00", "0", "1", "20.00", "0.0%", "0.00", "19.83", "4"],
]  # fmt: skip


def cells(rows: list[score.UnitScore]) -> list[list[str]]:
    return [[str(c) for c in r.cells()] for r in rows]


def test_every_cell_of_both_groups_matches_the_hand_computed_report(session: Session, town) -> None:
    """Each rule: 受理量 share of the group, 先行联系, 诉求解决, 市民满意 (未回访 excluded, a unit
    without callbacks scores 0), 逾期 derived three ways, manual deductions in the period only,
    a unit without tickets listed unranked, an inactive one left out, ties share a rank."""
    assert cells(score.compute(session, MARCH)) == EXPECTED


def test_a_changed_weight_changes_the_scores_and_is_kept_in_the_history(
    session: Session, town
) -> None:
    score.save_rules(session, CENTER, {"explained_credit": "0.5", "overdue_points": 2})
    session.commit()
    rows = {r.unit_name: r for r in score.compute(session, MARCH)}
    # 和睦村: 诉求解决 20×(2+0.5)/3 = 16.67; 减分 2×3 + 0.5 = 6.5 → 4+20+16.67+24−6.5 = 58.17
    assert [str(c) for c in rows["和睦村"].cells()][9:] == ["6.50", "2", "1", "16.67", "66.7%", "24.00", "58.17", "1"]  # fmt: skip
    # 市场所: 20×0.5 = 10, 减分 2 → 0.83 + 10 − 2 = 8.83
    assert rows["市场所"].cells()[-2:] == ["8.83", 4]
    history = score.rule_history(session, CENTER)
    assert [(h.username, h.rule, h.old, h.new) for h in history] == [
        ("center", "解释说明折算系数 w", "1", "0.5"),
        ("center", "每件逾期工单减分", "1", "2"),
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"contact_weight": "三十"}, "考核规则“先行联系得分满分”必须是数字：三十"),
        ({"basic_credit": 1.5}, "考核规则“基本满意折算系数”必须在 0–1 之间：1.5"),
        ({"candidate_units": 2.5}, "考核规则“失分最多的单位列为督办线索（个）”必须是整数：2.5"),
        ({"bonus": 1}, "未知的考核规则项：bonus"),
    ],
)
def test_a_bad_weight_is_refused_naming_it_and_nothing_changes(session: Session, values, message) -> None:  # fmt: skip
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        score.save_rules(session, CENTER, values)
    session.rollback()
    assert score.load_rules(session) == score.ScoreRules.from_dict({})
    assert session.execute(select(func.count()).select_from(AuditLog)).scalar() == 0


def test_only_the_center_and_admins_change_weights_and_deductions(session: Session, town) -> None:
    unit_user = Actor(None, "hm", Role.UNIT, unit_id=town["和睦村"].id)
    for who in (unit_user, LEADER):
        with pytest.raises(PermissionDenied):
            score.save_rules(session, who, {"contact_weight": 10})
        with pytest.raises(PermissionDenied):
            score.add_deduction(session, who, town["和睦村"].id, date(2024, 3, 1), 1, "自扣")
    assert SYSTEM.can(Perm.MANAGE_SCORE) and CENTER.can(Perm.MANAGE_SCORE)


@pytest.mark.parametrize(
    ("points", "reason", "message"),
    [(0, "事由", "扣分：必须大于 0、不超过 100（0）"), ("多", "事由", "扣分：必须是数字（多）"),
     (1, "  ", "扣分事由：不能为空"), (101, "事由", "扣分：必须大于 0、不超过 100（101）")],
)  # fmt: skip
def test_a_bad_deduction_is_refused_and_nothing_is_written(session: Session, town, points, reason, message) -> None:  # fmt: skip
    before = session.execute(select(func.count()).select_from(ScoreDeduction)).scalar()
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        score.add_deduction(session, CENTER, town["东村"].id, date(2024, 3, 1), points, reason)
    session.rollback()
    assert session.execute(select(func.count()).select_from(ScoreDeduction)).scalar() == before


def test_a_withdrawn_deduction_no_longer_counts_and_a_stale_withdrawal_is_refused(session: Session, town) -> None:  # fmt: skip
    line = next(d for d in score.deductions(session, CENTER, MARCH) if d.unit_name == "城管中队")
    score.remove_deduction(session, CENTER, line.id, line.version)
    session.commit()
    rows = {r.unit_name: r for r in score.compute(session, MARCH)}
    assert rows["城管中队"].cells()[-2:] == ["91.67", 1]  # now above 规划办
    with pytest.raises(Exception, match="扣分记录不存在"):
        score.remove_deduction(session, CENTER, line.id, line.version)
    other = next(d for d in score.deductions(session, CENTER, MARCH) if d.unit_name == "和睦村")
    from duban.errors import ConflictError

    with pytest.raises(ConflictError):
        score.remove_deduction(session, CENTER, other.id, other.version + 5)


def test_the_tickets_that_cost_points_add_up_to_the_loss(session: Session, town) -> None:
    """Drill-down: per indicator the tickets that cost points, each with its points."""
    a = town["和睦村"].id

    def lost(indicator: str) -> list[tuple[str, Fraction]]:
        return [(t.ticket_no, t.points) for t in score.lost_tickets(session, CENTER, MARCH, a, indicator)]  # fmt: skip

    assert lost("contact") == [("A2", Fraction(10))]  # 30 ÷ 3 judged
    assert lost("solve") == []  # w = 1: 解释说明 costs nothing
    assert lost("satisfaction") == [("A2", Fraction(8, 3)), ("A3", Fraction(40, 3))]
    assert lost("overdue") == [("A2", 1), ("A3", 1), ("A4", 1)]
    whys = [t.why for t in score.lost_tickets(session, CENTER, MARCH, a, "overdue")]
    assert whys == ["办结于 2024年3月16日，晚于办理时限 2024年3月15日", "平台标记逾期",
                    "办理时限 2024年3月20日 已过，统计期末仍未办结"]  # fmt: skip
    row = next(r for r in score.compute(session, MARCH) if r.unit_id == a)
    assert row.lost() == {"contact": 10, "solve": 0, "satisfaction": 16, "overdue": Fraction(7, 2)}


def test_a_unit_user_sees_its_group_and_only_its_own_tickets(session: Session, town) -> None:
    me = Actor(None, "hm", Role.UNIT, unit_id=town["和睦村"].id)
    card = score.scorecard(session, me, MARCH)
    assert [r.unit_name for r in card.rows] == ["和睦村", "新城居委会", "东村"]
    assert card.own_unit_id == town["和睦村"].id
    assert [t.ticket_no for t in score.lost_tickets(session, me, MARCH, town["和睦村"].id, "contact")] == ["A2"]  # fmt: skip
    for other in ("新城居委会", "市场所"):
        with pytest.raises(PermissionDenied, match="无权查看其他单位的失分工单"):
            score.lost_tickets(session, me, MARCH, town[other].id, "overdue")
        with pytest.raises(PermissionDenied):
            score.trend(session, me, town[other].id, MARCH)
    assert [d.unit_name for d in score.deductions(session, me, MARCH)] == ["和睦村"]
    nobody = Actor(None, "x", Role.UNIT, unit_id=None)
    with pytest.raises(PermissionDenied):
        score.scorecard(session, nobody, MARCH)


def test_the_change_against_the_previous_month(session: Session, town) -> None:
    card = score.scorecard(session, LEADER, MARCH)
    # February: 和睦村 alone, one ticket not contacted first and 不满意: 5 + 0 + 0 + 0 = 5, rank 1
    assert card.change(town["和睦村"].id) == (pytest.approx(59.5), 0)
    assert card.change(town["规划办"].id) == (None, None)
    assert score.previous_period(MARCH) == Period.month(2024, 2)
    assert score.previous_period(Period(date(2024, 3, 11), date(2024, 3, 20))) == Period(
        date(2024, 3, 1), date(2024, 3, 10)
    )


def test_trend_gives_each_month_of_the_year(session: Session, town) -> None:
    points = score.trend(session, LEADER, town["和睦村"].id, MARCH, months=3)
    assert [(p.period.label, p.total and str(p.total), p.rank) for p in points] == [
        ("2024年1月", None, None), ("2024年2月", "5.00", 1), ("2024年3月", "64.50", 1),
    ]  # fmt: skip


def test_the_units_losing_the_most_points_become_candidates(session: Session, town) -> None:
    """督办线索 热线考核失分: 市场所 lost 71, 和睦村 29.5, 城建中心 15 (城管中队 lost only by
    a manual deduction: no ticket to supervise)."""
    found = find_candidates(session, CENTER, datetime(2024, 3, 31, 18, 0))
    groups = {g.ticket_nos[0]: g for g in found.by_rule(Rule.SCORE_LOSS)}
    assert sorted(g.ticket_nos for g in groups.values()) == [["A2", "A3", "A4"], ["C2"], ["H1"]]
    assert groups["H1"].reason == (
        "2024年3月2日至2024年3月31日热线考核失分 71.00 分（先行联系 −30.00、市民满意 −40.00、"
        "逾期减分 −1.00），部门组排名第 4 位，总得分 19.83"
    )


def test_the_xlsx_has_the_report_layout_and_the_rules_in_force(session: Session, town) -> None:
    data = score.export_xlsx(session, CENTER, MARCH)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["村居", "部门", "考核规则"]
    ws = wb["部门"]
    assert ws["A1"].value == "热线报表（部门） 2024年3月"
    assert [c.value for c in ws[2]] == score.XLSX_HEADERS
    assert [c.value for c in ws[3]][:4] == [1, "规划办", 1, 0.83]
    assert [c.value for c in ws[5]][9] == "逾期 0 件扣 0.00；人工扣分 15.00"
    rules = [[c.value for c in r] for r in wb["考核规则"].iter_rows(min_row=3)]
    assert ["解释说明折算系数 w", "1"] in rules and ["每件逾期工单减分", "1"] in rules
    assert ["城管中队 2024-03-20 推诿扯皮被通报（center）", "15"] in rules
    assert not any("下月的扣分" in str(r[0]) for r in rules)


def test_cli_prints_the_issue_columns_for_every_unit(engine: Engine, session: Session, town, tmp_path) -> None:  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "duban", "score", "--from", "2024-03-01", "--to", "2024-03-31"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows == [score.HEADERS, *EXPECTED]
    assert score.HEADERS == ["承办单位", "分组", "受理量", "受理量得分", "先行联系率", "先行联系得分",
                             "办结量", "逾期工单量", "按时办结率", "减分", "实际解决数", "解释说明数",
                             "诉求解决得分", "市民满意率", "市民满意得分", "总得分", "排名"]  # fmt: skip
    out = tmp_path / "score.xlsx"
    done = subprocess.run(
        [sys.executable, "-m", "duban", "score", "--from", "2024-03-01", "--to", "2024-03-31",
         "--format", "xlsx", "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert openpyxl.load_workbook(out).sheetnames == ["村居", "部门", "考核规则"]
    done = subprocess.run(
        [sys.executable, "-m", "duban", "score", "--from", "2024-03-31", "--to", "2024-03-01"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2 and "结束日期 2024-03-01 早于开始日期 2024-03-31" in done.stderr
