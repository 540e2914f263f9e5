"""EndpointScheduler: which claimed delivery goes out next, and what goes back unsent.

Endpoints are letters: "AAB" is three claimed deliveries, two to endpoint A and one to B.
Times are the event loop's, in seconds."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hookcast.delivery.gate import KEPT_ENDPOINTS, EndpointGate
from hookcast.delivery.options import WorkerOptions
from hookcast.delivery.scheduler import EndpointScheduler, Ready
from hookcast.domain.models import Webhook
from hookcast.domain.retry import OutcomeKind
from hookcast.ports import ClaimedDelivery
from support import factories as make

# Fair share's limits on new and slow endpoints are tested in test_fair_share.py; here a new
# endpoint may use its whole endpoint_concurrency at once, as a measured fast one does.
ROOMY = WorkerOptions(
    concurrency=100,
    endpoint_concurrency=10,
    endpoint_queue=64,
    prefetch=1024,
    new_endpoint_concurrency=1024,
    slow_share=1.0,
)
_HOOKS: dict[str, Webhook] = {}


def _hook(endpoint: str) -> Webhook:
    if endpoint not in _HOOKS:
        url = f"https://{endpoint.lower()}.example/hook"
        _HOOKS[endpoint] = make.webhook("acct", webhook_url=url)
    return _HOOKS[endpoint]


def claims(endpoints: str) -> list[ClaimedDelivery]:
    """One claimed delivery per letter, to that letter's endpoint."""
    claimed = []
    for endpoint in endpoints:
        event = make.event("acct")
        hook = _hook(endpoint)
        claimed.append(ClaimedDelivery.of(make.delivery(event, hook.id), "lease", event, hook))
    return claimed


def started(ready: Ready) -> str:
    starts, _expired = ready
    return "".join(_letter(claimed) for claimed, _slot, _latest in starts)


def _letter(claimed: ClaimedDelivery) -> str:
    return claimed.webhook.webhook_url.removeprefix("https://")[0].upper()


@pytest.mark.parametrize(
    ("claimed", "order"),
    [
        ("AAAA", "AAAA"),
        ("ABAB", "ABAB"),
        ("AAABBC", "ABCABA"),  # one endpoint after another, not in claim order
        ("CCCBA", "CBACC"),  # endpoints take turns in the order they first appeared
    ],
)
def test_endpoints_take_turns(claimed: str, order: str) -> None:
    scheduler = EndpointScheduler(ROOMY)
    assert scheduler.enqueue(claims(claimed), now=0.0) == []
    assert started(scheduler.ready(now=0.0)) == order


@pytest.mark.parametrize(
    ("endpoint_concurrency", "concurrency", "claimed", "order"),
    [
        (2, 100, "AAAAAB", "ABA"),  # A at its limit; B still goes
        (1, 100, "AABBC", "ABC"),
        (10, 3, "AAAABB", "ABA"),  # the worker's limit across endpoints
        (1, 1, "AB", "A"),
    ],
)
def test_requests_in_flight_are_capped_per_endpoint_and_in_all(
    endpoint_concurrency: int, concurrency: int, claimed: str, order: str
) -> None:
    options = replace(ROOMY, endpoint_concurrency=endpoint_concurrency, concurrency=concurrency)
    scheduler = EndpointScheduler(options)
    scheduler.enqueue(claims(claimed), now=0.0)

    assert started(scheduler.ready(now=0.0)) == order
    assert started(scheduler.ready(now=0.0)) == ""  # nothing more until a request ends
    assert scheduler.held == len(claimed)  # started or waiting, every lease is still held


def test_a_slot_given_back_lets_the_next_delivery_to_that_endpoint_go() -> None:
    scheduler = EndpointScheduler(replace(ROOMY, endpoint_concurrency=1))
    scheduler.enqueue(claims("AAB"), now=0.0)
    first = scheduler.ready(now=0.0)
    assert started(first) == "AB"
    starts, _expired = first
    _a, slot_of_a, _latest = starts[0]

    with slot_of_a:  # the request to A ends, however it ends
        pass

    assert started(scheduler.ready(now=1.0)) == "A"
    assert scheduler.held == 2  # B's request and A's second one


