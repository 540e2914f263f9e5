"""ix_deliveries_held: the deliveries held for disabled webhooks (status 'held'), by webhook
in publish order, so a webhook's held count and "deliver held" read only those rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HELD = sa.text("status = 'held'")


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_held",
        "deliveries",
        ["webhook_id", "created"],
        sqlite_where=_HELD,
        postgresql_where=_HELD,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_held", table_name="deliveries")
