"""The 工单台账 page through AppTest: a grid save as a user makes it (DESIGN.md: set the
editor's state, click 保存), the version check, the hand-over to 新建督办, scoping and detail."""

from __future__ import annotations

import io
import json
from datetime import datetime

import openpyxl
import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session
from streamlit.testing.v1 import AppTest

from duban import auth, views
from duban.enums import Role
from duban.importer import writing
from duban.meetings import add_routing_rule
from duban.models import Ticket
from duban.permissions import SYSTEM, Actor
from duban.tickets import RowEdit, save_ledger
from tests.factories import make_ticket, make_unit
from tests.helpers import open_page

ADMIN = Actor(user_id=None, username="admin", role=Role.ADMIN)
EDITOR = "ledger_editor_0"  # the grid's key before the first save


@pytest.fixture
def tickets(engine: Engine) -> dict[str, int]:
    """Three tickets; the grid lists them newest first: T3, T2, T1."""
    with Session(engine) as s:
        town = make_unit(s, "镇城建中心")
        police = make_unit(s, "镇派出所")
        ids = {
            no: make_ticket(s, no, received_at=datetime(2024, 1, day, 9), unit_id=unit.id,
                            caller="张先生", phone="13812345678").id
            for no, day, unit in (("T1", 1, town), ("T2", 2, town), ("T3", 3, police))
        }  # fmt: skip
        s.commit()
    return ids


def open_ledger(actor: Actor = ADMIN, **params: str) -> AppTest:
    return open_page(actor, "pages/ledger.py", **params)


def click(at: AppTest, label: str) -> AppTest:
    next(b for b in at.button if b.label == label).click().run()
    assert not at.exception, at.exception
    return at


def edit(at: AppTest, edited_rows: dict, deleted_rows: list | None = None) -> None:
    at.session_state[EDITOR] = {
        "edited_rows": edited_rows,
        "added_rows": [],
        "deleted_rows": deleted_rows or [],
    }


def row(engine: Engine, number: str) -> Ticket:
    with Session(engine) as s:
        return s.execute(select(Ticket).where(Ticket.ticket_no == number)).scalar_one()


def test_grid_edits_are_saved_on_save_in_one_go(engine: Engine, tickets) -> None:
    at = open_ledger()
    edit(at, {0: {"notes": "已回电"}, 2: {"tags": "路灯", "unit": "镇派出所"}}, deleted_rows=[1])
    click(at, "保存")
    assert [s.value for s in at.success] == ["已保存：修改 2 条，新增 0 条，删除 1 条"]
    t3, t1 = row(engine, "T3"), row(engine, "T1")
    assert (t3.notes, t3.version) == ("已回电", 2)
    assert (t1.tags, t1.unit_id) == ("路灯", row(engine, "T3").unit_id)
    assert row(engine, "T2").deleted_at is not None
    assert at.session_state["ledger_gen"] == 1  # a fresh editor over the saved rows


def test_a_row_changed_by_someone_else_is_refused_and_named(engine: Engine, tickets) -> None:
    at = open_ledger()
    with Session(engine) as s:  # another user saves T3 after the page was loaded
        other = Actor(user_id=None, username="李科员", role=Role.CENTER)
        save_ledger(s, other, edits=[RowEdit(tickets["T3"], 1, {"notes": "李科员的备注"})])
        s.commit()
    edit(at, {0: {"notes": "我的备注"}, 1: {"notes": "T2 备注"}})
    click(at, "保存")
    warning = at.warning[0].value
    assert "修改 1 条" in warning and "工单 T3 已被 李科员 于" in warning
    assert row(engine, "T3").notes == "李科员的备注"
    assert row(engine, "T2").notes == "T2 备注"


def test_a_save_from_a_grid_just_replaced_saves_against_the_rows_it_showed(
    engine: Engine, tickets
) -> None:
    """保存 can reach the server after a rerun started the next grid (刷新 pressed, another
    save's answer): the edits refer to the rows the old grid showed, which are kept."""
    at = open_ledger()
    edit(at, {0: {"notes": "旧表格里的修改"}})
    at.session_state["ledger_gen"] = 1  # 刷新's callback ran; 保存 is still bound to grid 0
    click(at, "保存")
    assert [s.value for s in at.success] == ["已保存：修改 1 条，新增 0 条，删除 0 条"]
    assert row(engine, "T3").notes == "旧表格里的修改"
    assert at.session_state["ledger_gen"] == 2 and "ledger_rows_0" in at.session_state
    click(at, "刷新")  # three grids later the rows of grid 0 are let go
    kept = sorted(k for k in at.session_state if str(k).startswith("ledger_rows_"))
    assert kept == ["ledger_rows_2", "ledger_rows_3"]


