"""热线考核: ticket fields 先行联系 / 办理结果 / 办结时间 / 是否逾期, manual score deductions

Revision ID: b7c2d18e5f40
Revises: 5e6b0c1d2a15
Create Date: 2026-12-01 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "b7c2d18e5f40"
down_revision: str | None = "5e6b0c1d2a15"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.add_column(sa.Column("first_contact", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("resolution", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("finished_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("overdue", sa.Boolean(), nullable=True))
    op.create_table(
        "scorededuction",
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_by_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("scorededuction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scorededuction_day"), ["day"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_scorededuction_deleted_at"), ["deleted_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_scorededuction_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scorededuction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scorededuction_unit_id"))
        batch_op.drop_index(batch_op.f("ix_scorededuction_deleted_at"))
        batch_op.drop_index(batch_op.f("ix_scorededuction_day"))
    op.drop_table("scorededuction")
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_column("overdue")
        batch_op.drop_column("finished_at")
        batch_op.drop_column("resolution")
        batch_op.drop_column("first_contact")
