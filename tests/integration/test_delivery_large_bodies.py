"""Large deliveries at slow receivers, on real loopback receivers: the bodies under way stay
within the worker's byte budget, however many wait, while another account's small
deliveries go by; and bodies signed when written verify with JW Player's own check
(docs/operations.md, "Limits"; docs/benchmarks/feature-costs.md, "Large deliveries under way")."""

from __future__ import annotations

import asyncio
import tracemalloc
from datetime import UTC, datetime

from aiohttp import web
from delivery_harness import LOOPBACK, Deployment, with_options
from receivers import DEADLINE, Behaviour, Receiver

from hookcast.delivery.attempt import prepare
from hookcast.delivery.scheduler import counted_size
from hookcast.delivery.sender import HttpSender
from hookcast.domain.addresses import parse_networks
from hookcast.ports import ClaimedDelivery
from support import factories as make
from support.waiting import eventually

DATA = {"note": "a" * 100_000}  # over the 16 KB a body may have without being counted
AT_ONCE = 3  # large bodies the budget lets be under way together


class _Holding:
    """A behaviour for several receivers: each request is held until `release` is set (at
    most DEADLINE), then answered 200; `held` of them are now, `most` were at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.held = 0
        self.most = 0

    def behaviour(self) -> Behaviour:
        async def behave(_number: int, _request: web.Request) -> web.StreamResponse:
            self.held += 1
            self.most = max(self.most, self.held)
            try:
                async with asyncio.timeout(DEADLINE):
                    await self.release.wait()
            finally:
                self.held -= 1
            return web.Response(text="ok")

        return behave


async def test_large_bodies_under_way_stay_within_the_budget_and_others_go_by(
    database_url: str,
) -> None:
    budget = AT_ONCE * counted_size(DATA)
    async with Deployment.open(database_url) as hookcast:
        holding = _Holding()
        slow = [await hookcast.receiver(holding.behaviour()) for _ in range(4)]
        for receiver in slow:
            await hookcast.hook_for(receiver)  # JW Player's format: a JWT of the body too
        headers, their_site = await hookcast.other_account("Quiet neighbour")
        fast = await hookcast.receiver()
        created = await hookcast.api.post(
            "/v2/webhooks/",
            json={
                "metadata": {
                    "name": "fast",
                    "webhook_url": fast.url,
                    "events": ["*"],
                    "site_ids": [their_site],
                }
            },
            headers=headers,
        )
        assert created.status_code == 201, created.text
        fast.secret = created.json()["secret"]
        hookcast.start_worker(with_options(bytes_in_flight=budget, shutdown_grace_seconds=0.5))

        # 20 large deliveries: without the budget, 16 would start at once (4 per new endpoint).
        await hookcast.publish_media(5, data=DATA)
        await eventually(lambda: holding.held == AT_ONCE, message=lambda: f"{holding.held} held")
        # The other account's small delivery passes them: the worker has scheduled since
        # and started no more of the large ones.
        published = await hookcast.api.post(
            "/v2/events/",
            json={"event": "media_available", "site_id": their_site, "media_id": "SMALL001"},
            headers=headers,
        )
        assert published.status_code == 202, published.text
        await fast.wait_for(1)
        assert holding.held == AT_ONCE

        holding.release.set()
        for receiver in slow:
            await receiver.wait_for(5)

    assert holding.most == AT_ONCE
    for receiver in slow:
        receiver.assert_all_verified()  # PyJWT, standardwebhooks and the hex HMAC
        assert all(received.payload["data"] == DATA for received in receiver.received)
    fast.assert_all_verified()


async def test_a_large_delivery_waiting_for_its_answer_holds_about_its_body() -> None:
    """JW Player's format: the JWT carries the body again (339 KB for 254 KB), and the
    request's bytes were both together (565 KB); made when written, neither is held while
    the receiver takes its time, only the body."""
    holding = _Holding()
    receiver = await Receiver(holding.behaviour()).start()
    sender = HttpSender(allowed=parse_networks(LOOPBACK))
    hook = make.webhook("acct", webhook_url=receiver.url)  # JW Player's format
    receiver.secret = hook.secret
    event = make.event("acct", data={"note": "a" * 254_000})
    claimed = ClaimedDelivery.of(make.delivery(event, hook.id), "lease", event, hook)
    # Only what HookCast's own code allocates: the receiver, in this process too, reads the
    # request (its JWT and body) into memory of its own.
    ours = [tracemalloc.Filter(True, "*/hookcast/*", all_frames=True)]
    tracemalloc.start(32)
    try:
        request = prepare(claimed, datetime.now(UTC))
        sending = asyncio.create_task(sender.send(request))
        await eventually(lambda: holding.held == 1, message="the request never arrived")
        held = tracemalloc.take_snapshot().filter_traces(ours)
        holding.release.set()
        outcome = await sending
    finally:
        tracemalloc.stop()
        await sender.close()
        await receiver.close()

    assert outcome.status_code == 200
    receiver.assert_all_verified()  # PyJWT, standardwebhooks and the hex HMAC
    size = sum(stat.size for stat in held.statistics("filename"))
    assert len(request.body) > 254_000
    assert size < 1.25 * len(request.body), f"{size} bytes held for a {len(request.body)} body"
