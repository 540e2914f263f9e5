"""What counts as a success, and what happens after a failure: schedules, Retry-After, 410,
throttling, redirects, timeouts, refused connections and webhooks that fail for too long."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from delivery_harness import Deployment, OffsetClock, require_sqlite, with_options
from receivers import answer, closed_port, first_then, trickle

from hookcast.domain.retry import MAX_RETRY_AFTER, STANDARD_DELAYS
from support.waiting import eventually


class ManualClock:
    """Time that stands still until the test moves it: every attempt happens at exactly the
    instant the test chose, however slowly a loaded machine runs the worker."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def only_delivery(hookcast: Deployment, webhook_id: str) -> dict[str, Any]:
    deliveries: list[dict[str, Any]] = (await hookcast.deliveries(webhook_id))["deliveries"]
    (delivery,) = deliveries
    return delivery


async def test_a_500_is_retried_on_the_custom_schedule_until_a_2xx(hookcast: Deployment) -> None:
    receiver = await hookcast.receiver(first_then(answer(500, body="boom"), answer(204)))
    hook = await hookcast.hook_for(receiver, retry_policy=[0.2, 0.2])
    hookcast.start_worker()
    await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})

    first, second = await receiver.wait_for(2)
    (delivery,) = await hookcast.wait_for_status(hook["id"], "succeeded", 1)

    receiver.assert_all_verified()
    assert first.body == second.body  # the same body; fresh timestamp and signatures
    assert second.arrived - first.arrived >= 0.19
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 204]
    assert [a["error"] for a in delivery["attempt_log"]] == ["HTTP 500", None]
    assert delivery["attempt_log"][0]["response_body"] == "boom"
    assert await receiver.stays_quiet(0.3, count=2)


async def test_a_delivery_fails_for_good_after_its_last_scheduled_attempt(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver(answer(500))
    hook = await hookcast.hook_for(receiver, retry_policy=[0.2, 0.2])
    hookcast.start_worker()
    await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})

    (delivery,) = await hookcast.wait_for_status(hook["id"], "failed", 1)

    assert delivery["attempts"] == 3
    assert delivery["next_attempt_at"] is None
    assert await receiver.stays_quiet(0.5, count=3)
    receiver.assert_all_verified()
    webhook = await hookcast.webhook(hook["id"])
    assert webhook["metadata"]["enabled"] is True  # failures alone do not disable, at first
    assert webhook["metadata"]["failing_since"] is not None


async def test_an_answer_slower_than_the_timeout_is_a_failure(hookcast: Deployment) -> None:
    receiver = await hookcast.receiver(answer(200, delay=3))
    hook = await hookcast.hook_for(receiver, timeout_seconds=1, retry_policy=[0.1])
    hookcast.start_worker()
    await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})

    (delivery,) = await hookcast.wait_for_status(hook["id"], "failed", 1)

    assert len(receiver.received) == 2
    receiver.assert_all_verified()
    for attempt in delivery["attempt_log"]:
        assert attempt["status_code"] is None
        assert "timed out" in attempt["error"]
        assert 900 <= attempt["latency_ms"] < 2500


async def test_a_2xx_in_time_succeeds_even_if_its_body_is_slow(hookcast: Deployment) -> None:
    """The status decides. The body is only logged (its first 4 KiB): a body still
    trickling in when the timeout ends is cut there and noted, not held against the
    receiver; one that arrives in time in small chunks is logged up to 4 KiB."""
    slow = await hookcast.receiver(trickle([b"x"] * 8, pause=0.4))
    slow_hook = await hookcast.hook_for(slow, timeout_seconds=1, retry_policy=[0.1])
    chunked = await hookcast.receiver(trickle([b"y" * 1024] * 6, pause=0.05))
    chunked_hook = await hookcast.hook_for(chunked, timeout_seconds=2)
    hookcast.start_worker()
    await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})

    (slow_delivery,) = await hookcast.wait_for_status(slow_hook["id"], "succeeded", 1)
    (chunked_delivery,) = await hookcast.wait_for_status(chunked_hook["id"], "succeeded", 1)

    (cut,) = slow_delivery["attempt_log"]
    assert cut["status_code"] == 200
    assert cut["error"] == "timed out reading the response body"
    assert 1 <= len(cut["response_body"]) <= 4
    assert set(cut["response_body"]) == {"x"}
    assert 900 <= cut["latency_ms"] < 2500
    (whole,) = chunked_delivery["attempt_log"]
    assert whole["response_body"] == "y" * 4096
    assert whole["error"] is None
    assert len(slow.received) == 1
    slow.assert_all_verified()
    chunked.assert_all_verified()


