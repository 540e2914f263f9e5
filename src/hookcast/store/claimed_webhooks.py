"""The claimed deliveries' webhooks on PostgreSQL, kept between claims while their
accounts' configuration versions stand.

Loading a claim's webhooks took three statements per claim (the rows, their events, their
sites) and decrypted every secret again, whatever changed since the last claim: usually
nothing. Every change to a webhook, its subscriptions, its account's sites or the account's
Flowplayer secret moves the account's configuration version in the same transaction
(store/accounts.py), the worker's disabling too. So a claim reads each claimed webhook's
account version with what recording outcomes writes without moving it (the last success,
failing since, last error, next retry; `STANDING_COLUMNS`), in the claim statement itself
(store/deliveries.py: it was a statement after each claim, a round trip per event at 50
events/s): a webhook kept under the version read is that webhook with those columns as
they are now; any other is loaded and kept. An edit, pause or deletion is therefore seen by
the next claim, as before.

The version is read before a webhook is loaded: one changed in between is kept under the
older version and loaded again next time, never the reverse. SQLite's claims load their
webhooks as they did: they hold the one writer lock, and their statements are another
engineer's. A worker's look for edits (`current`, delivery/edits.py) keeps them on both.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, select

from hookcast.domain.models import Webhook
from hookcast.store.connector import Transaction
from hookcast.store.crypto import SecretBox
from hookcast.store.rows import Row, last_error_from_row
from hookcast.store.sql import in_list
from hookcast.store.statement import Statement
from hookcast.store.tables import accounts, webhooks
from hookcast.store.webhooks import load_webhooks

__all__ = ["STANDING_COLUMNS", "ClaimedWebhooks"]

# Webhooks kept at most; past it all are forgotten and loaded again as claims need them.
_KEPT = 10_000


class ClaimedWebhooks:
    """One process's claimed webhooks, by id, each with the account version it was loaded
    under."""

    def __init__(self, box: SecretBox) -> None:
        """Webhooks whose secrets `box` decrypts."""
        self._box = box
        self._kept: dict[str, tuple[int, Webhook]] = {}

    async def load(self, tx: Transaction, webhook_ids: Collection[str]) -> dict[str, Webhook]:
        """The webhooks with these ids, by id, as they are in `tx` (module docstring)."""
        if tx.database != "postgresql":
            return await load_webhooks(tx, webhook_ids=webhook_ids, box=self._box)
        return await self.current(tx, webhook_ids)

    async def current(self, tx: Transaction, webhook_ids: Collection[str]) -> dict[str, Webhook]:
        """As `load`, kept under their versions on SQLite too: what a worker compares its
        queued deliveries' webhooks with every second (delivery/edits.py), one statement
        while nothing changed instead of loading and decrypting them all again."""
        rows = await tx.fetch_mappings(_STANDING, {"ids": sorted(webhook_ids)})
        return await self.standing(tx, rows)

    async def standing(self, tx: Transaction, rows: Iterable[Row]) -> dict[str, Webhook]:
        """As `current`, from rows of `STANDING_COLUMNS` read already (PostgreSQL's claim
        returns them with its rows: store/deliveries.py)."""
        found: dict[str, Webhook] = {}
        versions: dict[str, int] = {}
        for row in rows:
            kept = self._kept.get(row["id"])
            if kept is not None and kept[0] == row["config_version"]:
                found[row["id"]] = _with_outcomes(kept[1], row)
            else:
                versions[row["id"]] = row["config_version"]
        if versions:
            loaded = await load_webhooks(tx, webhook_ids=versions, box=self._box)
            if len(self._kept) + len(loaded) > _KEPT:
                self._kept.clear()
            for webhook_id, webhook in loaded.items():
                self._kept[webhook_id] = (versions[webhook_id], webhook)
            found |= loaded
        return found


def _with_outcomes(webhook: Webhook, row: Row) -> Webhook:
    """`webhook` with the columns recording outcomes writes as `row` has them."""
    return replace(
        webhook,
        last_success=row["last_success"],
        failing_since=row["failing_since"],
        last_error=last_error_from_row(row),
        next_retry_at=row["next_retry_at"],
    )


# What `standing` reads of a webhook: its account's version and what recording outcomes
# writes without moving it (joined to `accounts` on the webhook's account).
STANDING_COLUMNS: tuple[ColumnElement[Any], ...] = (
    webhooks.c.id,
    accounts.c.config_version,
    webhooks.c.last_success,
    webhooks.c.failing_since,
    webhooks.c.last_error_at,
    webhooks.c.last_error_status,
    webhooks.c.last_error,
    webhooks.c.last_error_body,
    webhooks.c.next_retry_at,
)

_STANDING = Statement(
    lambda database: (
        select(*STANDING_COLUMNS)
        .join_from(webhooks, accounts, accounts.c.id == webhooks.c.account_id)
        .where(in_list(database, column=webhooks.c.id))
    )
)
