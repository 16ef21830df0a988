"""Alembic environment: the models' metadata is the target; SQLite is altered in batch mode."""

from alembic import context
from sqlalchemy import TypeDecorator
from sqlmodel import SQLModel

import duban.models  # noqa: F401 - registers every table on SQLModel.metadata
from duban.db import make_engine

target_metadata = SQLModel.metadata


def render_item(type_, obj, autogen_context):
    """Render our TypeDecorators (CodeEnum) as their plain implementation type."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    if type_ == "type" and obj.__class__.__module__.startswith("sqlmodel"):
        autogen_context.imports.add("import sqlmodel")
    return False


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    with make_engine().begin() as conn:
        run(conn)
