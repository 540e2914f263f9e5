"""A lease that moves no indexed column: claiming a delivery becomes a HOT update.

A claim used to take its lease by moving `next_attempt_at` to the lease's expiry and by
setting `lease_worker`, both indexed (the two due indexes, ix_deliveries_lease_worker): on
PostgreSQL every claimed row's new version entered every index that applies to a pending
row, six of them, and left as many dead entries (issue 19, docs/benchmarks/postgres-delivery.md).
Now:

- deliveries.lease_until holds the lease's expiry; `next_attempt_at` keeps the due time the
  delivery was claimed at. A delivery is leased while `lease_token` is set and
  `lease_until` has not passed (store/fair_claim.py); rows leased at upgrade keep their
  expiry, which their `next_attempt_at` held.
- ix_deliveries_lease_worker is dropped: taking back a dead worker's leases (every few
  seconds, store/workers.py) walks the pending rows instead.
- On PostgreSQL the delivery partitions fill their pages to 40% (fillfactor 40): a claim
  takes the oldest due rows, all the rows of a few pages at once, and their claimed
  versions (longer by the lease) must fit beside them for the update to be HOT. At 50%
  about a quarter of the claimed rows found no room (measured: 6,449 HOT updates of
  10,000 claimed rows; at 40% all, and 11% less WAL per delivery). New day partitions are
  created so too (store/partitions.py); existing pages keep their fill, new ones get it.

Revision ID: 0018_lease_columns
Revises: 0017_held_announced
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_lease_columns"
down_revision: str | None = "0017_held_announced"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FILLFACTOR = 40
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
