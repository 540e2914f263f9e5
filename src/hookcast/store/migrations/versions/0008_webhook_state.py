"""webhooks.last_error_*, webhooks.next_retry_at: each webhook's latest failed attempt (its
status, error and the start of the response) and its next retry, kept with the webhook so
the dashboard, API and CLI show why it fails without reading its delivery log.

Revision ID: 0008_webhook_state
Revises: 0007_claim_fairness
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_webhook_state"
down_revision: str | None = "0007_claim_fairness"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("last_error_at", sa.BigInteger),
    ("last_error_status", sa.Integer),
    ("last_error", sa.Text),
    ("last_error_body", sa.Text),
    ("next_retry_at", sa.BigInteger),
)


def upgrade() -> None:
    # Nullable ADD COLUMN on both databases: no copy of the table.
    for name, kind in _COLUMNS:
        op.add_column("webhooks", sa.Column(name, kind(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        for name, _kind in reversed(_COLUMNS):
            batch.drop_column(name)
