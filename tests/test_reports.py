"""协调督办工作报告: its data, its charts, the rendered docx checked cell by cell, the CLI.

Seed §三 (三): "镇城运中心形成协调督办工作报告，报送区镇领导、党政办、相关承办单位 …
对主观推诿、整改不力造成不良影响的典型事项，移交镇纪委监察办监督".
"""

import io
import warnings
from datetime import date, datetime
from pathlib import Path

import pytest
from docx import Document as open_docx
from matplotlib import font_manager
from sqlmodel import select

from duban.assessment import assess, summary_rows
from duban.cli import main
from duban.enums import (
    AuditAction,
    CallbackResult,
    CaseStatus,
    DocumentKind,
    Level,
    Role,
    Scope,
    StepKind,
    StepStatus,
    UnitRole,
)
from duban.errors import ConflictError, PermissionDenied, ValidationError
from duban.kpi import Period, by_level
from duban.models import (
    AuditLog,
    CaseUnit,
    Document,
    Meeting,
    MeetingCase,
    Referral,
    RoutingRule,
    Unit,
)
from duban.permissions import SYSTEM, Actor
from duban.reports import (
    build_report,
    chart_cases_by_month,
    chart_on_time_by_unit,
    cjk_font,
    mark_typical,
    render_work_report,
    unmark_typical,
)
from tests.factories import make_case, make_feedback, make_step, make_ticket, make_unit

Q1 = Period.quarter(2024, 1)
AS_OF = date(2024, 4, 15)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def quarter(session):
    """Q1 2024 with a known answer:

    - 镇城建中心: case 1 (书面, closed 1-20, its step answered on time) and case 3 (现场: the
      notice registered the same day, answered late — margin −1 — after an unsigned answer);
    - 镇城管中队: case 2 (书面 → 提级: the 督办单 unanswered past due and left upward, a
      leader's 批办, a referral, discussed at a 专题会 that fixed a routing rule; typical);
    - four tickets: one in a repeat group; callbacks 满意, 基本满意, 不满意, 未回访.
    """
    a = make_unit(session, "镇城建中心")
    b = make_unit(session, "镇城管中队")
    c1 = make_case(
        session,
        a,
        title="道路积水",
        scope=Scope.REPEATED,
        opened_at=date(2024, 1, 8),
        status=CaseStatus.CLOSED,
        closed_at=date(2024, 1, 20),
        result_text="已疏通排水管",
    )
    make_step(
        session,
        c1,
        issued_at=date(2024, 1, 8),
        due_at=date(2024, 1, 15),
        status=StepStatus.CLOSED,
        on_time=True,
        margin_workdays=2,
        closed_at=date(2024, 1, 11),
    )
    c2 = make_case(
        session,
        b,
        title="违章搭建推诿",
        scope=Scope.CROSS_FUNCTION,
        level=Level.ESCALATED,
        opened_at=date(2024, 2, 1),
    )
    make_step(
        session,
        c2,
        level=Level.WRITTEN,
        issued_at=date(2024, 2, 1),
        due_at=date(2024, 2, 8),
        status=StepStatus.ESCALATED,
        escalation_reason="逾期未反馈",
    )
    make_step(
        session, c2, kind=StepKind.LEADER_INSTRUCTION, issued_at=date(2024, 2, 20), due_at=None
    )
    session.add(Referral(case_id=c2.id, referred_at=date(2024, 3, 1), reason="主观推诿"))
    c3 = make_case(
        session,
        a,
        title="噪声扰民",
        scope=Scope.CITY,
        level=Level.ONSITE,
        opened_at=date(2024, 3, 4),
    )
    notice = make_step(
        session,
        c3,
        kind=StepKind.ONSITE_NOTICE,
        issued_at=date(2024, 3, 4),
        registered_at=datetime(2024, 3, 4, 10, 0),
        due_at=date(2024, 3, 11),
        status=StepStatus.CLOSED,
        on_time=False,
        margin_workdays=-1,
        closed_at=date(2024, 3, 12),
    )
    make_feedback(session, notice, received_at=date(2024, 3, 8), signed=False)
    make_feedback(session, notice, received_at=date(2024, 3, 12))
    meeting = Meeting(held_at=date(2024, 3, 20), title="热线工作专题会", chair="李副镇长")
    session.add(meeting)
    session.flush()
    session.add(MeetingCase(meeting_id=meeting.id, case_id=c2.id))
    session.add(
        RoutingRule(
            meeting_id=meeting.id, name="小区内违章搭建", unit_id=b.id, handling_path="城管立案查处"
        )
    )
    for n, callback in enumerate(
        [
            CallbackResult.SATISFIED,
            CallbackResult.BASIC,
            CallbackResult.UNSATISFIED,
            CallbackResult.NONE,
        ]
    ):
        make_ticket(
            session,
            received_at=datetime(2024, 2, 1 + n, 9, 0),
            callback_result=callback,
            repeat_group="G1" if n == 0 else "",
            unit_id=a.id,
        )
    session.commit()
    mark_typical(
        session,
        SYSTEM,
        c2.id,
        "多部门推诿，经专题会明确由城管中队牵头。",
        expected_version=c2.version,
    )
    session.commit()
    return c1, c2, c3


