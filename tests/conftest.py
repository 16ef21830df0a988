"""Fixtures: a fresh, migrated database per test, on SQLite and (when configured) PostgreSQL.

`engine` is parametrized: every test that uses it runs on SQLite, and again on PostgreSQL
when `DUBAN_TEST_DATABASE_URL` is set (CI sets it). The schema always comes from the
Alembic migrations, the same path the app takes.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

import pytest
import streamlit as st
from sqlalchemy import Engine, text
from sqlmodel import Session, SQLModel

from duban.db import make_engine, upgrade

PG_URL = os.environ.get("DUBAN_TEST_DATABASE_URL", "").strip()
DATABASES = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own data folder; the settings point at it."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("DUBAN_DATA_DIR", str(folder))
    monkeypatch.delenv("DUBAN_DATABASE_URL", raising=False)
    return folder


@pytest.fixture(autouse=True)
def _clear_streamlit_caches() -> Iterator[None]:
    """cache_resource outlives an AppTest: without this, one test sees another's database."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture(autouse=True)
def _apptest_runs_app_py_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make AppTest run app.py (login gate, navigation by role) on every run, as a server does.

    AppTest forgets between runs that app.py uses st.navigation; with a pages/ folder present
    it would then run the page file alone from the second run on, skipping app.py.
    """
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import app_test

    class EntryScriptPagesManager(PagesManager):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    monkeypatch.setattr(app_test, "PagesManager", EntryScriptPagesManager)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "duban.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_engine() -> Iterator[Engine]:
    """The PostgreSQL test database, emptied and migrated once per session."""
    engine = make_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    yield engine
    engine.dispose()


def truncate_all(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=DATABASES)
def engine(
    request: pytest.FixtureRequest,
    data_dir: Path,
    sqlite_template: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Engine]:
    """A fresh, migrated, empty database; DUBAN_DATABASE_URL points the app and CLI at it."""
    if request.param == "sqlite":
        path = data_dir / "duban.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        monkeypatch.setenv("DUBAN_DATABASE_URL", url)
        yield engine
        engine.dispose()
    else:
        engine = request.getfixturevalue("pg_engine")
        truncate_all(engine)
        monkeypatch.setenv("DUBAN_DATABASE_URL", PG_URL)
        yield engine


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as s:
        yield s


@pytest.fixture
def smtp_server():
    """A local SMTP server (aiosmtpd) collecting what it receives."""
    from aiosmtpd.controller import Controller

    class Collect:
        def __init__(self) -> None:
            self.messages: list[tuple[list[str], Message]] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
            self.messages.append(
                (
                    list(envelope.rcpt_tos),
                    message_from_bytes(envelope.content, policy=policy.default),
                )
            )
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
