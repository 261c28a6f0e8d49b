"""Alembic's entry point: migrate the connection ``zerocve.fleet.store`` passes in (never an
alembic.ini URL), inside the transaction the store holds."""

from __future__ import annotations

from alembic import context

from zerocve.fleet.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
)
with context.begin_transaction():
    context.run_migrations()
