"""ix_deliveries_paused: a webhook's paused deliveries found through an index of their own.

Two readers ask whether a webhook has a paused delivery, or move them all: a resume on
PostgreSQL (every save of an enabled webhook, store/webhooks.py `resume_paused`, in the
save's write under the webhook's row lock) and the start-up sweep for walks cut short on
SQLite (store/cut_short.py, for every enabled webhook). Without this index both read the
webhook's whole history through (webhook_id, created): a rename of a webhook with 100,000
past deliveries read all of them in its write. Partial, on `status = 'paused'`: it holds
no entry for a pending, succeeded or failed delivery, so a publish, claim or recording
adds nothing to it (a recording already changes `status`, which the other partial indexes
read, so it was no HOT update before either); it holds what a paused webhook keeps back.

What it costs to run: on PostgreSQL CREATE INDEX on the partitioned table builds it on
every day partition, and a partition made later gets it when attached
(store/partitions.py); the build reads every partition under a SHARE lock, which reads go
on beside and writes (publishes, claims, recordings) wait for (docs/operations.md has the
time measured). On SQLite one pass over the table in the migration's write.

Revision ID: 0025_paused_index
Revises: 0024_delivery_statistics_sampled
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_paused_index"
down_revision: str | None = "0024_delivery_statistics_sampled"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAUSED = sa.text("status = 'paused'")


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_paused",
        "deliveries",
        ["webhook_id"],
        sqlite_where=_PAUSED,
        postgresql_where=_PAUSED,
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_paused", table_name="deliveries")
