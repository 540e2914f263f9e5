"""The byte budget (scheduler.py, "Bytes under way"): large bodies start while those in
flight stay within `bytes_in_flight`, or alone; small ones are never held back by it; and
while several accounts wait, each may have its share of the bytes under way."""

from __future__ import annotations

from dataclasses import replace

from hookcast.delivery.options import WorkerOptions
from hookcast.delivery.scheduler import (
    ENVELOPE_BYTES,
    EndpointScheduler,
    counted_size,
)
from hookcast.domain.models import Webhook
from hookcast.ports import LARGE_BODY, ClaimedDelivery
from support import factories as make

LARGE = 100_000  # bytes of a large event's string
COUNTED = LARGE + len('{"x":""}') + ENVELOPE_BYTES  # what the budget counts for one
ROOMY = WorkerOptions(
    concurrency=100,
    endpoint_concurrency=100,
    new_endpoint_concurrency=100,
    slow_share=1.0,
    bytes_in_flight=3 * COUNTED,  # three large bodies at once
)


def _claims(account: str, hook: Webhook, count: int, *, large: bool) -> list[ClaimedDelivery]:
    """`count` deliveries of one event (as a publish hands them over) to `hook`."""
    event = make.event(account, data={"x": "a" * LARGE} if large else {"x": "small"})
    return [
        ClaimedDelivery.of(make.delivery(event, hook.id), "lease", event, hook)
        for _ in range(count)
    ]


def _hook(account: str, host: str) -> Webhook:
    return make.webhook(account, webhook_url=f"https://{host}.example/hook")


def test_what_the_budget_counts_is_about_the_body_and_nothing_for_a_small_one() -> None:
    assert counted_size({"x": "a" * LARGE}) == COUNTED
    assert counted_size({"x": "a" * (LARGE_BODY // 2)}) == 0
    assert counted_size(None) == 0


def test_large_bodies_start_while_they_fit_the_budget_and_the_rest_wait() -> None:
    scheduler = EndpointScheduler(ROOMY)
    scheduler.enqueue(_claims("acct", _hook("acct", "a"), 10, large=True), now=0.0)

    starts, _ = scheduler.ready(now=0.0)

    assert len(starts) == 3  # the budget, not the 100 requests the worker may have
    starts[0][1].close()  # one request ends: one more fits
    assert len(scheduler.ready(now=0.0)[0]) == 1
    assert len(scheduler.ready(now=0.0)[0]) == 0


def test_one_large_body_goes_alone_even_over_the_budget() -> None:
    scheduler = EndpointScheduler(replace(ROOMY, bytes_in_flight=COUNTED // 2))
    scheduler.enqueue(_claims("acct", _hook("acct", "a"), 2, large=True), now=0.0)

    starts, _ = scheduler.ready(now=0.0)

    assert len(starts) == 1
    starts[0][1].close()
    assert len(scheduler.ready(now=0.0)[0]) == 1


def test_small_bodies_are_not_held_back_by_large_ones_filling_the_budget() -> None:
    scheduler = EndpointScheduler(ROOMY)
    scheduler.enqueue(_claims("acct", _hook("acct", "a"), 10, large=True), now=0.0)
    scheduler.enqueue(_claims("acct", _hook("acct", "b"), 10, large=False), now=0.0)

    starts, _ = scheduler.ready(now=0.0)

    hosts = [claimed.webhook.webhook_url for claimed, _slot, _latest in starts]
    assert hosts.count("https://a.example/hook") == 3
    assert hosts.count("https://b.example/hook") == 10


def test_while_two_accounts_wait_each_has_its_share_of_the_bytes() -> None:
    scheduler = EndpointScheduler(replace(ROOMY, bytes_in_flight=4 * COUNTED))
    scheduler.enqueue(_claims("noisy", _hook("noisy", "a"), 10, large=True), now=0.0)
    scheduler.enqueue(_claims("quiet", _hook("quiet", "b"), 10, large=True), now=0.0)

    starts, _ = scheduler.ready(now=0.0)

    accounts = [claimed.webhook.account_id for claimed, _slot, _latest in starts]
    assert sorted(accounts) == ["noisy", "noisy", "quiet", "quiet"]


def test_an_account_alone_may_use_the_whole_budget_and_the_next_gets_what_frees() -> None:
    scheduler = EndpointScheduler(ROOMY)
    scheduler.enqueue(_claims("noisy", _hook("noisy", "a"), 10, large=True), now=0.0)
    noisy, _ = scheduler.ready(now=0.0)
    assert len(noisy) == 3
    scheduler.enqueue(_claims("quiet", _hook("quiet", "b"), 10, large=True), now=0.0)
    assert scheduler.ready(now=0.0)[0] == []  # nothing fits until a large body is done

    noisy[0][1].close()
    starts, _ = scheduler.ready(now=0.0)

    # The noisy account is over its half of the budget: the quiet one takes what freed.
    assert [claimed.webhook.account_id for claimed, _slot, _latest in starts] == ["quiet"]


def test_a_larger_body_is_not_passed_for_ever_by_smaller_large_ones() -> None:
    # review16: the budget full of large bodies to one endpoint, a larger one to another
    # endpoint needs more than one of them frees; each time one ends, the next of the
    # smaller ones fits and starts instead, and the larger one waits until its latest
    # start has passed (handed back, claimed again, the same again). Now the first that
    # does not fit reserves its size from the account's other large bodies.
    scheduler = EndpointScheduler(ROOMY)
    scheduler.enqueue(_claims("acct", _hook("acct", "a"), 50, large=True), now=0.0)
    running = [slot for _claimed, slot, _latest in scheduler.ready(now=0.0)[0]]
    assert len(running) == 3
    event = make.event("acct", data={"x": "a" * (2 * LARGE)})
    hook = _hook("acct", "b")
    larger = ClaimedDelivery.of(make.delivery(event, hook.id), "lease", event, hook)
    scheduler.enqueue([larger], now=0.0)

    started: list[str] = []
    for _ in range(20):  # requests ending one at a time
        running.pop(0).close()
        starts, _ = scheduler.ready(now=0.0)
        started += [claimed.webhook.webhook_url for claimed, _slot, _latest in starts]
        running += [slot for _claimed, slot, _latest in starts]

    assert "https://b.example/hook" in started


def test_a_reservation_ends_with_its_delivery_leaving_the_queue() -> None:
    # The reserving body expires in its queue: the others have the whole budget again.
    scheduler = EndpointScheduler(ROOMY)
    scheduler.enqueue(_claims("acct", _hook("acct", "a"), 50, large=True), now=0.0)
    running = [slot for _claimed, slot, _latest in scheduler.ready(now=0.0)[0]]
    event = make.event("acct", data={"x": "a" * (2 * LARGE)})
    hook = replace(_hook("acct", "b"), timeout_seconds=1)
    larger = ClaimedDelivery.of(make.delivery(event, hook.id), "lease", event, hook)
    scheduler.enqueue([larger], now=0.0, lease_ends=10.0)  # its latest start: 10 s less
    running.pop(0).close()
    running += [slot for _claimed, slot, _latest in scheduler.ready(now=0.0)[0]]
    running.pop(0).close()
    assert scheduler.ready(now=0.0)[0] == []  # what ended is kept for the larger one

    starts, expired = scheduler.ready(now=20.0)  # past its latest start, not theirs

    assert expired[-1] == (larger.delivery_id, "lease")
    assert [claimed.webhook.webhook_url for claimed, _slot, _latest in starts] == [
        "https://a.example/hook"
    ]
