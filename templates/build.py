"""Build every document template from scratch with python-docx, after GB/T 9704-2012.

Run `python templates/build.py` from the project root: it rewrites `templates/<kind>.docx`
and `templates/README.md` (the field reference, generated from `duban.documents.KINDS`), so
the committed templates are always reproducible and never drift from the declared fields.

Layout (党政机关公文格式 GB/T 9704-2012): A4 set explicitly (python-docx defaults to US
Letter), margins top 37 / bottom 35 / left 28 / right 26 mm, titles 方正小标宋简体 22 pt (二号),
body 仿宋_GB2312 16 pt (三号) on a 22-line page, headings 黑体, form text 14 pt (四号). Font names
are written to `w:eastAsia` (and ascii/hAnsi) so Word and WPS on the users' PCs pick them.
Forms are full-bordered tables mirroring the seed's 附件1 and 附件2 field for field.

Every Jinja tag is written as ONE run (docxtpl needs the whole tag in a run); `{%tr %}` rows
repeat table rows (one block per ticket), `{%p %}` paragraphs show optional lines.
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

TEMPLATES = ROOT / "templates"

XIAOBIAOSONG = "方正小标宋简体"
FANGSONG = "仿宋_GB2312"
HEITI = "黑体"
KAITI = "楷体_GB2312"
SONGTI = "宋体"
LATIN = "Times New Roman"

TEXT_WIDTH_MM = 210 - 28 - 26  # 156 mm, the type area of GB/T 9704
LINE = Pt(28.95)  # 22 lines in the 225 mm type area
RED = RGBColor(0xFF, 0x00, 0x00)
CELL_MARGIN_MM = 1.0

# paragraph styles (Chinese names: staff see them in Word's style pane)
TITLE = "公文标题"
BODY = "公文正文"
HEADING = "一级标题"
SUBHEADING = "二级标题"
LABEL = "表格标签"
CELL = "表格文字"
SMALL_LABEL = "列表表头"
SMALL_CELL = "列表文字"
SIGNATURE = "署名"
NOTE = "附注"
NUMBER = "表格编号"  # 工单编号, 诉求时间, 督办编号, dates: 小四, in cells sized for the longest
PAGE_NUMBER = "页码"


# --- document, fonts and styles ----------------------------------------------------------


def set_east_asian_font(rpr_parent, east_asia: str, latin: str = LATIN) -> None:
    """Name the font for Chinese (w:eastAsia) and Latin text; Word/WPS read w:eastAsia."""
    rpr = rpr_parent.find(qn("w:rPr"))
    if rpr is None:
        rpr = OxmlElement("w:rPr")
        rpr_parent.append(rpr)
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)
    fonts.set(qn("w:ascii"), latin)
    fonts.set(qn("w:hAnsi"), latin)
    fonts.set(qn("w:eastAsia"), east_asia)
    fonts.set(qn("w:cs"), latin)


def add_style(
    doc: DocxDocument,
    name: str,
    *,
    font: str,
    size: float,
    align: WD_ALIGN_PARAGRAPH = WD_ALIGN_PARAGRAPH.JUSTIFY,
    line: Pt | None = LINE,
    first_line_chars: int = 0,
    bold: bool = False,
    space_before: float = 0,
    space_after: float = 0,
):
    """A paragraph style based on Normal: one place per look, editable in Word's style pane."""
    style = doc.styles.add_style(name, 1)  # WD_STYLE_TYPE.PARAGRAPH
    style.base_style = doc.styles["Normal"]
    style.quick_style = True
    style.font.size = Pt(size)
    style.font.bold = bold
    set_east_asian_font(style.element, font)
    fmt = style.paragraph_format
    fmt.alignment = align
    if line is None:
        fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
    else:
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = line
    fmt.first_line_indent = Pt(size * first_line_chars) if first_line_chars else None
    fmt.space_before = Pt(space_before)
    fmt.space_after = Pt(space_after)
    fmt.widow_control = False
    return style


def no_autospace(style) -> None:
    """No extra gap between Chinese and digits in table cells, so numbers and dates fit."""
    ppr = style.element.get_or_add_pPr()
    later = ("w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind", "w:jc")
    for tag in ("w:autoSpaceDE", "w:autoSpaceDN"):
        el = OxmlElement(tag)
        el.set(qn("w:val"), "0")
        ppr.insert_element_before(el, *later)


