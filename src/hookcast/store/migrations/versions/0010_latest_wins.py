"""Latest wins and time-to-live (docs/delivery.md, "Latest wins", "Time-to-live").

webhooks.coalesce_updates and webhooks.max_age_seconds; deliveries.coalesce_key (set on a
coalescing webhook's `*_updated` deliveries) and ix_deliveries_coalesce, to find the older
ones a new update supersedes.

Revision ID: 0010_latest_wins
Revises: 0009_ordering
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_latest_wins"
down_revision: str | None = "0009_ordering"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYED = sa.text("coalesce_key IS NOT NULL")


def upgrade() -> None:
    # Plain ADD COLUMNs, not batch_alter_table: on SQLite a batch may recreate the table, and
    # dropping the old webhooks table (foreign keys on, as migrate() runs) cascaded to every
    # webhook's sites, events and deliveries.
    op.add_column(
        "webhooks",
        sa.Column("coalesce_updates", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("webhooks", sa.Column("max_age_seconds", sa.Text(), nullable=True))
    op.add_column("deliveries", sa.Column("coalesce_key", sa.String(200), nullable=True))
    op.create_index(
        "ix_deliveries_coalesce",
        "deliveries",
        ["webhook_id", "coalesce_key", "sequence"],
        sqlite_where=_KEYED,
        postgresql_where=_KEYED,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_coalesce", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("coalesce_key")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("max_age_seconds")
        batch.drop_column("coalesce_updates")
