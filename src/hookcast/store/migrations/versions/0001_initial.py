"""The initial schema: accounts, keys, sites, webhooks, events, deliveries, attempts.

Timestamps are BigInteger microseconds since the epoch, JSON is Text (see store/types.py).

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(8)
_TIME = sa.BigInteger()
_PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    _accounts_and_sites()
    _webhooks()
    _events_and_deliveries()


def _accounts_and_sites() -> None:
    op.create_table(
        "accounts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("created", _TIME, nullable=False),
        sa.Column("last_used", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_api_keys_account_id_accounts"
        ),
        sa.UniqueConstraint("secret_hash", name="uq_api_keys_secret_hash"),
    )
    op.create_index("ix_api_keys_account_id", "api_keys", ["account_id"])
    op.create_table(
        "sites",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created", _TIME, nullable=False),
        sa.Column("last_modified", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sites"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_sites_account_id_accounts"
        ),
    )
    op.create_index("ix_sites_account_id_created", "sites", ["account_id", "created"])


def _webhooks() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("webhook_url", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("conditions", sa.Text(), nullable=True),
        sa.Column("retry_policy", sa.Text(), nullable=False),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("previous_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("previous_secret_expires", _TIME, nullable=True),
        sa.Column("last_success", _TIME, nullable=True),
        sa.Column("failing_since", _TIME, nullable=True),
        sa.Column("created", _TIME, nullable=False),
        sa.Column("last_modified", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_webhooks_account_id_accounts"
        ),
    )
    for column in ("created", "last_modified", "name"):
        op.create_index(f"ix_webhooks_account_id_{column}", "webhooks", ["account_id", column])
    op.create_table(
        "webhook_events",
        sa.Column("webhook_id", _ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", "position", name="pk_webhook_events"),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name="fk_webhook_events_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_webhook_events_event_webhook_id", "webhook_events", ["event", "webhook_id"])
    op.create_table(
        "webhook_sites",
        sa.Column("webhook_id", _ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("site_id", _ID, nullable=False),
        sa.PrimaryKeyConstraint("webhook_id", "position", name="pk_webhook_sites"),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name="fk_webhook_sites_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name="fk_webhook_sites_site_id_sites", ondelete="CASCADE"
        ),
    )
    op.create_index(
        "ix_webhook_sites_site_id_webhook_id", "webhook_sites", ["site_id", "webhook_id"]
    )


def _events_and_deliveries() -> None:
    op.create_table(
        "events",
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("site_id", _ID, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("resource_ids", sa.Text(), nullable=False),
        sa.Column("event_time", _TIME, nullable=False),
        sa.Column("data", sa.Text(), nullable=True),
        sa.Column("created", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("account_id", "id", name="pk_events"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_events_account_id_accounts"
        ),
    )
    op.create_index("ix_events_account_id_created", "events", ["account_id", "created"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("webhook_id", _ID, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=False),
        sa.Column("lease_token", sa.String(64), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("created", _TIME, nullable=False),
        sa.Column("completed_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.UniqueConstraint("event_id", "webhook_id", name="uq_deliveries_event_id_webhook_id"),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name="fk_deliveries_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["account_id", "event_id"],
            ["events.account_id", "events.id"],
            name="fk_deliveries_event",
        ),
    )
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )
    op.create_index("ix_deliveries_webhook_id_created", "deliveries", ["webhook_id", "created"])
    op.create_table(
        "attempts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("delivery_id", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("request_headers", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_attempts"),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name="fk_attempts_delivery_id_deliveries",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_attempts_delivery_id", "attempts", ["delivery_id"])


def downgrade() -> None:
    for table in (
        "attempts",
        "deliveries",
        "events",
        "webhook_sites",
        "webhook_events",
        "webhooks",
        "sites",
        "api_keys",
        "accounts",
    ):
        op.drop_table(table)
