"""accounts.contact_email and mail_outbox: the address HookCast e-mails before a webhook is
disabled (and when it is, and when it recovers), and the outbox those e-mails are written to
in the transaction that publishes their operational event, sent and retried from there.

Revision ID: 0013_operational_events
Revises: 0012_all_sites
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_operational_events"
down_revision: str | None = "0012_all_sites"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TIME = sa.BigInteger()  # microseconds since the epoch, as every time column (0001)


def upgrade() -> None:
    op.add_column("accounts", sa.Column("contact_email", sa.Text(), nullable=True))
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("account_id", sa.String(8), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created", _TIME, nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("lease_token", sa.String(64), nullable=True),
        sa.Column("sent_at", _TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name="fk_mail_outbox_account_id_accounts"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_mail_outbox"),
        sa.UniqueConstraint("account_id", "event_id", name="uq_mail_outbox_account_id_event_id"),
    )
    op.create_index(
        "ix_mail_outbox_due",
        "mail_outbox",
        ["next_attempt_at"],
        sqlite_where=sa.text("next_attempt_at IS NOT NULL"),
        postgresql_where=sa.text("next_attempt_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_mail_outbox_due", table_name="mail_outbox")
    op.drop_table("mail_outbox")
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("contact_email")
