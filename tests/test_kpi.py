"""Every KPI on hand-built data with a known answer (formulas: docs/KPI.md).

Seed §三 (三): "镇城运中心形成协调督办工作报告 … 并将协调督办落实情况纳入对承办单位的年度绩效考核"
— the figures below are what that report and that assessment are made of.
"""

from datetime import date, datetime

import pytest
from sqlmodel import select

from duban.enums import (
    CallbackResult,
    CaseStatus,
    Level,
    Progress,
    Scope,
    StepKind,
    StepStatus,
    UnitRole,
)
from duban.errors import ValidationError
from duban.kpi import (
    LATE,
    ON_TIME,
    PENDING,
    Period,
    Ratio,
    Selection,
    WorkdayIndex,
    by_level,
    cases_by_month,
    compute,
    escalations,
    items,
    onsite_notices,
    steps_due,
)
from duban.models import CaseUnit, Referral, Step
from duban.permissions import SYSTEM
from duban.uploads import store_upload
from duban.workdays import Calendar, set_year_schedule
from tests.factories import make_case, make_feedback, make_step, make_ticket, make_unit, sample_file

MARCH = Period.month(2024, 3)
SCAN = sample_file("pdf")


def march(as_of: date = date(2024, 4, 15), **kw) -> Selection:
    return Selection(MARCH, as_of=as_of, **kw)


@pytest.fixture
def units(session):
    return make_unit(session, "镇城建中心"), make_unit(session, "镇城管中队")


def frozen_step(session, case, *, due, feedback_on, margin, progress=Progress.DONE, **kw):
    """A step closed by its first compliant feedback, outcome frozen as duban.cases does."""
    step = make_step(
        session,
        case,
        due_at=due,
        status=StepStatus.CLOSED,
        closed_at=feedback_on,
        on_time=feedback_on <= due,
        margin_workdays=margin,
        **kw,
    )
    make_feedback(session, step, received_at=feedback_on, progress=progress)
    return step


# --- 按时反馈率 --------------------------------------------------------------------------


def test_on_time_rate_counts_open_overdue_steps_as_late(session, units):
    """ "在 5 个工作日内完成工单处置，书面反馈" — a step with no feedback past its due date is
    late and stays in the denominator; one not yet due is not judged."""
    a, _ = units
    case = make_case(session, a)
    frozen_step(session, case, due=date(2024, 3, 11), feedback_on=date(2024, 3, 8), margin=1)
    frozen_step(session, case, due=date(2024, 3, 11), feedback_on=date(2024, 3, 13), margin=-2)
    make_step(session, case, due_at=date(2024, 3, 11))  # open, overdue
    make_step(session, case, due_at=date(2024, 3, 28))  # open, due after as_of below
    make_step(session, case, due_at=date(2024, 4, 2))  # due outside March
    make_step(session, case, due_at=date(2024, 3, 11), status=StepStatus.CANCELLED)
    make_step(session, case, due_at=None, kind=StepKind.SPECIAL_MEETING)

    early = compute(session, march(as_of=date(2024, 3, 20))).overall
    assert (early.steps_on_time, early.steps_late, early.steps_pending) == (1, 2, 1)
    assert early.on_time_rate == Ratio(1, 3)

    later = compute(session, march(as_of=date(2024, 3, 29))).overall
    assert later.on_time_rate == Ratio(1, 4)


def test_a_step_due_today_is_not_late_yet(session, units):
    case = make_case(session, units[0])
    make_step(session, case, due_at=date(2024, 3, 11))
    assert compute(session, march(as_of=date(2024, 3, 11))).overall.on_time_rate == Ratio(0, 0)
    assert compute(session, march(as_of=date(2024, 3, 12))).overall.on_time_rate == Ratio(0, 1)


