"""Documents: every paper rendered from a real case, each value read back from its labelled cell.

Seed §三(一)1: the center sends the units "《12345 市民服务热线督办单》" (附件1); §三(二)2:
"《12345 市民服务热线现场协调督办通知》" (附件2); §三(三): 领导批办, 专题会, 工作专报; and every
level ends with the unit's written feedback "由单位主要领导签字并加盖单位公章".
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from pathlib import Path

import docx
import pytest
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, RGBColor
from docxtpl import DocxTemplate
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from duban import cli, config
from duban.documents import (
    ENV,
    KINDS,
    ImageSpec,
    case_documents,
    default_template,
    document_file,
    document_pdf,
    pdf_available,
    prepare,
    register_document,
    render_batch,
    render_document,
    render_kind,
    render_template,
    safe_name,
    sample_context,
    sample_png,
    sha256,
)
from duban.enums import AuditAction, DocumentKind, Level, Progress, Role, StepKind, UnitRole
from duban.errors import PermissionDenied, ValidationError
from duban.models import AuditLog, CaseUnit, Document, Meeting, MeetingCase, RoutingRule
from duban.permissions import SYSTEM, Actor
from duban.settings import set_setting
from tests.factories import make_case, make_feedback, make_step, make_ticket, make_unit
from tests.helpers import APP, open_page

CENTER = Actor(user_id=None, username="clerk", role=Role.CENTER)


# --- reading a rendered document ----------------------------------------------------------


def open_doc(data: bytes) -> docx.document.Document:
    return docx.Document(io.BytesIO(data))


def row_cells(row) -> list:
    """A row's cells, a merged cell once (python-docx repeats it for each grid column)."""
    cells, seen = [], set()
    for cell in row.cells:
        if id(cell._tc) not in seen:
            seen.add(id(cell._tc))
            cells.append(cell)
    return cells


def right_of(document, label: str) -> list[str]:
    """The text of the cell right of every cell whose text is exactly `label`, in order."""
    found = []
    for table in document.tables:
        for row in table.rows:
            cells = row_cells(row)
            for left, right in zip(cells, cells[1:], strict=False):
                if left.text.strip() == label:
                    found.append(right.text)
    return found


def column(document, header: str) -> list[str]:
    """The values under a header cell of a list table, one per row below it."""
    for table in document.tables:
        rows = [row_cells(r) for r in table.rows]
        for i, cells in enumerate(rows):
            labels = [c.text.strip() for c in cells]
            if header in labels:
                index = labels.index(header)
                return [r[index].text for r in rows[i + 1 :]]
    raise AssertionError(f"no column {header!r}")


def signature(document) -> list[str]:
    """署名 and 成文日期 of a form: the borderless last row of its table (kept with it)."""
    return [p.text for p in document.tables[0].rows[-1].cells[0].paragraphs if p.text.strip()]


def paragraphs(document) -> list[str]:
    return [p.text for p in document.paragraphs]


def all_text(document) -> str:
    parts = paragraphs(document)
    for table in document.tables:
        for row in table.rows:
            parts += [c.text for c in row_cells(row)]
    return "\n".join(parts)


def read(doc: Document) -> docx.document.Document:
    return open_doc((config.data_dir() / doc.path).read_bytes())


# --- a real case --------------------------------------------------------------------------


@pytest.fixture
def case(session):
    """A written-supervision case of one ticket, with its 督办单 step issued 2024-03-04."""
    unit = make_unit(session, "镇生态环境办")
    ticket = make_ticket(
        session,
        "20240301000123",
        received_at=datetime(2024, 3, 1, 9, 0),
        address="赵巷镇示例路 88 弄 12 号",
        content="夜间施工噪声扰民，晚上十一点后仍在作业",
    )
    case = make_case(
        session,
        unit,
        tickets=(ticket,),
        case_no="赵巷督〔2024〕第007号",
        title="示例路工地夜间施工噪声扰民",
        related_info="已派单 3 次，市民不满意",
        opinion="请现场核查，依法处置",
    )
    make_step(session, case, issued_at=date(2024, 3, 4), due_at=date(2024, 3, 11))
    session.commit()
    return case


