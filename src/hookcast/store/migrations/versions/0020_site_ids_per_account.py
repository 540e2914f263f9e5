"""Site ids unique within their account, not across accounts: the sites table's key is
(account_id, id), and webhook_sites carries its webhook's account so that a subscription
refers to the account's own site (a deleted site leaves the webhooks of its account only).
Before, one account could create a site whose id another account would use (a platform's
own property id), and that account then got a 409 telling it the id was taken (review12).

Revision ID: 0020_site_ids_per_account
Revises: 0019_pending_horizon
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_site_ids_per_account"
down_revision: str | None = "0019_pending_horizon"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.String(8)
_OLD_REFERENCE = "fk_webhook_sites_site_id_sites"
_NEW_REFERENCE = "fk_webhook_sites_account_id_sites"


def upgrade() -> None:
    op.add_column("webhook_sites", sa.Column("account_id", _ID, nullable=True))
    op.execute(
        "UPDATE webhook_sites SET account_id = ("
        "SELECT webhooks.account_id FROM webhooks WHERE webhooks.id = webhook_sites.webhook_id)"
    )
    # A subscription to another account's site (none the API lets a webhook make: it checks
    # the ids within the account) never heard it: it would fail the new reference.
    op.execute(
        "DELETE FROM webhook_sites WHERE NOT EXISTS (SELECT 1 FROM sites"
        " WHERE sites.account_id = webhook_sites.account_id AND sites.id = webhook_sites.site_id)"
    )
    # On SQLite a batch recreates each table; migrate() runs with foreign keys off, so
    # dropping the old ones cascades nowhere (and checks the references after).
    with op.batch_alter_table("webhook_sites") as batch:
        batch.drop_constraint(_OLD_REFERENCE, type_="foreignkey")
    with op.batch_alter_table("sites") as batch:
        batch.drop_constraint("pk_sites", type_="primary")
        batch.create_primary_key("pk_sites", ["account_id", "id"])
    with op.batch_alter_table("webhook_sites") as batch:
        batch.alter_column("account_id", existing_type=_ID, nullable=False)
        batch.create_foreign_key(
            _NEW_REFERENCE,
            "sites",
            ["account_id", "site_id"],
            ["account_id", "id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    # Refused (rolled back) if two accounts now hold sites of one id: the old key cannot.
    with op.batch_alter_table("webhook_sites") as batch:
        batch.drop_constraint(_NEW_REFERENCE, type_="foreignkey")
    with op.batch_alter_table("sites") as batch:
        batch.drop_constraint("pk_sites", type_="primary")
        batch.create_primary_key("pk_sites", ["id"])
    with op.batch_alter_table("webhook_sites") as batch:
        batch.drop_column("account_id")
        batch.create_foreign_key(_OLD_REFERENCE, "sites", ["site_id"], ["id"], ondelete="CASCADE")
