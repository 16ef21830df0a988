"""The schema comes from Alembic alone, matches the models, and start-up errors are clear."""

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from duban.db import alembic_config, current_revision, make_engine, open_database, upgrade
from duban.errors import ConfigError


def test_migration_head_equals_the_models(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, SQLModel.metadata) == []


def test_database_is_at_the_newest_revision(engine):
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(engine) == head


def test_upgrade_is_idempotent_on_an_existing_database(engine):
    upgrade(engine)
    upgrade(engine)
    assert "ticket" in inspect(engine).get_table_names()


def test_sqlite_enforces_foreign_keys_and_uses_wal(tmp_path):
    engine = open_database(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        with pytest.raises(Exception, match="FOREIGN KEY"):
            conn.execute(text("INSERT INTO casecounter (year, last_seq) VALUES (2024, 0)"))
            conn.execute(
                text("INSERT INTO caseunit (case_id, unit_id, role) VALUES (999, 999, 'lead')")
            )


def test_unknown_url_scheme_names_the_setting():
    with pytest.raises(ConfigError, match="DUBAN_DATABASE_URL"):
        make_engine("mysql://root@localhost/duban")


def test_unreachable_postgresql_is_one_clear_line():
    with pytest.raises(ConfigError, match="无法连接数据库.*DUBAN_DATABASE_URL"):
        open_database("postgresql://postgres@127.0.0.1:1/none")


def test_a_file_that_is_not_sqlite_is_named(tmp_path):
    bogus = tmp_path / "duban.db"
    bogus.write_text("这不是数据库" * 200)
    with pytest.raises(ConfigError, match="不是有效的 SQLite 数据库"):
        open_database(f"sqlite:///{bogus}")


def test_data_folder_that_cannot_be_created_names_the_setting(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    with pytest.raises(ConfigError, match="DUBAN_DATA_DIR"):
        open_database(f"sqlite:///{blocker / 'data' / 'duban.db'}")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_data_folder_names_the_setting(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="DUBAN_DATA_DIR"):
            open_database(f"sqlite:///{folder / 'duban.db'}")
    finally:
        folder.chmod(0o700)


def test_sqlite_start_gives_the_planner_fresh_statistics(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    with open_database(url).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO unit (name, kind, aliases, head, contact, phone, active, created_at, updated_at, version) VALUES ('镇城建中心', 'department', '[]', '', '', '', 1, '2024-01-01', '2024-01-01', 1)"
            )
        )
    with open_database(url).connect() as conn:  # the next start analyses what is there
        tables = {row[0] for row in conn.execute(text("SELECT tbl FROM sqlite_stat1"))}
    assert "unit" in tables