def new_document(title: str) -> DocxDocument:
    """An empty A4 document with the GB/T 9704 page, fonts and the styles used below."""
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.header_distance, section.footer_distance = (
        Mm(15),
        Mm(22),
    )  # 页码 7 mm under the type area

    normal = doc.styles["Normal"]
    normal.font.size = Pt(16)
    set_east_asian_font(normal.element, FANGSONG)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    normal.element.find(qn("w:rPr")).append(lang)
    fmt = normal.paragraph_format
    fmt.space_before, fmt.space_after = Pt(0), Pt(0)
    fmt.line_spacing_rule, fmt.line_spacing = WD_LINE_SPACING.EXACTLY, LINE
    # the default template's docDefaults name theme fonts; name ours there too
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    set_east_asian_font(defaults.find(qn("w:rPrDefault")), FANGSONG)

    add_style(doc, TITLE, font=XIAOBIAOSONG, size=22, align=WD_ALIGN_PARAGRAPH.CENTER, line=Pt(36))
    add_style(doc, BODY, font=FANGSONG, size=16, first_line_chars=2)
    add_style(doc, HEADING, font=HEITI, size=16, first_line_chars=2)
    add_style(doc, SUBHEADING, font=KAITI, size=16, first_line_chars=2)
    add_style(doc, LABEL, font=HEITI, size=14, align=WD_ALIGN_PARAGRAPH.CENTER, line=Pt(22))
    for name, font, size, align, line in (
        (CELL, FANGSONG, 14, WD_ALIGN_PARAGRAPH.LEFT, 22),
        (SMALL_LABEL, HEITI, 10.5, WD_ALIGN_PARAGRAPH.CENTER, 16),
        (SMALL_CELL, FANGSONG, 10.5, WD_ALIGN_PARAGRAPH.LEFT, 16),
        (NUMBER, FANGSONG, 12, WD_ALIGN_PARAGRAPH.LEFT, 22),
    ):
        no_autospace(add_style(doc, name, font=font, size=size, align=align, line=Pt(line)))
    add_style(doc, SIGNATURE, font=FANGSONG, size=16, align=WD_ALIGN_PARAGRAPH.RIGHT)
    add_style(doc, NOTE, font=FANGSONG, size=14, align=WD_ALIGN_PARAGRAPH.LEFT, line=Pt(24))
    add_style(doc, PAGE_NUMBER, font=SONGTI, size=14, align=WD_ALIGN_PARAGRAPH.RIGHT, line=None)

    props = doc.core_properties
    props.title, props.author, props.comments = title, "duban", ""
    props.subject = props.keywords = props.last_modified_by = ""
    return doc


# --- paragraphs ---------------------------------------------------------------------------


def write(paragraph: Paragraph, *parts: str, font: str | None = None) -> Paragraph:
    """Append each part as its own run, so every Jinja tag sits inside exactly one run."""
    for text in parts:
        run = paragraph.add_run(text)
        if font:
            set_east_asian_font(run._r, font)
    return paragraph


def para(doc: DocxDocument | _Cell, style: str, *parts: str) -> Paragraph:
    return write(doc.add_paragraph(style=style), *parts)


def blank(doc: DocxDocument, style: str = "Normal") -> Paragraph:
    return doc.add_paragraph(style=style)


def title(doc: DocxDocument, *parts: str) -> None:
    para(doc, TITLE, *parts)
    blank(doc)


def keep_with_next(*paragraphs: Paragraph) -> None:
    """Each paragraph stays on the page of the next one (in a table: the row with the next)."""
    for p in paragraphs:
        p.paragraph_format.keep_with_next = True


def keep_rows_with_next(*rows) -> None:
    """Table rows that move to the next page with the row below them (a ticket's block)."""
    for row in rows:
        for cell in row.cells:
            keep_with_next(*cell.paragraphs)


def signature(doc: DocxDocument, *, gap: int = 1, after: Paragraph | None = None) -> None:
    """发文机关署名 and 成文日期, right-aligned (署名右空二字, 日期右空四字), kept on the page of
    the text above them (`after`: that paragraph; the last table row's paragraphs already
    keep with what follows)."""
    if after is not None:
        keep_with_next(after)
    for _ in range(gap):
        keep_with_next(blank(doc))
    name = para(doc, SIGNATURE, "{{ office_name }}")
    name.paragraph_format.right_indent = Pt(32)
    keep_with_next(name)
    day = para(doc, SIGNATURE, "{{ issue_date }}")
    day.paragraph_format.right_indent = Pt(64)


def table_signature(table: Table) -> None:
    """署名 and 成文日期 as a borderless last row of a form, so they never stand alone on a
    page: the row above keeps with it (LibreOffice ignores keep-with-next from a table to the
    paragraph after it, but keeps rows together)."""
    keep_rows_with_next(table.rows[-1])
    row = add_row(table, height_mm=20)
    cell = row.cells[0].merge(row.cells[-1])
    borders = OxmlElement("w:tcBorders")
    for edge in ("left", "bottom", "right", "insideV"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    cell._tc.get_or_add_tcPr().append(borders)
    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.BOTTOM
    fill(cell, "Normal", "")
    name = more(cell, SIGNATURE, "{{ office_name }}")
    name.paragraph_format.right_indent = Pt(32)
    day = more(cell, SIGNATURE, "{{ issue_date }}")
    day.paragraph_format.right_indent = Pt(64)


def page_field(paragraph: Paragraph) -> None:
    """ "— N —": the PAGE field between two 一字线 (GB/T 9704 7.5, 4号半角宋体阿拉伯数字)."""
    write(paragraph, "— ")
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)
    write(paragraph, " —")


def page_number_footer(doc: DocxDocument) -> None:
    """页码 after GB/T 9704 7.5: "— 1 —" in 4号 宋体, 单页码居右空一字, 双页码居左空一字
    (odd and even pages have their own footers)."""
    doc.settings.odd_and_even_pages_header_footer = True
    section = doc.sections[0]
    odd = section.footer.paragraphs[0]
    odd.style = doc.styles[PAGE_NUMBER]
    odd.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    odd.paragraph_format.right_indent = Pt(14)
    page_field(odd)
    even = section.even_page_footer.paragraphs[0]
    even.style = doc.styles[PAGE_NUMBER]
    even.alignment = WD_ALIGN_PARAGRAPH.LEFT
    even.paragraph_format.left_indent = Pt(14)
    page_field(even)


