"""Deliveries' planner statistics from a sample of 3,000 rows on PostgreSQL, not 30,000
(SET STATISTICS 10 on every column).

ANALYZE samples 300 rows per unit of a table's largest statistics target. Autovacuum
analyzes today's delivery partition after every 2% of its rows change (migration 0016):
on a busy day once a minute, however large the day has grown; and store/statistics.py
analyzes deliveries each time the events stored double. Measured on this machine
(docs/benchmarks/postgres-delivery.md, "Where PostgreSQL's work goes, by statement, table
and process"): ANALYZE of a day partition of 50,000 deliveries cost 120-140 ms of CPU at
the default target, 103-111 ms with the eleven columns no plan reads left out, 13-17 ms
at 10. The plans that read the deliveries' statistics need few values: five statuses, the
row counts, ranges of due and creation times within a day; ids are compared by equality.

What it costs to run: SET STATISTICS changes the catalog only (no rewrite, no index) under
a SHARE UPDATE EXCLUSIVE lock, which reads and writes do not wait for. On the partitioned
table it reaches every partition; the day partitions made later get it from
store/partitions.py. The statistics already gathered stay until the next ANALYZE.

Revision ID: 0024_delivery_statistics_sampled
Revises: 0023_lost_lease
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0024_delivery_statistics_sampled"
down_revision: str | None = "0023_lost_lease"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TARGET = 10
# The deliveries' columns at this revision (tables.py marks the table DELIVERY_STATISTICS).
COLUMNS = (
    "id",
    "account_id",
    "event_id",
    "webhook_id",
    "status",
    "attempts",
    "next_attempt_at",
    "lease_token",
    "lease_worker",
    "lease_until",
    "lease_losses",
    "last_status_code",
    "created",
    "completed_at",
    "resource_key",
    "sequence",
    "coalesce_key",
    "lost_lease",
)


def upgrade() -> None:
    _statistics(TARGET)


def downgrade() -> None:
    _statistics(-1)  # the server's default_statistics_target


def _statistics(target: int) -> None:
    """Every column of deliveries at statistics `target`, in one ALTER TABLE. SQLite has no
    per-column statistics target: nothing there."""
    if op.get_context().dialect.name != "postgresql":
        return
    changes = ", ".join(f"ALTER COLUMN {column} SET STATISTICS {target}" for column in COLUMNS)
    op.execute(f"ALTER TABLE deliveries {changes}")
