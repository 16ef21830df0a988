"""年度绩效考核: scores from the rules, every deduction traced to its case, the xlsx export.

Seed §三 (三): "将协调督办落实情况纳入对承办单位的年度绩效考核".
"""

import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from duban.assessment import (
    DEDUCTIONS,
    ScoringRules,
    assess,
    load_rules,
    save_rules,
    sheet_name,
    summary_rows,
    to_xlsx,
)
from duban.enums import Level, Role, StepKind, StepStatus
from duban.errors import PermissionDenied, ValidationError
from duban.kpi import Period, Ratio, Selection
from duban.models import AuditLog, Referral
from duban.permissions import SYSTEM, Actor
from tests.factories import make_case, make_feedback, make_step, make_unit

YEAR_2024 = Selection(Period.year(2024), as_of=date(2025, 1, 15))


@pytest.fixture
def town(session):
    """Hand-built 2024 with a known answer under the default rules (100 / 2 / 3 / 1 / 5 /
    +5 at 95 %):

    镇城建中心: one step answered 2 working days late (−2), one answered on time, one left
      upward with no answer past its due date (−2 overdue, −3 escalation), an unsigned
      feedback (−1), a referral (−5); on time 1/3 → no bonus: 100 − 13 = 87.
    镇城管中队: two steps on time (2/2 = 100 % → +5) and a referral in 2023 (not counted): 105.
    镇房管办: nothing supervised: 100. An inactive unit with nothing is not assessed.
    """
    a = make_unit(session, "镇城建中心")
    b = make_unit(session, "镇城管中队")
    make_unit(session, "镇房管办")
    make_unit(session, "镇旧机构", active=False)
    case_a = make_case(session, a, level=Level.ONSITE, opened_at=date(2024, 3, 4), title="道路积水")
    make_step(
        session,
        case_a,
        due_at=date(2024, 3, 11),
        status=StepStatus.CLOSED,
        on_time=False,
        margin_workdays=-2,
        closed_at=date(2024, 3, 13),
    )
    answered = make_step(
        session,
        case_a,
        issued_at=date(2024, 4, 1),
        due_at=date(2024, 4, 10),
        status=StepStatus.CLOSED,
        on_time=True,
        margin_workdays=1,
        closed_at=date(2024, 4, 9),
    )
    make_feedback(session, answered, received_at=date(2024, 4, 8), signed=False)
    make_step(
        session,
        case_a,
        issued_at=date(2024, 5, 6),
        due_at=date(2024, 5, 13),
        status=StepStatus.ESCALATED,
        escalation_reason="书面督办后无进展",
    )
    session.add(Referral(case_id=case_a.id, referred_at=date(2024, 6, 1), reason="推诿扯皮"))
    case_b = make_case(session, b, opened_at=date(2023, 12, 20), title="噪声扰民")
    for due in (date(2024, 3, 11), date(2024, 3, 20)):
        make_step(
            session, case_b, due_at=due, status=StepStatus.CLOSED, on_time=True, margin_workdays=0
        )
    session.add(Referral(case_id=case_b.id, referred_at=date(2023, 12, 28), reason="推诿"))
    session.commit()
    return case_a, case_b


def test_scores_match_the_hand_calculation(session, town):
    result = assess(session, YEAR_2024)
    assert [(s.rank, s.unit_name, s.score) for s in result.sheets] == [
        (1, "镇城管中队", 105),
        (2, "镇城建中心", 87),
        (0, "镇房管办", 100),  # nothing to assess: listed after, never ranked above (KPI.md)
    ]
    a = result.sheets[1]
    assert (a.count("overdue_step"), a.count("escalation")) == (2, 1)
    assert (a.count("noncompliant_feedback"), a.count("referral")) == (1, 1)
    assert (a.deductions, a.bonus, a.on_time) == (13, 0, Ratio(1, 3))


