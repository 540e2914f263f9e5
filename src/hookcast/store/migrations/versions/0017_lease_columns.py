"""A lease that moves no indexed column: claiming a delivery becomes a HOT update.

A claim used to take its lease by moving `next_attempt_at` to the lease's expiry and by
setting `lease_worker`, both indexed (the two due indexes, ix_deliveries_lease_worker): on
PostgreSQL every claimed row's new version entered every index that applies to a pending
row, six of them, and left as many dead entries (issue 19, docs/benchmarks.md). Now:

- deliveries.lease_until holds the lease's expiry; `next_attempt_at` keeps the due time the
  delivery was claimed at. A delivery is leased while `lease_token` is set and
  `lease_until` has not passed (store/fair_claim.py); rows leased at upgrade keep their
  expiry, which their `next_attempt_at` held.
- ix_deliveries_lease_worker is dropped: taking back a dead worker's leases (every few
  seconds, store/workers.py) walks the pending rows instead.
- On PostgreSQL the delivery partitions leave half of each page free (fillfactor 50), room
  for the claimed versions of a page's rows beside them: a claim takes the oldest due rows,
  the consecutive rows of a few pages, all at once. New day partitions are created so too
  (store/partitions.py); existing pages keep their fill, new ones get it.

Revision ID: 0017_lease_columns
Revises: 0019_held_announced
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_lease_columns"
down_revision: str | None = "0019_held_announced"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FILLFACTOR = 50
_PARTITIONS = sa.text("""
    SELECT child.relname FROM pg_inherits
    JOIN pg_class child ON child.oid = pg_inherits.inhrelid
    WHERE pg_inherits.inhparent = CAST('deliveries' AS regclass)
""")


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("lease_until", sa.BigInteger(), nullable=True))
    op.execute("UPDATE deliveries SET lease_until = next_attempt_at WHERE lease_token IS NOT NULL")
    op.drop_index("ix_deliveries_lease_worker", table_name="deliveries")
    if op.get_context().dialect.name == "postgresql":
        _set_fillfactor(f"fillfactor = {_FILLFACTOR}")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        _set_fillfactor(None)
    op.execute(
        "UPDATE deliveries SET next_attempt_at = lease_until "
        "WHERE lease_token IS NOT NULL AND lease_until IS NOT NULL"
    )
    op.create_index(
        "ix_deliveries_lease_worker",
        "deliveries",
        ["lease_worker"],
        sqlite_where=sa.text("lease_worker IS NOT NULL"),
        postgresql_where=sa.text("lease_worker IS NOT NULL"),
    )
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("lease_until")


def _set_fillfactor(setting: str | None) -> None:
    """Sets (or resets, with None) the fillfactor of every partition of deliveries."""
    for name in op.get_bind().scalars(_PARTITIONS).all():
        if setting is None:
            op.execute(f"ALTER TABLE {name} RESET (fillfactor)")
        else:
            op.execute(f"ALTER TABLE {name} SET ({setting})")
