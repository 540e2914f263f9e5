"""Claims resume once half of an overflowed endpoint's queue is free, whether its deliveries
came by a claim or were handed over by publishes in this process: while they are held back,
the worker claims no delivery of any account it already holds (retries, releases, the
publishes it was not handed), so one account's burst to one endpoint must not hold them
back longer than its queue bound says (docs/delivery.md, "An endpoint measured slow does not
stop claims", and the fault-containment issue)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

from hookcast.delivery.options import WorkerOptions
from hookcast.delivery.scheduler import EndpointScheduler
from hookcast.ports import ClaimedDelivery
from support import factories as make

OPTIONS = WorkerOptions(
    concurrency=100,
    endpoint_concurrency=1,
    endpoint_queue=4,
    prefetch=64,
    new_endpoint_concurrency=1024,
    slow_share=1.0,
)


def _to_a(count: int) -> list[ClaimedDelivery]:
    hook = make.webhook("acct", webhook_url="https://a.example/hook")
    claimed = []
    for _ in range(count):
        event = make.event("acct")
        claimed.append(ClaimedDelivery(make.delivery(event, hook.id), "lease", event, hook))
    return claimed


def _hand_over(scheduler: EndpointScheduler, claimed: Sequence[ClaimedDelivery]) -> None:
    """Queues deliveries as the worker's `take()` does (a publish's handover): marked as
    handed over where the scheduler tells them apart, as a claim's where it does not."""
    marked: dict[str, Any] = {}
    if "handed_over" in inspect.signature(scheduler.enqueue).parameters:
        marked["handed_over"] = True
    scheduler.enqueue(claimed, now=0.0, **marked)


def test_claims_resume_once_half_of_an_endpoints_queue_is_free_after_a_handover() -> None:
    # A's queue holds 4: a burst of 9 publishes to A overflows it.
    scheduler = EndpointScheduler(OPTIONS)
    _hand_over(scheduler, _to_a(9))
    assert scheduler.room() == 0

    sent = 0
    while scheduler.room() == 0 and sent < 9:
        ((_, slot),), _ = scheduler.ready(now=0.0)
        with slot:
            sent += 1

    # Two of A's started leave half of A's queue (4) free, as after a claim's overflow.
    assert sent <= 2, f"claims held back until {sent} of A's deliveries were sent"