def rows(table) -> list[list[str]]:
    return [[cell.text.strip() for cell in row.cells] for row in table.rows]


def tables_by_header(document) -> dict[str, list[list[str]]]:
    """Each table keyed by its first header cell and second header cell."""
    out = {}
    for table in document.tables:
        data = rows(table)
        out[f"{data[0][0]}/{data[0][1]}"] = data
    return out


def test_report_data_lists_what_the_period_holds(session, quarter):
    _, c2, _ = quarter
    report = build_report(session, Q1, as_of=AS_OF)
    assert report.title == "2024年第一季度12345市民服务热线协调督办工作报告"
    assert [c.case_no for c in report.escalated] == [c2.case_no]
    assert report.escalated[0].outcome == "督办中"
    (meeting,) = report.meetings
    assert (meeting.cases, meeting.rules) == (1, [("小区内违章搭建", "镇城管中队", "城管立案查处")])
    assert [(r.case_no, r.unit, r.reason) for r in report.referrals] == [
        (c2.case_no, "镇城管中队", "主观推诿")
    ]
    assert [(c.case_no, c.outcome) for c in report.typical] == [
        (c2.case_no, "多部门推诿，经专题会明确由城管中队牵头。")
    ]


def test_the_docx_tables_hold_the_figures_cell_by_cell(session, quarter):
    result = render_work_report(session, SYSTEM, Q1, as_of=AS_OF)
    session.commit()
    document = open_docx(io.BytesIO(result.content))
    tables = tables_by_header(document)

    assert tables["指标/比率"] == [
        ["指标", "比率", "分子", "分母"],
        ["按时反馈率", "33.3%", "1", "3"],
        ["及时登记率", "100.0%", "1", "1"],
        ["办结率", "33.3%", "1", "3"],
        ["提级率", "33.3%", "1", "3"],
        ["重复投诉率", "25.0%", "1", "4"],
        ["回访满意率", "66.7%", "2", "3"],
    ]
    header = ["督办件数", "已办结", "办结率", "到期环节", "按时反馈", "按时反馈率", "提级次数", "不合规反馈", "移交纪委"]  # fmt: skip
    assert tables["督办类型/督办件数"] == [
        ["督办类型", *header],
        ["书面督办", "1", "1", "100.0%", "2", "1", "50.0%", "1", "0", "0"],
        ["现场协调督办", "1", "0", "0.0%", "1", "0", "0.0%", "0", "1", "0"],
        ["提级协调督办", "1", "0", "0.0%", "0", "0", "—", "0", "0", "1"],
        ["合计", "3", "1", "33.3%", "3", "1", "33.3%", "1", "1", "1"],
    ]
    assert tables["承办单位/督办件数"] == [
        ["承办单位", *header],
        ["镇城建中心", "2", "1", "50.0%", "2", "1", "50.0%", "0", "1", "0"],
        ["镇城管中队", "1", "0", "0.0%", "1", "0", "0.0%", "1", "0", "1"],
        ["合计", "3", "1", "33.3%", "3", "1", "33.3%", "1", "1", "1"],
    ]
    scopes = dict(row for row in tables["协调督办范围/件数"][1:])
    assert scopes["重复投诉多次，且办理工作未有明显进展的事项"] == "1"
    assert scopes["职能交叉、政策缺失、推诿扯皮事项"] == "1"
    assert scopes["市级督办事项"] == "1"
    assert scopes["其他需协调督办事项"] == "0"
    assert tables["会议日期/会议名称"] == [
        ["会议日期", "会议名称", "主持人", "研究事项", "明确的处置规则"],
        ["2024年3月20日", "热线工作专题会", "李副镇长", "1", "小区内违章搭建：镇城管中队"],
    ]
    assert tables["会议日期/事项类别"] == [
        ["会议日期", "事项类别", "处置部门", "处置路径"],
        ["2024年3月20日", "小区内违章搭建", "镇城管中队", "城管立案查处"],
    ]
    assert tables["排名/承办单位"] == [
        [
            "排名",
            "承办单位",
            "督办件数",
            "到期环节",
            "按时反馈",
            "按时反馈率",
            "逾期环节",
            "提级次数",
            "不合规反馈",
            "移交纪委",
            "扣分",
            "加分",
            "得分",
        ],  # fmt: skip
        ["1", "镇城建中心", "2", "2", "1", "50.0%", "1", "0", "1", "0", "3", "0", "97"],
        ["2", "镇城管中队", "1", "1", "0", "0.0%", "1", "1", "0", "1", "10", "0", "90"],
    ]


