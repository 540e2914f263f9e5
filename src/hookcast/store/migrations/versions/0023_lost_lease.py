"""deliveries.lost_lease: the token of the lease last taken back from a worker found dead.

A take-back counts a lease loss towards failing the delivery unsent (domain/leases.py,
MAX_LEASE_LOSSES): the guard against a delivery whose sending kills every worker. A worker
that was only stalled past the others' patience (a starved CPU) comes back, learns it was
found dead and drops what it held queued, unsent; by this token it takes back the loss it
caused (store/deliveries.py disown_losses), so stalls alone no longer fail deliveries.

What it costs to run: a nullable column without a default, a catalog change on both
databases (no rewrite of the large deliveries table); on PostgreSQL it reaches every day
partition.

Revision ID: 0023_lost_lease
Revises: 0022_documents_unanalyzed
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_lost_lease"
down_revision: str | None = "0022_documents_unanalyzed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("lost_lease", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("lost_lease")
