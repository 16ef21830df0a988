"""Boards (看板): overdue, due soon, eligible for escalation, units — on edge days.

Seed §三(一)2: "承办单位收到《督办单》后 … 在 5 个工作日内完成工单处置，书面反馈处置情况";
§三(一)3: "经书面督办仍未有处置进展的，纳入提级办理范围". The boards show which deadlines have
passed, which are about to, and which cases the rule makes eligible to go up a level.
2024 calendar: 国庆 10月1日–7日 off, 9月29日 (Sunday) and 10月12日 (Saturday) worked.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from duban.boards import (
    BoardFilter,
    Horizon,
    due_soon_board,
    escalation_board,
    headline,
    month_trend,
    overdue_board,
    unit_board,
)
from duban.enums import (
    CallbackResult,
    CaseStatus,
    FeedbackReview,
    Level,
    Progress,
    Role,
    Scope,
    StepKind,
    StepStatus,
    UnitRole,
)
from duban.kpi import Ratio
from duban.models import CaseUnit, Referral
from duban.permissions import Actor
from duban.workdays import Calendar
from tests.factories import make_case, make_feedback, make_step, make_ticket, make_unit

STAFF = Actor(user_id=None, username="督办员", role=Role.CENTER)
AFTER_NATIONAL_DAY = date(2024, 10, 8)  # Tuesday, the first working day after 国庆


@pytest.fixture
def units(session):
    return make_unit(session, "镇城建中心"), make_unit(session, "镇城管中队")


def case_with_step(session, unit, *, due: date, issued: date = date(2024, 9, 20), **kw):
    case = make_case(session, unit, opened_at=kw.pop("opened_at", issued), **kw)
    return case, make_step(session, case, issued_at=issued, due_at=due)


def board(fn, session, today, filt=None):
    return [
        (r.case_no, r.workdays) for r in fn(session, STAFF, today, Calendar.load(session), filt)
    ]


# --- the deadline on edge days --------------------------------------------------------------


def test_a_step_due_today_is_due_soon_not_overdue(session, units):
    case, _ = case_with_step(session, units[0], due=date(2024, 9, 27), case_no="今天到期")
    session.commit()
    today = date(2024, 9, 27)
    assert board(due_soon_board, session, today) == [("今天到期", 0)]
    assert board(overdue_board, session, today) == []


def test_a_due_date_on_a_holiday_weekend_rolls_to_the_next_working_day(session, units):
    """A date fixed at a site visit fell on Saturday 10月5日 (国庆): it stands for 10月8日."""
    case_with_step(session, units[0], due=date(2024, 10, 5), case_no="节日到期")
    session.commit()
    (row,) = due_soon_board(session, STAFF, date(2024, 10, 7), Calendar.load(session))
    assert (row.effective_due, row.workdays) == (date(2024, 10, 8), 1)
    assert board(due_soon_board, session, AFTER_NATIONAL_DAY) == [("节日到期", 0)]
    assert board(overdue_board, session, AFTER_NATIONAL_DAY) == []
    assert board(overdue_board, session, date(2024, 10, 9)) == [("节日到期", 1)]


def test_lateness_counts_working_days_and_skips_the_holiday(session, units):
    """Due 9月30日, seen 10月9日: late by 10月8日 and 9日 only; due 9月26日: also by 27日, the
    working Sunday 29日 and 30日 — the overdue list, most late first."""
    case_with_step(session, units[0], due=date(2024, 9, 30), case_no="甲")
    case_with_step(session, units[0], due=date(2024, 9, 26), case_no="乙")
    case_with_step(session, units[0], due=date(2024, 10, 8), case_no="丙")
    session.commit()
    assert board(overdue_board, session, date(2024, 10, 9)) == [("乙", 5), ("甲", 2), ("丙", 1)]


def test_due_soon_reaches_two_working_days_ahead(session, units):
    """Friday 9月27日: the next two working days are Sunday 9月29日 (调休) and Monday 9月30日."""
    for no, due in (
        ("周日", date(2024, 9, 29)),
        ("周一", date(2024, 9, 30)),
        ("国庆后", date(2024, 10, 8)),
    ):
        case_with_step(session, units[0], due=due, case_no=no)
    session.commit()
    assert Horizon.of(date(2024, 9, 27), Calendar.load(session)).soon_through == date(2024, 9, 30)
    assert board(due_soon_board, session, date(2024, 9, 27)) == [("周日", 1), ("周一", 2)]


def test_a_provisional_deadline_is_marked(session, units):
    """A year whose holidays are not entered yet: the deadline is 暂估 wherever it appears."""
    case, step = case_with_step(
        session, units[0], due=date(2027, 1, 11), issued=date(2027, 1, 4), case_no="暂估"
    )
    step.due_provisional = True
    session.commit()
    (row,) = due_soon_board(session, STAFF, date(2027, 1, 8), Calendar.load(session))
    assert (row.case_no, row.provisional, row.workdays) == ("暂估", True, 1)


def test_closed_steps_closed_cases_and_steps_without_deadline_are_not_on_the_boards(session, units):
    case, step = case_with_step(session, units[0], due=date(2024, 9, 20), case_no="已完成")
    step.status = StepStatus.CLOSED
    case_with_step(
        session, units[0], due=date(2024, 9, 20), case_no="已办结", status=CaseStatus.CLOSED
    )
    make_step(session, make_case(session, units[0], case_no="专题会"), due_at=None,
              kind=StepKind.SPECIAL_MEETING)  # fmt: skip
    session.commit()
    assert board(overdue_board, session, AFTER_NATIONAL_DAY) == []


def test_the_overdue_row_shows_level_unit_and_last_feedback(session, units):
    case, step = case_with_step(session, units[0], due=date(2024, 9, 27), case_no="有反馈")
    make_feedback(session, step, received_at=date(2024, 9, 25), progress=Progress.SOME)
    make_feedback(
        session, step, received_at=date(2024, 9, 26), progress=Progress.NONE, stamped=False
    )
    session.commit()
    (row,) = overdue_board(session, STAFF, AFTER_NATIONAL_DAY, Calendar.load(session))
    assert (row.level, row.unit_name, row.kind) == (
        Level.WRITTEN,
        "镇城建中心",
        StepKind.SUPERVISION_FORM,
    )
    assert row.last_feedback == "9月26日 无进展（不合规）"
    assert row.case_id == case.id  # the UI makes the link; the domain gives the id


def test_feedback_a_unit_entered_shows_as_awaiting_the_centers_check(session, units):
    """What a unit enters counts only once the center confirms it: the board says so."""
    case, step = case_with_step(session, units[0], due=date(2024, 9, 27), case_no="待核验")
    make_feedback(session, step, received_at=date(2024, 9, 26), progress=Progress.SOME,
                  review=FeedbackReview.PENDING)  # fmt: skip
    session.commit()
    (row,) = overdue_board(session, STAFF, AFTER_NATIONAL_DAY, Calendar.load(session))
    assert row.last_feedback == "9月26日 有进展（待核验）"
    make_feedback(session, step, received_at=date(2024, 9, 27), stamped=False,
                             review=FeedbackReview.RETURNED)  # fmt: skip
    session.commit()
    (row,) = overdue_board(session, STAFF, AFTER_NATIONAL_DAY, Calendar.load(session))
    assert row.last_feedback == "9月27日 已办结（不合规，已退回）"


def test_headline_counts_what_the_boards_list(session, units):
    case_with_step(session, units[0], due=date(2024, 9, 30))
    case_with_step(session, units[0], due=date(2024, 10, 8))
    case_with_step(session, units[1], due=date(2024, 10, 9), level=Level.ONSITE)
    session.commit()
    numbers = headline(session, STAFF, AFTER_NATIONAL_DAY, Calendar.load(session))
    assert (numbers.overdue_steps, numbers.due_soon_steps, numbers.open_cases) == (1, 2, 3)
    assert numbers.open_by_level[Level.ONSITE] == 1


# --- filters -------------------------------------------------------------------------------


@pytest.fixture
def mixed(session, units):
    """Four overdue steps differing in unit, level, scope and 立案日期."""
    town, patrol = units
    case_with_step(
        session, town, due=date(2024, 9, 30), case_no="城建书面", opened_at=date(2024, 9, 2)
    )
    case_with_step(
        session, patrol, due=date(2024, 9, 30), case_no="城管书面", opened_at=date(2024, 9, 3)
    )
    c, _ = case_with_step(session, town, due=date(2024, 9, 30), case_no="城建现场",
                          level=Level.ONSITE, opened_at=date(2024, 8, 1))  # fmt: skip
    case_with_step(session, patrol, due=date(2024, 9, 30), case_no="城管集中",
                   scope=Scope.CONCENTRATED, opened_at=date(2024, 9, 10))  # fmt: skip
    session.commit()
    return town, patrol


@pytest.mark.parametrize(
    ("make_filter", "expected"),
    [
        (lambda t, p: BoardFilter(unit_id=t.id), ["城建书面", "城建现场"]),
        (lambda t, p: BoardFilter(level=Level.ONSITE), ["城建现场"]),
        (lambda t, p: BoardFilter(scope=Scope.CONCENTRATED), ["城管集中"]),
        (lambda t, p: BoardFilter(since=date(2024, 9, 3), until=date(2024, 9, 9)), ["城管书面"]),
        (lambda t, p: BoardFilter(unit_id=p.id, scope=Scope.REPEATED), ["城管书面"]),
    ],
)
def test_every_board_filters_by_unit_level_scope_and_date(session, mixed, make_filter, expected):
    filt = make_filter(*mixed)
    rows = overdue_board(session, STAFF, AFTER_NATIONAL_DAY, Calendar.load(session), filt)
    assert sorted(r.case_no for r in rows) == sorted(expected)
    assert headline(
        session, STAFF, AFTER_NATIONAL_DAY, Calendar.load(session), filt
    ).overdue_steps == len(expected)


def test_a_unit_user_sees_only_their_unit(session, mixed):
    town, patrol = mixed
    clerk = Actor(user_id=None, username="城建联络员", role=Role.UNIT, unit_id=town.id)
    asked_for_other_unit = BoardFilter(unit_id=patrol.id)
    rows = overdue_board(
        session, clerk, AFTER_NATIONAL_DAY, Calendar.load(session), asked_for_other_unit
    )
    assert sorted(r.case_no for r in rows) == ["城建书面", "城建现场"]
    assert headline(session, clerk, AFTER_NATIONAL_DAY, Calendar.load(session)).overdue_steps == 2


# --- 待提级 --------------------------------------------------------------------------------


def test_cases_eligible_for_escalation_are_listed_with_reason_and_one_click_link(session, units):
    """ "经书面督办仍未有处置进展的，纳入提级办理范围": 无进展 feedback, or past due without
    compliant feedback; a case with progress is not listed."""
    stuck, step = case_with_step(session, units[0], due=date(2024, 9, 27), case_no="无进展")
    step.status = StepStatus.CLOSED
    make_feedback(session, step, received_at=date(2024, 9, 26), progress=Progress.NONE)
    late, _ = case_with_step(session, units[1], due=date(2024, 9, 30), case_no="逾期")
    fine, step = case_with_step(session, units[0], due=date(2024, 10, 10), case_no="有进展")
    make_feedback(
        session, step, received_at=date(2024, 9, 26), progress=Progress.SOME, stamped=False
    )
    session.commit()
    rows = escalation_board(session, STAFF, AFTER_NATIONAL_DAY)
    assert [(r.case_no, r.next_level) for r in rows] == [
        ("无进展", Level.ONSITE),
        ("逾期", Level.ONSITE),
    ]
    assert "无进展" in rows[0].reason and "逾期" in rows[1].reason
    assert rows[0].case_id == stuck.id
    filt = BoardFilter(unit_id=units[1].id)
    assert [r.case_no for r in escalation_board(session, STAFF, AFTER_NATIONAL_DAY, filt)] == [
        "逾期"
    ]


# --- 承办单位 ------------------------------------------------------------------------------


def test_the_unit_board_counts_each_measure(session, units):
    town, patrol = units
    # 城建: two open cases (one as 协办), one overdue step, one on time, one escalated step,
    # one referral; tickets: 满意, 基本满意, 不满意, 未回访
    a, overdue = case_with_step(session, town, due=date(2024, 9, 30))
    b, _ = case_with_step(session, patrol, due=date(2024, 10, 10))
    session.add(CaseUnit(case_id=b.id, unit_id=town.id, role=UnitRole.CO))
    done = make_case(session, town, status=CaseStatus.CLOSED)
    make_step(session, done, due_at=date(2024, 9, 30), status=StepStatus.CLOSED, on_time=True)
    make_step(session, done, due_at=date(2024, 9, 10), status=StepStatus.ESCALATED, on_time=False,
              escalation_reason="无进展")  # fmt: skip
    session.add(Referral(case_id=done.id, referred_at=date(2024, 10, 1), reason="推诿"))
    for result in (CallbackResult.SATISFIED, CallbackResult.BASIC, CallbackResult.UNSATISFIED,
                   CallbackResult.NONE):  # fmt: skip
        make_ticket(session, unit_id=town.id, callback_result=result)
    session.commit()
    rows = {
        r.unit_name: r
        for r in unit_board(session, STAFF, AFTER_NATIONAL_DAY, Calendar.load(session))
    }
    row = rows["镇城建中心"]
    assert (row.open_cases, row.overdue_steps, row.escalations, row.referrals) == (2, 1, 1, 1)
    assert row.on_time == Ratio(1, 3)  # on time ÷ (on time + late); the overdue open step is late
    assert row.satisfaction == Ratio(2, 3)  # (满意 + 基本满意) ÷ answered callbacks
    other = rows["镇城管中队"]
    assert (other.open_cases, other.overdue_steps, other.on_time) == (1, 0, Ratio(0, 0))
    only = unit_board(
        session, STAFF, AFTER_NATIONAL_DAY, Calendar.load(session), BoardFilter(unit_id=patrol.id)
    )
    assert [r.unit_name for r in only] == ["镇城管中队"]


def test_the_month_trend_has_every_month_with_cases_opened_and_late_steps(session, units):
    case_with_step(session, units[0], due=date(2024, 9, 30), opened_at=date(2024, 9, 2))
    case_with_step(session, units[0], due=date(2024, 10, 9), opened_at=date(2024, 9, 5))
    make_ticket(session, received_at=datetime(2024, 9, 1))
    session.commit()
    filt = BoardFilter(since=date(2024, 8, 1), until=date(2024, 10, 31))
    trend = month_trend(session, STAFF, AFTER_NATIONAL_DAY, filt)
    assert [(m.month, m.opened, m.due, m.late) for m in trend] == [
        ("2024-08", 0, 0, 0),
        ("2024-09", 2, 1, 1),
        ("2024-10", 0, 1, 0),
    ]
