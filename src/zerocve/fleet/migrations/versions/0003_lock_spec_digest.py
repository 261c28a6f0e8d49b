"""locks.spec_digest: the spec digest each lock was resolved from, so that a check can tell
which images' specs changed without reading every lock's content. Existing rows are filled
from their content.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch copy: see 0002.
    op.add_column("locks", sa.Column("spec_digest", sa.String(length=80), nullable=True))
    locks = sa.table("locks", sa.column("id", sa.Integer()), sa.column("content", sa.Text()),
                     sa.column("spec_digest", sa.String()))
    connection = op.get_bind()
    for id_, content in connection.execute(sa.select(locks.c.id, locks.c.content)).all():
        spec = json.loads(content).get("spec")
        connection.execute(
            sa.update(locks).where(locks.c.id == id_).values(spec_digest=spec)
        )


def downgrade() -> None:
    with op.batch_alter_table("locks", schema=None) as batch_op:
        batch_op.drop_column("spec_digest")
