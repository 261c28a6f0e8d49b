"""digests.build_spec: the validated spec each digest was built from, so that a check sees an
edit outside the spec's contents (entrypoint, environment...). Existing rows stay NULL: their
images are rebuilt once, which is quiet (nothing pushed or promoted) when the digest does
not change.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch copy: see 0002.
    op.add_column("digests", sa.Column("build_spec", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("digests", schema=None) as batch_op:
        batch_op.drop_column("build_spec")