def test_every_deduction_names_its_case(session, town):
    case_a, _ = town
    sheet = next(s for s in assess(session, YEAR_2024).sheets if s.unit_name == "镇城建中心")
    deductions = [item for item in sheet.items if item.points < 0]
    assert len(deductions) == 5
    assert {(item.case_id, item.case_no) for item in deductions} == {(case_a.id, case_a.case_no)}
    details = sorted(item.detail for item in deductions)
    assert "督办单截止2024年3月11日，逾期 2 个工作日反馈" in details
    assert any("2024年5月13日" in d and "未收到合规反馈" in d for d in details)
    assert any("缺少主要领导签字" in d for d in details)


def test_changed_rules_change_the_scores(session, town):
    """Rules are configurable: 1.5 per overdue step, no escalation points, bonus only at 100 %."""
    save_rules(session, SYSTEM, {"overdue_step": 1.5, "escalation": 0, "on_time_threshold": 100})
    session.commit()
    scores = {s.unit_name: s.score for s in assess(session, YEAR_2024).sheets}
    assert scores == {"镇城建中心": 100 - 3 - 1 - 5, "镇城管中队": 105, "镇房管办": 100}


def test_defaults_are_written_down_and_changes_are_audited(session):
    assert load_rules(session).to_dict() == {
        "base_score": 100,
        "overdue_step": 2,
        "escalation": 3,
        "noncompliant_feedback": 1,
        "referral": 5,
        "on_time_bonus": 5,
        "on_time_threshold": 95,
        "unassessed_listed": 1,
    }
    save_rules(session, SYSTEM, {"referral": 10})
    session.commit()
    audit = session.exec(select(AuditLog).where(AuditLog.field == "assessment_rules")).one()
    assert "'referral': 10" in audit.new
    assert load_rules(session).referral == 10


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"overdue_step": -1}, "每个逾期环节扣分”必须在 0–100 之间"),
        ({"on_time_threshold": 120}, "按时反馈率达标线（%）”必须在 0–100 之间"),
        ({"escalation": "三"}, "每次提级扣分”必须是数字"),
        ({"bogus": 1}, "未知的考核规则项：bogus"),
    ],
)
def test_bad_rules_are_refused_and_change_nothing(session, values, message):
    with pytest.raises(ValidationError, match=message):
        save_rules(session, SYSTEM, values)
    assert load_rules(session).overdue_step == 2


def test_only_admins_edit_the_rules(session):
    with pytest.raises(PermissionDenied, match="修改考核规则"):
        save_rules(session, Actor(None, "clerk", Role.CENTER), {"referral": 1})


def test_xlsx_has_a_summary_and_one_sheet_per_unit(session, town):
    case_a, _ = town
    wb = load_workbook(io.BytesIO(to_xlsx(assess(session, YEAR_2024))))
    assert wb.sheetnames == ["汇总", "考核规则", "镇城建中心", "镇城管中队", "镇房管办"]

    summary = [list(r) for r in wb["汇总"].iter_rows(min_row=2, values_only=True)]
    assert summary[0] == [
        "排名",
        "承办单位",
        "督办件数",
        "基础分",
        "逾期环节数",
        "逾期扣分",
        "提级次数",
        "提级扣分",
        "不合规反馈数",
        "不合规扣分",
        "移交纪委监察办数",
        "移交扣分",
        "按时反馈率（%）",
        "按时反馈环节数",
        "到期环节数",
        "加分",
        "得分",
    ]
    assert summary[1] == [1, "镇城管中队", 0, 100, 0, 0, 0, 0, 0, 0, 0, 0, 100, 2, 2, 5, 105]
    assert summary[2] == [2, "镇城建中心", 1, 100, 2, -4, 1, -3, 1, -1, 1, -5, 33.3, 1, 3, 0, 87]
    assert summary[3] == ["—", "镇房管办", 0, *["—"] * 13, "无督办事项"]

    unit = [list(r) for r in wb["镇城建中心"].iter_rows(min_row=3, values_only=True)]
    items = [r for r in unit if r[0] not in (None, "")]
    assert len(items) == 5
    assert all(r[2] == case_a.case_no and r[3] == "道路积水" for r in items)
    assert sum(r[6] for r in items) == -13
    assert unit[-1][1:] == ["得分", None, None, None, "排名第 2 位", 87]