def test_a_save_from_a_grid_no_longer_kept_is_refused_with_a_message(
    engine: Engine, tickets
) -> None:
    at = open_ledger()
    edit(at, {0: {"notes": "太旧的修改"}})
    del at.session_state["ledger_rows_0"]  # the grid was replaced several times meanwhile
    click(at, "保存")
    assert "表格已刷新，这次的修改未保存" in at.warning[0].value
    assert row(engine, "T3").notes == ""


def test_a_bad_cell_saves_nothing_and_says_which(engine: Engine, tickets) -> None:
    at = open_ledger()
    edit(at, {0: {"notes": "好"}, 1: {"unit": "不存在的办"}})
    click(at, "保存")
    assert "工单 T2：“承办单位”：“不存在的办”不是已登记的单位" in at.error[0].value
    assert row(engine, "T3").notes == ""
    assert at.session_state["ledger_gen"] == 0  # the edits stay for the user to fix


def test_ticked_tickets_are_handed_to_the_new_case_page(engine: Engine, tickets) -> None:
    at = open_ledger()
    edit(at, {0: {"selected": True}, 2: {"selected": True}})
    click(at, "对选中工单立案")
    assert [t.value for t in at.title] == ["新建督办"]
    state = at.session_state
    # pages/case_new.py takes the hand-over key and keeps the ids under its own key
    handed = (
        state["case_new_ticket_ids"]
        if "case_new_ticket_ids" in state
        else state["case_new_prefill"]["ticket_ids"]
    )
    assert handed == [tickets["T3"], tickets["T1"]]


def test_a_unit_user_sees_only_their_units_tickets_masked_and_cannot_save(
    engine: Engine, tickets
) -> None:
    unit_id = row(engine, "T3").unit_id
    at = open_ledger(Actor(user_id=None, username="派出所", role=Role.UNIT, unit_id=unit_id))
    grid = at.dataframe[0].value
    assert list(grid["ticket_no"]) == ["T3"]
    assert list(grid["phone"]) == ["138****5678"]
    assert next(b for b in at.button if b.label == "保存").disabled


def test_ticket_detail_opens_from_the_query_parameter(engine: Engine, tickets) -> None:
    at = open_ledger(ticket=str(tickets["T2"]))
    assert [h.value for h in at.subheader][0] == "工单 T2"


def test_filters_under_more_keep_filtering_while_folded_away(engine: Engine, tickets) -> None:
    at = open_ledger()
    assert list(at.dataframe[0].value["ticket_no"]) == ["T3", "T2", "T1"]
    at.session_state["ledger_f_more"] = True  # open 更多筛选
    at.run()
    at.text_area(key="ledger_f_numbers").input("T1\nT3").run()
    assert list(at.dataframe[0].value["ticket_no"]) == ["T3", "T1"]
    at.session_state["ledger_f_more"] = False  # fold it away again
    at.run()
    assert not at.exception and not at.warning, at.warning
    assert list(at.dataframe[0].value["ticket_no"]) == ["T3", "T1"]
    assert [e.label for e in at.expander] == ["更多筛选（已设 1 项）"]
    assert not at.text_area  # not drawn while folded


# --- import ---------------------------------------------------------------------------------


