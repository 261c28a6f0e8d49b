"""images.replan: plan the image at the next check even when nothing changed (it was just
added, or resumed after a hold). Existing images get true: the next check looks at them once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite has it): a batch copy of the table would drop and re-create
    # "images", which SQLite's foreign key check refuses once locks or jobs refer to it.
    op.add_column(
        "images", sa.Column("replan", sa.Boolean(), nullable=False, server_default=sa.true())
    )


def downgrade() -> None:
    with op.batch_alter_table("images", schema=None) as batch_op:
        batch_op.drop_column("replan")
