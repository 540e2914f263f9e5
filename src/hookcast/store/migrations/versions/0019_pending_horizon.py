"""delivery_horizon: the first day a pending delivery can be of, so a claim on PostgreSQL
plans only the day partitions from it on instead of every day retention keeps
(store/horizon.py has the rules that keep it true).

- The table's one row starts at the day of the oldest pending delivery, no later than the
  day that began an hour ago (the database's clock).
- On PostgreSQL a trigger moves it down whenever a delivery created before the database's
  current day is inserted pending or becomes pending from another status, in the same
  transaction, and locks its row even when it does not move it: the pass that moves it up
  locks the row first, so the two never miss each other. A delivery created today leaves
  the trigger's condition false and its function uncalled.
- SQLite has no partitions: the row is there (0) and never read.
- On PostgreSQL an attempt enters one index instead of two: its primary key becomes
  (delivery_id, id, started_at), which answers "the attempts of these deliveries" (the
  delivery log, a deleted delivery's attempts) as ix_attempts_delivery_id did, and that
  index goes. The key on (id, started_at) served no query, yet every recorded delivery
  added an entry to it. SQLite keeps its rowid key and its index.
- PostgreSQL's recording statement now stores an attempt's request headers as a compact
  JSON array (store/stored_headers.py), which code before this revision cannot read: the
  downgrade rewrites every such row back to the JSON object it stands for.

Revision ID: 0019_pending_horizon
Revises: 0018_lease_columns
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

# The live decoder, not a frozen copy of it: its word list only grows (stored rows name
# its entries by position), so it reads every compact row, including rows written by a
# later HookCast with words added after this revision, which a copy frozen here would
# misread or fail on.
from hookcast.store.stored_headers import expand
from hookcast.store.types import dump_json, from_micros

revision: str = "0019_pending_horizon"
down_revision: str | None = "0018_lease_columns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A day is 86,400,000,000 µs; timestamps are µs since the epoch (store/types.py).
_TODAY = "CAST(floor(extract(epoch FROM now()) / 86400) AS bigint) * 86400000000"
_START = """
    INSERT INTO delivery_horizon (id, pending_since)
    SELECT 1, least(coalesce(oldest - mod(oldest, 86400000000), an_hour_ago), an_hour_ago)
    FROM (SELECT min(created) FROM deliveries WHERE status = 'pending') AS p(oldest),
         (SELECT CAST(floor(extract(epoch FROM now() - interval '1 hour') / 86400) AS bigint)
                 * 86400000000) AS d(an_hour_ago)
"""
_FUNCTION = """
    CREATE FUNCTION hookcast_lower_horizon() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        day bigint := NEW.created - mod(NEW.created, 86400000000);
    BEGIN
        PERFORM 1 FROM delivery_horizon FOR UPDATE;
        UPDATE delivery_horizon SET pending_since = day WHERE pending_since > day;
        RETURN NULL;
    END $$
"""
_TRIGGERS = (
    "CREATE TRIGGER tr_deliveries_horizon_insert AFTER INSERT ON deliveries FOR EACH ROW "
    f"WHEN (NEW.status = 'pending' AND NEW.created < {_TODAY}) "
    "EXECUTE FUNCTION hookcast_lower_horizon()",
    "CREATE TRIGGER tr_deliveries_horizon_update AFTER UPDATE OF status ON deliveries "
    "FOR EACH ROW WHEN (NEW.status = 'pending' AND OLD.status <> 'pending' "
    f"AND NEW.created < {_TODAY}) EXECUTE FUNCTION hookcast_lower_horizon()",
)


def upgrade() -> None:
    op.create_table(
        "delivery_horizon",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pending_since", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_horizon")),
    )
    if op.get_context().dialect.name != "postgresql":
        op.execute("INSERT INTO delivery_horizon (id, pending_since) VALUES (1, 0)")
        return
    op.execute(_START)
    op.execute(_FUNCTION)
    for trigger in _TRIGGERS:
        op.execute(trigger)
    op.execute("ALTER TABLE attempts DROP CONSTRAINT pk_attempts")
    op.execute(
        "ALTER TABLE attempts ADD CONSTRAINT pk_attempts PRIMARY KEY (delivery_id, id, started_at)"
    )
    op.drop_index("ix_attempts_delivery_id", table_name="attempts")


# Attempts rewritten per statement by the downgrade: a large table is converted in bounded
# batches instead of one statement (and one result) holding every row.
_BATCH = 2000
# The next batch of compact headers (a JSON array; headers stored as an object, before this
# revision or on SQLite, start with "{" and stay as they are), after the last one's key on
# this revision's primary key. Every delivery id sorts after "": the first batch's key.
_NEXT = (
    "SELECT delivery_id, id, started_at, request_headers FROM attempts "
    "WHERE request_headers LIKE '[%' "
    "AND (delivery_id, id, started_at) > (:delivery_id, :id, :started_at) "
    "ORDER BY delivery_id, id, started_at LIMIT :batch"
)
_REWRITE = (
    "UPDATE attempts SET request_headers = :headers "
    "WHERE delivery_id = :delivery_id AND id = :id AND started_at = :started_at"
)


def _expand_stored_headers() -> None:
    """Rewrites every compact attempt's headers as the object the reader gives back."""
    bind = op.get_bind()
    after: dict[str, Any] = {"delivery_id": "", "id": 0, "started_at": 0}
    while rows := bind.execute(sa.text(_NEXT), {**after, "batch": _BATCH}).all():
        bind.execute(sa.text(_REWRITE), [_expanded(*row) for row in rows])
        delivery_id, attempt_id, started_at, _ = rows[-1]
        after = {"delivery_id": delivery_id, "id": attempt_id, "started_at": started_at}


def _expanded(delivery_id: str, attempt_id: int, started_at: int, stored: str) -> dict[str, Any]:
    """The parameters of `_REWRITE` for one attempt: its headers as a JSON object."""
    headers = expand(
        orjson.loads(stored), delivery_id=delivery_id, started_at=from_micros(started_at)
    )
    return {
        "headers": dump_json(headers),
        "delivery_id": delivery_id,
        "id": attempt_id,
        "started_at": started_at,
    }


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        _expand_stored_headers()
        op.create_index("ix_attempts_delivery_id", "attempts", ["delivery_id"])
        op.execute("ALTER TABLE attempts DROP CONSTRAINT pk_attempts")
        op.execute("ALTER TABLE attempts ADD CONSTRAINT pk_attempts PRIMARY KEY (id, started_at)")
        op.execute("DROP TRIGGER tr_deliveries_horizon_update ON deliveries")
        op.execute("DROP TRIGGER tr_deliveries_horizon_insert ON deliveries")
        op.execute("DROP FUNCTION hookcast_lower_horizon()")
    op.drop_table("delivery_horizon")
