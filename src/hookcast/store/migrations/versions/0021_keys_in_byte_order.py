"""Ids and keys compared as bytes on PostgreSQL: their columns take the "C" collation.

PostgreSQL 15 compares text as bytes (memcmp) only under the "C" and "POSIX" collations.
Under any other, the database's en_US.UTF-8 as much as C.UTF-8, every B-tree comparison of
a text key (an index search, an insertion, a merge or sort) copies both strings and calls
strcoll, and sorts get no abbreviated keys. HookCast's ids and keys are ASCII made to sort
by their bytes (domain/ids.py: delivery ids in time order), and SQLite (BINARY) already
compares them so. Measured on this machine (docs/benchmarks/postgres-delivery.md, "Text keys in byte
order"): on an en_US.UTF-8 database PostgreSQL spent 48-53 µs of CPU per delivery in a drain of
50,000, against 38-43 on a C.UTF-8 one; with this revision 0.82 times that on en_US.UTF-8
(0.806-0.834, 3 pairs), the C.UTF-8 figure. Under C.UTF-8 (the tests' and benchmarks'
servers) glibc's strcoll is a byte comparison and the change is within the noise (0.99 times).

Which columns: every id and every reference to one (accounts, API keys, sites, webhooks,
events, deliveries and their attempts, chains, workers, mail, signed-out sessions), so that
a key, its index and whatever joins or refers to it compare alike; the API keys' secret
hash (an index probed by every request); the event types webhooks subscribe to (their
index is read by every publish); the resource and coalesce keys (ordered and coalescing
deliveries' indexes, the sequences' key); and webhooks' names, which the webhook list
already sorts in byte order (store/webhooks.py), so that their (account_id, name) index is
kept in that order rather than the locale's. Not: other names and texts shown to people,
status and enumeration words (in no index key; equality of text under a deterministic
collation is a memcmp, never strcoll), lease tokens, JSON.

What it costs to run: only the collation changes, so no table is rewritten, but every index
holding one of these columns is rebuilt and the foreign keys on them re-made, each table
locked ACCESS EXCLUSIVE from its ALTER until the migration's one transaction commits:
18.8 s for 1,000,000 deliveries, events and attempts on the shared 2-core machine
(docs/operations.md, "Upgrading across schema revision 0021"). On a partitioned
table (deliveries, attempts) the ALTER reaches every partition; day partitions made later
(store/partitions.py: LIKE the parent) take the parent's collations.

Revision ID: 0021_keys_in_byte_order
Revises: 0020_site_ids_per_account
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0021_keys_in_byte_order"
down_revision: str | None = "0020_site_ids_per_account"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# table: {column: its type}. Referenced tables first, so that a foreign key is re-made with
# both of its sides already alike.
KEYS: dict[str, dict[str, str]] = {
    "accounts": {"id": "varchar(8)"},
    "api_keys": {"id": "varchar(8)", "account_id": "varchar(8)", "secret_hash": "varchar(128)"},
    "sites": {"id": "varchar(8)", "account_id": "varchar(8)"},
    "webhooks": {"id": "varchar(8)", "account_id": "varchar(8)", "name": "text"},
    "webhook_rates": {"webhook_id": "varchar(8)"},
    "webhook_events": {"webhook_id": "varchar(8)", "event": "varchar(64)"},
    "webhook_sites": {
        "webhook_id": "varchar(8)",
        "account_id": "varchar(8)",
        "site_id": "varchar(8)",
    },
    "events": {"account_id": "varchar(8)", "id": "varchar(128)", "site_id": "varchar(8)"},
    "resource_sequences": {"account_id": "varchar(8)", "resource_key": "varchar(160)"},
    "workers": {"id": "varchar(32)"},
    "deliveries": {
        "id": "varchar(32)",
        "account_id": "varchar(8)",
        "event_id": "varchar(128)",
        "webhook_id": "varchar(8)",
        "lease_worker": "varchar(32)",
        "resource_key": "varchar(160)",
        "coalesce_key": "varchar(200)",
    },
    "attempts": {"delivery_id": "varchar(32)"},
    "delivery_chains": {
        "webhook_id": "varchar(8)",
        "resource_key": "varchar(160)",
        "head_id": "varchar(32)",
    },
    "mail_outbox": {"id": "varchar(32)", "account_id": "varchar(8)", "event_id": "varchar(128)"},
    "revoked_sessions": {"id": "varchar(64)", "account_id": "varchar(8)"},
}


def upgrade() -> None:
    _collate('"C"')


def downgrade() -> None:
    _collate('"default"')


def _collate(collation: str) -> None:
    """Every column of KEYS in `collation`, one ALTER TABLE per table (an index on several
    of its columns is rebuilt once). SQLite's BINARY is byte order already: nothing there."""
    if op.get_context().dialect.name != "postgresql":
        return
    for table, columns in KEYS.items():
        changes = ", ".join(
            f"ALTER COLUMN {column} TYPE {type_} COLLATE {collation}"
            for column, type_ in columns.items()
        )
        op.execute(f"ALTER TABLE {table} {changes}")