def test_sheet_names_are_valid_and_unique():
    taken: set[str] = set()
    assert sheet_name("a/b:c", taken) == "a_b_c"
    long = "很长的单位名称" * 6
    first, second = sheet_name(long, taken), sheet_name(long, taken)
    assert len(first) == len(second) == 31 and first != second


def test_the_bonus_needs_steps_to_judge(session):
    """A unit with no step due has no 按时反馈率 and earns no bonus (nothing was measured)."""
    unit = make_unit(session, "镇社会事业办")
    case = make_case(session, unit, opened_at=date(2024, 5, 1))
    make_step(session, case, kind=StepKind.SPECIAL_MEETING, due_at=None)
    session.commit()
    (sheet,) = assess(session, YEAR_2024).sheets
    assert (sheet.on_time.denominator, sheet.score) == (0, 100)


# --- the work report's totals: counted in SQL, equal to the listed items ------------------


@pytest.fixture
def busy_year(session):
    """2024 with every kind of deduction, spread so that a miscount would show:

    镇城建中心: ten steps answered late, three still unanswered past due and one left upward
      unanswered (14 overdue), two escalations (one by status, one by reason only), two
      unsigned feedbacks, two referrals — and a deleted case whose items must not count.
    镇城管中队: made responsible at a site visit of 镇城建中心's notice, so the notice's
      lateness and escalation are its own; an unsigned feedback it sent for another unit's
      step (the feedback's unit answers for it); one step on time.
    镇旧机构 (inactive): one late step, so it is assessed. 镇房管办: nothing.
    A referral and late steps in 2023 count nowhere.
    """
    a = make_unit(session, "镇城建中心")
    b = make_unit(session, "镇城管中队")
    old = make_unit(session, "镇旧机构", active=False)
    make_unit(session, "镇房管办")
    written = make_case(session, a, opened_at=date(2024, 2, 1), title="道路积水")
    for day in range(10):
        make_step(
            session,
            written,
            issued_at=date(2024, 3, 1),
            due_at=date(2024, 3, 11 + day),
            status=StepStatus.CLOSED,
            on_time=False,
            margin_workdays=-1 - day,
            closed_at=date(2024, 3, 25),
        )
    for due in (date(2024, 11, 4), date(2024, 12, 2)):
        make_step(session, written, due_at=due, issued_at=due)  # open past due on 2025-01-15
    make_step(
        session,
        written,
        issued_at=date(2024, 4, 1),
        due_at=date(2024, 4, 8),
        status=StepStatus.ESCALATED,
    )
    answered = make_step(
        session,
        written,
        issued_at=date(2024, 5, 6),
        due_at=date(2024, 5, 13),
        status=StepStatus.CLOSED,
        on_time=True,
        margin_workdays=0,
        escalation_reason="书面督办后无进展",
    )
    make_feedback(session, answered, received_at=date(2024, 5, 10), signed=False)
    make_feedback(session, answered, received_at=date(2024, 5, 11), stamped=False)
    for day in (date(2024, 6, 1), date(2024, 7, 1)):
        session.add(Referral(case_id=written.id, referred_at=day, reason="推诿扯皮"))
    onsite = make_case(session, a, level=Level.ONSITE, opened_at=date(2024, 8, 1), title="噪声")
    make_step(
        session,
        onsite,
        kind=StepKind.ONSITE_NOTICE,
        issued_at=date(2024, 8, 5),
        due_at=date(2024, 8, 12),
        responsible_unit_id=b.id,
        status=StepStatus.ESCALATED,
        escalation_reason="现场督办后仍无进展",
    )
    other = make_step(session, onsite, issued_at=date(2024, 9, 2), due_at=date(2024, 9, 9))
    make_feedback(session, other, received_at=date(2024, 9, 5), signed=False, unit_id=b.id)
    b_case = make_case(session, b, opened_at=date(2024, 3, 1))
    make_step(
        session,
        b_case,
        status=StepStatus.CLOSED,
        on_time=True,
        margin_workdays=2,
        due_at=date(2024, 3, 11),
    )
    gone = make_case(session, a, opened_at=date(2024, 3, 1), deleted_at=datetime(2024, 12, 1))
    make_step(session, gone, due_at=date(2024, 3, 11), status=StepStatus.ESCALATED)
    session.add(Referral(case_id=gone.id, referred_at=date(2024, 6, 1), reason="已删除"))
    old_case = make_case(session, old, opened_at=date(2024, 1, 8))
    make_step(session, old_case, issued_at=date(2024, 1, 8), due_at=date(2024, 1, 15))
    last_year = make_case(session, a, opened_at=date(2023, 11, 1))
    make_step(session, last_year, issued_at=date(2023, 11, 1), due_at=date(2023, 11, 8))
    session.add(Referral(case_id=last_year.id, referred_at=date(2023, 12, 1), reason="去年"))
    session.commit()
    return a, b, old