def rule_line(paragraph: Paragraph, *, color: str = "FF0000", size: int = 12) -> None:
    """A horizontal line under a paragraph (the red separator of a 版头, the lines of 版记)."""
    ppr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", str(size)), ("space", "1"), ("color", color)):
        bottom.set(qn(f"w:{key}"), value)
    borders.append(bottom)
    ppr.append(borders)


# --- tables -------------------------------------------------------------------------------


def form_table(doc: DocxDocument, widths_mm: list[float]) -> Table:
    """A centred, fixed-layout table with full single borders, columns in millimetres."""
    assert abs(sum(widths_mm) - TEXT_WIDTH_MM) < 0.01, widths_mm
    table = doc.add_table(rows=0, cols=len(widths_mm))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    tbl_pr = table._tbl.tblPr
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    tbl_pr.append(layout)
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{edge}")
        for key, value in (("val", "single"), ("sz", "6"), ("space", "0"), ("color", "000000")):
            el.set(qn(f"w:{key}"), value)
        borders.append(el)
    tbl_pr.append(borders)
    margins = OxmlElement("w:tblCellMar")
    for edge in ("left", "right"):
        el = OxmlElement(f"w:{edge}")
        el.set(qn("w:w"), str(round(CELL_MARGIN_MM * 56.7)))
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    tbl_pr.append(margins)
    for col, width in zip(table.columns, widths_mm, strict=True):
        col.width = Mm(width)
    return table


def add_row(table: Table, *, height_mm: float = 12, exact: bool = False, split: bool = False):
    """A row that never breaks across pages (`split`: one whose text may run past a page,
    such as a 诉求内容 of thousands of characters, may break)."""
    row = table.add_row()
    row.height = Mm(height_mm)
    row.height_rule = WD_ROW_HEIGHT_RULE.EXACTLY if exact else WD_ROW_HEIGHT_RULE.AT_LEAST
    if not split:
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
    widths = [c.width for c in table.columns]
    for cell, width in zip(row.cells, widths, strict=True):
        cell.width = width
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    return row


def fill(cell: _Cell, style: str, *parts: str, top: bool = False) -> _Cell:
    """Write parts into a cell's first paragraph, one run each."""
    p = cell.paragraphs[0]
    p.style = style
    write(p, *parts)
    if top:
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP
    return cell


def more(cell: _Cell, style: str, *parts: str) -> Paragraph:
    """Another paragraph in a cell."""
    p = cell.add_paragraph(style=style)
    return write(p, *parts)


def labelled_row(
    table: Table,
    label: str,
    *parts: str,
    height_mm: float = 12,
    top: bool = False,
    style: str = CELL,
    split: bool = False,
) -> _Cell:
    """A row: the label in the first column, the value spanning the rest."""
    row = add_row(table, height_mm=height_mm, split=split)
    fill(row.cells[0], LABEL, label)
    value = row.cells[1].merge(row.cells[-1])
    fill(value, style, *parts, top=top)
    return value


def tag_row(table: Table, tag: str) -> None:
    """A row holding only a `{%tr … %}` tag; docxtpl replaces the whole row by the tag."""
    row = add_row(table, height_mm=6)
    cell = row.cells[0].merge(row.cells[-1])
    fill(cell, CELL, tag)


def header_row(table: Table, *labels: str) -> None:
    """The header of a list table (五号 黑体), repeated on every page the table runs onto."""
    row = add_row(table, height_mm=9)
    row._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
    for cell, label in zip(row.cells, labels, strict=True):
        fill(cell, SMALL_LABEL, label)


def item_row(table: Table, *tags: str) -> None:
    row = add_row(table, height_mm=9)
    for cell, tag in zip(row.cells, tags, strict=True):
        fill(cell, SMALL_CELL, tag)


# --- the templates ------------------------------------------------------------------------


def build_supervision_form() -> DocxDocument:
    """附件1 12345 市民服务热线督办单, field for field in the seed's order; one block per
    ticket, kept on one page (a 诉求内容 longer than half a page may run on); a case without
    a ticket has no ticket boxes.

    Cells are sized for their longest value: 四号 labels of four characters in 24 mm, and
    工单编号 (20 digits), 诉求时间 ("2025年12月14日 17:31") and 督办编号 in 小四 cells of 48, 60
    and 132 mm, so none of them breaks inside.
    """
    doc = new_document("12345 市民服务热线督办单")
    title(doc, "12345 市民服务热线督办单")
    table = form_table(doc, [24, 24, 24, 24, 60])
    tag_row(table, "{%tr for t in tickets %}")
    head = add_row(table)
    fill(head.cells[0], LABEL, "工单编号")
    fill(head.cells[1].merge(head.cells[2]), NUMBER, "{{ t.ticket_no }}")
    fill(head.cells[3], LABEL, "诉求时间")
    fill(head.cells[4], NUMBER, "{{ t.received_at }}")
    keep_rows_with_next(head)
    tag_row(table, "{%tr if loop.first %}")
    keep_rows_with_next(*case_rows(table))
    tag_row(table, "{%tr endif %}")
    for long in (True, False):
        tag_row(table, "{%tr if t.long %}" if long else "{%tr else %}")
        address = add_row(table)
        content = add_row(table, height_mm=20, split=long)
        topic = address.cells[0].merge(content.cells[0])
        fill(topic, LABEL, "诉求内容")
        fill(address.cells[1], LABEL, "诉求地址")
        fill(address.cells[2].merge(address.cells[-1]), CELL, "{{ t.address }}")
        fill(content.cells[1], LABEL, "内容描述")
        fill(content.cells[2].merge(content.cells[-1]), CELL, "{{ t.content }}", top=True)
        keep_rows_with_next(address)
    tag_row(table, "{%tr endif %}")
    tag_row(table, "{%tr endfor %}")
    tag_row(table, "{%tr if not tickets %}")
    case_rows(table)
    labelled_row(table, "事项来源", "{{ source_note }}", height_mm=16, top=True)
    tag_row(table, "{%tr endif %}")
    labelled_row(table, "相关情况", "{{ related_info }}", height_mm=24, top=True, split=True)
    opinion = labelled_row(table, "督办意见", "{{ opinion }}", height_mm=32, top=True, split=True)
    more(opinion, CELL, "{%p if due_at %}")
    more(opinion, CELL, "请于", "{{ due_at }}", "前将处置情况书面反馈至", "{{ office_name }}", "，由单位主要领导签字并加盖单位公章。")  # fmt: skip
    more(opinion, CELL, "{%p endif %}")
    labelled_row(table, "督办情况", "{{ result_text }}", height_mm=24, top=True)
    table_signature(table)
    page_number_footer(doc)
    return doc


