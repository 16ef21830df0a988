"""报表 and 领导驾驶舱 through AppTest: the numbers a user sees, the filters, the report and
the assessment downloads, typical cases, and the admin-only scoring rules.

Seed §三 (三): "形成协调督办工作报告，报送区镇领导 … 纳入对承办单位的年度绩效考核".
"""

import io
from datetime import date

import pytest
from docx import Document as open_docx
from openpyxl import load_workbook
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from duban.assessment import load_rules
from duban.clock import today
from duban.enums import Level, Role, StepStatus
from duban.models import AuditLog, Case
from duban.permissions import Actor
from tests.factories import make_case, make_step, make_unit
from tests.helpers import open_page

ADMIN = Actor(None, "admin", Role.ADMIN)
CLERK = Actor(None, "clerk", Role.CENTER)
LEADER = Actor(None, "leader", Role.LEADER)


def answered(session, case, due):
    """A step answered on time, its outcome frozen as duban.cases freezes it."""
    make_step(session, case, due_at=due, status=StepStatus.CLOSED, on_time=True, margin_workdays=0)


@pytest.fixture
def year_2024(engine):
    """Two units in 2024: 镇城建中心 one case answered on time, 镇城管中队 one written case whose
    step is past due unanswered (late), plus an on-site case answered on time."""
    with Session(engine) as session:
        a = make_unit(session, "镇城建中心")
        b = make_unit(session, "镇城管中队")
        ca = make_case(session, a, opened_at=date(2024, 3, 4), title="道路积水")
        answered(session, ca, date(2024, 3, 11))
        cb = make_case(session, b, opened_at=date(2024, 5, 6), title="违章搭建")
        make_step(session, cb, issued_at=date(2024, 5, 6), due_at=date(2024, 5, 13))
        cc = make_case(session, b, level=Level.ONSITE, opened_at=date(2024, 6, 3), title="噪声")
        answered(session, cc, date(2024, 6, 11))
        session.commit()
        return ca.case_no, cb.case_no


def open_reports(actor: Actor, **state) -> AppTest:
    return open_page(
        actor, "pages/reports.py", state={"reports_kind": "年度", "reports_year": 2024, **state}
    )


def scores_table(at: AppTest):
    """The assessment summary on the 绩效考核 tab (the dataframe with a 得分 column)."""
    return next(
        d.value for d in at.dataframe if "得分" in d.value.columns and "排名" in d.value.columns
    )


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_the_page_shows_the_year_figures(year_2024):
    at = open_reports(CLERK)
    assert metric(at, "督办件数") == "3"
    assert metric(at, "按时反馈率") == "66.7%"
    assert "2 / 3" in [c.value for c in at.caption]


def test_unit_and_level_filters_change_the_figures(engine, year_2024):
    with Session(engine) as session:
        unit_id = session.exec(select(Case.lead_unit_id).where(Case.title == "违章搭建")).one()
    at = open_reports(CLERK, reports_units=[unit_id])
    assert (metric(at, "督办件数"), metric(at, "按时反馈率")) == ("2", "50.0%")
    at = open_reports(CLERK, reports_levels=[Level.ONSITE])
    assert (metric(at, "督办件数"), metric(at, "按时反馈率")) == ("1", "100.0%")


def level_table(at: AppTest):
    """The 按督办类型 table of the 指标概览 tab."""
    return next(d.value for d in at.dataframe if "督办类型" in d.value.columns)


@pytest.mark.parametrize("levels", [[], [Level.ONSITE, Level.ESCALATED]])
def test_the_level_table_shows_the_figures_per_level(engine, year_2024, levels):
    """The page reads the level rows from `compute(with_levels=True)`; they are what
    `kpi.by_level` computes on its own, for every level or the levels filtered."""
    from duban.kpi import Period, Selection, by_level
    from duban.reports import kpi_table

    at = open_reports(CLERK, reports_levels=levels)
    shown = level_table(at)
    with Session(engine) as session:
        expected = by_level(session, Selection(Period.year(2024), levels=frozenset(levels)))
    rows = kpi_table(list(expected.values()), "督办类型")
    for row, level in zip(rows, expected, strict=True):
        row["督办类型"] = level.label
    assert shown.to_dict("records") == rows
    cases = dict(zip(shown["督办类型"], shown["督办件数"], strict=True))
    assert cases == ({"书面督办": "2", "现场协调督办": "1", "提级协调督办": "0"} if not levels
                     else {"现场协调督办": "1", "提级协调督办": "0"})  # fmt: skip


