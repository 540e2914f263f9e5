"""webhooks.held_announced_at: when the webhook's current run of held deliveries was told
(webhook_held). A publish tells a run only by moving this column from the value it read, so
of two transactions that each hold the first delivery of a run at once, one tells it: the
other's update waits for the first's row lock and then finds the value moved
(store/operational.py announce_held). Webhooks holding deliveries now are marked as told:
the previous code told their run at its first held delivery.

Revision ID: 0017_held_announced
Revises: 0016_delivery_partitions
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_held_announced"
down_revision: str | None = "0016_delivery_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable ADD COLUMN on both databases: no copy of the table.
    op.add_column("webhooks", sa.Column("held_announced_at", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE webhooks SET held_announced_at = ("
        "SELECT min(deliveries.created) FROM deliveries "
        "WHERE deliveries.webhook_id = webhooks.id AND deliveries.status = 'held')"
    )


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("held_announced_at")