def case_rows(table: Table):
    """督办编号 and 承办单位, once per form (after the first ticket's 工单编号 row)."""
    labelled_row(table, "督办编号", "{{ case_no }}", style=NUMBER)
    labelled_row(table, "承办单位", "{{ units }}")
    return table.rows[-2:]


def build_onsite_notice() -> DocxDocument:
    """附件2 12345 市民服务热线现场协调督办通知, field for field."""
    doc = new_document("12345 市民服务热线现场协调督办通知")
    title(doc, "12345 市民服务热线现场协调督办通知")
    table = form_table(doc, [38, 48, 28, 42])
    labelled_row(table, "协调督办事由", "{{ subject }}", height_mm=16)
    labelled_row(table, "协调督办编号", "{{ case_no }}", style=NUMBER)
    labelled_row(table, "协调督办地点", "{{ location }}", height_mm=16)
    procedure = labelled_row(
        table, "协调督办流程", "{%p if scheduled_at %}", height_mm=60, top=True
    )
    more(procedure, CELL, "时间：", "{{ scheduled_at }}")
    more(procedure, CELL, "{%p endif %}")
    more(procedure, CELL, "{{ procedure }}")
    labelled_row(table, "出席范围", "{{ attendees }}", height_mm=30, top=True)
    row = add_row(table)
    fill(row.cells[0], LABEL, "联系人")
    fill(row.cells[1], CELL, "{{ contact_name }}")
    fill(row.cells[2], LABEL, "联系电话")
    fill(row.cells[3], CELL, "{{ contact_phone }}")
    labelled_row(table, "备注", "{{ remark }}", height_mm=24, top=True)
    table_signature(table)
    page_number_footer(doc)
    return doc


def ticket_table(doc: DocxDocument) -> None:
    """The tickets of a case, one row each (工单编号 / 诉求时间 / 诉求地址 / 内容描述), in 五号
    cells wide enough for a 16-digit number and "2025年12月14日 17:31"."""
    table = form_table(doc, [36, 36, 34, 50])
    header_row(table, "工单编号", "诉求时间", "诉求地址", "内容描述")
    tag_row(table, "{%tr for t in tickets %}")
    item_row(
        table, "{{ t.ticket_no }}", "{{ t.received_at }}", "{{ t.address }}", "{{ t.content }}"
    )
    tag_row(table, "{%tr endfor %}")


def report_heading(doc: DocxDocument, masthead: str) -> None:
    """版头: the red masthead, the office and date line, the red separator."""
    head = para(doc, TITLE, masthead)
    head.paragraph_format.line_spacing = Pt(60)
    for run in head.runs:
        run.font.size = Pt(36)
        run.font.color.rgb = RED
    line = doc.add_paragraph(style=NOTE)
    line.paragraph_format.tab_stops.add_tab_stop(Mm(TEXT_WIDTH_MM), WD_TAB_ALIGNMENT.RIGHT)
    write(line, "{{ office_name }}", "\t", "{{ issue_date }}")
    rule_line(line)
    blank(doc)


def closing_record(doc: DocxDocument, *parts: str) -> None:
    """版记: a ruled line at the end naming to whom the paper goes."""
    blank(doc)
    top = doc.add_paragraph(style=NOTE)
    rule_line(top, color="000000", size=8)
    record = para(doc, NOTE, *parts)
    rule_line(record, color="000000", size=8)


def build_special_report() -> DocxDocument:
    """工作专报: a significant matter reported to the main leaders (§三(三)3)."""
    doc = new_document("工作专报")
    report_heading(doc, "12345热线工作专报")
    title(doc, "{{ report_title }}")
    para(doc, HEADING, "一、基本情况")
    para(doc, BODY, "{{ case_summary }}")
    ticket_table(doc)
    para(doc, HEADING, "二、有关情况")
    para(doc, BODY, "{{ situation }}")
    para(doc, BODY, "{%p if analysis %}")
    para(doc, HEADING, "三、原因分析")
    para(doc, BODY, "{{ analysis }}")
    para(doc, BODY, "{%p endif %}")
    para(doc, BODY, "{%p if suggestion %}")
    para(doc, HEADING, "{% if analysis %}四{% else %}三{% endif %}、建议")
    para(doc, BODY, "{{ suggestion }}")
    para(doc, BODY, "{%p endif %}")
    closing_record(doc, "报：", "{{ recipient }}")
    page_number_footer(doc)
    return doc