def test_supervision_form_puts_each_value_in_its_labelled_cell(session, case):
    """附件1: 工单编号, 诉求时间, 督办编号, 承办单位, 诉求地址, 内容描述, 相关情况, 督办意见, 督办情况."""
    doc = render_document(session, CENTER, DocumentKind.SUPERVISION_FORM, case_id=case.id)
    form = read(doc)
    assert right_of(form, "工单编号") == ["20240301000123"]
    assert right_of(form, "诉求时间") == ["2024年3月1日 9:00"]
    assert right_of(form, "督办编号") == ["赵巷督〔2024〕第007号"]
    assert right_of(form, "承办单位") == ["镇生态环境办"]
    assert right_of(form, "诉求地址") == ["赵巷镇示例路 88 弄 12 号"]
    assert right_of(form, "内容描述") == ["夜间施工噪声扰民，晚上十一点后仍在作业"]
    assert right_of(form, "相关情况") == ["已派单 3 次，市民不满意"]
    assert right_of(form, "督办意见") == [
        "请现场核查，依法处置\n请于2024年3月11日前将处置情况书面反馈至青浦区赵巷镇城市运行管理中心，"
        "由单位主要领导签字并加盖单位公章。"
    ]
    assert right_of(form, "督办情况") == [""]  # written at closing: blank, never "None"
    assert signature(form) == ["青浦区赵巷镇城市运行管理中心", "2024年3月4日"]


def test_supervision_form_lists_every_ticket_of_a_case(session):
    """A case grouping several tickets repeats the ticket rows; 承办单位 is printed once."""
    lead, co = make_unit(session, "镇城管中队"), make_unit(session, "示例三村村委会")
    tickets = tuple(
        make_ticket(session, f"T-{n}", received_at=datetime(2024, 3, n, 8, 30), address=f"地址{n}")
        for n in (3, 1, 2)
    )
    case = make_case(session, lead, tickets=tickets)
    session.add(CaseUnit(case_id=case.id, unit_id=co.id, role=UnitRole.CO))
    session.commit()
    form = read(render_document(session, CENTER, "supervision-form", case_id=case.id))
    assert right_of(form, "工单编号") == ["T-1", "T-2", "T-3"]  # oldest first
    assert right_of(form, "诉求地址") == ["地址1", "地址2", "地址3"]
    assert right_of(form, "督办编号") == [case.case_no]  # once, after the first ticket
    assert right_of(form, "承办单位") == ["镇城管中队（主办）、示例三村村委会（协办）"]


def test_a4_page_with_gb9704_margins(session, case):
    form = read(render_document(session, CENTER, "supervision-form", case_id=case.id))
    section = form.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    margins = [section.top_margin, section.bottom_margin, section.left_margin, section.right_margin]
    assert [round(m.mm) for m in margins] == [37, 35, 28, 26]


def test_values_with_markup_print_literally(session, case):
    """Autoescape: `& < >` and template syntax inside a value are printed, not interpreted."""
    case.opinion = "T-1 <&> {{ case_no }} {% if x %}"
    case.related_info = "甲\n乙"
    session.add(case)
    session.commit()
    form = read(render_document(session, CENTER, "supervision-form", case_id=case.id))
    assert right_of(form, "督办意见")[0].startswith("T-1 <&> {{ case_no }} {% if x %}\n")
    assert right_of(form, "相关情况") == ["甲\n乙"]  # each line its own paragraph


def test_empty_fields_print_blank_and_the_deadline_line_is_left_out(session):
    """A case with no ticket, no opinion and no 督办单 step: blank cells, no "None" anywhere."""
    case = make_case(session, make_unit(session))
    session.commit()
    form = read(render_document(session, CENTER, "supervision-form", case_id=case.id))
    assert right_of(form, "督办意见") == [""]
    assert right_of(form, "相关情况") == [""]
    assert "None" not in all_text(form)


def test_a_provisional_deadline_is_marked(session, case):
    """DESIGN: a deadline in a year whose holidays are unknown is shown as 暂估 wherever it appears."""
    step = make_step(session, case, issued_at=date(2031, 3, 3), due_at=date(2031, 3, 10), due_provisional=True)  # fmt: skip
    session.commit()
    doc = render_document(session, CENTER, "supervision-form", case_id=case.id, step_id=step.id)
    assert "请于2031年3月10日（暂估）前" in right_of(read(doc), "督办意见")[0]


def test_the_issuing_office_comes_from_settings(session, case):
    set_setting(session, SYSTEM, "office_name", "示例镇城市运行管理中心")
    session.commit()
    form = read(render_document(session, CENTER, "supervision-form", case_id=case.id))
    assert signature(form)[0] == "示例镇城市运行管理中心"
    assert "前将处置情况书面反馈至示例镇城市运行管理中心" in right_of(form, "督办意见")[0]