def export_file(rows: list[tuple[str, str, str]]) -> bytes:
    """A 12345 export as the platform writes it: 工单编号, 诉求时间, 内容描述, 承办单位."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["工单编号", "诉求时间", "诉求地址", "内容描述", "承办单位"])
    for number, content, unit in rows:
        sheet.append([number, "2024-01-24 09:30", "示例路1号", content, unit])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def noise_rule(engine: Engine) -> None:
    """A 专题会 decided that 施工噪声 goes to 镇生态环境办."""
    with Session(engine) as s:
        env = make_unit(s, "镇生态环境办")
        add_routing_rule(s, ADMIN, None, name="夜间施工噪声", unit_id=env.id,
                         handling_path="环保办牵头", keywords="施工噪声")  # fmt: skip
        s.commit()


def open_import(data: bytes) -> AppTest:
    at = open_page(ADMIN, "pages/ledger.py", state={"ledger_tab": "导入"})
    at.file_uploader(key="ledger_upload").set_value(
        ("export.xlsx", data, "application/octet-stream")
    )
    at.run()
    return click(at, "预览")


def test_an_import_fitting_a_meeting_rule_with_an_unknown_unit_maps_the_unit_after_import(
    engine: Engine, noise_rule
) -> None:
    at = open_import(export_file([("N1", "夜间施工噪声扰民", "赵巷新城物业")]))
    assert at.session_state["ledger_preview"][2].unknown_units == ["赵巷新城物业"]
    click(at, "确认导入")
    assert any(s.value.startswith("导入完成") for s in at.success)
    assert any("夜间施工噪声" in i.value and "镇生态环境办" in i.value for i in at.info)
    assert at.subheader[-1].value == "未匹配的承办单位"
    at.selectbox(key="ledger_unit_pick_0").select("新建为单位")
    click(at, "保存单位对应")
    assert [s.value for s in at.success][0] == "已保存单位对应，1 条已导入的工单已指定单位"
    assert "未匹配的承办单位" not in [h.value for h in at.subheader]
    assert row(engine, "N1").unit_id is not None


def test_an_import_that_fails_unexpectedly_says_so_in_chinese_and_writes_nothing(
    engine: Engine, noise_rule, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_import(export_file([("N1", "夜间施工噪声扰民", "镇生态环境办")]))

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(writing, "_write", broken)
    click(at, "确认导入")
    assert [e.value for e in at.error] == [
        "操作失败：系统内部错误，详情已记录到 data/logs/；数据未作改动。"
    ]
    with Session(engine) as s:
        assert s.execute(select(Ticket)).first() is None


def test_a_refused_mapping_names_what_was_not_saved(engine: Engine, noise_rule) -> None:
    at = open_import(export_file([("N2", "路灯不亮", "镇生态环境办二")]))
    at.selectbox(key="ledger_unit_pick_0").select("新建为单位")
    with Session(engine) as s:  # someone creates the unit meanwhile
        make_unit(s, "镇生态环境办二")
        s.commit()
    click(at, "保存单位对应")
    assert [e.value for e in at.error] == [
        "单位对应未保存：承办单位“镇生态环境办二”已存在，请直接对应到该单位（数据库未作任何改动）"
    ]


# --- saved views --------------------------------------------------------------------------


@pytest.fixture
def clerk(engine: Engine) -> Actor:
    with Session(engine) as s:
        created = auth.create_user(s, SYSTEM, "clerk", "a long password 1", Role.CENTER)
        s.commit()
        return auth.actor_for(created)


def test_a_clerk_saves_a_view_and_gets_its_filter_and_columns_back(
    engine: Engine, tickets, clerk
) -> None:
    at = open_ledger(clerk)
    at.session_state["ledger_f_more"] = True
    at.run()
    at.multiselect(key="ledger_columns").set_value(["ticket_no", "notes"]).run()
    at.text_area(key="ledger_f_numbers").input("T1\nT3").run()
    at.text_input(key="ledger_view_name").input("两张工单").run()
    click(at, "保存视图")
    assert [s.value for s in at.success] == ["已保存视图“两张工单”（当前筛选条件与显示列）"]
    with Session(engine) as s:
        (view,) = views.list_views(s, clerk, views.LEDGER)
    assert (view.filters, view.columns) == ({"numbers": "T1\nT3"}, ["ticket_no", "notes"])

    at = open_ledger(clerk)  # another day, a new session: all tickets, all columns …
    assert list(at.dataframe[0].value["ticket_no"]) == ["T3", "T2", "T1"]
    at.selectbox(key="ledger_view_pick").select(view.id).run()  # … until the view is picked
    assert not at.exception, at.exception
    assert [i.value for i in at.info] == ["已应用视图“两张工单”"]
    assert list(at.dataframe[0].value["ticket_no"]) == ["T3", "T1"]
    assert at.session_state["ledger_columns"] == ["ticket_no", "notes"]

    click(at, "删除此视图")
    assert [s.value for s in at.success] == ["已删除视图“两张工单”"]
    with Session(engine) as s:
        assert views.list_views(s, clerk, views.LEDGER) == []


def test_a_view_with_a_bad_name_is_not_saved_and_says_why(engine: Engine, tickets, clerk) -> None:
    at = open_ledger(clerk)
    click(at, "保存视图")
    assert [e.value for e in at.error] == ["视图未保存：视图名称：不能为空"]
    with Session(engine) as s:
        assert views.list_views(s, clerk, views.LEDGER) == []


def test_the_grid_never_shows_id_or_version_and_pins_the_ticket_number(
    engine: Engine, tickets
) -> None:
    at = open_ledger()
    editor = at.data_editor[0].proto if at.data_editor else at.dataframe[0].proto
    order = list(editor.column_order)
    assert order[:2] == ["selected", "ticket_no"]
    assert "id" not in order and "version" not in order
    assert json.loads(editor.columns)["ticket_no"]["pinned"] is True
