"""workers, deliveries.lease_worker and deliveries.lease_losses: workers beat in the database,
leases name the worker holding them, so a dead worker's leases are taken back in seconds
rather than at their expiry; a delivery lost by too many workers is failed (store/workers.py).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
    )
    # Plain ADD COLUMN on both databases: no copy of the (large) deliveries table.
    op.add_column("deliveries", sa.Column("lease_worker", sa.String(32), nullable=True))
    op.add_column(
        "deliveries",
        sa.Column("lease_losses", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index(
        "ix_deliveries_lease_worker",
        "deliveries",
        ["lease_worker"],
        sqlite_where=sa.text("lease_worker IS NOT NULL"),
        postgresql_where=sa.text("lease_worker IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_lease_worker", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("lease_losses")
        batch.drop_column("lease_worker")
    op.drop_table("workers")