def test_non_compliant_feedback_does_not_make_a_step_on_time(session, units):
    """ "由单位主要领导签字并加盖单位公章" — an unsigned answer is no answer for the rate."""
    case = make_case(session, units[0])
    step = make_step(session, case, due_at=date(2024, 3, 11))
    make_feedback(session, step, received_at=date(2024, 3, 8), stamped=False)
    kpis = compute(session, march()).overall
    assert kpis.on_time_rate == Ratio(0, 1)
    assert kpis.noncompliant_feedback == 1


def test_frozen_outcome_survives_a_calendar_change(session, units):
    """A step answered a day late stays late after an admin declares extra holidays that
    would, recomputed today, push its deadline past the answer."""
    case = make_case(session, units[0])
    frozen_step(
        session,
        case,
        due=date(2024, 3, 11),
        feedback_on=date(2024, 3, 12),
        margin=-1,
        issued_at=date(2024, 3, 4),
    )
    session.commit()
    before = compute(session, march()).overall.on_time_rate

    set_year_schedule(session, SYSTEM, 2024, [date(2024, 3, 5), date(2024, 3, 6)], [])
    session.commit()
    recomputed_due = Calendar.load(session).add(date(2024, 3, 4), 5).day
    assert recomputed_due > date(2024, 3, 12)  # the new calendar would call it on time

    after = compute(session, march()).overall.on_time_rate
    assert before == after == Ratio(0, 1)


# --- 及时登记率 --------------------------------------------------------------------------


def test_registration_rate_counts_notices_registered_on_the_notice_day(session, units):
    """ "承办单位收到《现场协调督办通知》后，应在当天进行登记"."""
    case = make_case(session, units[0], level=Level.ONSITE)

    def notice(issued, registered):
        make_step(
            session,
            case,
            kind=StepKind.ONSITE_NOTICE,
            issued_at=issued,
            registered_at=registered,
        )

    notice(date(2024, 3, 6), datetime(2024, 3, 6, 17, 30))  # same day
    notice(date(2024, 3, 6), datetime(2024, 3, 7, 9, 0))  # next day: late
    notice(date(2024, 3, 6), None)  # never registered
    notice(date(2024, 2, 28), datetime(2024, 2, 28, 10, 0))  # issued outside March
    make_step(session, case, kind=StepKind.SUPERVISION_FORM, issued_at=date(2024, 3, 6))
    assert compute(session, march()).overall.registration_rate == Ratio(1, 3)


# --- 督办件数, 办结率, 提级率 --------------------------------------------------------------


def test_case_counts_by_level_and_scope(session, units):
    a, _ = units
    make_case(session, a, level=Level.WRITTEN, scope=Scope.REPEATED)
    make_case(session, a, level=Level.WRITTEN, scope=Scope.CITY)
    make_case(session, a, level=Level.ONSITE, scope=Scope.REPEATED, opened_at=date(2024, 3, 31))
    make_case(session, a, level=Level.ESCALATED, scope=Scope.LEADER)
    make_case(session, a, opened_at=date(2024, 4, 1))  # April
    gone = make_case(session, a)
    gone.deleted_at = datetime(2024, 3, 20)
    session.add(gone)
    session.flush()

    kpis = compute(session, march()).overall
    assert kpis.cases == 4
    assert kpis.by_level == {Level.WRITTEN: 2, Level.ONSITE: 1, Level.ESCALATED: 1}
    assert kpis.by_scope[Scope.REPEATED] == 2
    assert kpis.by_scope[Scope.CITY] == kpis.by_scope[Scope.LEADER] == 1
    assert kpis.by_scope[Scope.OTHER] == 0


def test_closure_rate_counts_cases_opened_in_the_period_and_closed_by_its_end(session, units):
    a, _ = units

    def closed_case(opened, closed):
        return make_case(session, a, opened_at=opened, status=CaseStatus.CLOSED, closed_at=closed)

    closed_case(date(2024, 3, 4), date(2024, 3, 20))  # counts
    closed_case(date(2024, 3, 5), date(2024, 4, 3))  # closed after the period
    make_case(session, a, opened_at=date(2024, 3, 6))  # open
    closed_case(date(2024, 2, 20), date(2024, 3, 5))  # opened before the period
    kpis = compute(session, march()).overall
    assert kpis.closure_rate == Ratio(1, 3)