def build_escalation_report() -> DocxDocument:
    """提级办理报告: the center's summary asking a leader's 批办 (§三(三)1)."""
    doc = new_document("提级办理报告")
    title(doc, "{{ report_title }}")
    write(doc.add_paragraph(style="Normal"), "{{ recipient }}", "：")
    para(doc, BODY, "{{ case_summary }}")
    para(doc, HEADING, "一、诉求情况")
    ticket_table(doc)
    para(doc, HEADING, "二、督办经过")
    table = form_table(doc, [22, 31, 25, 31, 31, 16])  # dates whole in 五号
    header_row(table, "督办环节", "发出日期", "承办单位", "反馈期限", "反馈日期", "处置进展")
    tag_row(table, "{%tr for s in steps %}")
    item_row(table, "{{ s.kind }}", "{{ s.issued_at }}", "{{ s.unit }}", "{{ s.due_at }}", "{{ s.feedback_date }}", "{{ s.progress }}")  # fmt: skip
    tag_row(table, "{%tr endfor %}")
    para(doc, HEADING, "三、提级理由")
    para(doc, BODY, "{{ escalation_reason }}")
    para(doc, HEADING, "四、请示事项")
    para(doc, BODY, "{{ request }}")
    signature(doc, after=para(doc, BODY, "妥否，请批示。"))
    para(doc, BODY, "{%p if contact_note %}")
    para(doc, BODY, "{{ contact_note }}")
    para(doc, BODY, "{%p endif %}")
    blank(doc)
    box = form_table(doc, [30, 126])
    labelled_row(box, "领导批示", "", height_mm=50, top=True)
    page_number_footer(doc)
    return doc


def build_meeting_minutes() -> DocxDocument:
    """专题会纪要: the leader's instructions, the decisions — the department and path fixed
    for each class of matter (同类事项) — and the cases discussed."""
    doc = new_document("专题会纪要")
    title(doc, "{{ meeting_title }}")
    para(doc, BODY, "{{ held_at }}", "，", "{{ chair }}", "主持召开 12345 市民服务热线工作专题会，听取", "{{ office_name }}", "热线办理情况汇报，研究协调督办事项。现纪要如下：")  # fmt: skip
    para(doc, HEADING, "一、会议指示要求")
    para(doc, BODY, "{{ summary }}")
    para(doc, HEADING, "二、会议议定事项")
    para(doc, BODY, "{%p if decisions %}")
    para(doc, BODY, "会议明确了以下同类事项的处置部门和处置路径，今后同类诉求按此派单办理：")
    para(doc, BODY, "{%p for d in decisions %}")
    para(doc, BODY, "{{ d.text }}")
    para(doc, BODY, "{%p endfor %}")
    para(doc, BODY, "{%p else %}")
    para(doc, BODY, "会议未明确新的同类事项处置部门和处置路径。")
    para(doc, BODY, "{%p endif %}")
    para(doc, BODY, "{%p if rules %}")
    rules = form_table(doc, [40, 36, 80])
    header_row(rules, "事项类别", "处置部门", "处置路径")
    tag_row(rules, "{%tr for r in rules %}")
    item_row(rules, "{{ r.name }}", "{{ r.unit }}", "{{ r.handling_path }}")
    tag_row(rules, "{%tr endfor %}")
    para(doc, BODY, "{%p endif %}")
    para(doc, HEADING, "三、研究的督办事项")
    cases = form_table(doc, [46, 46, 38, 26])
    header_row(cases, "督办编号", "督办事项", "承办单位", "督办类型")
    tag_row(cases, "{%tr for c in cases %}")
    item_row(cases, "{{ c.case_no }}", "{{ c.title }}", "{{ c.units }}", "{{ c.level }}")
    tag_row(cases, "{%tr endfor %}")
    blank(doc)
    signature(doc, after=para(doc, BODY, "出席：", "{{ attendees }}"))
    page_number_footer(doc)
    return doc


