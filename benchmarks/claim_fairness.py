"""python -m benchmarks.claim_fairness: what fair claims cost and what they buy.

    claim    --database URL [--backlog N] [--rounds R]
        Account A has N due deliveries, 20 other accounts 3 each, newer than all of A's.
        Each round claims 512 oldest-first (per_account=0) and 512 fairly (per_account=32),
        in alternating order, releasing each claim again so the backlog stays the same;
        prints the median microseconds per claimed delivery of each, and how many of the
        other accounts' deliveries each claim took.
    latency  --database URL [--backlog N] [--samples S]
        An in-process worker drains A's backlog of N (its endpoint answers in 20 ms) while
        account B publishes one event every half second to an endpoint answering at once;
        prints B's publish-to-send latencies. Uses only what main's worker has too, so the
        same run on main's code (PYTHONPATH=<main>/src) is the "before".

The database must be empty (a fresh SQLite path, or a PostgreSQL database just created).
Loopback only, no HTTP: the sender is a fake that answers after a set time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
from cryptography.fernet import Fernet

from hookcast.delivery.worker import DeliveryWorker, WorkerOptions
from hookcast.domain.ids import (
    new_delivery_id,
    new_event_id,
    new_resource_id,
    new_webhook_secret,
)
from hookcast.domain.models import Account, Delivery, DeliveryStatus, Event, Webhook
from hookcast.ports import OutboundRequest, SendOutcome
from hookcast.store import SqlStore, migrate, open_store

_START = datetime.now(UTC) - timedelta(hours=1)
_CLAIM = 512
_SEED_BATCH = 1_000


async def _account(store: SqlStore, url: str) -> Webhook:
    account = Account(id=new_resource_id(), name="bench", created=_START)
    await store.create_account(account)
    hook = Webhook(
        id=new_resource_id(),
        account_id=account.id,
        name="bench",
        description="",
        webhook_url=url,
        events=("media_available",),
        site_ids=(),
        secret=new_webhook_secret(),
        created=_START,
        last_modified=_START,
    )
    await store.create_webhook(hook)
    return hook


async def _publish(store: SqlStore, hook: Webhook, times: Sequence[datetime]) -> None:
    """One event per time for `hook`'s account, each with one delivery due at that time."""

    def fanout(events: Sequence[Event]) -> Sequence[Delivery]:
        return [
            Delivery(
                id=new_delivery_id(),
                account_id=e.account_id,
                event_id=e.id,
                webhook_id=hook.id,
                status=DeliveryStatus.PENDING,
                attempts=0,
                next_attempt_at=e.created,
                created=e.created,
            )
            for e in events
        ]

    for start in range(0, len(times), _SEED_BATCH):
        events = [
            Event(
                id=new_event_id(),
                account_id=hook.account_id,
                site_id="SiteSite",
                type="media_available",
                resource_ids={"media_id": "MNYaMSQl"},
                event_time=at,
                data=None,
                created=at,
            )
            for at in times[start : start + _SEED_BATCH]
        ]
        await store.append_events(events=events, fanout=fanout)


def _backlog(count: int) -> list[datetime]:
    return [_START + timedelta(milliseconds=i) for i in range(count)]


async def claim(store: SqlStore, args: argparse.Namespace) -> None:
    busy = await _account(store, "https://busy.example/hook")
    await _publish(store, busy, _backlog(args.backlog))
    for _ in range(20):
        other = await _account(store, "https://other.example/hook")
        await _publish(store, other, [_START + timedelta(minutes=30)] * 3)
    await _analyze(args.database)
    timings: dict[int, list[float]] = {0: [], 32: []}
    others: dict[int, list[int]] = {0: [], 32: []}
    for round_ in range(args.rounds):
        for per_account in (0, 32) if round_ % 2 else (32, 0):
            now = datetime.now(UTC)
            started = time.perf_counter()
            claimed = await store.claim_due_deliveries(
                now=now, limit=_CLAIM, lease_seconds=60, per_account=per_account
            )
            elapsed = time.perf_counter() - started
            timings[per_account].append(elapsed / len(claimed) * 1e6)
            others[per_account].append(sum(1 for c in claimed if c.account_id != busy.account_id))
            leases = [(c.delivery_id, c.lease_token) for c in claimed]
            await store.release_deliveries(leases, now)
    for per_account, samples in timings.items():
        print(
            f"per_account={per_account:2}: {statistics.median(samples):6.1f} us per claimed "
            f"delivery (median of {len(samples)}; min {min(samples):.1f}, max "
            f"{max(samples):.1f}); other accounts' deliveries per claim: "
            f"{statistics.median(others[per_account]):.0f} of 60"
        )


async def _analyze(database: str) -> None:
    """Statistics, as autovacuum keeps them on a live database: without them PostgreSQL may
    plan a fair claim's per-account probes on the wrong index."""
    if database.startswith("postgresql"):
        connection = await asyncpg.connect(database)
        try:
            await connection.execute("ANALYZE deliveries")
        finally:
            await connection.close()


class _Sender:
    """A's endpoint answers in 20 ms, B's at once; records when B's requests are sent."""

    def __init__(self, fast_url: str, samples: int) -> None:
        self._fast_url = fast_url
        self._samples = samples
        self.sent: dict[str, float] = {}  # B's delivery id: when its request was made
        self.all_sent = asyncio.Event()
        self.busy_sent = 0

    async def send(self, request: OutboundRequest) -> SendOutcome:
        if request.url == self._fast_url:
            self.sent[request.headers["webhook-id"]] = time.perf_counter()
            if len(self.sent) >= self._samples:
                self.all_sent.set()
            return SendOutcome(status_code=200, latency_ms=0.1)
        self.busy_sent += 1
        await asyncio.sleep(0.02)
        return SendOutcome(status_code=200, latency_ms=20.0)

    async def close(self) -> None:
        return None


async def latency(store: SqlStore, args: argparse.Namespace) -> None:
    busy = await _account(store, "https://busy.example/hook")
    fast = await _account(store, "https://fast.example/hook")
    await _publish(store, busy, _backlog(args.backlog))
    await _analyze(args.database)
    sender = _Sender(fast.webhook_url, args.samples)
    worker = DeliveryWorker(store, sender, clock=lambda: datetime.now(UTC), options=WorkerOptions())
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    published: list[float] = []
    try:
        await asyncio.sleep(1.0)  # A's backlog is being sent
        for _ in range(args.samples):
            published.append(time.perf_counter())
            await _publish(store, fast, [datetime.now(UTC)])
            await asyncio.sleep(0.5)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(sender.all_sent.wait(), args.timeout)
    finally:
        stop.set()
        await running
    sent = sorted(sender.sent.values())
    waits = [at - start for at, start in zip(sent, published, strict=False)]
    waits += [float("inf")] * (args.samples - len(waits))
    print(
        f"B: {len(sender.sent)} of {args.samples} sent; publish-to-send seconds "
        f"p50 {statistics.median(waits):.3f}, max {max(waits):.3f}; A sent meanwhile: "
        f"{sender.busy_sent} of {args.backlog}"
    )


async def main(args: argparse.Namespace) -> None:
    await asyncio.to_thread(migrate, args.database)
    store = await open_store(args.database, secret_key=Fernet.generate_key())
    try:
        await (claim if args.mode == "claim" else latency)(store, args)
    finally:
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.claim_fairness")
    parser.add_argument("mode", choices=["claim", "latency"])
    parser.add_argument("--database", required=True)
    parser.add_argument("--backlog", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=60.0)
    asyncio.run(main(parser.parse_args()))
