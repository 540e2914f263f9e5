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
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(
            sa.Column("all_sites", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("all_sites")