def test_a_slot_is_given_back_once() -> None:
    scheduler = EndpointScheduler(replace(ROOMY, endpoint_concurrency=1))
    scheduler.enqueue(claims("AAA"), now=0.0)
    ((_, slot, _),), _ = scheduler.ready(now=0.0)

    with slot:
        pass
    assert slot.close() is False  # the with block gave it back already

    assert started(scheduler.ready(now=0.0)) == "A"  # one place was freed, not two


@pytest.mark.parametrize(
    ("endpoint_queue", "claimed", "handed_back", "queued"),
    [
        (2, "AAAAB", "AA", 3),  # A's queue holds 2 before it has a measured latency
        (2, "ABAB", "", 4),
        (1, "AAABBB", "AABB", 2),
    ],
)
def test_a_full_endpoint_queue_hands_the_overflow_back(
    endpoint_queue: int, claimed: str, handed_back: str, queued: int
) -> None:
    scheduler = EndpointScheduler(replace(ROOMY, endpoint_queue=endpoint_queue))
    deliveries = claims(claimed)
    letters = {c.delivery_id: _letter(c) for c in deliveries}

    overflow = scheduler.enqueue(deliveries, now=0.0)

    assert "".join(letters[delivery_id] for delivery_id, _ in overflow) == handed_back
    assert scheduler.held == queued


@pytest.mark.parametrize(
    ("claimed", "handed_back", "queued"),
    [
        ("AAAAB", "", 5),  # A's queue holds 2 claimed, 4 handed over
        ("AAAAAAB", "AA", 5),
        ("AAAABBBBB", "B", 8),
    ],
)
def test_deliveries_handed_over_by_publishes_may_fill_twice_an_endpoints_queue(
    claimed: str, handed_back: str, queued: int
) -> None:
    # Publishes under way took their leases before the worker queued the deliveries of those
    # before them: handing the extra back would cost a write and a claim each.
    scheduler = EndpointScheduler(replace(ROOMY, endpoint_queue=2))
    deliveries = claims(claimed)
    letters = {c.delivery_id: _letter(c) for c in deliveries}

    overflow = scheduler.enqueue(deliveries, now=0.0, handed_over=True)

    assert "".join(letters[delivery_id] for delivery_id, _ in overflow) == handed_back
    assert scheduler.held == queued


@pytest.mark.parametrize(
    ("held", "room"),
    [
        (0, 16),
        (8, 8),  # half of prefetch is held: a claim still fills it up
        (9, 0),  # more than half: wait, so that claims stay large
    ],
)
def test_claims_fill_prefetch_once_half_of_it_is_free(held: int, room: int) -> None:
    options = replace(ROOMY, prefetch=16, endpoint_queue=64)
    scheduler = EndpointScheduler(options)
    scheduler.enqueue(claims("A" * held), now=0.0)
    assert scheduler.room() == room


def _measured(scheduler: EndpointScheduler, endpoint: str = "Z") -> None:
    """One request to `endpoint` sent and answered: an endpoint's latency is known."""
    scheduler.enqueue(claims(endpoint), now=0.0)
    ((_, slot, _),), _ = scheduler.ready(now=0.0)
    with slot:
        slot.learn(OutcomeKind.SUCCESS, now=make.NOW, seconds=0.01)


def test_until_an_endpoint_is_measured_claims_fill_only_one_endpoint_queue() -> None:
    # Before any answer every endpoint's queue is endpoint_queue long: a claim of prefetch
    # would hand all but that back, each a write and a claim again.
    options = replace(ROOMY, prefetch=1024, endpoint_queue=64)
    scheduler = EndpointScheduler(options)
    assert scheduler.room() == 64

    scheduler.enqueue(claims("A" * 60), now=0.0)
    assert scheduler.room() == 4

    scheduler.enqueue(claims("AAAA"), now=0.0)
    assert scheduler.room() == 0


def test_once_an_endpoint_is_measured_claims_fill_prefetch_again() -> None:
    options = replace(ROOMY, prefetch=1024, endpoint_queue=64)
    scheduler = EndpointScheduler(options)
    _measured(scheduler, "B")

    scheduler.enqueue(claims("A" * 64), now=0.0)

    assert scheduler.room() == 1024 - 64