def test_the_docx_lists_escalated_matters_referrals_and_typical_cases(session, quarter):
    _, c2, _ = quarter
    document = open_docx(io.BytesIO(render_work_report(session, SYSTEM, Q1, as_of=AS_OF).content))
    case_tables = [rows(t) for t in document.tables if rows(t)[0][0] == "督办编号"]
    escalated, referrals = case_tables
    assert escalated == [
        ["督办编号", "督办事项", "承办单位", "办理结果"],
        [c2.case_no, "违章搭建推诿", "镇城管中队", "督办中"],
    ]
    assert referrals == [
        ["督办编号", "督办事项", "主办单位", "移交日期", "移交原因"],
        [c2.case_no, "违章搭建推诿", "镇城管中队", "2024年3月1日", "主观推诿"],
    ]
    text = "\n".join(p.text for p in document.paragraphs)
    assert f"违章搭建推诿（{c2.case_no}，镇城管中队）" in text
    assert "多部门推诿，经专题会明确由城管中队牵头。" in text
    assert (
        "2024年第一季度，共确定督办事项 3 件（其中书面督办 1 件、现场协调督办 1 件、提级协调督办 1 件）"
        in text
    )
    assert "回访满意率 66.7%（未回访不计入）" in text


def test_the_docx_embeds_both_charts_and_is_registered(session, quarter, data_dir: Path):
    result = render_work_report(session, SYSTEM, Q1, as_of=AS_OF)
    session.commit()
    document = open_docx(io.BytesIO(result.content))
    assert len(document.inline_shapes) == 2
    images = [p for p in document.part.package.parts if p.content_type == "image/png"]
    assert len(images) == 2 and all(p.blob.startswith(PNG) for p in images)
    row = session.get(Document, result.document_id)
    assert row.kind == DocumentKind.WORK_REPORT
    assert row.path == "documents/2024/工作报告/协调督办工作报告-2024年第一季度.docx"
    assert (data_dir / row.path).read_bytes() == result.content


def test_a_quiet_period_says_so_instead_of_empty_tables(session):
    make_unit(session, "镇城建中心")
    session.commit()
    document = open_docx(
        io.BytesIO(render_work_report(session, SYSTEM, Period.month(2024, 5), as_of=AS_OF).content)
    )
    text = "\n".join(p.text for p in document.paragraphs)
    for sentence in ["本期无提级办理事项。", "本期未召开热线工作专题会。", "本期无移交镇纪委监察办的事项。", "本期未选定典型案例。"]:  # fmt: skip
        assert sentence in text
    assert not any(rows(t)[0][0] == "督办编号" for t in document.tables)


def test_only_staff_generate_the_report(session):
    leader = Actor(None, "leader", Role.LEADER)
    with pytest.raises(PermissionDenied, match="生成协调督办工作报告"):
        render_work_report(session, leader, Q1)


# --- charts ------------------------------------------------------------------------------------