def test_escalation_rate_counts_cases_that_went_up_a_level(session, units):
    """ "经书面督办仍未有处置进展的，纳入提级办理范围" — a case started at 提级 did not go up."""
    a, _ = units
    went_up = make_case(session, a, level=Level.ONSITE)
    make_step(session, went_up, level=Level.WRITTEN, status=StepStatus.ESCALATED)
    make_step(session, went_up, level=Level.ONSITE, kind=StepKind.ONSITE_NOTICE)
    by_reason = make_case(session, a, level=Level.ESCALATED)
    make_step(
        session,
        by_reason,
        level=Level.ONSITE,
        status=StepStatus.CLOSED,
        escalation_reason="现场督办后仍无进展",
    )
    started_high = make_case(session, a, level=Level.ESCALATED)
    make_step(session, started_high, kind=StepKind.LEADER_INSTRUCTION)
    make_case(session, a)

    kpis = compute(session, march()).overall
    assert kpis.escalation_rate == Ratio(2, 4)
    assert kpis.escalations == 2


# --- 重复投诉率, 回访满意率 -----------------------------------------------------------------


def test_repeat_rate_counts_tickets_in_a_repeat_group(session, units):
    a, _ = units
    make_ticket(session, received_at=datetime(2024, 3, 1, 0, 0), repeat_group="G1", unit_id=a.id)
    make_ticket(session, received_at=datetime(2024, 3, 31, 23, 59), repeat_group="G1")
    make_ticket(session, received_at=datetime(2024, 3, 15, 10, 0))
    make_ticket(session, received_at=datetime(2024, 3, 15, 11, 0))
    make_ticket(session, received_at=datetime(2024, 4, 1, 0, 0), repeat_group="G1")
    assert compute(session, march()).overall.repeat_rate == Ratio(2, 4)


def test_satisfaction_rate_excludes_tickets_without_a_callback(session):
    """回访满意率 = (满意 + 基本满意) ÷ tickets with a callback; 未回访 is not a callback."""
    for result in [
        CallbackResult.SATISFIED,
        CallbackResult.BASIC,
        CallbackResult.UNSATISFIED,
        CallbackResult.NONE,
        None,
    ]:
        make_ticket(session, received_at=datetime(2024, 3, 5, 9, 0), callback_result=result)
    kpis = compute(session, march()).overall
    assert kpis.satisfaction_rate == Ratio(2, 3)
    assert kpis.tickets == 5


# --- counts and averages -------------------------------------------------------------------


def test_referrals_and_non_compliant_feedback_are_counted_in_the_period(session, units):
    """ "对主观推诿、整改不力造成不良影响的典型事项，移交镇纪委监察办监督"."""
    a, b = units
    case = make_case(session, a)
    session.add(Referral(case_id=case.id, referred_at=date(2024, 3, 20), reason="推诿"))
    session.add(Referral(case_id=case.id, referred_at=date(2024, 4, 2), reason="推诿"))
    step = make_step(session, case, unit_id=b.id)
    make_feedback(session, step, received_at=date(2024, 3, 8), signed=False)
    make_feedback(session, step, received_at=date(2024, 3, 9), stamped=False)
    make_feedback(session, step, received_at=date(2024, 3, 10))
    session.flush()
    report = compute(session, march())
    assert (report.overall.referrals, report.overall.noncompliant_feedback) == (1, 2)
    by_name = {row.unit_name: row for row in report.units}
    assert by_name["镇城建中心"].referrals == 1  # the 主办 unit of the case
    assert by_name["镇城管中队"].noncompliant_feedback == 2  # the unit that answered


