"""Papers a leader would sign (issue 17), read back from the rendered files for the demo
cases of `tests.paper_cases`: python-docx for text and structure, LibreOffice → PDF →
pdftotext where line and page breaks matter."""

from __future__ import annotations

import io
import itertools
import re
import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn

from duban import config
from duban.documents import (
    KINDS,
    document_preview,
    office_setup_needed,
    paper_prefill,
    render_document,
    save_office,
    title_lines,
    to_pdf_many,
)
from duban.enums import DocumentKind
from duban.errors import ValidationError
from duban.kpi import Period
from duban.permissions import SYSTEM
from duban.reports import render_work_report
from tests.paper_cases import CLERK, LONG_TEXT, PaperTown, build_paper_town

needs_office = pytest.mark.skipif(
    shutil.which("soffice") is None or shutil.which("pdftotext") is None,
    reason="LibreOffice (soffice) and poppler-utils are needed to read page layout",
)


@pytest.fixture
def town(session) -> PaperTown:
    town = build_paper_town(session)
    save_office(session, SYSTEM, name="青浦区赵巷镇城市运行管理中心", contact="王敏", phone="021-59751234")  # fmt: skip
    session.commit()
    return town


def render(session, kind: str, case_id: int) -> bytes:
    doc = render_document(session, CLERK, kind, case_id=case_id)
    session.commit()
    return (config.data_dir() / doc.path).read_bytes()


def opened(data: bytes) -> docx.document.Document:
    return docx.Document(io.BytesIO(data))


def paragraphs(document) -> list[str]:
    return [p.text for p in document.paragraphs]


def cells(document) -> list[str]:
    return [c.text for t in document.tables for row in t.rows for c in row.cells]


def pdf_pages(pdf: bytes) -> list[str]:
    """Each page's text with its line breaks (pdftotext -layout; pages split at form feeds)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "paper.pdf"
        path.write_bytes(pdf)
        text = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
    return [page for page in text.split("\f") if page.strip()]


def squeeze(text: str) -> str:
    """pdftotext's text without the spaces it puts between Chinese and digits."""
    return re.sub(r"(?<=\S) (?=\S)", "", text)


# --- the forms' cells: nothing breaks inside a label, a date or a number ---------------------


FORM_LABELS = (
    *("工单编号", "诉求时间", "督办编号", "承办单位", "诉求内容", "诉求地址", "内容描述"),
    *("相关情况", "督办意见", "督办情况", "协调督办事由", "协调督办编号", "协调督办地点"),
    *("协调督办流程", "出席范围", "联系电话", "督办类型", "督办事项", "督办日期", "反馈期限"),
    *("处置情况", "处置进展", "主要领导签字", "单位盖章", "反馈日期", "事项来源"),
)
FORM_VALUES = (
    *(f"2025年12月{d}日17:31" for d in range(1, 10)),
    *(f"2601010018{n}" for n in range(10, 19)),
    *(f"赵巷督〔2025〕第00{n}号" for n in range(1, 7)),
)


def columns(line: str) -> list[str]:
    """A PDF text line cut into its table columns (two or more spaces apart)."""
    return [squeeze(c) for c in re.split(r"\s{2,}", line.strip()) if c]


def broken(lines: list[str], whole: str, *, exact: bool) -> str | None:
    """The piece a line ends `whole` with when the next line goes on with the rest of it
    (`exact`: a label, alone in its column)."""
    for line, after in itertools.pairwise(lines):
        here, there = columns(line), columns(after)
        for n in range(1, len(whole)):
            head, rest = whole[:n], whole[n:]
            ends = any(c == head if exact else c.endswith(head) for c in here)
            if ends and any(c.startswith(rest) for c in there) and whole not in "".join(here):
                return head
    return None


