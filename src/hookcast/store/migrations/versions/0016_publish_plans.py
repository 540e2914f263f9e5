"""Publishing fast from a new database's first request.

- deliveries loses its foreign key to events. Every delivery is inserted in the transaction
  that inserts its event (store/group_commit.py), and retention deletes an event only once
  no delivery refers to it, so the key checked nothing the code does not already guarantee;
  on PostgreSQL its per-row check was planned once per connection while the tables were
  empty and kept that plan (ix_events_account_id_created, filtering by id) as events grew:
  every delivery inserted read every event of its account (issue 19).
- On PostgreSQL the busiest tables are analyzed after 2% of their rows change (1,000 at
  least) rather than 10%, so their statistics and the plans made from them follow a
  growing table; `migrate` runs ANALYZE after upgrading (store/migrate.py).

Revision ID: 0016_publish_plans
Revises: 0011_portal_settings
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_publish_plans"
down_revision: str | None = "0011_portal_settings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BUSY_TABLES = ("events", "deliveries", "attempts")
_ANALYZE_AFTER = "autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000"


def upgrade() -> None:
    # SQLite cannot drop a constraint in place: batch mode copies the table.
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("fk_deliveries_event", type_="foreignkey")
    if op.get_context().dialect.name == "postgresql":
        for table in _BUSY_TABLES:
            op.execute(sa.text(f"ALTER TABLE {table} SET ({_ANALYZE_AFTER})"))


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in _BUSY_TABLES:
            op.execute(
                sa.text(
                    f"ALTER TABLE {table} RESET "
                    "(autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)"
                )
            )
    with op.batch_alter_table("deliveries") as batch:
        batch.create_foreign_key(
            "fk_deliveries_event",
            "events",
            ["account_id", "event_id"],
            ["account_id", "id"],
        )
