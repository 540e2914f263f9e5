"""deliveries' partial index on pending rows' (account_id, next_attempt_at): a claim takes
each account's share of its due deliveries before the oldest of anyone's, finding the
accounts and their oldest due with one index probe each (store/fair_claim.py).

Revision ID: 0007_claim_fairness
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_claim_fairness"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Partial: as small as the backlog of pending rows, not the whole delivery history.
    op.create_index(
        "ix_deliveries_account_due",
        "deliveries",
        ["account_id", "next_attempt_at"],
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_account_due", table_name="deliveries")