@needs_office
def test_labels_dates_case_and_ticket_numbers_never_break_in_the_forms(session, town):
    """LibreOffice lays every paper of every demo case out; in the forms (督办单, 现场协调督办
    通知, 书面反馈回执) each line holds a label, a 诉求时间, a 督办编号 or a 工单编号 whole."""
    kinds = [k for k, spec in KINDS.items() if spec.build is not None]
    files = {}
    for name in ("one", "nine", "long", "onsite", "escalated", "leader"):
        case = getattr(town, name)
        for kind in kinds:
            try:
                files[f"{name}-{kind.value}.docx"] = render(session, kind.value, case.id)
            except ValidationError:
                continue  # a paper the case cannot have (asserted elsewhere)
    pdfs = to_pdf_many(files)
    forms = ("supervision-form", "onsite-notice", "feedback-receipt")
    for name, pdf in pdfs.items():
        if not name.split("-", 1)[1].startswith(forms):
            continue
        lines = [line for page in pdf_pages(pdf) for line in page.splitlines() if line.strip()]
        for whole in FORM_LABELS:
            assert broken(lines, whole, exact=True) is None, f"{name}: label {whole} breaks"
        for whole in FORM_VALUES:
            cut = broken(lines, whole, exact=False)
            assert cut is None, f"{name}: “{whole}” breaks after “{cut}”"
    text = squeeze("".join(pdf_pages(pdfs["nine-supervision-form.docx"])))
    assert all(v in text for v in FORM_VALUES[:18])  # every time and number, whole
    nine = pdf_pages(pdfs["nine-supervision-form.docx"])
    assert 1 < len(nine) <= 3, "nine tickets fit in three pages"
    for page in nine:  # a ticket's block is never split: its 工单编号 row has its 内容描述
        assert page.count("工单编号") == page.count("内容描述")
    last = squeeze(nine[-1])
    assert "督办情况" in last and "青浦区赵巷镇城市运行管理中心" in last  # signature with the form
    assert "2025年12月12日" in last
    receipt = pdf_pages(pdfs["nine-feedback-receipt.docx"])
    assert len(receipt) == 1
    assert all(f"2601010018{n}" in squeeze(receipt[0]) for n in range(10, 19))
    long = pdf_pages(pdfs["long-supervision-form.docx"])
    assert len(long) > 2  # ≈5,000 characters run on, nothing lost
    flowing = re.sub(r"—\d+—", "", re.sub(r"\s", "", "".join(long)))
    assert flowing.count("市民反映") == LONG_TEXT.count("市民反映")
    minutes = squeeze(pdf_pages(pdfs["escalated-meeting-minutes.docx"])[-1])
    assert "出席" in minutes and "2025年6月19日" in minutes  # the signature not alone


@needs_office
def test_papers_of_several_pages_carry_gb9704_page_numbers(session, town):
    """GB/T 9704 7.5: "— 1 —" 4号半角宋体, 单页码居右空一字, 双页码居左空一字."""
    pdf = to_pdf_many({"f.docx": render(session, "supervision-form", town.nine.id)})["f.docx"]
    pages = pdf_pages(pdf)
    numbers = [re.findall(r"—\s*(\d+)\s*—", page) for page in pages]
    assert numbers == [[str(n)] for n in range(1, len(pages) + 1)]
    odd, even = pages[0].splitlines(), pages[1].splitlines()
    odd_line = next(line for line in odd if re.search(r"—\s*1\s*—", line))
    even_line = next(line for line in even if re.search(r"—\s*2\s*—", line))
    assert len(odd_line) - len(odd_line.lstrip()) > 30  # right
    assert len(even_line) - len(even_line.lstrip()) < 5  # left


def test_every_paper_has_odd_and_even_page_number_footers(session, town):
    for kind in (DocumentKind.SUPERVISION_FORM, DocumentKind.FEEDBACK_RECEIPT, DocumentKind.ONSITE_NOTICE):  # fmt: skip
        case = town.onsite if kind is DocumentKind.ONSITE_NOTICE else town.nine
        document = opened(render(session, kind.value, case.id))
        assert document.settings.odd_and_even_pages_header_footer
        section = document.sections[0]
        for footer, align, indent in (
            (section.footer, "right", "w:right"),
            (section.even_page_footer, "left", "w:left"),
        ):
            p = footer.paragraphs[0]
            xml = p._p.xml
            assert p.text.startswith("— ") and p.text.endswith(" —")
            assert 'w:instr="PAGE"' in xml
            assert p.alignment.name.lower() == align
            assert re.search(rf'<w:ind {indent}="280"', xml)  # 一字 = 14 pt
            assert p.style.font.size.pt == 14
            fonts = p.style.element.find(qn("w:rPr")).find(qn("w:rFonts"))
            assert fonts.get(qn("w:eastAsia")) == "宋体"
    for spec in KINDS.values():  # every default template
        document = docx.Document(str(Path("templates") / spec.template))
        assert document.settings.odd_and_even_pages_header_footer, spec.template


def test_a_tickets_rows_keep_together_and_only_a_long_text_may_run_on(session, town):
    form = opened(render(session, "supervision-form", town.nine.id))
    rows = form.tables[0].rows
    heads = [i for i, r in enumerate(rows) if r.cells[0].text == "工单编号"]
    assert len(heads) == 9
    for i in heads:
        block = rows[i : i + (4 if i == heads[0] else 2)]
        for row in block:
            assert row._tr.trPr.find(qn("w:cantSplit")) is not None
        for row in block[:-1]:
            assert all(p.paragraph_format.keep_with_next for p in row.cells[-1].paragraphs)
    long = opened(render(session, "supervision-form", town.long.id)).tables[0].rows
    content = next(r for r in long if r.cells[1].text == "内容描述")
    assert content._tr.trPr.find(qn("w:cantSplit")) is None  # 5,000 characters may break


