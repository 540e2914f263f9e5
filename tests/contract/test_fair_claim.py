"""Fair claims: one account's backlog cannot keep another account's deliveries out of a claim,
in memory and in every store (the DeliveryQueue port's `per_account`)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

import pytest

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.ports import ClaimedDelivery, DeliveryQueue
from hookcast.store import SqlStore, open_store
from support import factories as make
from support.postgres import run_sql

LEASE = 30.0
NOW = make.later(100_000)  # everything seeded is due

# A new account with `count` deliveries due from `start` seconds on (one per second, each
# of its own event); returns the account's id.
AddAccount = Callable[..., Awaitable[str]]


@pytest.fixture(params=["memory", "store", "generic plans"])
async def backend(
    request: pytest.FixtureRequest, database_url: str, secret_key: bytes
) -> AsyncIterator[tuple[DeliveryQueue, AddAccount]]:
    """Each test runs on the memory queue once (beside SQLite), on each database's store, and
    on PostgreSQL once more with every statement in its generic plan, the plan a connection
    keeps for a claim after five (store/fair_claim.py: a claim's choices must not depend on
    a custom plan's constants)."""
    if request.param == "memory":
        if database_url.startswith("postgresql"):
            pytest.skip("the memory queue runs once, beside SQLite")
        yield _memory()
        return
    if request.param == "generic plans":
        if not database_url.startswith("postgresql"):
            pytest.skip("PostgreSQL's plans")
        name = urlsplit(database_url).path.lstrip("/")
        run_sql(database_url, f"ALTER DATABASE {name} SET plan_cache_mode = force_generic_plan")
    store = await open_store(database_url, secret_key=secret_key)
    try:
        yield store, _adder(store)
    finally:
        await store.close()


def _memory() -> tuple[DeliveryQueue, AddAccount]:
    queue = MemoryDeliveryQueue()

    async def add_account(count: int, *, start: float) -> str:
        account = make.account()
        hook = make.webhook(account.id)
        for i in range(count):
            event = make.event(account.id, created=make.later(start + i))
            queue.add(delivery=make.delivery(event, hook.id), event=event, webhook=hook)
        return account.id

    return queue, add_account


def _adder(store: SqlStore) -> AddAccount:
    async def add_account(count: int, *, start: float) -> str:
        account = make.account()
        await store.create_account(account)
        hook = make.webhook(account.id)
        await store.create_webhook(hook)
        events = [make.event(account.id, created=make.later(start + i)) for i in range(count)]
        await store.append_events(events=events, fanout=make.fanout_to(hook.id))
        return account.id

    return add_account


def _accounts(claimed: list[ClaimedDelivery]) -> Counter[str]:
    return Counter(c.account_id for c in claimed)


# A 5,000-delivery backlog through HookCast's claim: the suite's, not test-lowest's (the
# file's other tests send the same claim statement, per_account and generic plans too).
@pytest.mark.suite_only
async def test_a_backlog_does_not_keep_another_accounts_fresh_deliveries_out_of_a_claim(
    backend: tuple[DeliveryQueue, AddAccount],
) -> None:
    queue, add_account = backend
    busy = await add_account(5_000, start=0)
    fresh = await add_account(3, start=10_000)  # newer than every one of the backlog's

    oldest_only = await queue.claim_due_deliveries(
        now=NOW, limit=64, lease_seconds=LEASE, worker_id="w1"
    )
    fair = await queue.claim_due_deliveries(
        now=NOW, limit=64, lease_seconds=LEASE, worker_id="w2", per_account=8
    )

    assert _accounts(list(oldest_only)) == {busy: 64}
    assert _accounts(list(fair)) == {fresh: 3, busy: 61}  # the batch is still filled
    assert [c.created for c in fair] == sorted(c.created for c in fair)


async def test_each_account_gets_at_most_its_share_before_the_oldest_fill_the_claim(
    backend: tuple[DeliveryQueue, AddAccount],
) -> None:
    queue, add_account = backend
    first = await add_account(50, start=0)
    second = await add_account(50, start=1_000)
    third = await add_account(50, start=2_000)

    claimed = await queue.claim_due_deliveries(
        now=NOW, limit=30, lease_seconds=LEASE, per_account=4
    )

    # 4 each of the second and third, the rest the first's oldest.
    assert _accounts(list(claimed)) == {first: 22, second: 4, third: 4}
    assert {c.created for c in claimed if c.account_id == second} == {
        make.later(1_000 + i) for i in range(4)
    }


async def test_when_more_accounts_wait_than_a_claim_holds_none_is_left_out(
    backend: tuple[DeliveryQueue, AddAccount],
) -> None:
    # 21 accounts with deliveries due, claims of 10 with a share of 1: whatever order the
    # accounts come in, two claims take one delivery of 20 accounts, and the third claim
    # the 21st account's before any more of the backlog's.
    queue, add_account = backend
    busy = await add_account(200, start=0)
    others = {await add_account(1, start=1_000 + n) for n in range(20)}

    claims = [
        await queue.claim_due_deliveries(now=NOW, limit=10, lease_seconds=LEASE, per_account=1)
        for _ in range(3)
    ]

    assert [len(claim) for claim in claims] == [10, 10, 10]
    assert all(max(_accounts(list(claim)).values()) == 1 for claim in claims[:2])
    claimed = _accounts([c for claim in claims for c in claim])
    assert set(claimed) == others | {busy}
    assert all(claimed[account] == 1 for account in others)


async def test_a_fair_claim_takes_nothing_that_is_not_due(
    backend: tuple[DeliveryQueue, AddAccount],
) -> None:
    queue, add_account = backend
    due = await add_account(3, start=0)
    await add_account(3, start=200_000)  # after NOW

    claimed = await queue.claim_due_deliveries(
        now=NOW, limit=10, lease_seconds=LEASE, per_account=2
    )
    again = await queue.claim_due_deliveries(now=NOW, limit=10, lease_seconds=LEASE, per_account=2)

    assert _accounts(list(claimed)) == {due: 3}
    assert again == []


async def test_concurrent_fair_claimers_never_share_a_delivery(
    store: SqlStore, database_url: str, secret_key: bytes
) -> None:
    # Two stores (separate pools) and two claims on each, all at once: on PostgreSQL the
    # shares and the oldest are both taken with SKIP LOCKED; SQLite serializes the writers.
    add_account = _adder(store)
    for n in range(5):
        await add_account(40, start=1_000 * n)
    other = await open_store(database_url, secret_key=secret_key)
    try:
        batches = await asyncio.gather(
            *(
                claimer.claim_due_deliveries(now=NOW, limit=40, lease_seconds=LEASE, per_account=4)
                for claimer in (store, other, store, other)
            )
        )
    finally:
        await other.close()
    claimed_ids = [c.delivery_id for batch in batches for c in batch]
    assert len(claimed_ids) == 160
    assert len(set(claimed_ids)) == len(claimed_ids)


async def test_a_worker_holding_one_accounts_backlog_still_claims_the_other_accounts(
    backend: tuple[DeliveryQueue, AddAccount],
) -> None:
    # A worker whose queues are full (of the busy account's deliveries) claims a few of
    # each other account's, and nothing more of the busy one's.
    queue, add_account = backend
    busy = await add_account(500, start=0)
    quiet = await add_account(1, start=1_000)
    steady = await add_account(10, start=2_000)

    claimed = await queue.claim_due_deliveries(
        now=NOW, limit=32, lease_seconds=LEASE, per_account=4, holding={busy}
    )

    assert _accounts(list(claimed)) == {quiet: 1, steady: 4}
