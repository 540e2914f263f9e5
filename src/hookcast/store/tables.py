"""The schema, as SQLAlchemy Core tables. Alembic migrations (migrations/versions) create it;
a contract test checks the two never drift apart. Ids, references to them and the other keys
are `byte_ordered`: compared as bytes on both databases ("C" on PostgreSQL, migration 0021;
tests/contract/test_store_keys_in_byte_order.py checks the two agree on it). Documents no
statement filters, joins or sorts on keep no planner statistics on PostgreSQL (`UNANALYZED`,
migration 0022), and deliveries' other columns few (`DELIVERY_STATISTICS`, migration 0024;
tests/contract/test_store_statistics_targets.py checks both)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
)

from hookcast.store.types import JsonText, Timestamp, byte_ordered

__all__ = [
    "ATTEMPT_COLUMNS",
    "DELIVERY_STATISTICS",
    "UNANALYZED",
    "accounts",
    "api_keys",
    "attempts",
    "deliveries",
    "delivery_chains",
    "delivery_horizon",
    "events",
    "mail_outbox",
    "metadata",
    "resource_sequences",
    "sites",
    "statistics_targets",
    "unanalyzed",
    "webhook_events",
    "webhook_rates",
    "webhook_sites",
    "webhooks",
    "workers",
]

_ID = 8  # resource ids: 8 letters and digits
_EVENT_ID = 128
_DELIVERY_ID = 32
_STATUS = 16
_WORKER_ID = 32
_RESOURCE_KEY = 160  # "media:" or "channel:" and a resource id of up to 128 characters
_COALESCE_KEY = 200  # an event type, "|", and a resource key
_TRACEPARENT = 55  # W3C version 00: "00-" 32 hex "-" 16 hex "-" 2 hex

# A column's info marking it as one PostgreSQL gathers no statistics on (SET STATISTICS 0,
# migration 0022; store/partitions.py sets it on each day partition it makes): a JSON
# document or a body that no statement compares with a planned operator. ANALYZE (autovacuum's,
# and store/statistics.py's as the tables grow) otherwise sorts a sample of up to 30,000 of
# them in the database's collation: on an en_US.UTF-8 database strcoll made ANALYZE of
# 25,000 events 4.8 times as dear as on C.UTF-8 (249 against 52 ms, 230 of it `data` and
# `resource_ids`), and without them PostgreSQL's CPU per event published in batches there is
# 0.845 times what it was (0.796-0.863, 6 pairs; docs/benchmarks/postgres-delivery.md, "Statistics
# only where a plan reads them").
UNANALYZED = {"statistics": 0}

# The deliveries' statistics target on PostgreSQL, for every column (the table's info;
# migration 0024; store/partitions.py sets it on each day partition): ANALYZE samples 300
# rows per unit of target, so 3,000 rows instead of the default 30,000. Autovacuum analyzes
# today's partition after every 2% of its rows change (migration 0016), in a busy day once
# a minute, and store/statistics.py as the events double; of a 50,000-row day that cost
# 120-140 ms of CPU at the default target and 13-17 ms at 10 (in the bench's drain one
# such ANALYZE lands in every run on a loaded machine). The plans that read these
# statistics need few values: five statuses, row counts, and ranges of due and creation
# times within one day (docs/benchmarks/postgres-delivery.md, "Where PostgreSQL's work goes,
# by statement, table and process").
DELIVERY_STATISTICS = {"statistics": 10}


def statistics_targets(table: Table) -> dict[str, int]:
    """`table`'s columns with a statistics target of their own (a column's info, else the
    table's), by name."""
    found = {}
    for column in table.columns:
        target = column.info.get("statistics", table.info.get("statistics"))
        if target is not None:
            found[column.name] = int(target)
    return found