def test_an_overflowing_endpoint_holds_claims_back_until_half_its_queue_is_free() -> None:
    # A's queue holds 4; a claim that overflowed it would mostly bring A's rows again.
    options = replace(ROOMY, prefetch=64, endpoint_queue=4, endpoint_concurrency=1)
    scheduler = EndpointScheduler(options)
    _measured(scheduler)  # another endpoint: A's queue stays at the floor
    scheduler.enqueue(claims("AAAAAA"), now=0.0)  # 4 queued, 2 handed back
    assert scheduler.room() == 0

    ((_, slot, _),), _ = scheduler.ready(now=0.0)  # 3 left queued: less than half free
    assert scheduler.room() == 0
    with slot:
        pass
    scheduler.ready(now=0.0)  # the next one goes: 2 queued, half of A's queue is free

    assert scheduler.room() == 2  # only what A's queue has room for


def test_an_overflowed_endpoint_stops_holding_claims_back_once_its_queue_is_empty() -> None:
    options = replace(ROOMY, prefetch=64, endpoint_queue=1, endpoint_concurrency=1)
    scheduler = EndpointScheduler(options)
    _measured(scheduler)
    scheduler.enqueue(claims("AA"), now=0.0)
    assert scheduler.room() == 0

    scheduler.ready(now=0.0)  # A's only queued delivery starts

    assert scheduler.room() == 64 - 1  # everything but the request in flight


@pytest.mark.parametrize(
    ("held", "spare"),
    [
        (9, 4),  # held back by prefetch: still a small claim for other accounts
        (16, 4),  # prefetch full: one small claim more may go over it
        (18, 2),  # but no further
        (20, 0),
    ],
)
def test_a_held_back_worker_still_has_spare_room_for_other_accounts(held: int, spare: int) -> None:
    options = replace(ROOMY, prefetch=16, endpoint_queue=64, claim_per_account=4)
    scheduler = EndpointScheduler(options)
    scheduler.enqueue(claims("A" * held), now=0.0)
    assert scheduler.room() == 0
    assert scheduler.spare_room() == spare


def test_the_accounts_held_are_those_queued_or_in_flight() -> None:
    options = replace(ROOMY, endpoint_concurrency=1)
    scheduler = EndpointScheduler(options)
    queued = claims("AA")
    other = make.webhook("other", webhook_url="https://other.example/hook")
    event = make.event("other")
    queued.append(ClaimedDelivery.of(make.delivery(event, other.id), "lease", event, other))
    scheduler.enqueue(queued, now=0.0)
    ((_, slot, _), (_, other_slot, _)), _ = scheduler.ready(now=0.0)  # "acct" keeps one queued

    with other_slot:
        assert scheduler.holding() == {"acct", "other"}
    assert scheduler.holding() == {"acct"}
    with slot:
        pass
    scheduler.ready(now=0.0)
    assert scheduler.holding() == {"acct"}  # its last one, in flight


@pytest.mark.parametrize(
    ("seconds", "room"),
    [
        (0.1, 0),  # fast: half its queue frees within moments; a claim now brings it back
        (10.0, 64 - 4),  # slow: it would hold back every account's claims for minutes
    ],
)
def test_only_an_overflowed_endpoint_not_measured_slow_holds_claims_back(
    seconds: float, room: int
) -> None:
    # A horizon of 0.25 s: A's queue holds the floor, 4, however fast it is measured.
    options = replace(
        ROOMY, prefetch=64, endpoint_queue=4, endpoint_concurrency=1, queue_horizon=0.25 / 60
    )
    scheduler = EndpointScheduler(options)
    scheduler.enqueue(claims("A"), now=0.0)
    ((_, slot, _),), _ = scheduler.ready(now=0.0)
    with slot:
        slot.learn(OutcomeKind.SUCCESS, now=make.NOW, seconds=seconds)

    scheduler.enqueue(claims("AAAAAA"), now=1.0)  # 4 queued, 2 handed back

    assert scheduler.room() == room


@pytest.mark.parametrize(
    ("waited", "started_now", "expired"),
    [
        (29.0, "AB", 0),
        (30.0, "AB", 0),  # lease_seconds * queue_expiry: still sent
        (30.5, "", 2),  # too little of the lease is left for the request
    ],
)
def test_a_delivery_queued_too_long_goes_back_instead_of_out(
    waited: float, started_now: str, expired: int
) -> None:
    options = replace(ROOMY, lease_seconds=60.0, queue_expiry=0.5)
    scheduler = EndpointScheduler(options)
    scheduler.enqueue(claims("AB"), now=100.0)

    ready = scheduler.ready(now=100.0 + waited)

    assert (started(ready), len(ready[1])) == (started_now, expired)
    assert scheduler.held == len(started_now)


