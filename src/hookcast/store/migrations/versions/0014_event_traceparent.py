"""Traces from publish to the receiver (docs/operations.md, "Traces").

events.traceparent: the W3C traceparent of the publish's fan-out span, so that attempts made
later, by any worker, continue the publisher's trace. NULL for events published untraced.

Revision ID: 0014_event_traceparent
Revises: 0013_operational_events
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_event_traceparent"
down_revision: str | None = "0013_operational_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("traceparent")
