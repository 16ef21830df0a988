"""待办 (a unit user's first page) and 催办 (the center's) through AppTest.

The pages use today's date, so the data is placed relative to it.
"""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from duban import chasing, reports
from duban.clock import now, today
from duban.enums import ExtensionStatus, Role
from duban.kpi import Period
from duban.models import Chase, Document, Extension, Step, StepReceipt
from duban.permissions import Actor
from duban.workdays import Calendar
from tests.factories import make_case, make_step, make_unit
from tests.helpers import APP, open_page

CLERK = Actor(None, "clerk", Role.CENTER)


@pytest.fixture
def world(engine):
    """镇城管中队: a 督办单 issued today (unsigned, due in 5 working days) and one due on the
    next working day (signed). 镇城建中心: a 督办单 overdue."""
    day = today()
    with Session(engine) as s:
        patrol, town = make_unit(s, "镇城管中队"), make_unit(s, "镇城建中心")
        calendar = Calendar.load(s)
        fresh = make_case(s, patrol, case_no="新发件", title="占道经营", opened_at=day)
        new_step = make_step(s, fresh, issued_at=day, due_at=calendar.add(day, 5).day)
        soon = make_case(
            s, patrol, case_no="临期件", title="噪声扰民", opened_at=day - timedelta(7)
        )
        soon_step = make_step(
            s, soon, issued_at=day - timedelta(7), due_at=calendar.add(day, 1).day
        )
        s.add(
            StepReceipt(
                step_id=soon_step.id,
                unit_id=patrol.id,
                signed_at=now(),
                due_at=day,
                on_time=True,
            )
        )
        late = make_case(s, town, case_no="逾期件", title="路灯损坏", opened_at=day - timedelta(40))
        make_step(s, late, issued_at=day - timedelta(40), due_at=day - timedelta(30))
        s.commit()
        return {"patrol": patrol.id, "new_step": new_step.id, "soon_step": soon_step.id}


def unit_user(world) -> Actor:
    return Actor(None, "unit", Role.UNIT, unit_id=world["patrol"])


def test_a_unit_user_lands_on_its_list_and_signs_for_a_form(engine, world):
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["actor"] = unit_user(world)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "待办"
    text = " ".join(m.value for m in at.markdown)
    assert "新发件" in text and "临期件" in text and "逾期件" not in text  # its own unit only
    assert [m.value for m in at.metric] == ["2", "1", "1", "0", "0"]
    at.button(key=f"todo_sign_{world['new_step']}").click().run()
    assert not at.exception, at.exception
    assert "已签收" in at.success[0].value
    with Session(engine) as s:
        receipt = s.get(StepReceipt, world["new_step"])
        assert receipt is not None and receipt.on_time and not receipt.on_behalf
    assert [m.value for m in at.metric][1] == "0"


def test_a_unit_user_asks_for_an_extension_from_its_list(engine, world):
    at = open_page(unit_user(world), "pages/todo.py")
    at.number_input[0].set_value(4)
    at.text_area[0].input("需协调城建部门")
    submit = next(b for b in at.button if b.label == "提交延期申请")
    submit.click().run()
    assert not at.exception, at.exception
    with Session(engine) as s:
        ext = s.exec(select(Extension)).one()
        assert (ext.step_id, ext.workdays, ext.status) == (
            world["soon_step"],
            4,
            ExtensionStatus.PENDING,
        )


def test_the_center_approves_an_extension_and_the_deadline_moves(engine, world):
    with Session(engine) as s:
        ext = chasing.request_extension(
            s, unit_user(world), world["soon_step"], workdays=2, reason="需协调"
        )
        s.commit()
        ext_id, old_due = ext.id, s.get(Step, world["soon_step"]).due_at
    at = open_page(CLERK, "pages/chasing.py", state={"chasing_tab": "延期审批"})
    approve = next(b for b in at.button if b.label == "批准")
    approve.click().run()
    assert not at.exception, at.exception
    assert "已批准，新截止日期" in at.success[0].value
    with Session(engine) as s:
        step = s.get(Step, world["soon_step"])
        assert step.due_at == Calendar.load(s).add(old_due, 2).day
        assert s.get(Extension, ext_id).old_due_at == old_due


