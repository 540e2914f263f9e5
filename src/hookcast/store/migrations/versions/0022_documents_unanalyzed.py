"""No planner statistics on documents on PostgreSQL: events' `data` and `resource_ids`,
attempts' request headers, response bodies and errors (SET STATISTICS 0).

ANALYZE sorts a sample of each column's values (up to 30,000 rows at the default target) to
find its most common values and histogram, comparing text in the column's collation: under
en_US.UTF-8, what a production database is usually created with, every comparison is a
strcoll of two JSON documents. HookCast analyzes events and deliveries each time the events
it stored double (store/statistics.py) and autovacuum after every 2% of growth (migration
0016), so that sort ran again and again while publishing. Measured on this machine
(docs/benchmarks/postgres-delivery.md, "Statistics only where a plan reads them"): ANALYZE of 25,000
events cost PostgreSQL 249 ms of CPU on an en_US.UTF-8 database against 52 ms on a C.UTF-8 one,
`data` 140 ms and `resource_ids` 91 of it (21 and 18 under C.UTF-8). With this revision
PostgreSQL's CPU per event published in batches of 100 on en_US.UTF-8 is 0.845 times what it
was (0.796-0.863, 6 pairs), within a few percent of the C.UTF-8 figure; on C.UTF-8 0.945
times (0.93-1.06, the noise).

No statement compares these columns with an operator whose selectivity the planner reads
from statistics: nothing filters, joins or sorts on data, headers, bodies or errors, and the
one filter on resource_ids is strpos() > 0 (store/events.py), estimated without them. So
their statistics are not gathered at all, rather than gathered in byte order (COLLATE "C"
would still sort them, and `data` holds people's text).

What it costs to run: SET STATISTICS changes the catalog only (no rewrite, no index) under
a SHARE UPDATE EXCLUSIVE lock, which reads and writes do not wait for. On the partitioned
attempts table it reaches every partition; the day partitions made later get it from
store/partitions.py (a partition does not take its parent's statistics targets).

Revision ID: 0022_documents_unanalyzed
Revises: 0021_keys_in_byte_order
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0022_documents_unanalyzed"
down_revision: str | None = "0021_keys_in_byte_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: its columns without statistics (as tables.py marks them UNANALYZED).
DOCUMENTS: dict[str, tuple[str, ...]] = {
    "events": ("resource_ids", "data"),
    "attempts": ("request_headers", "response_body", "error"),
}


def upgrade() -> None:
    _statistics(0)


def downgrade() -> None:
    _statistics(-1)  # the server's default_statistics_target


def _statistics(target: int) -> None:
    """Every column of DOCUMENTS at statistics `target`, one ALTER TABLE per table. SQLite
    has no per-column statistics target: nothing there."""
    if op.get_context().dialect.name != "postgresql":
        return
    for table, columns in DOCUMENTS.items():
        changes = ", ".join(f"ALTER COLUMN {column} SET STATISTICS {target}" for column in columns)
        op.execute(f"ALTER TABLE {table} {changes}")