def listed_and_counted(session, sel, rules=None):
    """The same selection scored twice: every item listed, and only counted."""
    listed = assess(session, sel, rules=rules)
    counted = assess(session, sel, rules=rules, detail=False)
    assert listed.detailed and not counted.detailed
    return listed, counted


@pytest.mark.parametrize(
    "rules",
    [
        None,  # the defaults
        # fourteen 0.3s added up are 4.199999999999999, not 4.2: the count must add up as
        # the items do; a rule worth nothing lists nothing, so it counts nothing either
        ScoringRules.from_dict({"overdue_step": 0.3, "escalation": 0, "referral": 2.5}),
    ],
)
def test_counted_totals_equal_the_listed_items_of_every_unit(session, busy_year, rules):
    listed, counted = listed_and_counted(session, YEAR_2024, rules)
    assert [s.unit_name for s in counted.sheets] == [s.unit_name for s in listed.sheets]
    for mine, items in zip(counted.sheets, listed.sheets, strict=True):
        assert mine.items == [i for i in items.items if i.points > 0]  # only the bonus
        for rule in DEDUCTIONS:
            of_rule = [i for i in items.items if i.rule == rule]
            assert mine.count(rule) == items.count(rule) == len(of_rule)
            assert mine.points(rule) == items.points(rule) == sum(i.points for i in of_rule)
        assert (mine.deductions, mine.bonus, mine.score, mine.rank, mine.on_time) == (
            items.deductions,
            items.bonus,
            items.score,
            items.rank,
            items.on_time,
        )
    assert summary_rows(counted) == summary_rows(listed)


def test_the_busy_year_has_every_kind_of_deduction(session, busy_year):
    """The data set above is what the equality test needs: known counts per unit and kind."""
    listed, _ = listed_and_counted(session, YEAR_2024)
    counts = {s.unit_name: [s.count(rule) for rule in DEDUCTIONS] for s in listed.sheets}
    assert counts == {
        "镇城建中心": [14, 2, 2, 2],  # 10 late, 3 open past due, 1 left upward unanswered
        "镇城管中队": [1, 1, 1, 0],  # the site visit's step, and its unsigned feedback
        "镇旧机构": [1, 0, 0, 0],
        "镇房管办": [0, 0, 0, 0],
    }
    fractional = ScoringRules.from_dict({"overdue_step": 0.3})
    city = next(
        s for s in assess(session, YEAR_2024, rules=fractional).sheets if s.count("referral")
    )
    assert city.points("overdue_step") != -14 * 0.3  # summed, not multiplied: the test can tell


def test_counted_totals_follow_the_unit_filter(session, busy_year):
    a, b, _ = busy_year
    listed, counted = listed_and_counted(session, YEAR_2024.with_units({b.id}))
    assert [s.unit_name for s in counted.sheets] == ["镇城管中队"]
    assert summary_rows(counted) == summary_rows(listed)


def test_a_counted_assessment_has_no_items_to_export(session, busy_year):
    with pytest.raises(ValueError, match="detail=True"):
        to_xlsx(assess(session, YEAR_2024, detail=False))
