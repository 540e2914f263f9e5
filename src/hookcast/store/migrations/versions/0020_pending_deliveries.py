"""pending_deliveries: the due indexes on a table of the pending deliveries alone, so that
a completion on PostgreSQL is a HOT update of the delivery's row (issue 19, target 2).

A completion (pending to succeeded or failed) changed `status`, which every partial index on
pending, held or waiting rows names in its predicate: PostgreSQL made each completed row's
new version a new entry in every index of deliveries (primary key, unique key, webhook
index...). Now no index of deliveries holds `status`:

- deliveries.parked, generated from `status`: 'held' or 'waiting' for those statuses, NULL
  otherwise (stored on PostgreSQL, virtual on SQLite). The held and waiting indexes hold
  rows by it, so a change between other statuses leaves every indexed value as it was.
  SQLite gets the same column and indexes: its queries are the same.
- PostgreSQL: pending_deliveries (created, id, account_id, next_attempt_at) holds one row per
  pending delivery, filled here from the pending rows, with the due and account's-due
  indexes that leave deliveries. Triggers on deliveries keep it in step in the statement
  that changes a delivery, whoever writes it (publish, retries, releases, leases taken
  back, resumes, chains, coalescing, replay, held releases, webhook deletion): a row
  inserted pending adds one, a row leaving pending deletes it, a pending row's new due time
  moves it there, with the lease's expiry while leased (lease_until, in no index). A claim
  sets that expiry here itself (a HOT update of this narrow row, which its fillfactor
  leaves room for), and leaves deliveries' due time as it was (migration 0018). Retention
  drops only days with no unfinished delivery (store/partitions.py), so no row here
  outlives its day.
- SQLite keeps its due indexes on deliveries and has no such table.

Revision ID: 0020_pending_deliveries
Revises: 0019_pending_horizon
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_pending_deliveries"
down_revision: str | None = "0019_pending_horizon"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PARKED = "CASE WHEN status IN ('held', 'waiting') THEN status END"
_PARKED_INDEXES = {  # name: (columns, parked status)
    "ix_deliveries_held": (["webhook_id", "created"], "held"),
    "ix_deliveries_waiting": (["webhook_id", "resource_key", "sequence"], "waiting"),
}
_DUE_INDEXES = {
    "ix_deliveries_due": ["next_attempt_at"],
    "ix_deliveries_account_due": ["account_id", "next_attempt_at"],
}
_CHURN = (
    "fillfactor = 50, autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000, "
    "autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000"
)
# A row of pending_deliveries from a delivery's row NEW: its lease's expiry while it is
# leased (store/fair_claim.py not_leased: a token without an expiry counts as expired).
_FUNCTIONS = {
    "hookcast_pending_insert": """
        INSERT INTO pending_deliveries (id, created, account_id, next_attempt_at, lease_until)
        VALUES (NEW.id, NEW.created, NEW.account_id, NEW.next_attempt_at,
                CASE WHEN NEW.lease_token IS NOT NULL THEN NEW.lease_until END);""",
    "hookcast_pending_delete": """
        DELETE FROM pending_deliveries WHERE id = OLD.id AND created = OLD.created;""",
    # Called when a statement set the status or the due time of a row pending before or
    # after it.
    "hookcast_pending_update": """
        IF NEW.status <> 'pending' THEN
            DELETE FROM pending_deliveries WHERE id = OLD.id AND created = OLD.created;
        ELSIF OLD.status <> 'pending' THEN
            INSERT INTO pending_deliveries (id, created, account_id, next_attempt_at,
                                            lease_until)
            VALUES (NEW.id, NEW.created, NEW.account_id, NEW.next_attempt_at,
                    CASE WHEN NEW.lease_token IS NOT NULL THEN NEW.lease_until END);
        ELSE
            UPDATE pending_deliveries
            SET next_attempt_at = NEW.next_attempt_at,
                lease_until = CASE WHEN NEW.lease_token IS NOT NULL THEN NEW.lease_until END
            WHERE id = NEW.id AND created = NEW.created;
        END IF;""",
}
_TRIGGERS = {  # name: (event and condition, function)
    "tr_deliveries_pending_insert": (
        "AFTER INSERT ON deliveries FOR EACH ROW WHEN (NEW.status = 'pending')",
        "hookcast_pending_insert",
    ),
    # `UPDATE OF`: a statement that sets neither column (a claim, which sets only the
    # lease's, and sets the lease's expiry in pending_deliveries itself) fires nothing.
    # Every writer that ends a lease sets the due time or the status: one that sets the
    # due time fires it even to the value it had, and copies the lease's end.
    "tr_deliveries_pending_update": (
        "AFTER UPDATE OF status, next_attempt_at ON deliveries FOR EACH ROW "
        "WHEN (OLD.status = 'pending' OR NEW.status = 'pending')",
        "hookcast_pending_update",
    ),
    "tr_deliveries_pending_delete": (
        "AFTER DELETE ON deliveries FOR EACH ROW WHEN (OLD.status = 'pending')",
        "hookcast_pending_delete",
    ),
}


def upgrade() -> None:
    postgresql = op.get_context().dialect.name == "postgresql"
    kind = "STORED" if postgresql else "VIRTUAL"  # SQLite adds only virtual ones in place
    _drop_parked_indexes()
    op.execute(
        f"ALTER TABLE deliveries ADD COLUMN parked VARCHAR(16) GENERATED ALWAYS AS ({_PARKED}) "
        f"{kind}"
    )
    _create_parked_indexes(by="parked")
    if postgresql:
        _create_pending()


def _drop_parked_indexes() -> None:
    for name in _PARKED_INDEXES:
        op.drop_index(name, table_name="deliveries")


def _create_parked_indexes(*, by: str) -> None:
    """The held and waiting indexes, their predicates on the column `by`."""
    for name, (columns, status) in _PARKED_INDEXES.items():
        where = sa.text(f"{by} = '{status}'")
        op.create_index(name, "deliveries", columns, sqlite_where=where, postgresql_where=where)


def _create_pending() -> None:
    op.create_table(
        "pending_deliveries",
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(8), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("created", "id", name=op.f("pk_pending_deliveries")),
    )
    # Filled before the triggers exist and in the migration's transaction, which holds the
    # lock on deliveries that its ALTER TABLE took: no delivery changes meanwhile.
    op.execute(
        "INSERT INTO pending_deliveries (id, created, account_id, next_attempt_at, lease_until) "
        "SELECT id, created, account_id, next_attempt_at, "
        "CASE WHEN lease_token IS NOT NULL THEN lease_until END "
        "FROM deliveries WHERE status = 'pending'"
    )
    op.create_index("ix_pending_deliveries_due", "pending_deliveries", ["next_attempt_at"])
    op.create_index(
        "ix_pending_deliveries_account_due",
        "pending_deliveries",
        ["account_id", "next_attempt_at"],
    )
    for name, body in _FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} RETURN NULL; END $$"
        )
    for name, (when, function) in _TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {when} EXECUTE FUNCTION {function}()")
    for name in _DUE_INDEXES:
        op.drop_index(name, table_name="deliveries")
    # Rows come and go with every delivery: vacuumed and analyzed as deliveries' days are.
    op.execute(f"ALTER TABLE pending_deliveries SET ({_CHURN})")
    op.execute("ANALYZE pending_deliveries")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for name, columns in _DUE_INDEXES.items():
            where = sa.text("status = 'pending'")
            op.create_index(name, "deliveries", columns, postgresql_where=where)
        for name in _TRIGGERS:
            op.execute(f"DROP TRIGGER {name} ON deliveries")
        for name in _FUNCTIONS:
            op.execute(f"DROP FUNCTION {name}()")
        op.drop_table("pending_deliveries")
    _drop_parked_indexes()
    op.execute("ALTER TABLE deliveries DROP COLUMN parked")
    _create_parked_indexes(by="status")