@pytest.mark.parametrize(
    ("timeout", "lease_ends", "waited", "started_now"),
    [
        (30, None, 24.9, "A"),  # a lease from now, to 160: 30 s to answer, 5 s to record
        (30, None, 25.1, ""),
        (10, 140.0, 24.9, "A"),  # a lease asked for 20 s before its claim came back
        (10, 140.0, 25.1, ""),
    ],
)
def test_a_delivery_starts_only_if_its_request_and_its_recording_end_within_its_lease(
    timeout: int, lease_ends: float | None, waited: float, started_now: str
) -> None:
    """Started later, the request could still run when the lease expires, or end before
    its outcome is written: another claim would then send the delivery a second time."""
    options = replace(ROOMY, lease_seconds=60.0, queue_expiry=0.5, record_margin_seconds=5.0)
    scheduler = EndpointScheduler(options)
    event = make.event("acct")
    hook = make.webhook("acct", webhook_url="https://a.example/hook", timeout_seconds=timeout)
    claimed = ClaimedDelivery.of(make.delivery(event, hook.id), "lease", event, hook)
    scheduler.enqueue([claimed], now=100.0, lease_ends=lease_ends)

    ready = scheduler.ready(now=100.0 + waited)

    assert (started(ready), len(ready[1])) == (started_now, 1 - len(started_now))


def test_a_delivery_waiting_behind_a_busy_endpoint_expires_while_it_waits() -> None:
    scheduler = EndpointScheduler(replace(ROOMY, endpoint_concurrency=1, lease_seconds=60.0))
    queued = claims("AA")
    scheduler.enqueue(queued, now=0.0)
    assert started(scheduler.ready(now=0.0)) == "A"

    ready = scheduler.ready(now=31.0)  # the first request is still in flight

    assert started(ready) == ""
    _starts, expired = ready
    assert expired == [(queued[1].delivery_id, queued[1].lease_token)]


def test_clearing_hands_back_every_queued_delivery_but_not_those_in_flight() -> None:
    scheduler = EndpointScheduler(replace(ROOMY, endpoint_concurrency=1))
    queued = claims("AAB")
    scheduler.enqueue(queued, now=0.0)
    scheduler.ready(now=0.0)  # the first A and B are in flight

    assert scheduler.clear() == [(queued[1].delivery_id, "lease")]
    assert scheduler.held == 2


def test_a_disabled_webhooks_queued_deliveries_go_back_and_the_rest_stay_queued() -> None:
    scheduler = EndpointScheduler(replace(ROOMY, endpoint_concurrency=1))
    gone = _hook("A")
    # Another webhook at the same URL (another subscription of the account's endpoint).
    neighbour = make.webhook("acct", webhook_url=gone.webhook_url)
    event = make.event("acct")
    same_url = ClaimedDelivery.of(make.delivery(event, neighbour.id), "lease", event, neighbour)
    queued = [*claims("AA"), same_url, *claims("BA")]
    scheduler.enqueue(queued, now=0.0)
    assert started(scheduler.ready(now=0.0)) == "AB"  # one request at a time per endpoint

    handed_back = scheduler.drop_webhooks({gone.id})

    assert handed_back == [(queued[1].delivery_id, "lease"), (queued[4].delivery_id, "lease")]
    assert scheduler.held == 3  # the two in flight and the neighbour's
    assert scheduler.drop_webhooks({gone.id}) == []
    assert scheduler.drop_webhooks({_hook("C").id}) == []  # holds nothing for it
    assert scheduler.clear() == [(same_url.delivery_id, "lease")]