def test_charts_use_an_installed_cjk_font_and_miss_no_glyph(session, quarter):
    """Chinese labels render only with a CJK font really on the machine (fonts-noto-cjk)."""
    name = cjk_font()
    assert name is not None, "install fonts-noto-cjk"
    path = font_manager.findfont(
        font_manager.FontProperties(family=name), fallback_to_default=False
    )
    assert "NotoSansCJK" in Path(path).name.replace("-", "")
    report = build_report(session, Q1, as_of=AS_OF)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pictures = [chart_cases_by_month(report.months), chart_on_time_by_unit(report.units)]
    assert not [w for w in caught if "missing from" in str(w.message)]
    assert all(p.startswith(PNG) and len(p) > 10_000 for p in pictures)


# --- 典型案例 ------------------------------------------------------------------------------------


def test_marking_a_typical_case_is_audited_and_checked(session):
    unit = make_unit(session)
    case = make_case(session, unit)
    session.commit()
    with pytest.raises(ValidationError, match="典型案例说明不能为空"):
        mark_typical(session, SYSTEM, case.id, "  ", expected_version=case.version)
    with pytest.raises(PermissionDenied):
        mark_typical(session, Actor(None, "leader", Role.LEADER), case.id, "x", expected_version=1)
    mark_typical(session, SYSTEM, case.id, "典型推诿", expected_version=1)
    session.commit()
    with pytest.raises(ConflictError):
        unmark_typical(session, SYSTEM, case.id, expected_version=1)
    unmark_typical(session, SYSTEM, case.id, expected_version=2)
    session.commit()
    trail = session.exec(
        select(AuditLog.old, AuditLog.new, AuditLog.note).where(
            AuditLog.entity == "case", AuditLog.field == "typical_text"
        )
    ).all()
    assert trail == [("", "典型推诿", "选为典型案例"), ("典型推诿", "", "取消典型案例")]
    assert session.exec(select(AuditLog.action).where(AuditLog.entity == "case")).first() == (
        AuditAction.UPDATE
    )


# --- command line ----------------------------------------------------------------------------------


def test_cli_report_writes_the_docx(engine, quarter, tmp_path, capsys):
    out = tmp_path / "out" / "report.docx"
    assert main(["report", "--from", "2024-01-01", "--to", "2024-03-31", "--out", str(out)]) == 0
    document = open_docx(out)
    assert [p.text for p in document.paragraphs[:2]] == [
        "2024年第一季度",
        "12345市民服务热线协调督办工作报告",
    ]
    assert str(out) in capsys.readouterr().out


def test_cli_report_refuses_a_bad_range_in_chinese(engine, capsys, tmp_path):
    out = tmp_path / "r.docx"
    assert main(["report", "--from", "2024-03-31", "--to", "2024-01-01", "--out", str(out)]) == 2
    assert "结束日期 2024-01-01 早于开始日期 2024-03-31" in capsys.readouterr().err
    assert not out.exists()


def test_the_report_counts_the_assessment_the_items_list(session, quarter):
    """The report scores units from counted deductions (`assess(detail=False)`); its table is
    the one the listed items give, and its per-level figures are `kpi.by_level`'s."""
    report = build_report(session, Q1, as_of=AS_OF)
    sel = report.selection
    assert not report.assessment.detailed
    assert summary_rows(report.assessment) == summary_rows(assess(session, sel))
    assert summary_rows(report.assessment)  # both units are there, with deductions
    assert report.levels == by_level(session, sel)


def test_case_lines_name_every_unit_lead_first(session, quarter):
    """An escalated case handled by two units lists both, 主办 first (the 协办's name sorts
    first); a case whose units were never recorded lists none."""
    _, c2, _ = quarter
    a = session.exec(select(Unit).where(Unit.name == "镇城建中心")).one()
    session.add(CaseUnit(case_id=c2.id, unit_id=a.id, role=UnitRole.CO))
    bare = make_case(session, a, level=Level.ESCALATED, opened_at=date(2024, 3, 25), title="无单位")
    for link in session.exec(select(CaseUnit).where(CaseUnit.case_id == bare.id)):
        session.delete(link)
    session.commit()
    lines = build_report(session, Q1, as_of=AS_OF).escalated
    assert [(c.case_no, c.units) for c in lines] == [
        (c2.case_no, "镇城管中队、镇城建中心"),
        (bare.case_no, ""),
    ]
    assert lines[1].outcome == "督办中"
