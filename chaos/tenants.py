"""Each tenant's accepted events as the database has them at the end of a run: delivered,
failed (given up, with the reason its user sees on the delivery), or undelivered (still
pending, or never made into a delivery: lost).

The receivers' ledger says what arrived; this says what HookCast holds. A tenant whose
receivers do not count what they get (account A's, in the noisy-neighbour scenario) is
judged on this alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from hookcast.domain.models import FINISHED_STATUSES, DeliveryStatus

# One row per delivery of the account: its event, its status and, unless it succeeded, the
# outcome of its last attempt (the error, or `HTTP <status>`; NULL when never attempted).
_DELIVERIES = (
    "SELECT d.event_id, d.status, CASE WHEN d.status = 'succeeded' THEN NULL ELSE"
    " (SELECT coalesce(a.error, 'HTTP ' || a.status_code) FROM attempts a"
    " WHERE a.delivery_id = d.id ORDER BY a.number DESC LIMIT 1) END"
    " FROM deliveries d WHERE d.account_id = {param}"
)
_ACCOUNT_OF_SITE = "SELECT account_id FROM sites WHERE id = {param}"
_REASON_CHARS = 80  # a reason's text in the report (an error can name a long host)
_NO_DELIVERY = "no delivery"  # an accepted event the database holds no delivery of: lost


@dataclass(frozen=True)
class TenantCount:
    """One tenant's accepted events and their deliveries (one per event and webhook it
    matches) at one moment."""

    accepted: int  # events
    deliveries: int  # expected: each accepted event to each webhook it matches
    delivered: int
    failed: Counter[str] = field(default_factory=Counter)  # by the reason a user sees
    undelivered: Counter[str] = field(default_factory=Counter)  # by status, or "no delivery"

    @property
    def settled(self) -> bool:
        """Nothing undelivered: every delivery succeeded or was given up."""
        return not self.undelivered

    def problems(self, tenant: str) -> list[str]:
        """What the run fails on: a delivery neither delivered nor failed, and a failure
        whose user is told no reason."""
        found = []
        if self.undelivered:
            found.append(f"{tenant}: {sum(self.undelivered.values())} undelivered {self.report()}")
        if self.failed.get("", 0):
            found.append(f"{tenant}: {self.failed['']} failed without a reason recorded")
        return found

    def report(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "deliveries": self.deliveries,
            "delivered": self.delivered,
            "failed": sum(self.failed.values()),
            "undelivered": sum(self.undelivered.values()),
            "failed_by_reason": dict(self.failed.most_common(8)),
            "undelivered_by_state": dict(self.undelivered),
        }


def tally(matches: Mapping[str, int], rows: list[tuple[str, str, str | None]]) -> TenantCount:
    """`matches`: each accepted event and how many webhooks it matches; `rows`: the
    account's deliveries as (event id, status, last attempt's outcome). Deliveries of
    events not accepted (a publish whose answer never came) are left out."""
    failed: Counter[str] = Counter()
    undelivered: Counter[str] = Counter()
    held: Counter[str] = Counter()
    delivered = 0
    for event_id, status, reason in rows:
        if event_id not in matches:
            continue
        held[event_id] += 1
        if status == DeliveryStatus.SUCCEEDED:
            delivered += 1
        elif status in FINISHED_STATUSES:
            failed[(reason or "")[:_REASON_CHARS]] += 1
        else:
            undelivered[_state(status, reason)] += 1
    lost = sum(max(0, n - held[event_id]) for event_id, n in matches.items())
    if lost:
        undelivered[_NO_DELIVERY] = lost
    return TenantCount(
        accepted=len(matches),
        deliveries=sum(matches.values()),
        delivered=delivered,
        failed=failed,
        undelivered=undelivered,
    )


def _state(status: str, reason: str | None) -> str:
    """An undelivered delivery's state: its status, and its last attempt's outcome if any."""
    return status if reason is None else f"{status}, last: {reason}"[:_REASON_CHARS]


async def count(database_url: str, account_id: str, matches: Mapping[str, int]) -> TenantCount:
    """The account's accepted events (`matches`, as for `tally`) as the database has them."""
    return tally(matches, await fetch(database_url, _DELIVERIES, account_id))


async def settled(
    database_url: str, account_id: str, matches: Mapping[str, int], deadline: float
) -> tuple[TenantCount, float]:
    """Counts until nothing is undelivered or `deadline` seconds have passed; returns the
    last count and the seconds waited."""
    began = time.monotonic()
    while True:
        found = await count(database_url, account_id, matches)
        waited = time.monotonic() - began
        if found.settled or waited >= deadline:
            return found, waited
        await asyncio.sleep(2.0)  # each count reads every delivery of the account


async def account_of_site(database_url: str, site_id: str) -> str:
    """The account a site belongs to (a deployment's bootstrap names its site, not its
    account)."""
    ((account_id,),) = await fetch(database_url, _ACCOUNT_OF_SITE, site_id)
    return str(account_id)


async def fetch(database_url: str, query: str, value: str) -> list[tuple[Any, ...]]:
    """`query`'s rows, `{param}` in it standing for `value`, on SQLite or PostgreSQL."""
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[1]
        return await asyncio.to_thread(_sqlite_rows, path, query, value)
    conn = await asyncpg.connect(database_url, timeout=10)
    try:
        return [tuple(row) for row in await conn.fetch(query.format(param="$1"), value)]
    finally:
        await conn.close()


def _sqlite_rows(path: str, query: str, value: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
        return db.execute(query.format(param="?"), (value,)).fetchall()
