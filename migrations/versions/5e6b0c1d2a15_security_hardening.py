"""security hardening: folded usernames, the first-admin guard, an append-only audit log

Revision ID: 5e6b0c1d2a15
Revises: 1aaf195f3166
Create Date: 2026-12-01 21:50:00

- `user.username_key`: the username folded in Python (NFKC + casefold), unique, so `ÄRGER1`
  finds `ärger1` and cannot become a second account (SQLite's lower() folds ASCII only);
- `setupguard`: its primary key lets only one of several parallel first starts create the
  first administrator;
- `upload.sha256` no longer unique (an index): each uploader gets their own row and name for
  the same bytes, so one unit is never handed another unit's upload;
- triggers that refuse UPDATE and DELETE on `auditlog` whatever the client (ORM, Core, raw
  SQL). A later migration that rebuilds `auditlog` on SQLite (batch mode) drops the triggers
  with the table and must create them again (`create_audit_triggers`).
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5e6b0c1d2a15"
down_revision: str | None = "1aaf195f3166"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = "auditlog is append-only"


def fold(name: str) -> str:
    """The same folding as duban.auth.username_key (kept here: a migration must not change)."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def create_audit_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER auditlog_no_{event.lower()} BEFORE {event} ON auditlog "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION auditlog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '{APPEND_ONLY}' USING ERRCODE = 'insufficient_privilege'; "
        "END $$"
    )
    op.execute(
        "CREATE TRIGGER auditlog_append_only BEFORE UPDATE OR DELETE ON auditlog "
        "FOR EACH ROW EXECUTE FUNCTION auditlog_append_only()"
    )


def drop_audit_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS auditlog_no_update")
        op.execute("DROP TRIGGER IF EXISTS auditlog_no_delete")
        return
    op.execute("DROP TRIGGER IF EXISTS auditlog_append_only ON auditlog")
    op.execute("DROP FUNCTION IF EXISTS auditlog_append_only()")


def upgrade() -> None:
    op.create_table(
        "setupguard",
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.add_column(
        "user",
        sa.Column("username_key", sa.String(length=200), nullable=False, server_default=""),
    )
    bind = op.get_bind()
    users = sa.table("user", sa.column("id"), sa.column("username"), sa.column("username_key"))
    for user_id, username in bind.execute(sa.select(users.c.id, users.c.username)).all():
        bind.execute(
            users.update().where(users.c.id == user_id).values(username_key=fold(username))
        )
    op.create_index("ix_user_username_key", "user", ["username_key"], unique=True)
    _upload_sha256(unique=False)
    create_audit_triggers()


def _upload_sha256(*, unique: bool) -> None:
    """Swap upload.sha256's unique constraint for a plain index (or back)."""
    if unique:
        op.drop_index("ix_upload_sha256", table_name="upload")
    if op.get_bind().dialect.name == "postgresql":
        if unique:
            op.create_unique_constraint("upload_sha256_key", "upload", ["sha256"])
        else:
            op.drop_constraint("upload_sha256_key", "upload", type_="unique")
    else:
        # SQLite rebuilds the table; feedback rows point at it: check their keys at commit
        op.execute("PRAGMA defer_foreign_keys = ON")
        columns: list[sa.SchemaItem] = [
            sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("sha256", sa.String(length=64), nullable=False),
            sa.Column("original_name", sa.String(length=255), nullable=False),
            sa.Column("content_type", sa.String(length=100), nullable=False),
            sa.Column("size", sa.Integer(), nullable=False),
            sa.Column("path", sa.String(length=500), nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            sa.Column("created_by", sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
            sa.PrimaryKeyConstraint("id"),
        ]
        if unique:
            columns.append(sa.UniqueConstraint("sha256"))
        shape = sa.Table("upload", sa.MetaData(), *columns)
        with op.batch_alter_table("upload", copy_from=shape, recreate="always"):
            pass
    if not unique:
        op.create_index("ix_upload_sha256", "upload", ["sha256"])


def downgrade() -> None:
    drop_audit_triggers()
    _upload_sha256(unique=True)
    op.drop_index("ix_user_username_key", table_name="user")
    with op.batch_alter_table("user") as batch_op:
        batch_op.drop_column("username_key")
    op.drop_table("setupguard")
