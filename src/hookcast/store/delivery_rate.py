"""Rate-limited webhooks' buckets (domain/delivery_rate.py), shared by every worker.

One row per rate-limited webhook holds its GCRA "theoretical arrival time". An admission
reads it with a row lock (PostgreSQL's FOR UPDATE; SQLite's write transaction excludes
every other writer already), applies the pure rule and writes the new time back, so two
workers admitting requests of one webhook at once are serialised and the rate holds across
processes and machines.
"""

from __future__ import annotations

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from hookcast.domain.delivery_rate import Admission, admit
from hookcast.domain.models import DeliveryRateLimit
from hookcast.store.connector import Transaction
from hookcast.store.statement import Statement
from hookcast.store.tables import webhook_rates

__all__ = ["admit_requests", "forget_bucket"]


async def admit_requests(
    tx: Transaction, *, webhook_id: str, limit: DeliveryRateLimit, now: float, count: int
) -> Admission:
    """How many of `count` requests of `webhook_id` may go at `now` (seconds since the
    epoch); the bucket counts those. Must run in a write transaction."""
    tat = await _locked_tat(tx, webhook_id)
    if tat is None:
        # First use: a full bucket. ON CONFLICT: another worker's first use came first.
        await tx.execute(_CREATE, {"webhook_id": webhook_id, "tat": now})
        tat = await _locked_tat(tx, webhook_id)
    admission = admit(limit, tat=tat, now=now, count=count)
    if admission.granted:
        await tx.execute(_MOVE, {"b_id": webhook_id, "b_tat": admission.tat})
    return admission


async def forget_bucket(tx: Transaction, webhook_id: str) -> None:
    """Starts the webhook's bucket afresh (full): on every change to the webhook, so a `tat`
    left by a slower limit (0.01/s with a burst of 1,000 puts it a day ahead) does not hold
    back a limit just raised."""
    await tx.execute(_FORGET, {"b_id": webhook_id})


async def _locked_tat(tx: Transaction, webhook_id: str) -> float | None:
    row = await tx.fetch_one(_TAT, {"b_id": webhook_id})
    return None if row is None else float(row[0])


def _create(database: str) -> Insert:
    insert = postgresql.insert if database == "postgresql" else sqlite.insert
    return insert(webhook_rates).on_conflict_do_nothing(index_elements=[webhook_rates.c.webhook_id])


_THIS = webhook_rates.c.webhook_id == bindparam("b_id")
_TAT = Statement(lambda _: select(webhook_rates.c.tat).where(_THIS).with_for_update())
_CREATE = Statement(_create)
_MOVE = Statement(lambda _: update(webhook_rates).where(_THIS).values(tat=bindparam("b_tat")))
_FORGET = Statement(lambda _: delete(webhook_rates).where(_THIS))
