"""Publishing fast from a new database's first request, and the delivery log partitioned by
day on PostgreSQL.

- deliveries loses its foreign key to events. Every delivery is inserted in the transaction
  that inserts its event (store/group_commit.py), and retention deletes an event only once
  no delivery refers to it, so the key checked nothing the code does not already guarantee;
  on PostgreSQL its per-row check was planned once per connection while the tables were
  empty and kept that plan (ix_events_account_id_created, filtering by id) as events grew:
  every delivery inserted read every event of its account (issue 19).
- On PostgreSQL, deliveries (by `created`) and attempts (by `started_at`) become partitioned
  tables, one partition per UTC day and a default one (store/partitions.py), the rows kept.
  A partitioned table's unique keys must hold its partition key: deliveries' primary key is
  (id, created), its one-per-webhook-and-event key (event_id, webhook_id, created) (a
  delivery is created with its event, so the two keys allow the same rows), attempts' is
  (id, started_at). Attempts lose their foreign key to deliveries (it would need the
  delivery's `created` in every attempt): a trigger deletes a deleted delivery's attempts,
  as ON DELETE CASCADE did, and retention drops a day of attempts only once no delivery
  that could own them remains.
- Busy tables and partitions are analyzed after 2% of their rows change (1,000 at least)
  rather than 10%, so their statistics and the plans made from them follow a growing
  table; `migrate` runs ANALYZE on never-analyzed tables (store/migrate.py).

Revision ID: 0016_delivery_partitions
Revises: 0015_webhook_controls
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0016_delivery_partitions"
down_revision: str | None = "0015_webhook_controls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANALYZE_AFTER = "autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_AHEAD_DAYS = 7
_MOST_DAYS_BACK = 120  # older rows go to the default partition (retention deletes them)
# table: (partition key, primary key, unique keys, foreign keys) once partitioned
_PARTITIONED = {
    "deliveries": (
        "created",
        "id, created",
        {"uq_deliveries_event_id_webhook_id": "event_id, webhook_id, created"},
        {
            "fk_deliveries_webhook_id_webhooks": (
                "FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE"
            )
        },
    ),
    "attempts": ("started_at", "id, started_at", {}, {}),
}
_CASCADE_FUNCTION = """
    CREATE FUNCTION hookcast_delete_attempts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM attempts WHERE delivery_id = OLD.id;
        RETURN NULL;
    END $$
"""
_CASCADE_TRIGGER = (
    "CREATE TRIGGER tr_deliveries_delete_attempts AFTER DELETE ON deliveries "
    "FOR EACH ROW EXECUTE FUNCTION hookcast_delete_attempts()"
)


def upgrade() -> None:
    # SQLite cannot drop a constraint in place: batch mode copies the table.
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_constraint("fk_deliveries_event", type_="foreignkey")
    if op.get_context().dialect.name != "postgresql":
        return
    op.execute(f"ALTER TABLE events SET ({ANALYZE_AFTER})")
    op.drop_constraint("fk_attempts_delivery_id_deliveries", "attempts", type_="foreignkey")
    sequence = op.get_bind().scalar(sa.text("SELECT pg_get_serial_sequence('attempts', 'id')"))
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    for table, shape in _PARTITIONED.items():
        _rebuild(table, partition_key=shape[0])
        _add_keys(table, primary=shape[1], unique=shape[2], foreign=shape[3])
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY attempts.id")
    op.execute(_CASCADE_FUNCTION)
    op.execute(_CASCADE_TRIGGER)


def _micros(day: date) -> int:
    return (datetime.combine(day, time(), tzinfo=UTC) - _EPOCH) // timedelta(microseconds=1)


def _days(plain: str, key: str) -> list[date]:
    """The days to create: from the oldest row's (at most _MOST_DAYS_BACK ago) to a week on."""
    today = datetime.now(UTC).date()
    oldest = op.get_bind().scalar(sa.text(f"SELECT min({key}) FROM {plain}"))  # noqa: S608
    first = today
    if oldest is not None:
        first = (_EPOCH + timedelta(microseconds=int(oldest))).date()
    first = max(first, today - timedelta(days=_MOST_DAYS_BACK))
    return [first + timedelta(days=n) for n in range((today - first).days + _AHEAD_DAYS + 1)]


