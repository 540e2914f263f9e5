"""accounts.portal_settings: the customer portal's brand (name, logo, accent colour) and the
origins that may frame it by default, as one JSON document per account (NULL: HookCast's
look, framed by nobody).

Revision ID: 0011_portal_settings
Revises: 0010_latest_wins
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_portal_settings"
down_revision: str | None = "0010_latest_wins"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("accounts", sa.Column("portal_settings", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("portal_settings")