def test_a_month_shows_that_month_only(year_2024):
    at = open_reports(CLERK, reports_kind="月度", reports_month=5)
    assert metric(at, "督办件数") == "1"
    assert "2024年5月" in at.caption[0].value


def test_generating_the_work_report_offers_the_docx(year_2024):
    at = open_reports(CLERK)
    at.button(key="reports_generate").click().run()
    assert not at.exception and not at.error
    rendered = at.session_state["reports_docx"]
    assert rendered.file_name == "协调督办工作报告-2024年度.docx"
    document = open_docx(io.BytesIO(rendered.content))
    assert [p.text for p in document.paragraphs[:2]] == [
        "2024年度",
        "12345市民服务热线协调督办工作报告",
    ]  # the title broken at its sense boundary (GB/T 9704 梯形)
    assert at.download_button(key="reports_docx_download").label == "下载工作报告（docx）"


def test_a_leader_reads_but_does_not_generate_or_edit(year_2024):
    at = open_reports(LEADER)
    assert [t.label for t in at.tabs] == [
        "指标概览",
        "承办单位",
        "绩效考核",
        "工作报告",
        "典型案例",
    ]
    assert not [b for b in at.button if b.key == "reports_generate"]
    assert any("城运中心或管理员" in i.value for i in at.info)


def test_the_assessment_tab_offers_the_xlsx_with_the_scores(year_2024):
    at = open_reports(CLERK)
    table = scores_table(at)
    scores = dict(zip(table["承办单位"], table["得分"], strict=True))
    assert scores == {"镇城建中心": 105, "镇城管中队": 98}
    assert at.download_button(key="reports_assessment_xlsx").label == "下载考核表（xlsx）"


def test_the_xlsx_behind_the_button_matches_the_table(engine, year_2024):
    from duban.assessment import assess, to_xlsx
    from duban.kpi import Period, Selection

    with Session(engine) as session:
        data = to_xlsx(assess(session, Selection(Period.year(2024), as_of=today())))
    summary = load_workbook(io.BytesIO(data))["汇总"]
    assert [summary.cell(r, 2).value for r in (3, 4)] == ["镇城建中心", "镇城管中队"]
    assert [summary.cell(r, 17).value for r in (3, 4)] == [105, 98]  # 得分


def test_staff_mark_a_typical_case(engine, year_2024):
    case_no, _ = year_2024
    at = open_reports(CLERK)
    at.text_input(key="reports_typical_case_no").input(case_no)
    at.text_area(key="reports_typical_text").input("积水反复，已形成长效机制。")
    next(b for b in at.button if b.label == "选为典型案例").click().run()
    assert not at.error, [e.value for e in at.error]
    with Session(engine) as session:
        case = session.exec(select(Case).where(Case.case_no == case_no)).one()
        assert case.typical_text == "积水反复，已形成长效机制。"


def test_an_unknown_case_number_is_named(year_2024):
    at = open_reports(CLERK)
    at.text_input(key="reports_typical_case_no").input("不存在〔2024〕第999号")
    at.text_area(key="reports_typical_text").input("x")
    next(b for b in at.button if b.label == "选为典型案例").click().run()
    assert at.error[0].value == "督办编号“不存在〔2024〕第999号”不存在"


def test_only_admins_see_and_save_the_scoring_rules(engine, year_2024):
    assert "考核规则" not in [t.label for t in open_reports(CLERK).tabs]
    at = open_reports(ADMIN)
    assert [t.label for t in at.tabs][-1] == "考核规则"
    at.number_input(key="reports_rule_overdue_step").set_value(4.0)
    next(b for b in at.button if b.label == "保存考核规则").click().run()
    assert [s.value for s in at.success] == ["考核规则已保存"]
    with Session(engine) as session:
        assert load_rules(session).overdue_step == 4
        assert session.exec(select(AuditLog).where(AuditLog.field == "assessment_rules")).one()
    at.run()
    table = scores_table(at)
    assert dict(zip(table["承办单位"], table["得分"], strict=True))["镇城管中队"] == 96


# --- 领导驾驶舱 -----------------------------------------------------------------------------


def test_the_cockpit_shows_this_year_at_a_glance(engine):
    day = today()
    with Session(engine) as session:
        unit = make_unit(session, "镇城建中心")
        case = make_case(session, unit, opened_at=day.replace(month=1, day=1))
        make_step(session, case, issued_at=day.replace(month=1, day=1), due_at=day)
        session.commit()
    at = open_page(LEADER, "pages/cockpit.py")
    assert metric(at, "在办督办事项") == "1"
    assert metric(at, "本年新增督办") == "1"
    assert metric(at, "逾期未反馈环节") == "0"
