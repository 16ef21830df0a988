"""The migration chain, whatever revisions it holds: an empty database upgrades to head,
downgrades to base, and upgrades again, on SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlmodel import SQLModel

import duban.models  # noqa: F401 - registers the tables in SQLModel.metadata
from duban.db import SCHEMA_HEAD, alembic_config, current_revision, make_engine, upgrade
from tests.conftest import DATABASES


def downgrade_to_base(engine: Engine) -> None:
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


@pytest.fixture(params=DATABASES)
def empty_engine(request: pytest.FixtureRequest, tmp_path) -> Engine:
    """An empty database: a new SQLite file, or the PostgreSQL test database's schema
    dropped (it is migrated to head again when the test ends, for the tests after it)."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
        yield engine
        engine.dispose()
        return
    engine = request.getfixturevalue("pg_engine")
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    yield engine
    upgrade(engine)


def test_the_migration_chain_has_one_head_and_builds_every_table() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1, "two migration heads: chain them into one line"
    assert script.get_current_head() == SCHEMA_HEAD, "a new migration: set duban.db.SCHEMA_HEAD"
    assert len(list(script.walk_revisions())) >= 2


def test_an_empty_database_upgrades_downgrades_and_upgrades_again(empty_engine) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    model_tables = set(SQLModel.metadata.tables)
    assert tables(empty_engine) == set()

    upgrade(empty_engine)
    assert current_revision(empty_engine) == head
    assert tables(empty_engine) == model_tables

    downgrade_to_base(empty_engine)
    assert current_revision(empty_engine) is None
    assert tables(empty_engine) == set()

    upgrade(empty_engine)
    assert current_revision(empty_engine) == head
    assert tables(empty_engine) == model_tables