# --- what each paper says ------------------------------------------------------------------


def test_a_case_without_a_ticket_prints_no_ticket_boxes(session, town):
    form = opened(render(session, "supervision-form", town.leader.id))
    texts = cells(form)
    assert "工单编号" not in texts and "诉求地址" not in texts and "内容描述" not in texts
    assert "区领导批示：请赵巷镇抓紧研究解决示例路交通拥堵。" in texts
    assert "赵巷督〔2025〕第006号" in texts
    assert "2025年9月1日" in "\n".join(texts)  # the opening day, not today


def test_a_case_that_began_on_site_dates_its_form_by_its_first_step_with_the_deadline(
    session, town
):
    form = opened(render(session, "supervision-form", town.onsite.id))
    text = "\n".join(cells(form))
    assert "请于2025年10月21日前将处置情况书面反馈" in text  # site visit 10-14 + 5 working days
    assert "2025年10月13日" in text  # the notice's day, not the printing day


def test_an_empty_contact_clause_is_left_out_not_printed_blank(session):
    town = build_paper_town(session)  # the office's contact and phone never set
    receipt = "\n".join(paragraphs(opened(render(session, "feedback-receipt", town.one.id))))
    report = "\n".join(paragraphs(opened(render(session, "escalation-report", town.escalated.id))))
    for text in (receipt, report):
        assert "联系人：，" not in text and "（联系人" not in text and "联系电话：）" not in text
    assert "反馈至青浦区赵巷镇城市运行管理中心。" in receipt


def test_the_office_setup_step_asks_for_name_contact_and_phone(session):
    assert office_setup_needed(session)
    with pytest.raises(ValidationError, match="请填写联系人、联系电话"):
        save_office(session, SYSTEM, name="赵巷镇城运中心", contact=" ", phone="")
    assert office_setup_needed(session)
    save_office(session, SYSTEM, name="赵巷镇城运中心", contact="王敏", phone="021-59751234")
    session.commit()
    assert not office_setup_needed(session)


def test_the_special_report_says_its_own_things_dated_by_its_step(session, town):
    """§三(三)3: a report to the town's leaders — 情况, 原因分析, 建议 — not the 督办意见."""
    texts = paragraphs(opened(render(session, "special-report", town.escalated.id)))
    whole = "\n".join(texts)
    assert ["一、基本情况", "二、有关情况", "三、原因分析", "四、建议"] == [
        t for t in texts if re.match(r"^[一二三四]、", t)
    ]
    assert "该事项市民反映强烈。" in texts and "职责边界不清。" in texts
    assert "建议由城管中队牵头。" in texts
    assert "加盖单位公章" not in whole and "请承办单位" not in whole
    assert "青浦区赵巷镇城市运行管理中心\t2025年6月20日" in texts  # the step's day
    assert "截至2025年6月20日处于提级协调督办阶段" in whole  # closed 6-30: not yet then
    assert "办结" not in whole.split("二、有关情况")[0]
    leader = paragraphs(opened(render(session, "special-report", town.leader.id)))
    assert "三、建议" in leader and "三、原因分析" not in leader  # an empty section is left out


def test_the_escalation_report_exists_only_for_cases_that_reached_escalation(session, town):
    for case in (town.one, town.onsite):
        with pytest.raises(ValidationError, match="未进入提级协调督办"):
            render(session, "escalation-report", case.id)
    report = opened(render(session, "escalation-report", town.escalated.id))
    texts = paragraphs(report)
    assert texts[:2] == ["关于“示例小区违章搭建阳光房”", "提级办理的报告"]
    assert "经书面督办、现场协调督办仍无处置进展，涉及城建、城管两个部门职责。" in texts
    assert "建议由镇分管领导批办，明确镇城管中队牵头立案查处。" in texts
    steps = report.tables[1]
    issued = [row.cells[1].text for row in steps.rows[1:]]
    assert issued == ["2025年6月3日", "2025年6月10日"]  # nothing after the report's 6-17
    whole = "\n".join(texts + cells(report))
    assert "2025年6月23日" not in whole and "已拆除" not in whole
    assert "2025年6月17日" in texts and "目前处于" not in whole and "已于" not in whole