async def test_a_refused_connection_is_a_failure(hookcast: Deployment) -> None:
    hook = await hookcast.create_webhook(
        f"http://127.0.0.1:{closed_port()}/hook", retry_policy=[0.1]
    )
    hookcast.start_worker()
    await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})

    (delivery,) = await hookcast.wait_for_status(hook["id"], "failed", 1)

    assert delivery["attempts"] == 2
    assert "connection refused" in delivery["attempt_log"][0]["error"]


async def test_a_redirect_is_not_followed_and_counts_as_a_failure(hookcast: Deployment) -> None:
    target = await hookcast.receiver()
    redirector = await hookcast.receiver(answer(302, headers={"Location": target.url}))
    hook = await hookcast.hook_for(redirector, retry_policy=[0.1])
    hookcast.start_worker()
    await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})

    (delivery,) = await hookcast.wait_for_status(hook["id"], "failed", 1)

    assert len(redirector.received) == 2
    assert target.received == []
    assert delivery["attempt_log"][0]["status_code"] == 302
    assert delivery["attempt_log"][0]["error"] == "redirect (302) not followed"


async def test_retry_after_pushes_the_next_attempt_later(hookcast: Deployment) -> None:
    receiver = await hookcast.receiver(
        first_then(answer(429, headers={"Retry-After": "1"}), answer(200))
    )
    hook = await hookcast.hook_for(receiver, retry_policy=[0.1])
    hookcast.start_worker()
    await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})

    first, second = await receiver.wait_for(2)
    await hookcast.wait_for_status(hook["id"], "succeeded", 1)

    assert second.arrived - first.arrived >= 0.95
    receiver.assert_all_verified()


async def test_retry_after_is_capped_at_an_hour(hookcast: Deployment) -> None:
    receiver = await hookcast.receiver(answer(503, headers={"Retry-After": "864000"}))
    hook = await hookcast.hook_for(receiver, retry_policy=[0.1])
    hookcast.start_worker()
    await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})
    await receiver.wait_for(1)

    async def rescheduled() -> bool:
        delivery = await only_delivery(hookcast, hook["id"])
        return bool(delivery["attempts"] == 1)

    await eventually(rescheduled, message="the first attempt was never recorded")
    delivery = await only_delivery(hookcast, hook["id"])
    started = at(delivery["attempt_log"][0]["started_at"])
    wait = (at(delivery["next_attempt_at"]) - started).total_seconds()
    assert delivery["status"] == "pending"
    assert MAX_RETRY_AFTER - 5 <= wait <= MAX_RETRY_AFTER + 5


async def walk_schedule(hookcast: Deployment, clock: OffsetClock, webhook_id: str) -> list[float]:
    """Jumps the worker's clock to each next attempt; returns the waits the engine chose."""
    waits: list[float] = []
    while True:
        made = len(waits) + 1

        async def attempted(made: int = made) -> bool:
            delivery = await only_delivery(hookcast, webhook_id)
            return bool(delivery["attempts"] >= made)

        await eventually(attempted, message=f"attempt {made} was never recorded")
        delivery = await only_delivery(hookcast, webhook_id)
        if delivery["status"] != "pending":
            assert delivery["status"] == "failed"
            return waits
        # the wait counts from the end of the attempt
        last = delivery["attempt_log"][-1]
        ended = at(last["started_at"]) + timedelta(milliseconds=last["latency_ms"])
        waits.append((at(delivery["next_attempt_at"]) - ended).total_seconds())
        clock.offset += timedelta(seconds=waits[-1] + 0.05)