def _rebuild(table: str, *, partition_key: str) -> None:
    """`table` as a partitioned table with its rows, its indexes re-created on it."""
    bind = op.get_bind()
    plain = f"{table}_plain"
    op.execute(f"ALTER TABLE {table} RENAME TO {plain}")
    # The indexes that back no constraint, re-created on the new table by their definition.
    indexes = bind.scalars(
        sa.text(
            "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid = CAST(:plain AS regclass) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
        ),
        {"plain": plain},
    ).all()
    op.execute(
        f"CREATE TABLE {table} (LIKE {plain} INCLUDING DEFAULTS) "
        f"PARTITION BY RANGE ({partition_key})"
    )
    op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT WITH ({ANALYZE_AFTER})")
    for day in _days(plain, partition_key):
        low, high = _micros(day), _micros(day + timedelta(days=1))
        op.execute(
            f"CREATE TABLE {table}_{day:%Y%m%d} PARTITION OF {table} "
            f"FOR VALUES FROM ({low}) TO ({high}) WITH ({ANALYZE_AFTER})"
        )
    op.execute(f"INSERT INTO {table} SELECT * FROM {plain}")  # noqa: S608
    op.execute(f"DROP TABLE {plain}")
    for definition in indexes:
        op.execute(definition.replace(f" ON public.{plain} ", f" ON public.{table} "))


def _add_keys(table: str, *, primary: str, unique: dict[str, str], foreign: dict[str, str]) -> None:
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY ({primary})")
    for name, columns in unique.items():
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE ({columns})")
    for name, definition in foreign.items():
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        _unpartition()
        op.execute(
            "ALTER TABLE events RESET "
            "(autovacuum_analyze_scale_factor, autovacuum_analyze_threshold)"
        )
    with op.batch_alter_table("deliveries") as batch:
        batch.create_foreign_key(
            "fk_deliveries_event", "events", ["account_id", "event_id"], ["account_id", "id"]
        )


def _unpartition() -> None:
    bind = op.get_bind()
    op.execute("DROP TRIGGER tr_deliveries_delete_attempts ON deliveries")
    op.execute("DROP FUNCTION hookcast_delete_attempts()")
    sequence = bind.scalar(sa.text("SELECT pg_get_serial_sequence('attempts', 'id')"))
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY NONE")
    for table in ("attempts", "deliveries"):
        indexes = bind.scalars(
            sa.text(
                "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "WHERE i.indrelid = CAST(:table AS regclass) "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
            ),
            {"table": table},
        ).all()
        op.execute(f"ALTER TABLE {table} RENAME TO {table}_partitioned")
        op.execute(f"CREATE TABLE {table} (LIKE {table}_partitioned INCLUDING DEFAULTS)")
        op.execute(f"INSERT INTO {table} SELECT * FROM {table}_partitioned")  # noqa: S608
        op.execute(f"DROP TABLE {table}_partitioned CASCADE")
        for definition in indexes:
            op.execute(
                definition.replace(f" ON ONLY public.{table} ", f" ON public.{table} ").replace(
                    f" ON public.{table}_partitioned ", f" ON public.{table} "
                )
            )
    op.execute("ALTER TABLE deliveries ADD CONSTRAINT pk_deliveries PRIMARY KEY (id)")
    op.execute(
        "ALTER TABLE deliveries ADD CONSTRAINT uq_deliveries_event_id_webhook_id "
        "UNIQUE (event_id, webhook_id)"
    )
    op.execute(
        "ALTER TABLE deliveries ADD CONSTRAINT fk_deliveries_webhook_id_webhooks "
        "FOREIGN KEY (webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE"
    )
    op.execute("ALTER TABLE attempts ADD CONSTRAINT pk_attempts PRIMARY KEY (id)")
    op.execute(
        "ALTER TABLE attempts ADD CONSTRAINT fk_attempts_delivery_id_deliveries "
        "FOREIGN KEY (delivery_id) REFERENCES deliveries (id) ON DELETE CASCADE"
    )
    op.execute(f"ALTER SEQUENCE {sequence} OWNED BY attempts.id")