def test_average_working_days_to_close(session, units):
    """Over cases closed in the period: 3-4 → 3-11 is 5 working days, 3-29 → 4-8 is 5
    (清明 4-4/4-5 off, Sunday 4-7 worked), 4-1 → 4-3 is 2."""
    a, _ = units
    for opened, closed in [
        (date(2024, 3, 4), date(2024, 3, 11)),
        (date(2024, 3, 29), date(2024, 4, 8)),
        (date(2024, 4, 1), date(2024, 4, 3)),
    ]:
        make_case(session, a, opened_at=opened, status=CaseStatus.CLOSED, closed_at=closed)
    april = Selection(Period.month(2024, 4), as_of=date(2024, 5, 1))
    assert compute(session, april).overall.avg_workdays_to_close == pytest.approx(3.5)
    assert compute(session, march()).overall.avg_workdays_to_close == 5


def test_workday_index_agrees_with_the_calendar():
    calendar = Calendar()
    index = WorkdayIndex.build(calendar, date(2024, 1, 1), date(2024, 12, 31))
    for a, b in [(date(2024, 2, 8), date(2024, 2, 21)), (date(2024, 9, 27), date(2024, 10, 8))]:
        assert index.between(a, b) == calendar.between(a, b)
        assert index.between(b, a) == calendar.between(b, a)


# --- per unit, filters, months ---------------------------------------------------------------


def test_a_case_counts_for_each_of_its_units_but_once_overall(session, units):
    a, b = units
    shared = make_case(session, a)
    session.add(CaseUnit(case_id=shared.id, unit_id=b.id, role=UnitRole.CO))
    make_case(session, b)
    session.flush()
    report = compute(session, march())
    assert report.overall.cases == 2
    assert [(r.unit_name, r.cases) for r in report.units] == [("镇城建中心", 1), ("镇城管中队", 2)]


def test_unit_and_level_filters(session, units):
    a, b = units
    ca = make_case(session, a, level=Level.WRITTEN)
    frozen_step(session, ca, due=date(2024, 3, 11), feedback_on=date(2024, 3, 8), margin=1)
    cb = make_case(session, b, level=Level.ONSITE)
    make_step(session, cb, due_at=date(2024, 3, 11), level=Level.ONSITE)

    only_b = compute(session, march().with_units({b.id}))
    assert (only_b.overall.cases, only_b.overall.on_time_rate) == (1, Ratio(0, 1))
    assert [r.unit_name for r in only_b.units] == ["镇城管中队"]

    levels = by_level(session, march())
    assert levels[Level.WRITTEN].on_time_rate == Ratio(1, 1)
    assert levels[Level.ONSITE].on_time_rate == Ratio(0, 1)
    assert levels[Level.ESCALATED].cases == 0


def test_cases_by_month_includes_empty_months(session, units):
    a, _ = units
    make_case(session, a, opened_at=date(2024, 1, 9))
    make_case(session, a, opened_at=date(2024, 3, 1))
    make_case(session, a, opened_at=date(2024, 3, 31))
    q1 = Selection(Period.quarter(2024, 1), as_of=date(2024, 4, 1))
    assert cases_by_month(session, q1) == [(2024, 1, 1), (2024, 2, 0), (2024, 3, 2)]


# --- periods --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "label"),
    [
        (Period.month(2024, 2), "2024年2月"),
        (Period.month(2024, 12), "2024年12月"),
        (Period.quarter(2024, 1), "2024年第一季度"),
        (Period.quarter(2024, 4), "2024年第四季度"),
        (Period.year(2024), "2024年度"),
        (Period(date(2024, 1, 1), date(2024, 3, 15)), "2024年1月1日至2024年3月15日"),
    ],
)
def test_period_labels(period, label):
    assert period.label == label


def test_month_and_quarter_bounds():
    assert Period.month(2024, 2) == Period(date(2024, 2, 1), date(2024, 2, 29))
    assert Period.quarter(2024, 4) == Period(date(2024, 10, 1), date(2024, 12, 31))