def test_an_edited_webhooks_deliveries_go_back_under_every_url_it_was_claimed_with() -> None:
    scheduler = EndpointScheduler(replace(ROOMY, endpoint_concurrency=1))
    before = _hook("A")
    # Claimed again after its URL moved: its later deliveries queue at another endpoint.
    after = replace(before, webhook_url="https://moved.example/hook")
    event = make.event("acct")
    moved = ClaimedDelivery.of(make.delivery(event, after.id), "lease", event, after)
    queued = [*claims("AA"), moved, *claims("B")]
    scheduler.enqueue(queued, now=0.0)
    assert scheduler.queued_webhooks() == [before, after, _hook("B")]

    handed_back = scheduler.drop_webhooks({before.id})

    ids = {delivery_id for delivery_id, _ in handed_back}
    assert ids == {queued[0].delivery_id, queued[1].delivery_id, moved.delivery_id}
    assert started(scheduler.ready(now=0.0)) == "B"
    assert scheduler.queued_webhooks() == []
    assert scheduler.held == 1  # B in flight; the account's queues are gone with A's


def test_dropping_an_accounts_last_queued_deliveries_leaves_the_other_accounts_turns() -> None:
    scheduler = EndpointScheduler(ROOMY)
    other = make.webhook("other", webhook_url="https://other.example/hook")
    event = make.event("other")
    theirs = ClaimedDelivery.of(make.delivery(event, other.id), "lease", event, other)
    scheduler.enqueue([*claims("A"), theirs], now=0.0)

    assert len(scheduler.drop_webhooks({_hook("A").id})) == 1

    starts, _ = scheduler.ready(now=0.0)
    assert [claimed.webhook.id for claimed, _, _ in starts] == [other.id]
    assert scheduler.holding() == {"other"}


def _send_once(gate: EndpointGate, key: str, *, seconds: float) -> None:
    account = key.split(" ", 1)[0]
    slot = gate.try_slot(key, account)
    assert slot is not None
    with slot:
        slot.learn(OutcomeKind.SUCCESS, now=make.NOW, seconds=seconds)


def test_the_gate_forgets_the_endpoints_idle_longest_not_the_first_ones_it_met() -> None:
    """Forgetting in the order endpoints were first met, a tenant pointing webhooks at new
    host names made the gate forget another tenant's endpoint it had known longest, however
    busy: its measured latency (here: slow) and lowered limit went, and it was sent to as a
    new endpoint again (review12)."""
    gate = EndpointGate(32, slow_seconds=1.0, slow_slots=64, start=4)
    theirs = "victim https://slow.example:443"
    _send_once(gate, theirs, seconds=5.0)
    for number in range(KEPT_ENDPOINTS - 1):
        _send_once(gate, f"attacker https://h{number}.example:443", seconds=0.01)
    _send_once(gate, theirs, seconds=5.0)  # still in use
    for number in range(KEPT_ENDPOINTS - 1, KEPT_ENDPOINTS - 1 + KEPT_ENDPOINTS // 2):
        _send_once(gate, f"attacker https://h{number}.example:443", seconds=0.01)

    assert gate.kept() <= KEPT_ENDPOINTS
    assert gate.is_slow(theirs)


def test_an_account_sending_to_ever_new_hosts_forgets_its_own_endpoints_first() -> None:
    """However long another account's endpoint is idle (a failing one between retries), an
    account cycling through new hosts makes the gate forget its own endpoints, not that
    one (review12)."""
    gate = EndpointGate(32, slow_seconds=1.0, slow_slots=64, start=4)
    theirs = "victim https://slow.example:443"
    _send_once(gate, theirs, seconds=5.0)
    for number in range(3 * KEPT_ENDPOINTS):
        _send_once(gate, f"attacker https://h{number}.example:443", seconds=0.01)

    assert gate.kept() <= KEPT_ENDPOINTS
    assert gate.is_slow(theirs)


def test_the_gate_keeps_a_bounded_number_of_endpoints_and_those_in_flight() -> None:
    """Kept for every endpoint ever sent to, a tenant pointing webhooks at new host names
    grew them for the worker's life (review finding 16; attack 10)."""
    gate = EndpointGate(32, slow_seconds=1.0, slow_slots=64, start=4)
    busy = gate.try_slot("acc https://busy.example:443", "acc")
    assert busy is not None
    for number in range(3 * KEPT_ENDPOINTS):
        slot = gate.try_slot(f"acc https://h{number}.example:443", "acc")
        assert slot is not None
        slot.close()
    assert gate.kept() <= KEPT_ENDPOINTS
    assert busy.close()  # its endpoint's count is still there to give back to
    assert gate.in_flight == 0
