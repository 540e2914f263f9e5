"""Per-webhook controls (docs/delivery.md, "Per-webhook controls"): custom headers
(webhooks.headers_encrypted), a rate limit (webhooks.rate_limit_per_second and
rate_limit_burst, and the webhook_rates table every worker admits requests through) and a
mutual-TLS client certificate (webhooks.client_certificate_encrypted).

Revision ID: 0015_webhook_controls
Revises: 0014_event_traceparent
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_webhook_controls"
down_revision: str | None = "0014_event_traceparent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhooks") as batch:
        batch.add_column(sa.Column("headers_encrypted", sa.Text(), nullable=True))
        batch.add_column(sa.Column("rate_limit_per_second", sa.Double(), nullable=True))
        batch.add_column(sa.Column("rate_limit_burst", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("client_certificate_encrypted", sa.Text(), nullable=True))
    op.create_table(
        "webhook_rates",
        sa.Column("webhook_id", sa.String(8), nullable=False),
        sa.Column("tat", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name="fk_webhook_rates_webhook_id_webhooks",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("webhook_id", name="pk_webhook_rates"),
    )


def downgrade() -> None:
    op.drop_table("webhook_rates")
    with op.batch_alter_table("webhooks") as batch:
        batch.drop_column("client_certificate_encrypted")
        batch.drop_column("rate_limit_burst")
        batch.drop_column("rate_limit_per_second")
        batch.drop_column("headers_encrypted")