async def test_the_standard_schedule_with_jitter(database_url: str) -> None:
    require_sqlite(database_url)
    async with Deployment.open(database_url) as hookcast:
        receiver = await hookcast.receiver(answer(500))
        hook = await hookcast.hook_for(receiver)
        clock = OffsetClock()
        hookcast.start_worker(clock=clock)
        await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})

        waits = await walk_schedule(hookcast, clock, hook["id"])

        # immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, each +-20 %
        assert len(waits) == len(STANDARD_DELAYS) == 7
        for wait, delay in zip(waits, STANDARD_DELAYS, strict=True):
            assert 0.8 * delay - 0.01 <= wait <= 1.2 * delay + 0.01, (wait, delay)
        assert len(receiver.received) == 8


async def test_the_quick_schedule_is_three_attempts_three_seconds_apart(
    database_url: str,
) -> None:
    require_sqlite(database_url)
    async with Deployment.open(database_url) as hookcast:
        receiver = await hookcast.receiver(answer(503))
        hook = await hookcast.hook_for(receiver, retry_policy="quick")
        clock = OffsetClock()
        hookcast.start_worker(clock=clock)
        await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})

        waits = await walk_schedule(hookcast, clock, hook["id"])

        assert waits == [pytest.approx(3.0, abs=0.05)] * 2
        assert len(receiver.received) == 3


async def test_410_disables_the_webhook_pauses_the_rest_and_enabling_resumes_them(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver(answer(410))
    hook = await hookcast.hook_for(receiver, retry_policy=[0.1])
    # one request at a time, so the others are still waiting when the 410 arrives
    hookcast.start_worker(with_options(endpoint_concurrency=1))
    ids = await hookcast.publish_media(5)

    async def disabled() -> bool:
        return (await hookcast.webhook(hook["id"]))["metadata"]["enabled"] is False

    await eventually(disabled, message="a 410 did not disable the webhook")
    metadata = (await hookcast.webhook(hook["id"]))["metadata"]
    assert metadata["disabled_reason"] == "endpoint answered 410 Gone"

    async def settled() -> bool:
        # Paused at once, in flight or not: settled once every request the receiver got is
        # recorded (its outcome reaches the store in the worker's next batch).
        failed = await hookcast.deliveries(hook["id"], status="failed")
        paused = await hookcast.deliveries(hook["id"], status="paused")
        recorded = {d["event_id"] for d in failed["deliveries"]}
        return bool(
            failed["total"] >= 1
            and failed["total"] + paused["total"] == 5
            and set(receiver.event_ids()) <= recorded
        )

    await eventually(settled, message="the deliveries never settled as failed or paused")
    gone = (await hookcast.deliveries(hook["id"], status="failed"))["deliveries"]
    paused = (await hookcast.deliveries(hook["id"], status="paused"))["deliveries"]
    assert all(d["attempts"] == 1 for d in gone)  # a 410 is not retried
    sent = len(receiver.received)
    assert sent == len(gone)
    # a disabled webhook is sent nothing new either: what is published meanwhile is held
    (later,) = await hookcast.publish({"event": "media_created", "media_id": "LATER001"})
    (held,) = (await hookcast.deliveries(hook["id"], status="held"))["deliveries"]
    assert held["event_id"] == later
    assert await receiver.stays_quiet(0.5, count=sent)

    receiver.behaviour = answer(200)
    patched = await hookcast.api.patch(
        f"/v2/webhooks/{hook['id']}/", json={"metadata": {"enabled": True}}
    )
    assert patched.status_code == 200, patched.text

    await receiver.wait_for_events({d["event_id"] for d in paused})
    await hookcast.wait_for_status(hook["id"], "succeeded", len(paused))
    assert set(receiver.event_ids()) <= set(ids)
    metadata = (await hookcast.webhook(hook["id"]))["metadata"]
    assert metadata["enabled"] is True
    assert metadata["disabled_reason"] is None
    assert metadata["held_deliveries"] == 1  # enabling resumes the paused, holds the held
    receiver.assert_all_verified()


async def test_a_webhook_failing_for_too_long_is_disabled_with_a_reason(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver(answer(500))
    hook = await hookcast.hook_for(receiver, retry_policy=[0.3] * 10)
    await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})
    # The worker's clock moves only when the test moves it (the delivery is due already):
    # attempts fall exactly 0.3 s apart on any machine, and the 1 s threshold is crossed
    # at exactly the fifth.
    clock = ManualClock(datetime.now(UTC))
    hookcast.start_worker(with_options(disable_after=timedelta(seconds=1)), clock=clock)

    for made in range(1, 5):  # at 0, 0.3, 0.6 and 0.9 s: failing, but not for 1 s yet

        async def recorded(made: int = made) -> bool:
            return bool((await only_delivery(hookcast, hook["id"]))["attempts"] >= made)

        await eventually(recorded, message=f"attempt {made} was never recorded")
        metadata = (await hookcast.webhook(hook["id"]))["metadata"]
        assert metadata["enabled"] is True, (made, metadata)
        assert metadata["failing_since"] is not None
        clock.advance(0.3)

    async def disabled() -> bool:
        return (await hookcast.webhook(hook["id"]))["metadata"]["enabled"] is False

    await eventually(disabled, message="the failing webhook was never disabled")
    metadata = (await hookcast.webhook(hook["id"]))["metadata"]
    assert metadata["disabled_reason"] == "no successful delivery for 1 second"
    # the delivery waits, paused, for the webhook to be enabled again
    (paused,) = await hookcast.wait_for_status(hook["id"], "paused", 1)
    assert paused["next_attempt_at"] is None
    assert paused["attempts"] == 5
    assert len(receiver.received) == 5
    clock.advance(3600)  # however late it gets, a paused delivery is not sent
    assert await receiver.stays_quiet(0.3, count=5)
    receiver.assert_all_verified()


