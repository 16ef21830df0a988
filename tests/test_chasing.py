"""签收, 催办, 延期 and each unit's to-do list (duban.chasing), walked the way the office works:
issue → 签收 → 临期提醒 → 催办 → 延期 → feedback judged against the approved deadline."""

from __future__ import annotations

import importlib
import io
import pkgutil
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import docx
import openpyxl
import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from duban import chasing, kpi, mailing
from duban.assessment import assess
from duban.boards import BoardFilter, due_soon_board, overdue_board, unit_board
from duban.cases import latest_handling_step, open_case, register_feedback
from duban.enums import ChaseWay, ExtensionStatus, Progress, Role, Scope, StepStatus
from duban.errors import ConflictError, PermissionDenied, ValidationError
from duban.models import AuditLog, Case, Chase, Document, Extension, Step, StepReceipt, Unit
from duban.permissions import SYSTEM, Actor
from duban.settings import set_setting
from duban.uploads import store_upload
from duban.workdays import Calendar
from tests.factories import make_ticket, make_unit, sample_file

CLERK = Actor(user_id=None, username="clerk", role=Role.CENTER)
ISSUED = date(2024, 3, 4)  # a Monday: the 督办单 is due 2024-03-11, 及时签收 by 2024-03-05


@dataclass
class Town:
    dept: Unit
    other: Unit

    def user(self, unit: Unit) -> Actor:
        return Actor(user_id=None, username=f"u{unit.id}", role=Role.UNIT, unit_id=unit.id)


@pytest.fixture
def town(session: Session) -> Town:
    dept = make_unit(session, "镇生态环境办")
    other = make_unit(session, "镇城管中队")
    session.commit()
    return Town(dept, other)


def at(monkeypatch: pytest.MonkeyPatch, when: datetime) -> None:
    """The office clock of duban.chasing stands at `when`, in each of its modules that reads it."""
    for info in pkgutil.iter_modules(chasing.__path__):
        module = importlib.import_module(f"{chasing.__name__}.{info.name}")
        for name, clock in (("now", lambda: when), ("today", lambda: when.date())):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, clock)


def issue(session: Session, town: Town, on: date = ISSUED) -> Step:
    ticket = make_ticket(session, unit_id=town.dept.id)
    case = open_case(
        session,
        CLERK,
        scope=Scope.REPEATED,
        lead_unit_id=town.dept.id,
        ticket_ids=[ticket.id],
        related_info="同一地址多次投诉",
        opinion="请核查处置",
        opened_at=on,
    )
    session.commit()
    step = latest_handling_step(session, case.id)  # opening a written case sends its 督办单
    assert step is not None and step.issued_at == on
    return step


def feedback(session: Session, step: Step, on: date) -> None:
    """Signed, stamped and scanned (合规) feedback the center enters for a paper reply."""
    scan = store_upload(session, CLERK, name="回执.pdf", data=sample_file("pdf"))
    register_feedback(
        session,
        CLERK,
        step.id,
        received_at=on,
        date_reason="纸质反馈邮寄收到",
        text="已处置完毕",
        signed=True,
        stamped=True,
        progress=Progress.DONE,
        upload_id=scan.id,
    )
    session.commit()


def snapshot(session: Session) -> tuple:
    session.expire_all()
    count = lambda model: session.exec(select(func.count()).select_from(model)).one()  # noqa: E731
    return (
        count(AuditLog),
        count(StepReceipt),
        count(Chase),
        count(Extension),
        tuple(session.exec(select(Step.version, Step.due_at).order_by(Step.id))),
        tuple(session.exec(select(Extension.version, Extension.status).order_by(Extension.id))),
    )


def assert_refused(session: Session, call, error=ValidationError, match: str = ".") -> None:
    """Refused with a Chinese message, and nothing written."""
    before = snapshot(session)
    with pytest.raises(error, match=match):
        call()
    session.rollback()
    assert snapshot(session) == before


def item(session: Session, actor: Actor, step: Step, day: date) -> chasing.Item:
    return next(i for i in chasing.open_items(session, actor, day) if i.step_id == step.id)


# --- the walk ------------------------------------------------------------------------------


