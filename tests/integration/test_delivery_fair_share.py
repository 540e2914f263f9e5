"""Fair share between accounts, on real loopback receivers: one account's slow endpoints do
not hold back another account's deliveries (docs/delivery.md, "Fair share")."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from delivery_harness import Deployment, require_sqlite, with_options
from receivers import DEADLINE, Receiver, answer

from support.waiting import eventually

SLOW_SECONDS = 3.0  # each of account A's endpoints takes this long to answer
P99_BOUND = 1.0  # seconds from B's publish to its receipt


async def _hook(
    hookcast: Deployment, receiver: Receiver, *, headers: dict[str, str], site: str
) -> None:
    """A webhook of the account whose key's `headers` are given, on `site`, to `receiver`."""
    body: dict[str, Any] = {"name": "hook", "webhook_url": receiver.url, "events": ["*"]}
    body["site_ids"] = [site]
    response = await hookcast.api.post("/v2/webhooks/", json={"metadata": body}, headers=headers)
    assert response.status_code == 201, response.text
    receiver.secret = response.json()["secret"]


async def _publish(hookcast: Deployment, count: int, *, headers: dict[str, str], site: str) -> None:
    """`count` events about as many media, in one batch, by the account of `headers`."""
    events = [
        {"event": "media_available", "site_id": site, "media_id": f"M{n:07d}"} for n in range(count)
    ]
    published = await hookcast.api.post("/v2/events/", json={"events": events}, headers=headers)
    assert published.status_code == 202, published.text


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def test_a_slow_accounts_backlog_does_not_delay_another_accounts_deliveries(
    database_url: str,
) -> None:
    require_sqlite(database_url)
    async with Deployment.open(database_url) as hookcast:
        headers, their_site = await hookcast.other_account("Noisy neighbour")
        slow = [await hookcast.receiver(answer(delay=SLOW_SECONDS)) for _ in range(5)]
        for receiver in slow:
            await _hook(hookcast, receiver, headers=headers, site=their_site)
        fast = await hookcast.receiver()
        await hookcast.hook_for(fast)  # account B: the deployment's own
        hookcast.start_worker(with_options(shutdown_grace_seconds=0.5))

        # Account A: 40 events to each of its five slow endpoints (200 deliveries).
        await _publish(hookcast, 40, headers=headers, site=their_site)
        for receiver in slow:
            await receiver.wait_for(1)  # A's requests are in flight, and stay for seconds
        first_wave = sum(len(receiver.received) for receiver in slow)

        # Account B publishes one event at a time while A's first requests are answered and
        # its next ones start.
        latencies: list[float] = []
        started = time.monotonic()
        while sum(len(r.received) for r in slow) < first_wave + 5:
            assert time.monotonic() - started < DEADLINE, "A's second requests never started"
            sent = time.monotonic()
            (event_id,) = await hookcast.publish_media(1)
            await fast.wait_for_events({event_id})
            (receipt,) = [r for r in fast.received if r.event_id == event_id]
            latencies.append(receipt.arrived - sent)

        assert _p99(latencies) < P99_BOUND, sorted(latencies)[-5:]
        assert fast.duplicates() == 0
        fast.assert_all_verified()


class _SlowWhenAsked:
    """SLOW_SECONDS for requests to `?slow` (account A's path), at once for the others;
    counts the slow ones answered."""

    def __init__(self) -> None:
        self.slow_answered = 0
        self._slow, self._fast = answer(delay=SLOW_SECONDS), answer()

    async def __call__(self, number: int, request: web.Request) -> web.StreamResponse:
        if request.query_string != "slow":
            return await self._fast(number, request)
        answered = await self._slow(number, request)
        self.slow_answered += 1
        return answered


async def test_another_accounts_slow_path_on_a_shared_host_does_not_slow_this_account(
    database_url: str,
) -> None:
    """One host serves many owners' endpoints by path (hooks.zapier.com, Azure Logic Apps):
    an account's path that answers slowly must not make the host slow for another account.
    Keyed by the host alone, A's slow path made B's deliveries to the same host wait for A's
    (attack 10: 60 of B's took 21 s instead of 0.5 beside a 25 s path)."""
    require_sqlite(database_url)
    async with Deployment.open(database_url) as hookcast:
        headers, their_site = await hookcast.other_account("Noisy neighbour")
        behaviour = _SlowWhenAsked()
        shared = await hookcast.receiver(behaviour)
        body: dict[str, Any] = {"name": "hook", "webhook_url": shared.url + "?slow"}
        body.update(events=["*"], site_ids=[their_site])
        created = await hookcast.api.post("/v2/webhooks/", json={"metadata": body}, headers=headers)
        assert created.status_code == 201, created.text
        await hookcast.hook_for(shared)  # account B's, on the same host and port
        hookcast.start_worker(with_options(shutdown_grace_seconds=0.5))

        await _publish(hookcast, 40, headers=headers, site=their_site)
        # A's first requests answered, so the worker has measured its path slow: B now.
        await eventually(
            lambda: behaviour.slow_answered > 0,
            timeout=DEADLINE,
            message=lambda: "none of A's requests was answered",
        )

        latencies: list[float] = []
        for _ in range(5):
            sent = time.monotonic()
            (event_id,) = await hookcast.publish_media(1)
            await shared.wait_for_events({event_id})
            (receipt,) = [r for r in shared.received if r.event_id == event_id]
            latencies.append(receipt.arrived - sent)

        assert max(latencies) < P99_BOUND, latencies
