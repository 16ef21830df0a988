"""Templates: built from scratch after GB/T 9704-2012, editable by staff, checked before use.

The issue: "upload an edited one: it is validated before it is accepted — it must be a real
.docx, its Jinja must parse, and every variable it uses must be one the kind provides (unknown
variables are listed by name, with the list of valid ones); accepted uploads are versioned,
and the default can be restored."
"""

from __future__ import annotations

import importlib.util
import io
import re
import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from duban.documents import (
    KINDS,
    activate_template_version,
    check_template,
    current_template,
    render_document,
    render_template,
    restore_default_template,
    sha256,
    template_versions,
    upload_template,
)
from duban.enums import AuditAction, DocumentKind, Role
from duban.errors import PermissionDenied, ValidationError
from duban.models import AuditLog
from duban.permissions import SYSTEM, Actor
from tests.factories import make_case, make_ticket, make_unit
from tests.helpers import open_page

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ROOT / "templates"
FORM = DocumentKind.SUPERVISION_FORM


def load_build():
    spec = importlib.util.spec_from_file_location("templates_build", TEMPLATES / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def edited(kind: DocumentKind = FORM, *texts: str) -> bytes:
    """The default template of a kind with paragraphs appended, as staff would in Word."""
    document = docx.Document(TEMPLATES / KINDS[kind].template)
    for text in texts:
        document.add_paragraph().add_run(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- the committed templates --------------------------------------------------------------


def test_committed_templates_are_what_build_py_makes(tmp_path):
    """templates/*.docx and README.md are reproducible: `python templates/build.py` rebuilds them."""
    load_build().build_all(tmp_path)
    for spec in KINDS.values():
        fresh, committed = tmp_path / spec.template, TEMPLATES / spec.template
        assert fresh.read_bytes() == committed.read_bytes(), f"run python templates/build.py ({spec.template})"  # fmt: skip
    assert (tmp_path / "README.md").read_text("utf-8") == (TEMPLATES / "README.md").read_text("utf-8")  # fmt: skip


@pytest.mark.parametrize("kind", list(KINDS))
def test_templates_follow_gb9704(kind):
    """A4, margins 37/35/28/26 mm, body 仿宋_GB2312 16 pt, title 方正小标宋简体 22 pt, headings 黑体."""
    document = docx.Document(TEMPLATES / KINDS[kind].template)
    section = document.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)
    margins = [section.top_margin, section.bottom_margin, section.left_margin, section.right_margin]
    assert [round(m.mm) for m in margins] == [37, 35, 28, 26]

    def east_asian(style_name: str) -> tuple[str, float]:
        style = document.styles[style_name]
        fonts = style.element.rPr.find(qn("w:rFonts"))
        return fonts.get(qn("w:eastAsia")), style.font.size.pt

    assert east_asian("Normal") == ("仿宋_GB2312", 16)
    assert east_asian("公文标题") == ("方正小标宋简体", 22)
    assert east_asian("一级标题") == ("黑体", 16)
    assert east_asian("表格标签")[0] == "黑体"


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_jinja_tag_sits_inside_one_run(kind):
    """docxtpl needs each tag whole in one run, or Word's formatting splits it."""
    with zipfile.ZipFile(TEMPLATES / KINDS[kind].template) as package:
        xml = package.read("word/document.xml").decode()
    runs = re.findall(r"<w:r[ >].*?</w:r>", xml)
    texts = ["".join(re.findall(r"<w:t[^>]*>([^<]*)</w:t>", run)) for run in runs]
    assert any("{{" in t for t in texts)
    for text in texts:
        assert text.count("{{") == text.count("}}") and text.count("{%") == text.count("%}"), text


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_default_template_passes_its_own_check(kind):
    data = (TEMPLATES / KINDS[kind].template).read_bytes()
    assert check_template(kind, data, KINDS[kind].template) == []


def test_the_field_reference_documents_every_field():
    readme = (TEMPLATES / "README.md").read_text("utf-8")
    for spec in KINDS.values():
        assert f"`{spec.template}`" in readme
        for field in spec.fields:
            assert f"| `{field.name}` | {field.label} |" in readme
            for item in field.items:
                assert f"| `{field.name}[].{item.name}` | {item.label} |" in readme


# --- checking an upload --------------------------------------------------------------------


def test_an_upload_must_be_a_real_docx():
    assert check_template(FORM, b"hello", "form.docx") == [
        "文件不是有效的 .docx 文档（无法打开），请用 Word/WPS 另存为 .docx 后再上传"
    ]
    old_word = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100
    assert "旧版 Word（.doc）" in check_template(FORM, old_word, "form.docx")[0]
    assert check_template(FORM, edited(), "form.pdf") == ["只接受 .docx 文件，收到的是“form.pdf”"]
    not_word = io.BytesIO()
    with zipfile.ZipFile(not_word, "w") as archive:
        archive.writestr("hello.txt", "hi")
    assert "不是有效的 Word 文档" in check_template(FORM, not_word.getvalue(), "form.docx")[0]


def test_broken_jinja_is_refused_with_the_text_around_it():
    problems = check_template(FORM, edited(FORM, "反馈期限：{{ due_at }", "其他"), "form.docx")
    assert len(problems) == 1
    assert problems[0].startswith("模板标签语法错误：“{{”与“}}”不成对")
    assert "附近文字：" in problems[0] and "反馈期限" in problems[0]


def test_an_unclosed_block_names_the_missing_end_tag():
    (problem,) = check_template(FORM, edited(FORM, "{% if due_at %}请按期反馈"), "form.docx")
    assert problem.startswith("模板标签语法错误：“{% if %}”缺少配对的“{% endif %}”")


def test_unknown_fields_are_listed_by_name_with_the_valid_ones():
    data = edited(FORM, "{{ office_adress }}", "{{ case_numer }}")
    (problem,) = check_template(FORM, data, "form.docx")
    assert problem.startswith("模板使用了未知的字段：case_numer、office_adress。可用的字段：")
    assert "office_name（发文单位" in problem and "case_no（督办编号）" in problem


def test_unknown_fields_of_table_rows_are_named():
    data = edited(FORM, "{% for t in tickets %}{{ t.ticket_number }}{% endfor %}")
    (problem,) = check_template(FORM, data, "form.docx")
    assert "tickets（工单明细" in problem and "t.ticket_number" in problem
    assert "ticket_no（工单编号）" in problem


def test_a_template_cannot_reach_python_internals():
    """The sandbox: `{{ ''.__class__.__mro__ }}` is refused at upload."""
    (problem,) = check_template(FORM, edited(FORM, "{{ ''.__class__.__mro__ }}"), "x.docx")
    assert problem.startswith("模板含有不允许的表达式")
    assert "__class__" in problem


def test_the_attr_filter_cannot_reach_internals_either():
    (problem,) = check_template(FORM, edited(FORM, "{{ case_no|attr('__class__') }}"), "x.docx")
    assert "__class__" in problem


def test_internals_reached_by_name_at_render_print_nothing():
    """Rendered without the upload check, the sandbox leaves such an expression inert."""
    data = edited(FORM, "[{{ case_no|attr('__class__') }}]")
    out = docx.Document(io.BytesIO(render_template(data, {"case_no": "X"})))
    assert out.paragraphs[-1].text == "[]"


def test_the_sandbox_refuses_internals_at_render_too():
    """Even a template that skipped the upload check cannot run code: rendering refuses."""
    data = edited(FORM, "{{ ''.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(ValidationError, match="不允许的表达式"):
        render_template(data, {})


def test_a_template_failing_with_example_values_is_refused():
    (problem,) = check_template(FORM, edited(FORM, "{{ case_no + 1 }}"), "x.docx")
    assert problem.startswith("用示例数据试生成失败：")


# --- versions ----------------------------------------------------------------------------------


@pytest.fixture
def case(session):
    unit = make_unit(session, "镇城建中心")
    case = make_case(session, unit, tickets=(make_ticket(session, "T-1"),), case_no="赵巷督〔2024〕第001号")  # fmt: skip
    session.commit()
    return case


def test_an_accepted_upload_becomes_the_current_template(session, case):
    data = edited(FORM, "附：", "{{ case_title }}")
    row = upload_template(session, SYSTEM, FORM, "我的督办单.docx", data)
    session.commit()
    assert (row.version, row.file_name, row.sha256) == (1, "我的督办单.docx", sha256(data))
    current = current_template(session, FORM)
    assert (current.version, current.name, current.sha256) == (1, "supervision-form-v1.docx", sha256(data))  # fmt: skip
    doc = render_document(session, SYSTEM, FORM, case_id=case.id)
    assert (doc.template_name, doc.template_sha256) == ("supervision-form-v1.docx", sha256(data))
    log = session.exec(select(AuditLog).where(AuditLog.entity == "templateversion")).one()
    assert (log.action, log.new) == (AuditAction.CREATE, "第1版")


def test_a_refused_upload_stores_nothing(session):
    with pytest.raises(ValidationError, match="未通过检查") as caught:
        upload_template(session, SYSTEM, FORM, "坏模板.docx", edited(FORM, "{{ nope }}"))
    assert "- 模板使用了未知的字段：nope" in str(caught.value)
    assert template_versions(session, FORM) == []
    assert current_template(session, FORM).version is None


def test_an_identical_upload_is_refused(session):
    default = (TEMPLATES / KINDS[FORM].template).read_bytes()
    with pytest.raises(ValidationError, match="完全相同"):
        upload_template(session, SYSTEM, FORM, "same.docx", default)


def test_versions_are_kept_and_the_default_can_be_restored(session):
    first = upload_template(session, SYSTEM, FORM, "a.docx", edited(FORM, "第一版"))
    second = upload_template(session, SYSTEM, FORM, "b.docx", edited(FORM, "第二版"))
    session.commit()
    assert [v.version for v in template_versions(session, FORM)] == [2, 1]
    assert current_template(session, FORM).version == 2

    activate_template_version(session, SYSTEM, first.id)
    session.commit()
    assert current_template(session, FORM).version == 1
    assert second.active is False

    restore_default_template(session, SYSTEM, FORM)
    session.commit()
    assert current_template(session, FORM).version is None
    assert [v.version for v in template_versions(session, FORM)] == [2, 1]  # still listed
    notes = [log.note for log in session.exec(select(AuditLog).order_by(AuditLog.id))]
    assert notes[-2:] == ["启用督办单模板第1版", "恢复督办单默认模板"]
    with pytest.raises(ValidationError, match="已在使用默认模板"):
        restore_default_template(session, SYSTEM, FORM)


def test_only_administrators_manage_templates(session):
    clerk = Actor(user_id=None, username="clerk", role=Role.CENTER)
    with pytest.raises(PermissionDenied, match="无权管理文书模板"):
        upload_template(session, clerk, FORM, "a.docx", edited(FORM, "x"))
    with pytest.raises(PermissionDenied):
        restore_default_template(session, clerk, FORM)


# --- page 文书模板 --------------------------------------------------------------------------


def open_templates_page() -> AppTest:
    return open_page(Actor(user_id=None, username="admin", role=Role.ADMIN), "pages/templates.py")


def test_templates_page_shows_the_current_template_and_restores_the_default(session):
    upload_template(session, SYSTEM, FORM, "a.docx", edited(FORM, "第一版"))
    session.commit()
    at = open_templates_page()
    assert any("当前使用：第1版" in m.value for m in at.markdown)
    at.button(key="templates_restore").click().run()
    assert not at.exception
    assert any("已恢复为默认模板" in s.value for s in at.success)
    assert any("当前使用：默认模板" in m.value for m in at.markdown)
    assert current_template(session, FORM).version is None


def test_templates_page_lists_the_fields_of_the_chosen_kind(session):
    at = open_templates_page()
    at.selectbox(key="templates_kind").set_value(DocumentKind.ONSITE_NOTICE).run()
    fields = at.dataframe[0].value["字段"].tolist()
    assert "location" in fields and "contact_phone" in fields
