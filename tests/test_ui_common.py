"""Errors on pages (issue #8): "the UI never shows a Python traceback to the user; it shows a
Chinese message and logs the detail to data/logs/", and "SQLite busy (another writer holds
the lock): the write retries briefly, then fails with a clear message, losing nothing."
"""

import sqlite3

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from duban.models import Unit
from tests.factories import make_unit


def failing_page() -> None:
    import streamlit as st

    from ui.common import user_action

    with user_action():
        raise RuntimeError(st.session_state["secret_detail"])
    st.write("页面继续显示")


def refused_page() -> None:
    from duban.errors import ValidationError
    from ui.common import user_action

    with user_action():
        raise ValidationError("第 3 行“诉求时间”：日期格式错误")


def writing_page() -> None:
    import streamlit as st
    from sqlmodel import Session

    from duban.models import Unit
    from ui.common import engine, user_action

    if st.button("保存"):
        with user_action():
            with Session(engine()) as session:
                unit = session.get(Unit, 1)
                unit.name = "新名字"
                session.add(unit)
                session.commit()
            st.success("已保存")


def test_an_unexpected_error_shows_a_chinese_message_and_is_logged(data_dir):
    at = AppTest.from_function(failing_page)
    at.session_state["secret_detail"] = "KeyError in parser at line 42"
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "操作失败：系统内部错误，详情已记录到 data/logs/；数据未作改动。"
    ]
    assert at.markdown[0].value == "页面继续显示"
    log = (data_dir / "logs" / "duban.log").read_text(encoding="utf-8")
    assert "RuntimeError: KeyError in parser at line 42" in log and "Traceback" in log
    assert all("Traceback" not in e.value for e in at.error)


def test_an_expected_refusal_shows_its_own_message(data_dir):
    at = AppTest.from_function(refused_page).run()
    assert [e.value for e in at.error] == ["第 3 行“诉求时间”：日期格式错误"]
    assert not (data_dir / "logs").exists()


def test_a_busy_database_fails_with_a_clear_message_and_loses_nothing(
    engine, data_dir, monkeypatch
):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single-writer lock; PostgreSQL locks rows instead")
    monkeypatch.setattr("duban.db.SQLITE_BUSY_TIMEOUT_MS", 3000)  # the app waits 90 s
    with Session(engine) as s:
        make_unit(s, "镇城管中队")
        s.commit()
    other_writer = sqlite3.connect(data_dir / "duban.db")
    other_writer.execute("BEGIN IMMEDIATE")
    other_writer.execute("UPDATE unit SET phone = '123' WHERE id = 1")
    try:
        at = AppTest.from_function(writing_page, default_timeout=30).run()
        at.button[0].click().run()  # waits busy_timeout (3 s here), then gives up
        assert not at.exception
        assert [e.value for e in at.error] == [
            "数据库正忙（其他用户正在保存），请稍后再试；本次操作未保存，数据未作改动。"
        ]
    finally:
        other_writer.commit()
        other_writer.close()
    with Session(engine) as s:
        assert s.exec(select(Unit.name, Unit.phone)).one() == ("镇城管中队", "123")
    at.button[0].click().run()  # once the other writer is done, the same save goes through
    assert [s.value for s in at.success] == ["已保存"]


def test_the_upload_limit_shown_is_the_servers_limit() -> None:
    """The upload boxes say 单个文件不超过 N MB; Streamlit refuses bigger files at exactly N MB,
    and duban.uploads checks the same N."""
    import tomllib
    from pathlib import Path

    from duban.uploads import DEFAULT_MAX_BYTES
    from ui.common import _WIDGET_STYLE, UPLOAD_LIMIT_MB

    config = tomllib.loads((Path(__file__).parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == UPLOAD_LIMIT_MB == DEFAULT_MAX_BYTES // 2**20
    assert f"单个文件不超过 {UPLOAD_LIMIT_MB} MB" in _WIDGET_STYLE