def test_onsite_notice_mirrors_attachment_2(session, case):
    """附件2: 协调督办事由, 编号, 地点, 流程, 出席范围, 联系人, 联系电话, 备注."""
    make_step(
        session,
        case,
        kind=StepKind.ONSITE_NOTICE,
        level=Level.ONSITE,
        issued_at=date(2024, 3, 12),
        subject="工地夜间施工噪声",
        location="示例路 88 弄工地门口",
        scheduled_at=datetime(2024, 3, 14, 9, 30),
        body="1. 实地踏勘\n2. 明确处置责任和时限",
        attendees="镇生态环境办、示例三村村委会",
        contact_name="王敏",
        contact_phone="021-59751234",
        remark="请当天登记",
    )
    session.commit()
    notice = read(render_document(session, CENTER, "onsite-notice", case_id=case.id))
    assert right_of(notice, "协调督办事由") == ["工地夜间施工噪声"]
    assert right_of(notice, "协调督办编号") == ["赵巷督〔2024〕第007号"]
    assert right_of(notice, "协调督办地点") == ["示例路 88 弄工地门口"]
    assert right_of(notice, "协调督办流程") == ["时间：2024年3月14日 9:30\n1. 实地踏勘\n2. 明确处置责任和时限"]  # fmt: skip
    assert right_of(notice, "出席范围") == ["镇生态环境办、示例三村村委会"]
    assert right_of(notice, "联系人") == ["王敏"]
    assert right_of(notice, "联系电话") == ["021-59751234"]
    assert right_of(notice, "备注") == ["请当天登记"]
    assert signature(notice)[-1] == "2024年3月12日"


def test_onsite_notice_contact_defaults_to_the_center(session, case):
    make_step(session, case, kind=StepKind.ONSITE_NOTICE, level=Level.ONSITE)
    set_setting(session, SYSTEM, "office_contact", "李敏")
    set_setting(session, SYSTEM, "office_phone", "021-12345678")
    session.commit()
    notice = read(render_document(session, CENTER, "onsite-notice", case_id=case.id))
    assert (right_of(notice, "联系人"), right_of(notice, "联系电话")) == (
        ["李敏"],
        ["021-12345678"],
    )
    assert right_of(notice, "协调督办流程") == [""]  # no time, no procedure: blank


def test_onsite_notice_needs_a_notice_step(session, case):
    with pytest.raises(ValidationError, match="尚无现场协调督办通知环节"):
        render_document(session, CENTER, "onsite-notice", case_id=case.id)


def test_special_report_carries_the_report_step(session, case):
    """§三(三)3 工作专报: "以专报形式报镇主要领导、镇政府分管领导"."""
    make_step(
        session,
        case,
        kind=StepKind.SPECIAL_REPORT,
        level=Level.ESCALATED,
        issued_at=date(2024, 4, 2),
        subject="关于示例路噪声问题的专报",
        body="市民反映强烈。\n建议由镇城建中心牵头。",
        recipient="镇长、分管副镇长",
    )
    session.commit()
    report = read(render_document(session, CENTER, "special-report", case_id=case.id))
    texts = paragraphs(report)
    assert "关于示例路噪声问题的专报" in texts
    assert "市民反映强烈。" in texts and "建议由镇城建中心牵头。" in texts
    assert "报：镇长、分管副镇长" in texts
    assert column(report, "工单编号") == ["20240301000123"]
    assert any(
        t.startswith("督办事项“示例路工地夜间施工噪声扰民”（赵巷督〔2024〕第007号）") for t in texts
    )


def test_escalation_report_lists_the_supervision_so_far(session, case):
    """§三(三)1: "经书面督办、现场协调督办后，仍存在推诿扯皮、办理不实的事项…报请镇分管领导"."""
    written = make_step(session, case, issued_at=date(2024, 3, 4), escalation_reason="书面督办后无进展")  # fmt: skip
    make_feedback(session, written, received_at=date(2024, 3, 8), progress=Progress.NONE)
    make_step(
        session,
        case,
        kind=StepKind.ESCALATION_REPORT,
        level=Level.ESCALATED,
        issued_at=date(2024, 3, 20),
        recipient="分管副镇长",
        report_reason="书面督办后无进展",
        body="请明确牵头部门",
    )
    session.commit()
    report = read(render_document(session, CENTER, "escalation-report", case_id=case.id))
    texts = paragraphs(report)
    assert "分管副镇长：" in texts
    assert "书面督办后无进展" in texts
    assert "请明确牵头部门" in texts
    assert column(report, "督办环节") == ["督办单", "督办单"]  # the steps before the report
    assert column(report, "处置进展") == ["", "无进展"]
    assert right_of(report, "领导批示") == [""]


