"""revoked_sessions: dashboard sessions signed out before their cookie expires, refused by
every server (see store/sessions.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(8), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_revoked_sessions_expires", "revoked_sessions", ["expires"])


def downgrade() -> None:
    op.drop_index("ix_revoked_sessions_expires", table_name="revoked_sessions")
    op.drop_table("revoked_sessions")