def test_the_prefills_never_copy_the_opinion_sent_to_the_unit(session, town):
    special = paper_prefill(session, CLERK, town.escalated.id, "special-report", date(2025, 6, 20))
    escalation = paper_prefill(session, CLERK, town.escalated.id, "escalation-report", date(2025, 6, 17))  # fmt: skip
    opinion = town.escalated.opinion
    for value in (*special.values(), *escalation.values()):
        assert opinion not in value and "加盖单位公章" not in value
    assert (
        "2025年6月3日督办单至镇城市建设管理事务中心，2025年6月6日反馈“无进展”"
        in special["situation"]
    )
    assert special["analysis"] and "镇城管中队配合" in special["suggestion"]
    assert escalation["subject"] == "关于“示例小区违章搭建阳光房”提级办理的报告"
    assert escalation["reason"].endswith("。") and "。。" not in escalation["reason"]


def test_the_minutes_are_titled_as_minutes_and_list_the_decisions(session, town):
    texts = paragraphs(opened(render(session, "meeting-minutes", town.escalated.id)))
    assert texts[0] == "12345热线工作专题会纪要（第1次）"
    assert (
        "（一）小区内违章搭建类事项，由镇城管中队负责处置，处置路径：城管中队立案查处，村居配合劝导。"
        in texts
    )
    assert (
        "（二）道路积水类事项，由镇城市建设管理事务中心负责处置，处置路径：城建中心疏通排水管网。"
        in texts
    )
    assert "职能交叉事项按会议明确的部门和路径办理，不得推诿。" in texts


# --- the work report and the assessment --------------------------------------------------


def test_the_work_report_reads_well_and_its_assessment_ranks_only_assessed_units(session, town):
    report = opened(render_work_report(session, CLERK, Period.year(2025), as_of=date(2026, 1, 5)).content)  # fmt: skip
    texts = paragraphs(report)
    assert texts[0:2] == ["2025年度", "12345市民服务热线协调督办工作报告"]
    whole = "\n".join(texts + cells(report))
    assert "。。" not in whole
    assert "已办结（2025年6月30日）：已拆除，市民满意。跟踪核实：现场核实已拆除。" in whole
    assert any(t.startswith("注：一件督办事项由几个承办单位") for t in texts)
    score = next(t for t in report.tables if t.rows[0].cells[0].text == "排名")
    header = [c.text for c in score.rows[0].cells]
    assert header[2:6] == ["督办件数", "到期环节", "按时反馈", "按时反馈率"]
    rows = [[c.text for c in r.cells] for r in score.rows[1:]]
    assert {r[1] for r in rows} == {
        "镇城市建设管理事务中心",
        "赵巷镇示例三村村民委员会",
        "镇城管中队",
    }
    assert all(int(r[2]) > 0 or int(r[3]) > 0 for r in rows)  # only units with something
    lead = next(r for r in rows if r[1] == "镇城市建设管理事务中心")
    assert lead[2] == "6"  # its six cases
    assert lead[5] == f"{100 * int(lead[4]) / int(lead[3]):.1f}%"


def test_idle_units_are_listed_unranked_after_the_assessed_ones(session, town):
    from duban.assessment import assess, save_rules
    from duban.kpi import Selection
    from tests.factories import make_unit

    make_unit(session, "示例一村村委会")
    session.commit()
    sel = Selection(Period.year(2025), as_of=date(2026, 1, 5))
    sheets = assess(session, sel).sheets
    idle = [s for s in sheets if not s.assessed]
    assert [s.unit_name for s in idle] == ["示例一村村委会"]
    assert sheets[-1].unit_name == "示例一村村委会" and sheets[-1].rank == 0
    assert all(s.rank >= 1 for s in sheets if s.assessed)
    save_rules(session, SYSTEM, {"unassessed_listed": 0})
    session.commit()
    assert "示例一村村委会" not in [s.unit_name for s in assess(session, sel).sheets]


@pytest.mark.parametrize(
    ("title", "lines"),
    [
        (
            "2025年度12345市民服务热线协调督办工作报告",
            ["2025年度", "12345市民服务热线协调督办工作报告"],
        ),
        ("2025年12345市民服务热线协调督办工作报告", ["2025年12345市民服务热线协调督办工作报告"]),
        (
            "2024年第一季度12345市民服务热线协调督办工作报告",
            ["2024年第一季度", "12345市民服务热线协调督办工作报告"],
        ),
        (
            "关于“示例小区违章搭建阳光房”提级办理的报告",
            ["关于“示例小区违章搭建阳光房”", "提级办理的报告"],
        ),
        ("12345热线工作专题会纪要（第1次）", ["12345热线工作专题会纪要（第1次）"]),
    ],
)
def test_titles_break_at_sense_boundaries(title, lines):
    assert title_lines(title).split("\n") == lines


