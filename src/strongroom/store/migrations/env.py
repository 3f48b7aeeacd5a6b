"""Alembic environment: always run against the connection Strongroom hands over."""

from __future__ import annotations

from alembic import context

from strongroom.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