def build_feedback_receipt() -> DocxDocument:
    """书面反馈回执: what the unit fills in, signs and stamps (§三(一)2, (二)4, (三)4).

    督办编号 and the dates sit in 小四 cells of 62 and 123 mm, wide enough for
    "赵巷督〔2025〕第043号" and "2027年12月14日（暂估）" in any font; 工单编号 are listed whole, separated by "、"."""
    doc = new_document("书面反馈回执")
    title(doc, "12345 市民服务热线督办书面反馈回执")
    table = form_table(doc, [33, 62, 24, 37])
    row = add_row(table)
    for cell, style, text in zip(row.cells, (LABEL, NUMBER, LABEL, CELL), ("督办编号", "{{ case_no }}", "督办类型", "{{ level }}"), strict=True):  # fmt: skip
        fill(cell, style, text)
    tag_row(table, "{%tr if ticket_nos %}")
    labelled_row(table, "工单编号", "{{ ticket_no_lines }}", style=NUMBER)
    tag_row(table, "{%tr endif %}")
    labelled_row(table, "督办事项", "{{ case_title }}")
    labelled_row(table, "承办单位", "{{ addressee }}")
    labelled_row(table, "督办日期", "{{ issued_at }}", style=NUMBER)
    labelled_row(table, "反馈期限", "{{ due_at }}", style=NUMBER)
    labelled_row(table, "处置情况", "{{ feedback_text }}", height_mm=38, top=True, split=True)
    labelled_row(table, "处置进展", "{{ progress_marks }}")
    row = add_row(table, height_mm=22)
    for cell, style, text in zip(row.cells, (LABEL, CELL, LABEL, CELL), ("主要领导签字", "", "单位盖章", ""), strict=True):  # fmt: skip
        fill(cell, style, text)
    keep_rows_with_next(row)
    last = labelled_row(table, "反馈日期", "{{ feedback_date }}")
    keep_with_next(*last.paragraphs, *table.rows[-1].cells[0].paragraphs)
    keep_with_next(blank(doc, NOTE))
    note = para(doc, NOTE, "说明：", "{% if due_at %}", "请于", "{{ due_at }}", "前将", "{% else %}", "请在指定时限内将", "{% endif %}", "本回执由单位主要领导签字并加盖单位公章后反馈至", "{{ office_name }}", "{{ contact_note }}", "。")  # fmt: skip
    note.paragraph_format.keep_together = True
    page_number_footer(doc)
    return doc


def build_chase_notice() -> DocxDocument:
    """催办通知: a written chase of a step near or past its deadline, in the notices' form."""
    doc = new_document("12345 市民服务热线督办催办通知")
    title(doc, "12345 市民服务热线督办催办通知")
    table = form_table(doc, [33, 54, 24, 45])
    row = add_row(table)
    for cell, style, text in zip(row.cells, (LABEL, CELL, LABEL, CELL), ("督办编号", "{{ case_no }}", "催办次数", "第 {{ chase_count }} 次"), strict=True):  # fmt: skip
        fill(cell, style, text)
    labelled_row(table, "督办事项", "{{ case_title }}")
    labelled_row(table, "承办单位", "{{ addressee }}")
    row = add_row(table)
    for cell, style, text in zip(row.cells, (LABEL, CELL, LABEL, CELL), ("督办环节", "{{ step_kind }}", "发出日期", "{{ issued_at }}"), strict=True):  # fmt: skip
        fill(cell, style, text)
    row = add_row(table)
    for cell, style, text in zip(row.cells, (LABEL, CELL, LABEL, CELL), ("反馈期限", "{{ due_at }}", "办理状态", "{{ chase_status }}"), strict=True):  # fmt: skip
        fill(cell, style, text)
    labelled_row(table, "催办要求", "{{ chase_note }}", height_mm=40, top=True)
    blank(doc, NOTE)
    para(doc, NOTE, "请于收到本通知后抓紧落实，将处置情况书面反馈至", "{{ office_name }}", "，由单位主要领导签字并加盖单位公章", "{{ contact_note }}", "。")  # fmt: skip
    signature(doc)
    page_number_footer(doc)
    return doc


REPORT_LABEL = "统计表标题"
REPORT_NUMBER = "统计表数字"
REPORT_TEXT = "统计表文字"


def data_table(doc: DocxDocument, rows: str, columns: list[tuple[str, float, str]]) -> None:
    """A statistics table in 五号 type: a header row, then one row per item of `rows`.

    `columns` are (header, width in mm, the item's field); figures are centred, text is
    left-aligned.
    """
    table = form_table(doc, [width for _, width, _ in columns])
    head = add_row(table, height_mm=8)
    head._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))  # repeated on each page
    for cell, (label, _, _) in zip(head.cells, columns, strict=True):
        fill(cell, REPORT_LABEL, label)
    tag_row(table, f"{{%tr for r in {rows} %}}")
    row = add_row(table, height_mm=7)
    for cell, (_, _, name) in zip(row.cells, columns, strict=True):
        style = REPORT_NUMBER if name in FIGURES else REPORT_TEXT
        fill(cell, style, f"{{{{ r.{name} }}}}")
    tag_row(table, "{%tr endfor %}")


def optional_table(
    doc: DocxDocument, rows: str, columns: list[tuple[str, float, str]], empty: str
) -> None:
    """The table when `rows` has items, else one sentence saying there were none."""
    para(doc, BODY, f"{{%p if {rows} %}}")
    data_table(doc, rows, columns)
    para(doc, BODY, "{%p else %}")
    para(doc, BODY, empty)
    para(doc, BODY, "{%p endif %}")


def chart(doc: DocxDocument, name: str) -> None:
    picture = para(doc, NOTE, f"{{{{ {name} }}}}")
    picture.alignment = WD_ALIGN_PARAGRAPH.CENTER
    picture.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE


KPI_COLUMNS = [
    ("督办件数", 14, "cases"),
    ("已办结", 14, "closed"),
    ("办结率", 14, "closure_rate"),
    ("到期环节", 14, "due"),
    ("按时反馈", 14, "on_time"),
    ("按时反馈率", 14, "on_time_rate"),
    ("提级次数", 14, "escalations"),
    ("不合规反馈", 14, "noncompliant"),
    ("移交纪委", 14, "referrals"),
]
FIGURES = {name for _, _, name in KPI_COLUMNS} | {
    "value", "numerator", "denominator", "rank", "overdue", "deductions", "bonus", "score"
}  # fmt: skip


