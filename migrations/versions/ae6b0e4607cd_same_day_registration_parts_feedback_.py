"""same-day registration parts (报告主要领导, 任务分解, 会议场所), feedback review (待核验)

Feedback stored before this revision was accepted under the old rules: it becomes 已核验.

Revision ID: ae6b0e4607cd
Revises: 7d2e9a1c4b17
Create Date: 2026-12-01 21:35:46.578412
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "ae6b0e4607cd"
down_revision: str | None = "7d2e9a1c4b17"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FK_REVIEWED_BY = "fk_feedback_reviewed_by_user"


def upgrade() -> None:
    op.create_table(
        "noticetask",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("task", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["user.id"],
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["step.id"],
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["unit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("noticetask", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_noticetask_step_id"), ["step_id"], unique=False)

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review", sa.String(length=40), nullable=False, server_default="confirmed")
        )
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("review_note", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("date_reason", sa.Text(), nullable=False, server_default=""))
        batch_op.create_index(batch_op.f("ix_feedback_review"), ["review"], unique=False)
        batch_op.create_foreign_key(FK_REVIEWED_BY, "user", ["reviewed_by"], ["id"])

    with op.batch_alter_table("step", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reported_to", sa.String(length=100), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("venue_ready", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column("venue", sa.String(length=300), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("step", schema=None) as batch_op:
        batch_op.drop_column("venue")
        batch_op.drop_column("venue_ready")
        batch_op.drop_column("reported_to")

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_constraint(FK_REVIEWED_BY, type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_feedback_review"))
        batch_op.drop_column("date_reason")
        batch_op.drop_column("review_note")
        batch_op.drop_column("reviewed_by")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("review")

    with op.batch_alter_table("noticetask", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_noticetask_step_id"))

    op.drop_table("noticetask")
