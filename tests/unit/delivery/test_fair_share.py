"""Fair share in the EndpointScheduler: accounts take turns, a busy account gives way while
others wait, and slow endpoints cannot hold the worker.

An endpoint is named by its account's letter and a digit: "A1 A1 B1" is two claimed deliveries
to account A's endpoint 1 and one to account B's. Times are the event loop's, in seconds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hookcast.delivery.gate import Slot
from hookcast.delivery.options import WorkerOptions
from hookcast.delivery.scheduler import EndpointScheduler, Ready
from hookcast.domain.models import Webhook
from hookcast.domain.retry import OutcomeKind
from hookcast.ports import ClaimedDelivery
from support import factories as make

WORKER = WorkerOptions()  # the defaults: 128 in flight, 32 per endpoint
NOW = make.later(0)
_HOOKS: dict[str, Webhook] = {}


def _hook(endpoint: str) -> Webhook:
    if endpoint not in _HOOKS:
        url = f"https://{endpoint.lower()}.example/hook"
        _HOOKS[endpoint] = make.webhook(endpoint[0], webhook_url=url)
    return _HOOKS[endpoint]


def claims(endpoints: str, times: int = 1) -> list[ClaimedDelivery]:
    """One claimed delivery per name in `endpoints`, the whole list `times` over."""
    claimed = []
    for endpoint in endpoints.split() * times:
        hook = _hook(endpoint)
        event = make.event(hook.account_id)
        claimed.append(ClaimedDelivery.of(make.delivery(event, hook.id), "lease", event, hook))
    return claimed


def names(ready: Ready) -> list[str]:
    starts, _expired = ready
    return [_name(claimed) for claimed, _slot, _latest in starts]


def slots(ready: Ready) -> list[Slot]:
    starts, _expired = ready
    return [slot for _claimed, slot, _latest in starts]


def _name(claimed: ClaimedDelivery) -> str:
    return claimed.webhook.webhook_url.removeprefix("https://").split(".")[0].upper()


def measure(scheduler: EndpointScheduler, endpoint: str, *, seconds: float, times: int) -> None:
    """`times` requests to `endpoint` that each took `seconds`, one after another."""
    for _ in range(times):
        scheduler.enqueue(claims(endpoint), now=0.0)
        (slot,) = slots(scheduler.ready(now=0.0))
        with slot:
            slot.learn(OutcomeKind.SUCCESS, now=NOW, seconds=seconds)


def at_once(scheduler: EndpointScheduler, endpoint: str) -> int:
    """How many requests to `endpoint` may be in flight together now (none other is)."""
    scheduler.enqueue(claims(endpoint, times=200), now=0.0)
    started = slots(scheduler.ready(now=0.0))
    for slot in started:
        slot.close()
    scheduler.clear()
    return len(started)


def test_accounts_take_turns_and_within_each_its_endpoints() -> None:
    scheduler = EndpointScheduler(WORKER)
    scheduler.enqueue(claims("A1 A1 A1 A1 A2 A2 B1 B1"), now=0.0)

    assert names(scheduler.ready(now=0.0)) == ["A1", "B1", "A2", "B1", "A1", "A2", "A1", "A1"]


@pytest.mark.parametrize(
    ("slow_endpoints", "latency", "a_in_flight"),
    [
        # the case: 5 endpoints answering in 25 s get one request each
        (5, 25.0, 5),
        (3, 2.0, 3 * 16),  # 2 s: half of endpoint_concurrency (32 * 1 s / 2 s)
        (100, 25.0, 64),  # many slow endpoints: slow requests take half of the worker at most
        (5, None, 5 * 4),  # not measured yet: new_endpoint_concurrency each until they answer
        (50, None, 64),  # many new ones: half of the worker at most, as for slow ones
    ],
)
def test_a_slow_account_leaves_room_for_the_next_delivery_of_another(
    slow_endpoints: int, latency: float | None, a_in_flight: int
) -> None:
    scheduler = EndpointScheduler(WORKER)
    endpoints = " ".join(f"A{n}" for n in range(slow_endpoints))
    if latency is not None:  # else they are new: not measured yet
        for endpoint in endpoints.split():
            measure(scheduler, endpoint, seconds=latency, times=10)
    scheduler.enqueue(claims(endpoints, times=60 // slow_endpoints + 40), now=0.0)
    first = names(scheduler.ready(now=0.0))  # A alone: as much as its endpoints may have

    scheduler.enqueue(claims("B1"), now=1.0)  # A's requests are all still in flight

    assert names(scheduler.ready(now=1.0)) == ["B1"]  # B's delivery starts at once
    assert len(first) == a_in_flight


def test_an_account_alone_uses_the_whole_worker() -> None:
    scheduler = EndpointScheduler(WORKER)
    for endpoint in ("A1", "A2", "A3", "A4", "A5"):
        measure(scheduler, endpoint, seconds=0.01, times=1)
    scheduler.enqueue(claims("A1 A2 A3 A4 A5", times=100), now=0.0)

    assert len(names(scheduler.ready(now=0.0))) == WORKER.concurrency


def test_a_busy_account_gives_way_until_the_one_waiting_has_its_share() -> None:
    options = replace(WORKER, concurrency=4)
    scheduler = EndpointScheduler(options)
    for endpoint in ("A1", "A2", "A3", "A4", "B1"):
        measure(scheduler, endpoint, seconds=0.01, times=1)
    scheduler.enqueue(claims("A1 A2 A3 A4", times=5), now=0.0)
    in_flight = slots(scheduler.ready(now=0.0))  # A alone: all four places
    scheduler.enqueue(claims("B1", times=5), now=0.0)

    order = []
    for slot in in_flight[:3]:  # three of A's requests end, one after another
        slot.close()
        order += names(scheduler.ready(now=0.0))

    # B goes until each has half; then they alternate
    assert order == ["B1", "B1", "A1"]


def test_the_share_applies_only_while_others_wait() -> None:
    options = replace(WORKER, concurrency=4)
    scheduler = EndpointScheduler(options)
    for endpoint in ("A1", "A2", "A3", "A4", "B1"):
        measure(scheduler, endpoint, seconds=0.01, times=1)
    scheduler.enqueue(claims("A1 A2 A3 A4", times=5) + claims("B1"), now=0.0)

    assert names(scheduler.ready(now=0.0)) == ["A1", "B1", "A2", "A3"]  # B had one to send


def test_a_slow_endpoints_limit_shrinks_and_recovers_once_it_is_fast_again() -> None:
    scheduler = EndpointScheduler(WORKER)
    assert at_once(scheduler, "A1") == 4  # not measured yet

    measure(scheduler, "A1", seconds=0.05, times=1)
    fast = at_once(scheduler, "A1")
    measure(scheduler, "A1", seconds=25.0, times=10)
    slow = at_once(scheduler, "A1")
    measure(scheduler, "A1", seconds=0.05, times=30)
    recovered = at_once(scheduler, "A1")

    assert (fast, slow, recovered) == (32, 1, 32)


@pytest.mark.parametrize("concurrency", [1, 2, 3])
def test_no_account_waits_for_another_accounts_backlog(concurrency: int) -> None:
    scheduler = EndpointScheduler(replace(WORKER, concurrency=concurrency))
    scheduler.enqueue(claims("A1 A2", times=50) + claims("B1 C1", times=3), now=0.0)

    order: list[str] = []
    for _ in range(200):  # every request ends as soon as it starts
        ready = scheduler.ready(now=0.0)
        order += names(ready)
        for slot in slots(ready):
            slot.close()
        if not scheduler.held:
            break

    assert len(order) == 106  # everything went
    last_of_b_and_c = max(n for n, name in enumerate(order) if name in ("B1", "C1"))
    assert last_of_b_and_c < 3 * 6  # within three turns of each of theirs, not after A's 100


def test_a_slow_endpoint_still_gets_its_turns_while_slow_requests_fill_their_share() -> None:
    options = replace(WORKER, concurrency=4)  # two slow requests at most
    scheduler = EndpointScheduler(options)
    for endpoint in ("A1", "A2", "B1"):
        measure(scheduler, endpoint, seconds=25.0, times=10)
    scheduler.enqueue(claims("A1 A2 B1", times=3), now=0.0)
    first = slots(scheduler.ready(now=0.0))
    assert len(first) == 2  # A1 and B1: one each (A's share), slow ones take half

    started = []
    for slot in first:
        slot.close()
        started += names(scheduler.ready(now=0.0))

    assert sorted(started) == ["A2", "B1"]


def test_an_account_goes_at_once_when_the_others_deliveries_went_back() -> None:
    options = replace(WORKER, concurrency=4, lease_seconds=60.0, queue_expiry=0.5)
    scheduler = EndpointScheduler(options)
    for endpoint in ("A1", "B1"):
        measure(scheduler, endpoint, seconds=0.01, times=1)
    scheduler.enqueue(claims("A1", times=4), now=0.0)
    (slot, *_) = slots(scheduler.ready(now=0.0))  # A alone: four in flight
    scheduler.enqueue(claims("B1"), now=0.0)  # to start by 30 s
    scheduler.enqueue(claims("A1"), now=10.0)  # by 40 s
    slot.close()

    ready = scheduler.ready(now=31.0)  # B's delivery waited past its latest start

    assert (names(ready), len(ready[1])) == (["A1"], 1)  # it goes back; A takes the place