class ConcurrencyProbe:
    """A receiver behaviour: 503 (slowly) until `switch_at` requests were throttled, then
    200; remembers when the first 503 went back."""

    def __init__(self, *, throttle: int, delay: float) -> None:
        self.throttle = throttle
        self.delay = delay
        self.first_503_at: float | None = None

    async def __call__(self, number: int, _request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(self.delay)
        if number < self.throttle:
            if self.first_503_at is None:
                self.first_503_at = time.monotonic()
            return web.Response(status=503)
        return web.Response(status=200)


async def test_503s_halve_the_requests_in_flight_to_that_endpoint(database_url: str) -> None:
    require_sqlite(database_url)
    async with Deployment.open(database_url) as hookcast:
        probe = ConcurrencyProbe(throttle=24, delay=0.3)
        receiver = await hookcast.receiver(probe)
        hook = await hookcast.hook_for(receiver, retry_policy=[0.1] * 10)
        # A new endpoint may have all 8 at once here (it starts at 4 by default): the test
        # watches the halving from 8.
        hookcast.start_worker(
            with_options(concurrency=64, endpoint_concurrency=8, new_endpoint_concurrency=8)
        )
        await hookcast.publish_media(24)

        await hookcast.wait_for_status(hook["id"], "succeeded", 24, timeout=20)

        assert probe.first_503_at is not None
        before = [r.concurrent for r in receiver.received if r.arrived < probe.first_503_at]
        after = [r.concurrent for r in receiver.received if r.arrived > probe.first_503_at + 0.05]
        assert max(before) == 8
        assert after
        assert max(after[:16]) <= 4  # halved at the first 503, and never back above it
        receiver.assert_all_verified()