def test_meeting_minutes_record_routing_rules_and_cases(session, case):
    """§三(三)2: the meeting "明确同类事项的处置部门和处置路径"."""
    unit = make_unit(session, "镇城管中队")
    meeting = Meeting(held_at=date(2024, 3, 20), chair="李副镇长", summary="加大解决力度", attendees="各部门负责人")  # fmt: skip
    session.add(meeting)
    session.flush()
    session.add(MeetingCase(meeting_id=meeting.id, case_id=case.id))
    session.add(RoutingRule(meeting_id=meeting.id, name="违章搭建", unit_id=unit.id, handling_path="城管立案查处"))  # fmt: skip
    session.commit()
    doc = render_document(session, CENTER, "meeting-minutes", case_id=case.id)
    assert doc.meeting_id == meeting.id
    minutes = read(doc)
    assert column(minutes, "事项类别") == ["违章搭建"]
    assert column(minutes, "处置部门") == ["镇城管中队"]
    assert column(minutes, "处置路径") == ["城管立案查处"]
    assert column(minutes, "督办编号") == ["赵巷督〔2024〕第007号"]
    assert "加大解决力度" in paragraphs(minutes)
    assert paragraphs(minutes)[2].startswith("2024年3月20日，李副镇长主持召开")


def test_meeting_minutes_can_be_printed_for_a_meeting_alone(session):
    meeting = Meeting(held_at=date(2024, 5, 6), title="第二次热线专题会")
    session.add(meeting)
    session.commit()
    doc = render_document(session, CENTER, "meeting-minutes", meeting_id=meeting.id)
    assert doc.path == "documents/2024/专题会/专题会纪要-2024年5月6日.docx"
    assert "第二次热线专题会纪要" in paragraphs(read(doc))


def test_feedback_receipt_is_blank_for_the_unit_to_fill_in(session, case):
    receipt = read(render_document(session, CENTER, "feedback-receipt", case_id=case.id))
    assert right_of(receipt, "督办编号") == ["赵巷督〔2024〕第007号"]
    assert right_of(receipt, "承办单位") == ["镇生态环境办"]
    assert right_of(receipt, "反馈期限") == ["2024年3月11日"]
    assert right_of(receipt, "处置情况") == [""]
    assert right_of(receipt, "处置进展") == ["☐已办结　☐有进展　☐无进展"]
    assert right_of(receipt, "主要领导签字") == [""]
    assert right_of(receipt, "单位盖章") == [""]


def test_feedback_receipt_copies_a_registered_answer(session, case):
    form_step = make_step(session, case, issued_at=date(2024, 3, 5))
    make_feedback(session, form_step, received_at=date(2024, 3, 8), progress=Progress.SOME, text="已约谈")  # fmt: skip
    session.commit()
    receipt = read(render_document(session, CENTER, "feedback-receipt", case_id=case.id, step_id=form_step.id))  # fmt: skip
    assert right_of(receipt, "处置情况") == ["已约谈"]
    assert right_of(receipt, "处置进展") == ["☐已办结　☑有进展　☐无进展"]
    assert right_of(receipt, "反馈日期") == ["2024年3月8日"]


# --- keeping, registering, versions ------------------------------------------------------


def test_a_rendered_document_is_kept_registered_and_audited(session, case):
    doc = render_document(session, CENTER, "supervision-form", case_id=case.id)
    session.commit()
    assert doc.path == "documents/2024/赵巷督〔2024〕第007号/督办单-赵巷督〔2024〕第007号.docx"
    data = (config.data_dir() / doc.path).read_bytes()
    template = (Path(APP).parent / "templates" / "supervision-form.docx").read_bytes()
    assert (doc.sha256, doc.template_sha256) == (sha256(data), sha256(template))
    assert (doc.template_name, doc.case_id, doc.kind) == ("supervision-form.docx", case.id, DocumentKind.SUPERVISION_FORM)  # fmt: skip
    assert doc.step_id is not None
    log = session.exec(select(AuditLog).where(AuditLog.action == AuditAction.RENDER)).one()
    assert (log.entity, log.entity_id, log.new) == ("document", doc.id, doc.file_name)


