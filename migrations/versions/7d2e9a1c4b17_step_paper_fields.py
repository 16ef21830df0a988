"""step: the papers' own fields (专报 原因分析 / 建议, 提级办理报告 提级理由)

Revision ID: 7d2e9a1c4b17
Revises: bf00c5cc93c3
Create Date: 2026-12-01 21:50:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7d2e9a1c4b17"
down_revision: str | None = "bf00c5cc93c3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("analysis", "suggestion", "report_reason")


def upgrade() -> None:
    with op.batch_alter_table("step") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("step") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