def test_a_reversed_period_is_refused_in_chinese():
    with pytest.raises(ValidationError, match="结束日期 2024-03-01 早于开始日期 2024-03-31"):
        Period(date(2024, 3, 31), date(2024, 3, 1))


def test_no_data_gives_empty_rates_not_errors(session):
    kpis = compute(session, march()).overall
    assert kpis.on_time_rate.value is None
    assert kpis.on_time_rate.percent() == "—"
    assert kpis.avg_workdays_to_close is None


def test_a_no_progress_answer_on_time_is_on_time_and_its_escalation_counts(session, units):
    """Timeliness and progress are separate: a compliant 无进展 answer by the due date is on
    time; the escalation it leads to is counted on its own."""
    case = make_case(session, units[0], level=Level.ONSITE)
    step = frozen_step(
        session,
        case,
        due=date(2024, 3, 11),
        feedback_on=date(2024, 3, 8),
        margin=1,
        progress=Progress.NONE,
        escalation_reason="书面督办后无进展",
    )
    assert step.on_time is True
    kpis = compute(session, march()).overall
    assert kpis.on_time_rate == Ratio(1, 1)
    assert (kpis.escalations, kpis.escalated_cases) == (1, 1)


def test_the_unit_made_responsible_at_the_site_visit_answers_for_the_step(session, units):
    """ "现场协调督办 … 明确处置责任，处置时限" — after the visit the responsible unit must
    answer: the step's timeliness and its escalation count for it; the same-day
    registration counts for the unit the notice was sent to."""
    a, b = units
    case = make_case(session, a, level=Level.ONSITE)
    make_step(
        session,
        case,
        kind=StepKind.ONSITE_NOTICE,
        issued_at=date(2024, 3, 4),
        registered_at=datetime(2024, 3, 4, 9, 0),
        responsible_unit_id=b.id,
        due_at=date(2024, 3, 11),
        status=StepStatus.ESCALATED,
        escalation_reason="现场督办后仍无进展",
    )
    by_name = {row.unit_name: row for row in compute(session, march()).units}
    assert by_name["镇城建中心"].registration_rate == Ratio(1, 1)
    assert by_name["镇城建中心"].on_time_rate == Ratio(0, 0)
    assert by_name["镇城管中队"].on_time_rate == Ratio(0, 1)
    assert by_name["镇城管中队"].escalations == 1


def test_outcomes_frozen_by_the_workflow_survive_a_calendar_edit_and_recompute(session, units):
    """Through `duban.cases`: one 督办单 answered late, one on time; then an admin enters
    holidays and open steps are recomputed — the closed steps' outcomes stay as they were."""
    from duban.cases import open_case, recompute_due_dates, register_feedback

    a, b = units
    for unit, answered in ((a, date(2024, 3, 12)), (b, date(2024, 3, 8))):
        case = open_case(
            session,
            SYSTEM,
            scope=Scope.REPEATED,
            lead_unit_id=unit.id,
            related_info="多次投诉",
            opinion="请限期处置",
            title="测试事项",
            ticket_ids=[make_ticket(session).id],
            opened_at=date(2024, 3, 4),
        )
        (step,) = list(session.exec(select(Step).where(Step.case_id == case.id)))
        assert step.due_at == date(2024, 3, 11)
        register_feedback(
            session,
            SYSTEM,
            step.id,
            received_at=answered,
            date_reason="纸质反馈邮寄收到",
            text="已处置",
            signed=True,
            stamped=True,
            progress=Progress.DONE,
            upload_id=store_upload(session, SYSTEM, name="回执.pdf", data=SCAN).id,
        )
    session.commit()
    before = compute(session, march())
    assert before.overall.on_time_rate == Ratio(1, 2)

    set_year_schedule(session, SYSTEM, 2024, [date(2024, 3, 5), date(2024, 3, 6)], [])
    recompute_due_dates(session, SYSTEM)
    session.commit()
    after = compute(session, march())
    assert after.overall.on_time_rate == Ratio(1, 2)
    assert [(u.unit_name, u.on_time_rate) for u in after.units] == [
        ("镇城建中心", Ratio(0, 1)),
        ("镇城管中队", Ratio(1, 1)),
    ]


