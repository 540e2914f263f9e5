"""deliveries.by_hand: a person's test or example marked on its delivery.

A test or example sent to one webhook (the API's test and example endpoints, the
dashboard's "Send test") goes "even when the webhook is disabled". A pause's walk, the
start-up sweep that finishes one cut short and a claim that parks a disabled webhook's
delivery paused every pending delivery of the webhook, these too: a test sent while no
worker ran, or retrying against a receiver that was down when the webhook was disabled,
ended paused and went only once the webhook was enabled. They now pause only the
deliveries `store/pausable.py` allows, every one but those marked here. Marked, not told
by time: a rule on `created` against the webhook's `last_modified` paused a test sent
before the disable and retried after it, and missed a publish from a host whose clock ran
ahead, committed before the pause (that walk's pausing every published delivery is what
keeps it from the endpoint).

What it costs to run: a column with a constant default, added without rewriting the
table on either database (PostgreSQL 11 and later keep the default in the catalog; the
day partitions get it with the partitioned table, and those made later copy it,
store/partitions.py `LIKE ... INCLUDING DEFAULTS`); a brief exclusive lock on
`deliveries`, no scan. Every delivery stored before is taken for a published one. No
index holds it: a publish's INSERT leaves it to its default (nothing more bound per
delivery), a test's insert sets it in the same transaction, and the claim's and the
recording's statements do not read it. On PostgreSQL it is sampled at statistics target 10
as every other column of deliveries (migration 0024, tables.py `DELIVERY_STATISTICS`): at
the server's default it alone would make ANALYZE sample 30,000 rows instead of 3,000.

Revision ID: 0026_deliveries_by_hand
Revises: 0025_paused_index
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_deliveries_by_hand"
down_revision: str | None = "0025_paused_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "deliveries",
        sa.Column("by_hand", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    if op.get_context().dialect.name == "postgresql":  # SQLite has no per-column target
        op.execute("ALTER TABLE deliveries ALTER COLUMN by_hand SET STATISTICS 10")


def downgrade() -> None:
    op.drop_column("deliveries", "by_hand")