# --- print preview -------------------------------------------------------------------------


@needs_office
def test_the_print_preview_is_the_first_page_made_once_per_file(session, town):
    doc = render_document(session, CLERK, "supervision-form", case_id=town.one.id)
    session.commit()
    png = document_preview(session, CLERK, doc.id)
    assert png.startswith(b"\x89PNG")
    kept = (config.data_dir() / doc.path).with_suffix(".png")
    stamp = kept.stat().st_mtime_ns
    assert document_preview(session, CLERK, doc.id) == png
    assert kept.stat().st_mtime_ns == stamp  # read from disk, not drawn again


def test_a_new_case_from_a_ticket_takes_a_whole_phrase_as_its_subject():
    from duban.cases import matter_title

    text = "小区门口道路积水严重，雨天无法通行，老人孩子出行困难，请尽快疏通排水管道并修复路面。"
    assert matter_title(text) == "小区门口道路积水严重，雨天无法通行，老人孩子出行困难"
    assert matter_title("路灯不亮。") == "路灯不亮"


# --- the pages: the 专报 / 提级 forms and the office setup step ---------------------------------


def page_widget(widgets, label: str):
    found = [w for w in widgets if w.label == label]
    assert found, f"no widget labelled {label!r}: {[w.label for w in widgets]}"
    return found[0]


def test_the_case_page_records_a_special_report_and_an_escalation_report(engine, town):
    from sqlmodel import Session, select

    from duban.cases import Action
    from duban.enums import StepKind
    from duban.models import Step
    from tests.helpers import open_page

    at = open_page(CLERK, "pages/cases.py", case=str(town.leader.id))
    at.session_state[f"cases_form_{Action.SPECIAL_REPORT.value}"] = True
    at.run()
    situation = page_widget(at.text_area, "有关情况").value
    assert "区领导批示：请赵巷镇抓紧研究解决示例路交通拥堵" in situation
    assert town.leader.opinion not in situation
    assert "镇城市建设管理事务中心牵头" in page_widget(at.text_area, "建议").value
    page_widget(at.date_input, "报送日期").set_value(date(2025, 9, 3))
    page_widget(at.text_area, "原因分析").input("涉及交警、城建两个部门。")
    page_widget(at.button, "记录工作专报").click().run()
    assert not at.error, [e.value for e in at.error]

    at.session_state[f"cases_form_{Action.ESCALATION_REPORT.value}"] = True
    at.run()
    assert (
        page_widget(at.text_input, "报告标题").value
        == "关于“区领导批示：示例路交通拥堵”提级办理的报告"
    )
    assert page_widget(at.text_area, "提级理由").value == "区领导批示交办事项。"
    page_widget(at.date_input, "报告日期").set_value(date(2025, 9, 4))
    page_widget(at.button, "记录提级办理报告").click().run()
    assert not at.error, [e.value for e in at.error]
    with Session(engine) as session:
        steps = session.exec(select(Step).where(Step.case_id == town.leader.id)).all()
        report = next(s for s in steps if s.issued_at == date(2025, 9, 3))
        assert (report.kind, report.analysis) == (
            StepKind.SPECIAL_REPORT,
            "涉及交警、城建两个部门。",
        )
        up = next(s for s in steps if s.kind is StepKind.ESCALATION_REPORT)
        assert (up.issued_at, up.report_reason) == (date(2025, 9, 4), "区领导批示交办事项。")
        texts = paragraphs(opened(render(session, "escalation-report", town.leader.id)))
    assert "区领导批示交办事项。" in texts and "2025年9月4日" in texts


def test_the_first_paper_waits_for_the_office_setup_step(engine, session):
    from duban.enums import Role
    from duban.permissions import Actor
    from duban.settings import get_setting
    from tests.helpers import open_page

    build_paper_town(session)
    admin = Actor(None, "admin", Role.ADMIN)
    at = open_page(admin, "pages/documents.py")
    assert "生成文书" not in [b.label for b in at.button]  # nothing to print before it
    assert "保存并继续" in [b.label for b in at.button]
    page_widget(at.text_input, "联系人").input("王敏")
    page_widget(at.button, "保存并继续").click().run()
    assert [e.value for e in at.error] == ["请填写联系电话（文书上印出，不能为空）"]
    page_widget(at.text_input, "联系电话").input("021-59751234")
    page_widget(at.button, "保存并继续").click().run()
    assert not at.error
    assert "生成文书" in [b.label for b in at.button]
    session.expire_all()
    assert get_setting(session, "office_phone") == "021-59751234"