def test_rendering_again_keeps_the_older_versions(session, case):
    first = render_document(session, CENTER, "supervision-form", case_id=case.id)
    second = render_document(session, CENTER, "supervision-form", case_id=case.id)
    third = render_document(session, CENTER, "supervision-form", case_id=case.id)
    session.commit()
    assert [d.file_name for d in (first, second, third)] == [
        "督办单-赵巷督〔2024〕第007号.docx",
        "督办单-赵巷督〔2024〕第007号-第2版.docx",
        "督办单-赵巷督〔2024〕第007号-第3版.docx",
    ]
    assert all((config.data_dir() / d.path).is_file() for d in (first, second, third))
    listed = case_documents(session, CENTER, case.id)
    assert [row.id for row in listed] == [third.id, second.id, first.id]  # newest first


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("督办单-赵巷督〔2024〕第007号", "督办单-赵巷督〔2024〕第007号"),
        ('a/b\\c:d*e?f"g<h>i|j', "a_b_c_d_e_f_g_h_i_j"),
        ("CON", "_CON"),
        ("名称. ", "名称"),
        ("", "文书"),
    ],
)
def test_file_names_are_safe_on_windows(text, expected):
    assert safe_name(text) == expected


def test_a_case_number_with_unsafe_characters_still_gives_a_readable_file(session):
    case = make_case(session, make_unit(session), case_no="测试/督:2024*1")
    session.commit()
    doc = render_document(session, CENTER, "supervision-form", case_id=case.id)
    assert doc.file_name == "督办单-测试_督_2024_1.docx"
    assert right_of(read(doc), "督办编号") == ["测试/督:2024*1"]  # the form keeps the real number
    assert right_of(read(doc), "工单编号") == []  # no ticket: no empty ticket boxes


def test_batch_zips_one_form_per_case_with_progress(session, case):
    other = make_case(session, make_unit(session, "镇房管办"), case_no="赵巷督〔2024〕第008号")
    session.commit()
    calls = []
    result = render_batch(
        session,
        CENTER,
        "supervision-form",
        [case.id, other.id],
        progress=lambda *a: calls.append(a),
    )
    session.commit()
    names = zipfile.ZipFile(io.BytesIO(result.data)).namelist()
    assert names == ["督办单-赵巷督〔2024〕第007号.docx", "督办单-赵巷督〔2024〕第008号.docx"]
    assert calls == [(1, 2, "赵巷督〔2024〕第007号"), (2, 2, "赵巷督〔2024〕第008号")]
    inner = open_doc(zipfile.ZipFile(io.BytesIO(result.data)).read(names[1]))
    assert right_of(inner, "承办单位") == ["镇房管办"]
    assert len(session.exec(select(Document)).all()) == 2  # each registered


def test_batch_of_notices_lists_the_cases_left_out(session, case):
    with_notice = make_case(
        session, make_unit(session, "镇房管办"), case_no="赵巷督〔2024〕第009号"
    )
    make_step(
        session, with_notice, kind=StepKind.ONSITE_NOTICE, level=Level.ONSITE, location="现场"
    )
    session.commit()
    result = render_batch(session, CENTER, "onsite-notice", [case.id, with_notice.id])
    archive = zipfile.ZipFile(io.BytesIO(result.data))
    assert archive.namelist() == ["现场协调督办通知-赵巷督〔2024〕第009号.docx", "未生成清单.txt"]
    reason = "督办事项 赵巷督〔2024〕第007号 尚无现场协调督办通知环节，无法生成该文书"
    assert result.skipped == [reason]
    assert archive.read("未生成清单.txt").decode() == reason + "\r\n"


def test_batch_refuses_kinds_that_are_not_one_per_case(session, case):
    with pytest.raises(ValidationError, match="不支持批量生成"):
        render_batch(session, CENTER, "meeting-minutes", [case.id])


# --- permissions ------------------------------------------------------------------------------


def test_units_cannot_render_but_read_their_own_papers(session, case):
    doc = render_document(session, CENTER, "supervision-form", case_id=case.id)
    other = make_unit(session, "镇房管办")
    session.commit()
    own = Actor(user_id=None, username="u1", role=Role.UNIT, unit_id=case.lead_unit_id)
    stranger = Actor(user_id=None, username="u2", role=Role.UNIT, unit_id=other.id)
    with pytest.raises(PermissionDenied, match="无权生成文书"):
        render_document(session, own, "supervision-form", case_id=case.id)
    assert document_file(session, own, doc.id)[0] == doc.file_name
    with pytest.raises(PermissionDenied):
        document_file(session, stranger, doc.id)