def build_work_report() -> DocxDocument:
    """协调督办工作报告 (§三(三)): figures, tables per level and unit, escalated matters,
    meetings and their routing rules, referrals, typical cases, scores and two charts."""
    doc = new_document("协调督办工作报告")
    for name, font, align in (
        (REPORT_LABEL, HEITI, WD_ALIGN_PARAGRAPH.CENTER),
        (REPORT_NUMBER, FANGSONG, WD_ALIGN_PARAGRAPH.CENTER),
        (REPORT_TEXT, FANGSONG, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        add_style(doc, name, font=font, size=10.5, align=align, line=Pt(15))
    title(doc, "{{ report_title }}")
    period = para(doc, NOTE, "统计区间：", "{{ period_start }}", "至", "{{ period_end }}")  # fmt: skip
    period.alignment = WD_ALIGN_PARAGRAPH.CENTER
    judged = para(doc, NOTE, "（逾期按", "{{ as_of }}", "判断）")
    judged.alignment = WD_ALIGN_PARAGRAPH.CENTER
    blank(doc)
    para(doc, HEADING, "一、总体情况")
    para(doc, BODY, "{{ overview }}")
    data_table(doc, "rates", [("指标", 40, "name"), ("比率", 36, "value"), ("分子", 40, "numerator"), ("分母", 40, "denominator")])  # fmt: skip
    chart(doc, "chart_months")
    para(doc, HEADING, "二、分类型情况")
    para(doc, SUBHEADING, "（一）按督办类型")
    data_table(doc, "levels", [("督办类型", 30, "level"), *KPI_COLUMNS])
    para(doc, SUBHEADING, "（二）按协调督办范围")
    data_table(doc, "scopes", [("协调督办范围", 126, "scope"), ("件数", 30, "cases")])
    para(doc, HEADING, "三、各承办单位办理情况")
    data_table(doc, "units", [("承办单位", 30, "unit"), *KPI_COLUMNS])
    para(doc, NOTE, "注：一件督办事项由几个承办单位（主办、协办）办理的，在每个单位下各计 1 件，故各单位“督办件数”之和可能大于“合计”。")  # fmt: skip
    chart(doc, "chart_on_time")
    para(doc, HEADING, "四、提级办理事项")
    optional_table(doc, "escalated", [("督办编号", 36, "case_no"), ("督办事项", 36, "title"), ("承办单位", 30, "units"), ("办理结果", 54, "outcome")], "本期无提级办理事项。")  # fmt: skip
    para(doc, HEADING, "五、专题会及明确的处置规则")
    optional_table(doc, "meetings", [("会议日期", 30, "held_at"), ("会议名称", 40, "title"), ("主持人", 24, "chair"), ("研究事项", 18, "cases"), ("明确的处置规则", 44, "rules")], "本期未召开热线工作专题会。")  # fmt: skip
    optional_table(doc, "routing_rules", [("会议日期", 30, "held_at"), ("事项类别", 36, "name"), ("处置部门", 30, "unit"), ("处置路径", 60, "handling_path")], "本期专题会未明确新的同类事项处置规则。")  # fmt: skip
    para(doc, HEADING, "六、移交镇纪委监察办事项")
    optional_table(doc, "referrals", [("督办编号", 36, "case_no"), ("督办事项", 36, "title"), ("主办单位", 26, "unit"), ("移交日期", 26, "referred_at"), ("移交原因", 32, "reason")], "本期无移交镇纪委监察办的事项。")  # fmt: skip
    para(doc, HEADING, "七、典型案例")
    para(doc, BODY, "{%p for c in typical %}")
    para(doc, SUBHEADING, "{{ c.title }}", "（", "{{ c.case_no }}", "，", "{{ c.units }}", "）")
    para(doc, BODY, "{{ c.outcome }}")
    para(doc, BODY, "{%p endfor %}")
    para(doc, BODY, "{%p if not typical %}")
    para(doc, BODY, "本期未选定典型案例。")
    para(doc, BODY, "{%p endif %}")
    para(doc, HEADING, "八、承办单位绩效考核")
    para(doc, BODY, "{{ assessment_title }}", "。", "{{ assessment_rules }}")
    data_table(doc, "assessment", [("排名", 8, "rank"), ("承办单位", 24, "unit"), ("督办件数", 11, "cases"), ("到期环节", 11, "due"), ("按时反馈", 11, "on_time"), ("按时反馈率", 14, "on_time_rate"), ("逾期环节", 11, "overdue"), ("提级次数", 11, "escalations"), ("不合规反馈", 11, "noncompliant"), ("移交纪委", 11, "referrals"), ("扣分", 11, "deductions"), ("加分", 11, "bonus"), ("得分", 11, "score")])  # fmt: skip
    para(doc, NOTE, "{%p if unassessed_note %}")
    last = para(doc, NOTE, "{{ unassessed_note }}")
    para(doc, NOTE, "{%p endif %}")
    signature(doc, after=last)
    page_number_footer(doc)
    return doc


BUILDERS: dict[str, Callable[[], DocxDocument]] = {
    "supervision-form": build_supervision_form,
    "onsite-notice": build_onsite_notice,
    "special-report": build_special_report,
    "escalation-report": build_escalation_report,
    "meeting-minutes": build_meeting_minutes,
    "feedback-receipt": build_feedback_receipt,
    "work-report": build_work_report,
    "chase-notice": build_chase_notice,
}
"""Template file stem (= the DocumentKind code) → its builder."""


# --- the field reference ------------------------------------------------------------------


README_INTRO = """# 文书模板

本目录存放各类文书的默认模板（`.docx`），由 `python templates/build.py` 从零生成，
版式参照 GB/T 9704-2012《党政机关公文格式》：A4 纸，页边距上 37 mm、下 35 mm、左 28 mm、右 26 mm；
标题方正小标宋简体二号（22 pt），正文仿宋_GB2312 三号（16 pt），一级标题黑体，表格内文字四号（14 pt）；
督办单、现场协调督办通知按《工作机制》附件 1、附件 2 的样式制成全框线表格。

## 修改模板

1. 在“文书模板”页面下载当前模板，用 Word 或 WPS 修改版式、字体、文字；
2. 字段写作 `{{ 字段名 }}`，**每个标签须在同一段文字格式内**（不要只给标签的一半加粗或换字体）；
3. `{%tr for t in tickets %}` … `{%tr endfor %}` 所在的表格行会按工单逐条重复（整行被替换，行内其他文字无效）；
   `{%p if … %}` … `{%p endif %}` 所在的段落控制可选内容；列表字段在循环内写作 `{{ t.ticket_no }}`；
   图片字段（统计图）单独占一个标签，例如 `{{ chart_months }}`；
4. 上传后系统会检查：必须是 .docx 文件、标签语法正确、只使用下表列出的字段；通过后成为新版本，
   随时可以恢复默认模板。字段值中的 `& < >`、`{{ }}` 按原样打印；空字段打印为空白。

发文单位名称、联系人、联系电话取自“系统设置”（office_name、office_contact、office_phone），不要写死在模板里；
首次生成文书前系统会要求填写。联系人和电话一句请用 `{{ contact_note }}`：未设置的部分自动省略，
都未设置时整句不印，不会出现“（联系人：，联系电话：）”。
日期一律写作 `2024年1月24日`，成文日期 `{{ issue_date }}` 是文书所属环节的日期（从不取生成当天）；
暂估的反馈期限后标“（暂估）”。

## 页码与分页（GB/T 9704-2012 7.5）

- 页码用 4 号半角宋体阿拉伯数字，数字左右各放一条一字线，写作“— 1 —”；单页码居右空一字，双页码居左空一字。
  默认模板在“页脚”中用 PAGE 域实现，并打开了“奇偶页不同”（Word：布局 → 页面设置 → 版式 → 奇偶页不同；
  WPS：页眉页脚 → 页眉页脚选项 → 奇偶页不同）：奇数页页脚右对齐、右缩进 1 字，偶数页页脚左对齐、左缩进 1 字。
  修改模板时请保留这两个页脚；只有一页的文书也印“— 1 —”。
- 表格行“不允许跨页断行”；一件工单的几行（工单编号、诉求地址、内容描述）设为“与下段同页”，整件排在同一页，
  内容描述超过半页的（`t.long`）才允许跨页。署名和成文日期放在表格最后一个无框线的行里，随上一行排在同一页；
  正文类文书的署名段落设为“与下段同页”。
- 工单编号、诉求时间、督办编号、日期所在的格按最长的值留宽（“2025年12月14日 17:31”、20 位工单编号、
  “赵巷督〔2025〕第043号”），标签格可容四号四字，修改列宽时请不要收窄。
- 标题按词意回行（梯形或菱形），系统已把长标题拆成几行（每行一段），不要在模板里再加换行。

"""


def field_reference() -> str:
    """templates/README.md: every kind's template file and fields (name, meaning, example)."""
    from duban.documents import KINDS

    lines = [README_INTRO.rstrip(), ""]
    for spec in KINDS.values():
        lines += [f"## {spec.kind.label}（`{spec.template}`，类型代码 `{spec.kind.value}`）", ""]
        lines += [spec.description, "", "| 字段 | 含义 | 示例 |", "| --- | --- | --- |"]
        for field in spec.fields:
            example = field.example or (
                "（列表，每行的字段见下）"
                if field.items
                else "（图片）"
                if field.image
                else "（空白）"
            )
            lines.append(f"| `{field.name}` | {field.label} | {example} |")
            for item in field.items:
                lines.append(
                    f"| `{field.name}[].{item.name}` | {item.label} | {item.example or '（空白）'} |"
                )
        lines.append("")
    return "\n".join(lines)


FIXED_TIME = (2024, 1, 24, 0, 0, 0)  # the seed's date; any fixed stamp keeps builds identical


def save_reproducibly(doc: DocxDocument, path: Path) -> None:
    """Save with fixed zip timestamps, so an unchanged template rebuilds byte for byte
    (its sha256, registered on every document, changes only when the layout does)."""
    buffer = io.BytesIO()
    doc.save(buffer)
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:  # fmt: skip
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(info))
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(out.getvalue())
    tmp.replace(path)  # readers never see a half-written template


def build_all(folder: Path = TEMPLATES) -> list[Path]:
    """Write every template (and the README) into `folder`; returns the written paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, builder in BUILDERS.items():
        path = folder / f"{stem}.docx"
        save_reproducibly(builder(), path)
        written.append(path)
    readme = folder / "README.md"
    readme.write_text(field_reference(), encoding="utf-8")
    written.append(readme)
    return written


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description="生成文书模板与 templates/README.md").parse_args(argv)
    for path in build_all():
        sys.stdout.write(f"{path.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
