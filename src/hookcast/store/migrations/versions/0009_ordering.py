"""Per-resource order and sequence numbers (docs/delivery.md, "Order per resource").

webhooks.ordering ("none" or "resource"); events.sequence and resource_sequences, the last
number given per (account, resource); deliveries.resource_key / sequence and
ix_deliveries_waiting for ordered webhooks' waiting deliveries; delivery_chains, one row per
(ordered webhook, resource) with an unfinished delivery.

Revision ID: 0009_ordering
Revises: 0008_webhook_state
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_ordering"
down_revision: str | None = "0008_webhook_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WAITING = sa.text("status = 'waiting'")
_RESOURCE_KEY = 160


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(
            sa.Column("ordering", sa.String(16), nullable=False, server_default="none")
        )
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("sequence", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("resource_key", sa.String(_RESOURCE_KEY), nullable=True))
        batch.add_column(sa.Column("sequence", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_deliveries_waiting",
        "deliveries",
        ["webhook_id", "resource_key", "sequence"],
        sqlite_where=_WAITING,
        postgresql_where=_WAITING,
    )
    op.create_table(
        "resource_sequences",
        sa.Column("account_id", sa.String(8), nullable=False),
        sa.Column("resource_key", sa.String(_RESOURCE_KEY), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name="fk_resource_sequences_account_id_accounts",
        ),
        sa.PrimaryKeyConstraint("account_id", "resource_key", name="pk_resource_sequences"),
    )
    op.create_table(
        "delivery_chains",
        sa.Column("webhook_id", sa.String(8), nullable=False),
        sa.Column("resource_key", sa.String(_RESOURCE_KEY), nullable=False),
        sa.Column("head_id", sa.String(32), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name="fk_delivery_chains_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("webhook_id", "resource_key", name="pk_delivery_chains"),
        sa.UniqueConstraint("head_id", name="uq_delivery_chains_head_id"),
    )


def downgrade() -> None:
    op.drop_table("delivery_chains")
    op.drop_table("resource_sequences")
    op.drop_index("ix_deliveries_waiting", table_name="deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("sequence")
        batch.drop_column("resource_key")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("sequence")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("ordering")