def test_a_unit_reads_its_paper_with_the_callers_numbers_masked(session):
    """Phone and ID numbers inside a paper's text are masked for roles without contact
    rights; the 工单编号 and the stored file stay whole."""
    unit = make_unit(session, "镇城管中队")
    ticket = make_ticket(
        session, "202403010001230045", content="来电人留电话13812345678，身份证310101199001011234"
    )
    case = make_case(session, unit, tickets=(ticket,), case_no="赵巷督〔2024〕第011号")
    make_step(session, case, issued_at=date(2024, 3, 4), due_at=date(2024, 3, 11))
    session.commit()
    doc = render_document(session, CENTER, "supervision-form", case_id=case.id)
    own = Actor(user_id=None, username="u1", role=Role.UNIT, unit_id=unit.id)
    unit_text = all_text(open_doc(document_file(session, own, doc.id)[1]))
    center_text = all_text(open_doc(document_file(session, CENTER, doc.id)[1]))
    assert "138****5678" in unit_text and "13812345678" not in unit_text
    assert "310101199001011234" not in unit_text
    assert "202403010001230045" in unit_text
    assert "13812345678" in center_text and "310101199001011234" in center_text


# --- images, PDF, the CLI -----------------------------------------------------------------


def test_an_image_value_becomes_a_picture_of_the_given_width(tmp_path):
    template = docx.Document()
    template.add_paragraph().add_run("{{ chart }}")
    buffer = io.BytesIO()
    template.save(buffer)
    out = open_doc(render_template(buffer.getvalue(), {"chart": ImageSpec(sample_png(), 50)}))
    assert len(out.inline_shapes) == 1
    assert round(out.inline_shapes[0].width / Mm(1)) == 50


# --- long tables: duban's renderer against plain docxtpl ----------------------------------


def plain_docxtpl(template: bytes, context: dict) -> bytes:
    """The same template and values through docxtpl's own methods (same sandbox, same values)."""
    tpl = DocxTemplate(io.BytesIO(template))
    tpl.init_docx()
    tpl.render({k: prepare(v, tpl) for k, v in context.items()}, jinja_env=ENV, autoescape=True)
    buffer = io.BytesIO()
    tpl.save(buffer)
    return buffer.getvalue()


def content(data: bytes) -> tuple[list[str], list[list[list[str]]], list[bytes]]:
    """What a reader sees: paragraphs, every table's cells row by row, the pictures' bytes."""
    document = open_doc(data)
    tables = [[[c.text for c in row_cells(r)] for r in t.rows] for t in document.tables]
    pictures = [
        rel.target_part.blob for rel in document.part.rels.values() if "image" in rel.reltype
    ]
    return paragraphs(document), tables, sorted(pictures)