def test_the_center_records_a_written_chase_and_downloads_every_units_list(engine, world):
    at = open_page(CLERK, "pages/chasing.py", state={"chasing_tab": "登记催办与签收"})
    at.selectbox(key="chasing_step").set_value(world["soon_step"]).run()
    way = at.radio[0]
    way.set_value(way.options[1])  # 书面
    at.text_input[0].input("李主任")
    next(b for b in at.button if b.label == "登记催办").click().run()
    assert not at.exception, at.exception
    with Session(engine) as s:
        chase = s.exec(select(Chase)).one()
        assert chase.document_id is not None
        assert s.get(Document, chase.document_id).file_name == "催办通知-临期件.docx"
    at.session_state["chasing_tab"] = "各单位清单"
    at.run()
    at.button(key="chasing_zip").click().run()
    assert not at.exception, at.exception
    names = zipfile.ZipFile(io.BytesIO(at.session_state["chasing_zip_data"])).namelist()
    assert sorted(names) == sorted(
        f"{unit}-待办清单-{today().isoformat()}.xlsx" for unit in ("镇城管中队", "镇城建中心")
    )


def test_an_admin_sets_the_mail_server_and_the_test_button_sends(engine, world, smtp_server):
    handler, port = smtp_server
    at = open_page(Actor(None, "admin", Role.ADMIN), "pages/settings.py")
    inputs = {t.label: t for t in at.text_input}
    inputs["邮件服务器地址"].input("127.0.0.1")
    inputs["发件人地址"].input("center@example.cn")
    next(n for n in at.number_input if n.label == "邮件服务器端口").set_value(port)
    next(b for b in at.button if b.label == "保存邮件设置").click().run()
    assert not at.exception, at.exception
    assert "邮件服务器地址" in at.success[0].value
    next(t for t in at.text_input if t.label == "测试收件人").input("admin@example.cn")
    next(b for b in at.button if b.label == "发送测试邮件").click().run()
    assert not at.exception, at.exception
    assert "测试邮件已发送至" in at.success[-1].value
    assert [to for to, _ in handler.messages] == [["admin@example.cn"]]


def test_the_case_page_shows_sign_for_chases_and_extensions_on_the_step(engine, world):
    with Session(engine) as s:
        step = s.get(Step, world["soon_step"])
        case_id = step.case_id
        chasing.record_chase(
            s, CLERK, step.id, chased_on=today(), way="phone", reached="王科长", note=""
        )
        ext = chasing.request_extension(s, unit_user(world), step.id, workdays=2, reason="需协调")
        chasing.decide_extension(s, CLERK, ext.id, approve=False, note="事项紧急")
        s.commit()
    at = open_page(CLERK, "pages/cases.py", case=str(case_id))
    text = " ".join(m.value for m in at.markdown)
    assert "签收：" in text and "单位签收（及时）" in text
    assert f"催办：1 次（最近 {today().year}年" in text and "电话，王科长" in text
    assert "2 个工作日，不予批准（事项紧急）" in text
    assert "催办次数：1" in [c.value for c in at.caption]


def test_the_units_board_shows_sign_rate_chases_and_extensions(engine, world):
    with Session(engine) as s:
        chasing.record_chase(
            s, CLERK, world["soon_step"], chased_on=today(), way="system", reached=""
        )
        chasing.request_extension(
            s, unit_user(world), world["soon_step"], workdays=1, reason="需协调"
        )
        s.commit()
    at = open_page(CLERK, "pages/boards.py", boards_tab="承办单位")
    table = at.dataframe[0].value.set_index("承办单位")
    assert table.loc["镇城管中队", ["催办次数", "延期申请"]].tolist() == [1, 1]
    assert table.loc["镇城管中队", "及时签收率"] == 100.0  # 临期件 signed, 新发件 still in time
    assert table.loc["镇城建中心", "催办次数"] == 0


def test_the_reports_page_and_the_work_report_count_sign_for_chases_and_extensions(engine, world):
    with Session(engine) as s:
        chasing.record_chase(s, CLERK, world["soon_step"], chased_on=today(), way="system")
        ext = chasing.request_extension(
            s, unit_user(world), world["soon_step"], workdays=1, reason="需协调"
        )
        chasing.decide_extension(s, CLERK, ext.id, approve=True)
        s.commit()
        report = reports.build_report(s, Period.month(today().year, today().month))
    assert "催办 1 次" in reports.overview_text(report)
    assert (
        "延期申请 1 件（批准 1 件，不予批准 0 件），其中镇城管中队 1 次"
        in reports.overview_text(report)
    )
    at = open_page(CLERK, "pages/reports.py")
    frame = next(d.value for d in at.dataframe if "及时签收率" in d.value.columns)
    row = frame.set_index("承办单位").loc["镇城管中队"]
    assert (row["催办次数"], row["延期申请"], row["批准延期"]) == (1, 1, 1)