def test_walk_sign_remind_chase_extend_and_answer_on_time_against_the_new_deadline(
    session, town, monkeypatch, data_dir
):
    step = issue(session, town)
    unit = town.user(town.dept)
    assert item(session, unit, step, ISSUED).categories == ["待签收"]

    # 签收 by the unit user the next morning: within 1 working day → 及时
    at(monkeypatch, datetime(2024, 3, 5, 9, 30))
    receipt = chasing.sign_for(session, unit, step.id)
    session.commit()
    assert (receipt.on_time, receipt.on_behalf, receipt.due_at) == (True, False, date(2024, 3, 5))
    assert item(session, unit, step, date(2024, 3, 5)).sign_text == "2024年3月5日签收（及时）"

    # 临期提醒: Thursday 3-07 is two working days out, Friday 3-08 is the day before
    assert not item(session, CLERK, step, date(2024, 3, 7)).due_soon
    friday = item(session, CLERK, step, date(2024, 3, 8))
    assert (friday.due_soon, friday.days_text, friday.categories) == (True, "剩余 1 个工作日", ["即将到期"])  # fmt: skip

    # 催办 in writing prints a 催办通知, read back from the registered file
    at(monkeypatch, datetime(2024, 3, 8, 10, 0))
    chase = chasing.record_chase(
        session, CLERK, step.id, chased_on=date(2024, 3, 8), way=ChaseWay.WRITTEN, reached="李主任"
    )
    session.commit()
    doc_row = session.get(Document, chase.document_id)
    text = "\n".join(
        cell.text
        for table in docx.Document(data_dir / doc_row.path).tables
        for row in table.rows
        for cell in row.cells
    )
    case = session.get(Case, step.case_id)
    assert doc_row.file_name == f"催办通知-{case.case_no}.docx"
    for expected in (
        case.case_no,
        "第 1 次",
        "镇生态环境办",
        "督办单",
        "2024年3月11日",
        "还剩 1 个工作日",
    ):
        assert expected in text
    assert item(session, unit, step, date(2024, 3, 8)).categories == ["即将到期", "已催办"]

    # 延期 asked before the deadline, approved: the deadline moves, the original is kept
    ext = chasing.request_extension(session, unit, step.id, workdays=3, reason="需协调施工单位")
    session.commit()
    assert item(session, CLERK, step, date(2024, 3, 8)).extension_pending
    chasing.decide_extension(session, CLERK, ext.id, approve=True, expected_version=ext.version)
    session.commit()
    session.refresh(step)
    assert (step.due_at, ext.old_due_at, ext.new_due_at) == (
        date(2024, 3, 14),
        date(2024, 3, 11),
        date(2024, 3, 14),
    )
    assert step.due_workdays == 8  # a holiday-calendar recomputation keeps the extension

    # feedback on 3-13: late against 3-11, on time against the approved 3-14 — everywhere
    feedback(session, step, date(2024, 3, 13))
    session.refresh(step)
    assert (step.status, step.on_time, step.margin_workdays) == (StepStatus.CLOSED, True, 1)
    march = kpi.Period.month(2024, 3)
    sel = kpi.Selection(period=march, as_of=date(2024, 4, 1))
    report = kpi.compute(session, sel)
    assert (report.overall.steps_on_time, report.overall.steps_late) == (1, 0)
    board = {
        r.unit_name: r for r in unit_board(session, CLERK, date(2024, 4, 1), Calendar.load(session))
    }
    assert board["镇生态环境办"].on_time.numerator == 1
    sheets = {s.unit_name: s for s in assess(session, sel).sheets}
    assert sheets["镇生态环境办"].count("overdue_step") == 0
    assert sheets["镇生态环境办"].on_time.numerator == 1

    figures = chasing.unit_figures(session, march, as_of=date(2024, 4, 1))[town.dept.id]
    assert (figures.signed_on_time, figures.chases, figures.extensions_approved) == (1, 1, 1)
    notes = [r.note for r in session.exec(select(AuditLog).where(AuditLog.entity == "step"))]
    assert any("承办单位签收（及时）" in n for n in notes)
    assert any("批准延期 3 个工作日，原截止日期 2024年3月11日" in n for n in notes)