def unanalyzed(table: Table) -> list[str]:
    """The names of `table`'s columns marked UNANALYZED."""
    return [name for name, target in statistics_targets(table).items() if target == 0]


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = Table(
    "accounts",
    metadata,
    Column("id", byte_ordered(_ID), primary_key=True),
    Column("name", Text, nullable=False),
    Column("created", Timestamp, nullable=False),
    # Moved by every change to the account's keys, sites or webhooks (store/accounts.py).
    Column("config_version", BigInteger, nullable=False, server_default="0"),
    # The Flowplayer organization secret (Fernet, as webhook secrets): signs every
    # Flowplayer-format webhook of the account; none set means they are held, not sent.
    Column("flowplayer_secret_encrypted", Text, nullable=True),
    # The customer portal's brand and default frame-ancestors (JSON; store/accounts.py).
    Column("portal_settings", Text, nullable=True),
    # Where HookCast e-mails a webhook's disable warning, disable and recovery (NULL: nowhere).
    Column("contact_email", Text, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", byte_ordered(_ID), primary_key=True),
    Column("account_id", byte_ordered(_ID), ForeignKey("accounts.id"), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("role", String(_STATUS), nullable=False),
    Column("secret_hash", byte_ordered(128), nullable=False, unique=True),
    Column("created", Timestamp, nullable=False),
    Column("last_used", Timestamp, nullable=True),
)

sites = Table(
    "sites",
    metadata,
    Column("id", byte_ordered(_ID), nullable=False),
    Column("account_id", byte_ordered(_ID), ForeignKey("accounts.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("created", Timestamp, nullable=False),
    Column("last_modified", Timestamp, nullable=False),
    # Unique within its account: a client may choose the id (its own platform's property
    # id), and events name their site by id within the account that publishes them.
    # Unique across accounts until migration 0020, one account could take an id another
    # would use, which then got a 409 telling it someone had (review12).
    PrimaryKeyConstraint("account_id", "id"),
    Index(None, "account_id", "created"),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", byte_ordered(_ID), primary_key=True),
    Column("account_id", byte_ordered(_ID), ForeignKey("accounts.id"), nullable=False),
    # Listed in byte order on both databases (store/webhooks.py): its index is kept so too.
    Column("name", byte_ordered(), nullable=False),
    Column("description", Text, nullable=False),
    Column("webhook_url", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text, nullable=True),
    Column("conditions", JsonText, nullable=True),
    Column("retry_policy", JsonText, nullable=False),  # {"name": ..., "delays": [...]}
    Column("timeout_seconds", Integer, nullable=False),
    Column("ordering", String(_STATUS), nullable=False, server_default="none"),
    Column("coalesce_updates", Boolean, nullable=False, server_default=false()),
    Column("max_age_seconds", JsonText, nullable=True),  # {"channel_active": 600}; NULL: none
    Column("secret_encrypted", Text, nullable=False),
    Column("previous_secret_encrypted", Text, nullable=True),
    Column("previous_secret_expires", Timestamp, nullable=True),
    Column("last_success", Timestamp, nullable=True),
    Column("failing_since", Timestamp, nullable=True),
    Column("created", Timestamp, nullable=False),
    Column("last_modified", Timestamp, nullable=False),
    Column("format", String(_STATUS), nullable=False, server_default="jwplayer"),
    Column("signing", String(_STATUS), nullable=False, server_default="hmac"),
    # Every property of the account, those created later too (webhook_sites then has none).
    Column("all_sites", Boolean, nullable=False, server_default=false()),
    # The latest failed attempt and the next retry (domain.models.LastError): written only
    # with attempt outcomes (store/webhooks.py apply_health), so every page shows why a
    # webhook fails without reading its deliveries.
    Column("last_error_at", Timestamp, nullable=True),
    Column("last_error_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("last_error_body", Text, nullable=True),
    Column("next_retry_at", Timestamp, nullable=True),
    # Per-webhook controls (migration 0015): the custom headers as one Fernet token of their
    # JSON (values are secrets), the rate limit, and the mTLS client certificate and key as
    # one Fernet token of their JSON. NULL: none.
    Column("headers_encrypted", Text, nullable=True),
    Column("rate_limit_per_second", Double, nullable=True),
    Column("rate_limit_burst", Integer, nullable=True),
    Column("client_certificate_encrypted", Text, nullable=True),
    # When the current run of held deliveries was told (webhook_held; migration 0017): moved
    # only by store/operational.py announce_held, from the value it read, so a run is told
    # once however many publishes begin it at once. Not part of the Webhook model.
    Column("held_announced_at", Timestamp, nullable=True),
    # One index per sort order the webhook list offers, scoped to the account.
    Index(None, "account_id", "created"),
    Index(None, "account_id", "last_modified"),
    Index(None, "account_id", "name"),
)

# A rate-limited webhook's bucket (domain/delivery_rate.py): the GCRA "theoretical arrival
# time" in seconds since the epoch, shared by every worker. Written only by admissions.
webhook_rates = Table(
    "webhook_rates",
    metadata,
    Column(
        "webhook_id",
        byte_ordered(_ID),
        ForeignKey("webhooks.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tat", Double, nullable=False),
)

# Subscriptions live in their own tables so "webhooks for event X / site Y" is an indexed
# lookup; `position` keeps the order the customer gave.
webhook_events = Table(
    "webhook_events",
    metadata,
    Column(
        "webhook_id",
        byte_ordered(_ID),
        ForeignKey("webhooks.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("event", byte_ordered(64), nullable=False),
    Index(None, "event", "webhook_id"),
)

webhook_sites = Table(
    "webhook_sites",
    metadata,
    Column(
        "webhook_id",
        byte_ordered(_ID),
        ForeignKey("webhooks.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("account_id", byte_ordered(_ID), nullable=False),  # the webhook's: its sites are its own
    Column("site_id", byte_ordered(_ID), nullable=False),
    ForeignKeyConstraint(
        ["account_id", "site_id"], ["sites.account_id", "sites.id"], ondelete="CASCADE"
    ),
    Index(None, "site_id", "webhook_id"),
)

events = Table(
    "events",
    metadata,
    Column("account_id", byte_ordered(_ID), ForeignKey("accounts.id"), primary_key=True),
    Column("id", byte_ordered(_EVENT_ID), primary_key=True),
    # Not a foreign key: events are an immutable log and outlive a deleted site.
    Column("site_id", byte_ordered(_ID), nullable=False),
    Column("type", String(64), nullable=False),
    # Filtered by strpos() (store/events.py has_resource_id), a function whose selectivity
    # the planner estimates without the column's statistics.
    Column("resource_ids", JsonText, nullable=False, info=UNANALYZED),
    Column("event_time", Timestamp, nullable=False),
    Column("data", JsonText, nullable=True, info=UNANALYZED),
    Column("created", Timestamp, nullable=False),
    # Per (account, resource) publish number (resource_sequences); NULL for events about no
    # resource, and for events stored before sequences existed.
    Column("sequence", BigInteger, nullable=True),
    # The W3C traceparent of the publish's fan-out span (ports/tracing.py); NULL when the
    # publishing process does not trace.
    Column("traceparent", String(_TRACEPARENT), nullable=True),
    Index(None, "account_id", "created"),
)

# The last sequence number given to each (account, resource): bumped once per resource per
# publish transaction (store/sequences.py), whose row lock orders concurrent publishes.
resource_sequences = Table(
    "resource_sequences",
    metadata,
    Column("account_id", byte_ordered(_ID), ForeignKey("accounts.id"), primary_key=True),
    Column("resource_key", byte_ordered(_RESOURCE_KEY), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", byte_ordered(_DELIVERY_ID), primary_key=True),
    Column("account_id", byte_ordered(_ID), nullable=False),
    Column("event_id", byte_ordered(_EVENT_ID), nullable=False),
    Column(
        "webhook_id",
        byte_ordered(_ID),
        ForeignKey("webhooks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("status", String(_STATUS), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Timestamp, nullable=False),
    # A lease (store/deliveries.py claim_due): its token, its worker and its expiry, in
    # columns no index holds, so that taking a lease on PostgreSQL is a HOT update (the row's
    # new version on its own page, no index touched) and moves no index entry on SQLite.
    # The delivery is leased while `lease_token` is set and `lease_until` has not passed;
    # `next_attempt_at` keeps the due time it was claimed at (migration 0018).
    Column("lease_token", String(64), nullable=True),
    # The worker holding the lease (store/workers.py): its leases are taken back as soon as
    # it stops beating. Leases lost that way or by expiry are counted; see claim_due.
    Column("lease_worker", byte_ordered(_WORKER_ID), nullable=True),
    Column("lease_until", Timestamp, nullable=True),
    Column("lease_losses", Integer, nullable=False, server_default="0"),
    Column("last_status_code", Integer, nullable=True),
    Column("created", Timestamp, nullable=False),
    Column("completed_at", Timestamp, nullable=True),
    # Ordered webhooks only (NULL otherwise): the event's resource and sequence, the order
    # waiting deliveries are made due in (store/chains.py). The sequence is also set on
    # coalescing deliveries: the newest of a coalesce key wins (domain/freshness.py).
    Column("resource_key", byte_ordered(_RESOURCE_KEY), nullable=True),
    Column("sequence", BigInteger, nullable=True),
    # Coalescing webhooks' `*_updated` deliveries only: event type and resource.
    Column("coalesce_key", byte_ordered(_COALESCE_KEY), nullable=True),
    # The token of the lease last taken back from a worker found dead (store/workers.py
    # take_back), counted as a loss: that worker, come back alive, disowns the loss of a
    # lease it held queued, unsent (store/deliveries.py disown_losses). Migration 0023.
    Column("lost_lease", String(64), nullable=True),
    # A test or example a person sent to this one webhook (services/deliveries.py
    # `send_example`), which goes even while the webhook is disabled: no walk pauses it
    # (store/pausable.py). Left to its default by every publish's INSERT (`written_columns`), set
    # after it for these alone (store/deliveries.py `mark_by_hand`). Migration 0026.
    Column("by_hand", Boolean, nullable=False, server_default=false(), info={"defaulted": True}),
    # One delivery per (webhook, event). Event first: the same index serves "deliveries of
    # these events" (per-event counts), saving a sixth index on the hottest table.
    UniqueConstraint("event_id", "webhook_id"),
    # No foreign key to events: a delivery is inserted in its event's transaction and an
    # event is pruned only once no delivery refers to it (migration 0016 says why).
    # Claims scan only pending rows in due order; the partial index stays as small as the
    # backlog instead of growing with the whole delivery history.
    Index(
        "ix_deliveries_due",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    # A fair claim (store/fair_claim.py) walks the accounts with pending rows and takes each
    # one's oldest due: one probe each, however large one account's backlog.
    Index(
        "ix_deliveries_account_due",
        "account_id",
        "next_attempt_at",
        sqlite_where=text("status = 'pending'"),
        postgresql_where=text("status = 'pending'"),
    ),
    Index(None, "webhook_id", "created"),
    # A webhook's held deliveries (held while it was disabled) in publish order: counted on
    # every webhook page, released or discarded together.
    Index(
        "ix_deliveries_held",
        "webhook_id",
        "created",
        sqlite_where=text("status = 'held'"),
        postgresql_where=text("status = 'held'"),
    ),
    # A webhook's paused deliveries (migration 0025): whether it has one, or all of them, read
    # by a resume on PostgreSQL (every save of an enabled webhook) and the start-up sweep
    # for walks cut short (store/cut_short.py) without reading its whole history. No entry
    # for a pending or finished delivery: the hot path's rows never enter it.
    Index(
        "ix_deliveries_paused",
        "webhook_id",
        sqlite_where=text("status = 'paused'"),
        postgresql_where=text("status = 'paused'"),
    ),
    # A coalescing webhook's deliveries of one update key: the older ones a new one supersedes.
    Index(
        "ix_deliveries_coalesce",
        "webhook_id",
        "coalesce_key",
        "sequence",
        sqlite_where=text("coalesce_key IS NOT NULL"),
        postgresql_where=text("coalesce_key IS NOT NULL"),
    ),
    # An ordered webhook's waiting deliveries per resource, lowest sequence first: the next
    # one to make due when a chain's head finishes.
    Index(
        "ix_deliveries_waiting",
        "webhook_id",
        "resource_key",
        "sequence",
        sqlite_where=text("status = 'waiting'"),
        postgresql_where=text("status = 'waiting'"),
    ),
    info=DELIVERY_STATISTICS,
)

# One row per (ordered webhook, resource) with an unfinished delivery: `head_id` is the one
# that may be sent (pending, or paused), the others wait. Publishes and completions lock the
# row, so a publish adding to a chain and the completion ending it cannot miss each other.
delivery_chains = Table(
    "delivery_chains",
    metadata,
    Column(
        "webhook_id",
        byte_ordered(_ID),
        ForeignKey("webhooks.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("resource_key", byte_ordered(_RESOURCE_KEY), primary_key=True),
    Column("head_id", byte_ordered(_DELIVERY_ID), nullable=True, unique=True),
)

# PostgreSQL: one row, `pending_since`, the start of a day no pending delivery was created
# before, so a claim plans only the day partitions from it on (store/horizon.py; migration
# 0019's trigger moves it down). SQLite has no partitions and never reads it.
delivery_horizon = Table(
    "delivery_horizon",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),  # always 1
    Column("pending_since", BigInteger, nullable=False),  # µs since the epoch, a day's start
)

# Delivering processes and their heartbeats (store/workers.py).
workers = Table(
    "workers",
    metadata,
    Column("id", byte_ordered(_WORKER_ID), primary_key=True),
    Column("started", Timestamp, nullable=False),
    Column("last_seen", Timestamp, nullable=False),
)

# On PostgreSQL (day partitions, migrations 0016 and 0019) the primary key is
# (delivery_id, id, started_at) and stands in for the delivery_id index: one index entry
# per attempt, not two.
attempts = Table(
    "attempts",
    metadata,
    # 64-bit on PostgreSQL (10k attempts/s would exhaust 32 bits in days); SQLite needs
    # exactly INTEGER for a rowid alias.
    Column(
        "id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    Column(
        "delivery_id",
        byte_ordered(_DELIVERY_ID),
        ForeignKey("deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("number", Integer, nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("request_headers", JsonText, nullable=False, info=UNANALYZED),
    Column("status_code", Integer, nullable=True),
    Column("latency_ms", Float, nullable=False),
    Column("response_body", Text, nullable=False, info=UNANALYZED),
    Column("error", Text, nullable=True, info=UNANALYZED),
)

# What recording an attempt writes, in this order (SQLite's recording binds its rows by
# position in it): every column but the generated id, named here rather than taken from
# the table, so that reordering the table's columns cannot misalign those rows.
ATTEMPT_COLUMNS = (
    "delivery_id",
    "number",
    "started_at",
    "request_headers",
    "status_code",
    "latency_ms",
    "response_body",
    "error",
)

# E-mails to accounts' contact addresses, written in the transaction that publishes their
# operational event (store/mail.py) and sent from here by the mailer (delivery/mailer.py):
# one per (account, event). `next_attempt_at` is NULL once sent or given up.
mail_outbox = Table(
    "mail_outbox",
    metadata,
    Column("id", byte_ordered(_DELIVERY_ID), primary_key=True),
    Column("account_id", byte_ordered(_ID), ForeignKey("accounts.id"), nullable=False),
    Column("event_id", byte_ordered(_EVENT_ID), nullable=False),
    Column("recipient", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created", Timestamp, nullable=False),
    Column("next_attempt_at", Timestamp, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("lease_token", String(64), nullable=True),
    Column("sent_at", Timestamp, nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("account_id", "event_id"),
    Index(
        "ix_mail_outbox_due",
        "next_attempt_at",
        sqlite_where=text("next_attempt_at IS NOT NULL"),
        postgresql_where=text("next_attempt_at IS NOT NULL"),
    ),
)


def written_columns(table: Table) -> tuple[Column[Any], ...]:
    """The columns an INSERT of `table` gives, in its order: those marked `defaulted` are
    left to their default (a publish binds nothing more per delivery for them)."""
    return tuple(column for column in table.columns if not column.info.get("defaulted"))
