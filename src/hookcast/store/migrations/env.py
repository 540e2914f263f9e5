"""Alembic environment: runs on the connection `hookcast.store.migrate()` hands over."""

from __future__ import annotations

from alembic import context

from hookcast.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with hookcast.store.migrate() (or `hookcast migrate`)")

context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