def document_xml(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read("word/document.xml")


def escalated_rows(n: int) -> list[dict]:
    """n rows of 提级办理事项 with the values that need care: breaks, tabs, markup, blanks."""
    return [
        {
            "case_no": f"赵巷督〔2024〕第{i:05d}号",
            "title": f"事项{i} <b>&amp;</b> “引号”" if i % 7 == 0 else f"事项{i}",
            "units": "镇城建中心、镇城管中队" if i % 3 else None,
            "level": "提级协调督办",
            "opened_at": date(2024, 1, 1 + i % 28),
            "status": "已办结",
            "outcome": f"已办结：第一行\n第二行\t附注{i}" if i % 5 == 0 else f"督办中{i}",
        }
        for i in range(n)
    ]


def work_report_context(rows: int) -> dict:
    context = sample_context(KINDS[DocumentKind.WORK_REPORT])
    context["escalated"] = escalated_rows(rows)
    context["chart_months"] = ImageSpec(sample_png(), 150)
    context["overview"] = "第一段\n第二段"
    return context


def test_a_long_table_renders_as_plain_docxtpl_renders_it():
    """The work report with 300 escalated matters: the same paragraphs, cells and pictures
    as docxtpl's own rendering, indeed the same document.xml byte for byte."""
    template = default_template(DocumentKind.WORK_REPORT).read()
    context = work_report_context(300)
    ours, theirs = render_template(template, context), plain_docxtpl(template, context)
    assert content(ours) == content(theirs)
    assert document_xml(ours) == document_xml(theirs)
    tables = content(ours)[1]
    escalated = next(t for t in tables if t[0][:2] == ["督办编号", "督办事项"])
    assert len(escalated) == 1 + 300
    assert escalated[8][1] == "事项7 <b>&amp;</b> “引号”"
    assert escalated[1][2] == ""  # None prints blank
    assert escalated[1][3] == "已办结：第一行\n第二行\t附注0"  # two paragraphs, a tab


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_default_template_renders_as_plain_docxtpl_renders_it(kind):
    """Merged cells (the forms), headers and footers, lists: byte for byte docxtpl's result."""
    template = default_template(kind).read()
    context = sample_context(KINDS[kind])
    assert document_xml(render_template(template, context)) == document_xml(
        plain_docxtpl(template, context)
    )


def edit_escalated_row(template: bytes) -> bytes:
    """The work-report template as staff might edit it in Word: in the escalated matters'
    row, 督办事项 in bold red on a yellow cell."""
    document = open_doc(template)
    for table in document.tables:
        texts = [row_cells(r)[0].text for r in table.rows]
        if any("for r in escalated" in t for t in texts):
            row = table.rows[next(i for i, t in enumerate(texts) if "for r in escalated" in t) + 1]
            cell = row_cells(row)[1]
            for run in cell.paragraphs[0].runs:
                run.bold = True
                run.font.color.rgb = RGBColor(0xC0, 0, 0)
            shading = OxmlElement("w:shd")
            shading.set(qn("w:val"), "clear")
            shading.set(qn("w:fill"), "FFFF00")
            cell._tc.get_or_add_tcPr().append(shading)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_an_edited_row_keeps_its_formatting_on_every_row():
    template = edit_escalated_row(default_template(DocumentKind.WORK_REPORT).read())
    context = work_report_context(250)
    ours = render_template(template, context)
    assert document_xml(ours) == document_xml(plain_docxtpl(template, context))
    table = next(t for t in open_doc(ours).tables if row_cells(t.rows[0])[0].text == "督办编号")
    rows = table.rows[1:]
    assert len(rows) == 250
    for row in rows:
        cell = row_cells(row)[1]
        runs = [run for p in cell.paragraphs for run in p.runs]
        assert runs and all(run.bold and run.font.color.rgb == RGBColor(0xC0, 0, 0) for run in runs)
        assert cell._tc.tcPr.find(qn("w:shd")).get(qn("w:fill")) == "FFFF00"
    unedited = row_cells(rows[0])[0].paragraphs[0].runs[0]
    assert not unedited.bold


def grid_template() -> bytes:
    """Tables whose grid docxtpl adjusts: column loops (`{%tc %}`) that give more or fewer
    cells than the grid has columns, the second under a header with merged cells (three
    cells spanning the four columns)."""
    document = docx.Document()
    for loop in ("cols", "few"):
        table = document.add_table(rows=2 if loop == "few" else 1, cols=4)
        texts = ("名称", f"{{%tc for c in {loop} %}}", "{{ c }}", "{%tc endfor %}")
        for cell, text in zip(table.rows[-1].cells, texts, strict=True):
            cell.text = text
        if loop == "few":
            header = table.rows[0].cells
            header[0].merge(header[1]).text = "合并"
            header[2].text, header[3].text = "甲", "乙"
    rows = document.add_table(rows=3, cols=2)
    rows.rows[0].cells[0].text = "{%tr for r in rows %}"
    rows.rows[1].cells[0].text = "{{ r }}"
    rows.rows[2].cells[0].text = "{%tr endfor %}"
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "cols, few", [(["甲", "乙", "丙", "丁"], ["一"]), ([], []), (["甲"], ["一", "二", "三"])]
)
def test_table_grids_are_fixed_as_docxtpl_fixes_them(cols, few):
    template = grid_template()
    context = {"cols": cols, "few": few, "name": "名", "rows": [f"行{i}" for i in range(200)]}
    ours = render_template(template, context)
    assert document_xml(ours) == document_xml(plain_docxtpl(template, context))
    assert content(ours) == content(plain_docxtpl(template, context))
    grids = [len(t._tbl.tblGrid.findall(qn("w:gridCol"))) for t in open_doc(ours).tables]
    assert grids == [1 + len(cols), 4, 2]  # the merged header keeps all four columns


