"""webhooks.format, webhooks.signing and accounts.flowplayer_secret_encrypted: a webhook speaks
one wire format (domain/formats) with one signature scheme; a Flowplayer-format webhook signs
with its account's organization secret, stored encrypted like webhook secrets.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing webhooks keep today's wire format and scheme through the server defaults.
    op.add_column(
        "webhooks",
        sa.Column("format", sa.String(16), nullable=False, server_default="jwplayer"),
    )
    op.add_column(
        "webhooks",
        sa.Column("signing", sa.String(16), nullable=False, server_default="hmac"),
    )
    op.add_column("accounts", sa.Column("flowplayer_secret_encrypted", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("flowplayer_secret_encrypted")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("signing")
        batch.drop_column("format")