def test_a_refused_extension_keeps_the_old_deadline_and_late_feedback_stays_late(
    session, town, monkeypatch
):
    step = issue(session, town)
    at(monkeypatch, datetime(2024, 3, 7, 16, 0))
    ext = chasing.request_extension(
        session, town.user(town.dept), step.id, workdays=5, reason="人手不足"
    )
    session.commit()
    assert_refused(
        session,
        lambda: chasing.decide_extension(session, CLERK, ext.id, approve=False),
        match="不予批准时请填写理由",
    )
    chasing.decide_extension(session, CLERK, ext.id, approve=False, note="事项紧急，不予延期")
    session.commit()
    session.refresh(step)
    assert (ext.status, ext.new_due_at, step.due_at) == (
        ExtensionStatus.REFUSED,
        None,
        date(2024, 3, 11),
    )
    feedback(session, step, date(2024, 3, 12))
    session.refresh(step)
    assert (step.on_time, step.margin_workdays) == (False, -1)
    figures = chasing.unit_figures(session, kpi.Period.month(2024, 3))[town.dept.id]
    assert (figures.extensions, figures.extensions_refused) == (1, 1)


def test_the_center_records_a_paper_units_sign_for_with_the_reported_time_late(
    session, town, monkeypatch
):
    step = issue(session, town)
    at(monkeypatch, datetime(2024, 3, 8, 9, 0))
    assert_refused(
        session, lambda: chasing.sign_for(session, CLERK, step.id), match="报告的签收时间"
    )
    receipt = chasing.sign_for(session, CLERK, step.id, signed_at=datetime(2024, 3, 6, 15, 0))
    session.commit()
    assert (receipt.on_time, receipt.on_behalf) == (False, True)
    chasing_of_step = chasing.step_chasing(session, CLERK, step.case_id)[step.id]
    assert chasing_of_step.sign_text == "2024年3月6日 15:00 代为登记（超时）"
    figures = chasing.unit_figures(session, kpi.Period.month(2024, 3), as_of=date(2024, 3, 8))
    assert str(figures[town.dept.id].sign_rate) == str(kpi.Ratio(0, 1))


def test_sign_within_workdays_is_a_setting(session, town, monkeypatch):
    set_setting(session, SYSTEM, "sign_within_workdays", 3)
    step = issue(session, town)
    at(monkeypatch, datetime(2024, 3, 7, 9, 0))
    assert chasing.sign_for(session, town.user(town.dept), step.id).on_time


def test_an_unsigned_paper_counts_late_once_its_sign_day_has_passed(session, town):
    issue(session, town)
    figures = chasing.unit_figures(session, kpi.Period.month(2024, 3), as_of=date(2024, 3, 5))
    assert (figures[None].sign_pending, figures[None].signed_late) == (1, 0)
    figures = chasing.unit_figures(session, kpi.Period.month(2024, 3), as_of=date(2024, 3, 6))
    assert (figures[None].sign_pending, figures[None].signed_late) == (0, 1)


# --- who may do what -------------------------------------------------------------------------


def test_a_unit_signs_and_asks_only_on_its_own_steps(session, town, monkeypatch):
    step = issue(session, town)
    at(monkeypatch, datetime(2024, 3, 5, 9, 0))
    stranger = town.user(town.other)
    assert_refused(session, lambda: chasing.sign_for(session, stranger, step.id), PermissionDenied)
    assert_refused(
        session,
        lambda: chasing.request_extension(session, stranger, step.id, workdays=2, reason="x"),
        PermissionDenied,
    )
    assert chasing.open_items(session, stranger, date(2024, 3, 5)) == []
    own = town.user(town.dept)
    assert_refused(
        session,
        lambda: chasing.sign_for(session, own, step.id, signed_at=datetime(2024, 3, 4, 9, 0)),
        PermissionDenied,
        match="不能自行填写",
    )
    assert_refused(
        session,
        lambda: chasing.record_chase(
            session, own, step.id, chased_on=date(2024, 3, 5), way=ChaseWay.PHONE, reached="我"
        ),
        PermissionDenied,
    )


def test_a_paper_is_signed_for_once(session, town, monkeypatch):
    step = issue(session, town)
    at(monkeypatch, datetime(2024, 3, 5, 9, 0))
    chasing.sign_for(session, town.user(town.dept), step.id)
    session.commit()
    assert_refused(
        session,
        lambda: chasing.sign_for(session, CLERK, step.id, signed_at=datetime(2024, 3, 5, 8, 0)),
        ConflictError,
        match="不能重复签收",
    )