def test_a_template_that_renders_broken_xml_is_recovered_as_docxtpl_recovers_it():
    """An `{% if %}` closed inside a table cell cuts the XML; docxtpl's forgiving parse
    recovers what it can, and so does duban (by taking docxtpl's way)."""
    document = docx.Document()
    document.add_paragraph().add_run("开始{% if show %}")
    document.add_table(rows=1, cols=2).rows[0].cells[0].text = "{% endif %}单元格"
    document.add_paragraph().add_run("结束")
    buffer = io.BytesIO()
    document.save(buffer)
    template = buffer.getvalue()
    for show in (True, False):
        context = {"show": show}
        assert content(render_template(template, context)) == content(
            plain_docxtpl(template, context)
        )


def test_render_kind_and_register_document_serve_other_modules(session, case):
    """The reports module renders from its own context and registers the file the same way."""
    rendered = render_kind(
        session, "special-report", {"report_title": "测试 & 标题", "tickets": []}
    )
    assert "测试 & 标题" in paragraphs(open_doc(rendered.data))
    doc = register_document(
        session, CENTER, rendered, stem="专报-测试", year=2024, folder="工作报告"
    )
    assert doc.path == "documents/2024/工作报告/专报-测试.docx"


@pytest.mark.skipif(not pdf_available(), reason="LibreOffice (soffice) is not installed")
def test_a_document_converts_to_pdf(session, case):
    doc = render_document(session, CENTER, "supervision-form", case_id=case.id)
    session.commit()
    name, data = document_pdf(session, CENTER, doc.id)
    assert name == "督办单-赵巷督〔2024〕第007号.pdf"
    assert data.startswith(b"%PDF")


def test_cli_docs_render_writes_the_file(session, case, tmp_path, capsys):
    code = cli.main(
        ["docs", "render", "赵巷督〔2024〕第007号", "supervision-form", "--out", str(tmp_path)]
    )
    assert code == 0
    written = tmp_path / "督办单-赵巷督〔2024〕第007号.docx"
    assert capsys.readouterr().out.strip() == str(written)
    assert right_of(open_doc(written.read_bytes()), "工单编号") == ["20240301000123"]
    assert len(session.exec(select(Document)).all()) == 1  # registered too


def test_cli_docs_render_names_a_wrong_kind(session, case, tmp_path, capsys):
    code = cli.main(["docs", "render", "赵巷督〔2024〕第007号", "letter", "--out", str(tmp_path)])
    assert code == 2
    assert "未知的文书类型“letter”" in capsys.readouterr().err


# --- pages ------------------------------------------------------------------------------------


def open_documents_page() -> AppTest:
    return open_page(CENTER, "pages/documents.py")


def test_documents_page_renders_a_form_for_a_picked_case(session, case):
    at = open_documents_page()
    at.multiselect(key="documents_cases").set_value([case.id]).run()
    at.button(key="documents_render").click().run()
    assert not at.exception
    docs = session.exec(select(Document)).all()
    assert [d.file_name for d in docs] == ["督办单-赵巷督〔2024〕第007号.docx"]
    assert any("已生成" in s.value for s in at.success)


def test_documents_page_batches_many_cases_into_a_zip(session, case):
    other = make_case(session, make_unit(session, "镇房管办"))
    session.commit()
    at = open_documents_page()
    at.button(key="documents_all").click().run()  # 全选列表中的事项
    assert sorted(at.multiselect(key="documents_cases").value) == sorted([case.id, other.id])
    at.button(key="documents_render").click().run()
    assert not at.exception
    assert len(session.exec(select(Document)).all()) == 2
    assert any("2 份" in s.value for s in at.success)


def panel_app(case_id: int) -> None:
    """The case page's call, as a one-function app for AppTest."""
    from ui.case_documents import case_documents_panel
    from ui.shared import change_stamp

    case_documents_panel(case_id, change_stamp())


def test_case_documents_panel_lists_and_renders(session, case):
    render_document(session, CENTER, "supervision-form", case_id=case.id)
    session.commit()
    at = AppTest.from_function(panel_app, args=(case.id,), default_timeout=30)
    at.session_state["actor"] = Actor(user_id=None, username="clerk", role=Role.CENTER)
    at.run()
    assert not at.exception
    assert any("督办单-赵巷督〔2024〕第007号.docx" in m.value for m in at.markdown)
    assert f"case_documents_{case.id}_render" not in [b.key for b in at.button]  # folded
    at.session_state[f"case_documents_{case.id}_open"] = True  # open 生成文书
    at.run()
    at.button(key=f"case_documents_{case.id}_render").click().run()
    assert len(session.exec(select(Document)).all()) == 2