# --- fewer queries, same figures ------------------------------------------------------------


@pytest.fixture
def mixed_march(session, units):
    """March 2024 with every step measure at every level, across two units: steps on time,
    late, open past due and pending; notices registered the same day, late and never, one
    whose site visit made the other unit responsible; escalations by status and by reason;
    cases opened, closed and still open; an unsigned feedback, a referral, tickets."""
    a, b = units
    written = make_case(
        session,
        a,
        opened_at=date(2024, 3, 1),
        status=CaseStatus.CLOSED,
        closed_at=date(2024, 3, 22),
    )
    frozen_step(session, written, due=date(2024, 3, 11), feedback_on=date(2024, 3, 8), margin=1)
    frozen_step(session, written, due=date(2024, 3, 12), feedback_on=date(2024, 3, 14), margin=-2)
    make_step(session, written, due_at=date(2024, 3, 13), status=StepStatus.ESCALATED)
    make_step(session, written, due_at=date(2024, 3, 29))  # pending on 3-20
    onsite = make_case(session, b, level=Level.ONSITE, opened_at=date(2024, 3, 4))
    session.add(CaseUnit(case_id=onsite.id, unit_id=a.id, role=UnitRole.CO))
    for issued, registered, responsible in (
        (date(2024, 3, 4), datetime(2024, 3, 4, 16, 0), None),
        (date(2024, 3, 5), datetime(2024, 3, 6, 9, 0), a.id),
        (date(2024, 3, 6), None, None),
    ):
        make_step(
            session,
            onsite,
            kind=StepKind.ONSITE_NOTICE,
            level=Level.ONSITE,
            issued_at=issued,
            due_at=issued + (date(2024, 3, 11) - date(2024, 3, 4)),
            registered_at=registered,
            responsible_unit_id=responsible,
            escalation_reason="现场督办后仍无进展" if responsible else "",
        )
    up = make_case(session, b, level=Level.ESCALATED, opened_at=date(2024, 3, 8))
    late = frozen_step(
        session,
        up,
        due=date(2024, 3, 15),
        feedback_on=date(2024, 3, 18),
        margin=-1,
        level=Level.ESCALATED,
    )
    make_feedback(session, late, received_at=date(2024, 3, 14), signed=False)
    session.add(Referral(case_id=up.id, referred_at=date(2024, 3, 20), reason="推诿"))
    make_ticket(session, unit_id=a.id, repeat_group="G1", callback_result=CallbackResult.SATISFIED)
    make_ticket(session, unit_id=b.id, callback_result=CallbackResult.UNSATISFIED)
    session.commit()
    return a, b


def selections(a, b) -> list[Selection]:
    as_of = date(2024, 3, 20)
    return [
        march(as_of),
        march(as_of).with_units({a.id}),
        march(as_of).with_levels({Level.ONSITE, Level.ESCALATED}),
    ]


def test_the_one_pass_step_counts_equal_the_item_queries(session, mixed_march):
    """`step_counts` counts three measures in one scan; per unit its figures are the rows of
    the item queries `steps_due`, `onsite_notices` and `escalations` counted one by one."""
    a, b = mixed_march
    position = {ON_TIME: 0, LATE: 1, PENDING: 2}
    for sel in selections(a, b):
        expected: dict[int, list[int]] = {}
        for row in items(session, steps_due(sel)):
            expected.setdefault(row.unit_id, [0] * 6)[position[row.outcome]] += 1
        for row in items(session, onsite_notices(sel)):
            counts = expected.setdefault(row.unit_id, [0] * 6)
            counts[3] += 1
            counts[4] += row.registered_same_day
        for row in items(session, escalations(sel)):
            expected.setdefault(row.unit_id, [0] * 6)[5] += 1
        measured = {
            r.unit_id: figures
            for r in compute(session, sel).units
            if any(
                figures := [
                    r.steps_on_time,
                    r.steps_late,
                    r.steps_pending,
                    r.notices,
                    r.notices_registered,
                    r.escalations,
                ]
            )
        }
        assert measured == expected
    everything = compute(session, selections(a, b)[0])
    assert (everything.overall.notices, everything.overall.notices_registered) == (3, 1)
    assert everything.overall.escalations == 2