def test_two_users_signing_at_once_leave_one_receipt(engine, session, town, monkeypatch):
    step = issue(session, town)
    at(monkeypatch, datetime(2024, 3, 5, 9, 0))
    barrier, outcomes = threading.Barrier(2), []

    def sign(actor: Actor) -> None:
        with Session(engine) as s:
            barrier.wait()
            try:
                chasing.sign_for(s, actor, step.id, signed_at=datetime(2024, 3, 5, 8, 0))
                s.commit()
                outcomes.append("ok")
            except ConflictError:
                outcomes.append("refused")

    threads = [threading.Thread(target=sign, args=(CLERK,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert session.exec(select(func.count()).select_from(StepReceipt)).one() == 1


def test_an_extension_is_asked_before_the_deadline_and_once_at_a_time(session, town, monkeypatch):
    step = issue(session, town)
    unit = town.user(town.dept)
    at(monkeypatch, datetime(2024, 3, 12, 9, 0))
    assert_refused(
        session,
        lambda: chasing.request_extension(session, unit, step.id, workdays=2, reason="忙"),
        match="期限届满前",
    )
    at(monkeypatch, datetime(2024, 3, 11, 9, 0))  # the due day itself is still in time
    assert_refused(
        session,
        lambda: chasing.request_extension(session, unit, step.id, workdays=0, reason="忙"),
        match="1–30",
    )
    chasing.request_extension(session, unit, step.id, workdays=2, reason="忙")
    session.commit()
    assert_refused(
        session,
        lambda: chasing.request_extension(session, unit, step.id, workdays=2, reason="忙"),
        ConflictError,
        match="待审批",
    )


def test_a_stale_decision_is_refused(session, town, monkeypatch):
    step = issue(session, town)
    at(monkeypatch, datetime(2024, 3, 6, 9, 0))
    ext = chasing.request_extension(session, town.user(town.dept), step.id, workdays=2, reason="忙")
    session.commit()
    version = ext.version
    chasing.decide_extension(session, CLERK, ext.id, approve=True, expected_version=version)
    session.commit()
    assert_refused(
        session,
        lambda: chasing.decide_extension(
            session, CLERK, ext.id, approve=False, note="x", expected_version=version
        ),
        ConflictError,
    )


def test_a_phone_chase_names_whom_it_reached(session, town, monkeypatch):
    step = issue(session, town)
    at(monkeypatch, datetime(2024, 3, 12, 9, 0))
    assert_refused(
        session,
        lambda: chasing.record_chase(
            session, CLERK, step.id, chased_on=date(2024, 3, 12), way="phone"
        ),
        match="接听人",
    )
    chasing.record_chase(
        session, CLERK, step.id, chased_on=date(2024, 3, 12), way="phone", reached="王科长"
    )
    session.commit()
    overdue = item(session, CLERK, step, date(2024, 3, 12))
    assert (overdue.categories, overdue.days_text) == (
        ["待签收", "已逾期", "已催办"],
        "逾期 1 个工作日",
    )
    assert chasing.case_chase_count(session, CLERK, step.case_id) == 1


# --- the lists, the digest and the mail -----------------------------------------------------


def test_a_units_list_is_an_xlsx_with_the_issue_columns(session, town):
    issue(session, town)
    (unit_list,) = chasing.unit_lists(session, CLERK, date(2024, 3, 12))
    sheet = openpyxl.load_workbook(
        io.BytesIO(chasing.list_xlsx(unit_list, date(2024, 3, 12)))
    ).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[1][:9] == ["类别", "督办编号", "督办事项", "环节", "发出日期", "截止日期", "剩余或逾期工作日", "签收", "催办次数"]  # fmt: skip
    assert rows[2][0] == "待签收、已逾期"
    assert rows[2][5:9] == ["2024年3月11日", "逾期 1 个工作日", "未签收", 0]
    done: list[tuple[int, int]] = []
    archive = chasing.lists_zip([unit_list], date(2024, 3, 12), lambda n, t: done.append((n, t)))
    assert zipfile.ZipFile(io.BytesIO(archive)).namelist() == [
        "镇生态环境办-待办清单-2024-03-12.xlsx"
    ]
    assert done == [(1, 1)]


def test_digest_counts_agree_with_the_boards_for_the_demo_town(engine, tmp_path):
    """`python -m duban digest`: one xlsx per unit with open steps; its counts are the boards'."""
    from duban.demo import generate_demo

    generate_demo(engine, end=datetime(2024, 6, 28, 18, 0))
    day = date(2024, 6, 26)
    out = tmp_path / "digest"
    run = subprocess.run(
        [sys.executable, "-m", "duban", "digest", "--as-of", day.isoformat(), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    counts = {}
    for line in lines:
        name, *pairs = line.split(" ")
        counts[name] = {k: int(v) for k, v in (p.split("=") for p in pairs)}
    with Session(engine) as session:
        calendar = Calendar.load(session)
        board = {r.unit_name: r for r in unit_board(session, SYSTEM, day, calendar)}
        assert sum(c["overdue"] for c in counts.values()) > 0
        assert sum(c["due_soon"] for c in counts.values()) > 0
        for unit_name, c in counts.items():
            unit_id = board[unit_name].unit_id
            filt = BoardFilter(unit_id=unit_id)
            assert c["overdue"] == board[unit_name].overdue_steps
            assert c["overdue"] == len(overdue_board(session, SYSTEM, day, calendar, filt))
            soon = [
                r
                for r in due_soon_board(session, SYSTEM, day, calendar, filt)
                if r.workdays <= chasing.DUE_SOON_WORKDAYS and r.feedback_at is None
            ]
            assert c["due_soon"] == len(soon)
            assert c["open"] >= c["overdue"] + c["due_soon"]
        units_owing = {u.unit_name for u in chasing.unit_lists(session, SYSTEM, day)}
    assert set(counts) == units_owing
    files = sorted(p.name for p in out.iterdir())
    assert files == sorted(f"{name}-待办清单-{day.isoformat()}.xlsx" for name in counts)
    name = lines[0].split(" ")[0]
    sheet = openpyxl.load_workbook(out / f"{name}-待办清单-{day.isoformat()}.xlsx").active
    assert sheet.max_row - 2 == counts[name]["open"]


def test_each_unit_gets_its_list_by_mail_and_the_test_button_works(session, town, smtp_server):
    handler, port = smtp_server
    issue(session, town)
    assert_refused(
        session,
        lambda: mailing.save_smtp_settings(
            session, SYSTEM, host="127.0.0.1", port=port, security="tls?", sender="a@b.cn"
        ),
        match="加密方式无效",
    )
    with pytest.raises(mailing.MailError, match="尚未配置邮件服务器"):
        mailing.send_test_mail(session, SYSTEM, "x@example.cn")
    mailing.save_smtp_settings(
        session, SYSTEM, host="127.0.0.1", port=port, security="none", sender="center@example.cn"
    )
    mailing.set_unit_addresses(session, SYSTEM, town.dept.id, "a@example.cn；b@example.cn")
    session.commit()
    mailing.send_test_mail(session, SYSTEM, "admin@example.cn")
    lists = chasing.unit_lists(session, SYSTEM, date(2024, 3, 12))
    results = mailing.send_unit_lists(session, SYSTEM, lists, date(2024, 3, 12))
    session.commit()
    assert [(r.unit_name, r.sent) for r in results] == [("镇生态环境办", True)]
    (test_to, test_msg), (to, msg) = handler.messages
    assert test_to == ["admin@example.cn"] and "测试" in str(test_msg["Subject"])
    assert to == ["a@example.cn", "b@example.cn"]
    attachment = next(p for p in msg.walk() if p.get_filename())
    sheet = openpyxl.load_workbook(io.BytesIO(attachment.get_payload(decode=True))).active
    assert sheet.cell(3, 2).value == session.exec(select(Case.case_no)).one()


def test_a_bad_address_is_refused_naming_the_unit(session, town):
    assert_refused(
        session,
        lambda: mailing.set_unit_addresses(session, SYSTEM, town.dept.id, "a@example.cn, 不是邮箱"),
        match="镇生态环境办的邮箱地址格式不正确：“不是邮箱”",
    )
