"""webhooks.all_sites: a webhook hears every property of its account, including those created
after it (the API's `site_ids: ["*"]`). Existing webhooks keep their explicit list (false).

Revision ID: 0012_all_sites
Revises: 0011_portal_settings
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_all_sites"
down_revision: str | None = "0011_portal_settings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, not batch_alter_table: on SQLite a batch recreates the table, and
    # dropping the old one (foreign keys on, as migrate() runs) cascades to webhook_sites,
    # webhook_events and deliveries, emptying every webhook's subscriptions and log.
    op.add_column(
        "webhooks",
        sa.Column("all_sites", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("webhooks", "all_sites")  # SQLite 3.35+ drops a column in place