def test_figures_with_levels_equal_the_separate_calls(session, mixed_march):
    """`compute(with_levels=True)` (the work report) groups each measure by unit and level at
    once; the figures are those of `compute` and `by_level` called apart."""
    a, b = mixed_march
    for sel in selections(a, b):
        together = compute(session, sel, with_levels=True)
        apart = compute(session, sel)
        assert together.overall == apart.overall
        assert together.units == apart.units
        assert together.levels == by_level(session, sel)
    assert compute(session, march()).levels is None
    levels = compute(session, march(date(2024, 3, 20)), with_levels=True).levels
    assert [levels[lv].cases for lv in Level] == [1, 1, 1]


# --- only feedback the center confirmed counts ---------------------------------------------


def unit_replies(session, units):
    """Two 督办单 due 2024-03-11, each answered by its unit's own account on 2024-03-08 (the
    clock set to that day): 镇城建中心 signed, stamped and scanned; 镇城管中队 signed and
    stamped but without the scan. Both still 待核验."""
    from duban import cases
    from duban.enums import Role
    from duban.models import User
    from duban.permissions import Actor
    from tests.helpers import clock_on

    replies = []
    for unit, scanned in zip(units, (True, False), strict=True):
        case = cases.open_case(
            session, SYSTEM, scope=Scope.REPEATED, lead_unit_id=unit.id, related_info="多次投诉",
            opinion="请限期处置", title="噪声", ticket_ids=[make_ticket(session).id],
            opened_at=date(2024, 3, 4),
        )  # fmt: skip
        step = cases.latest_handling_step(session, case.id)
        account = User(
            username=f"u{unit.id}", username_key=f"u{unit.id}", role=Role.UNIT,
            unit_id=unit.id, password_hash="-",
        )  # fmt: skip
        session.add(account)
        session.flush()
        user = Actor(account.id, account.username, Role.UNIT, unit_id=unit.id)
        scan = store_upload(session, user, name="回执.pdf", data=SCAN).id if scanned else None
        with clock_on(date(2024, 3, 8)):
            replies.append(
                cases.register_feedback(
                    session,
                    user,
                    step.id,
                    text="已处置",
                    signed=True,
                    stamped=True,
                    progress=Progress.DONE,
                    upload_id=scan,
                )  # fmt: skip
            )
    session.commit()
    return replies


def test_unconfirmed_or_scanless_feedback_does_not_count_and_confirmation_does(session, units):
    """Feedback a unit enters is 待核验: the step stays open (late after its due date) and a
    scan-less reply is not counted as 不合规 yet; once the center confirms, the scanned reply
    is on time and the scan-less one is 不合规 and leaves its step late."""
    from duban import cases

    scanned, scanless = unit_replies(session, units)
    before = compute(session, march())
    assert (before.overall.on_time_rate, before.overall.noncompliant_feedback) == (Ratio(0, 2), 0)
    for reply in (scanned, scanless):
        cases.confirm_feedback(session, SYSTEM, reply.id)
    session.commit()
    after = compute(session, march())
    assert [(u.unit_name, u.on_time_rate, u.noncompliant_feedback) for u in after.units] == [
        ("镇城建中心", Ratio(1, 1), 0),
        ("镇城管中队", Ratio(0, 1), 1),
    ]
