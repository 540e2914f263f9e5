"""MemoryDeliveryQueue's fair claims, as a table: which accounts' deliveries one claim takes.
(The same rules on SQLite and PostgreSQL: tests/contract/test_fair_claim.py.)

A backlog is written oldest first as account letters: "A*5 B*2" is five due deliveries of
account A, then two of account B, all due. A claim's result is counted per account."""

from __future__ import annotations

from collections import Counter

import pytest

from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from support import factories as make

NOW = make.later(10_000)  # every delivery below is due


def _queue(backlog: str) -> MemoryDeliveryQueue:
    queue = MemoryDeliveryQueue()
    second = 0
    for part in backlog.split():
        account, count = part.split("*")
        hook = make.webhook(account)
        for _ in range(int(count)):
            event = make.event(account, created=make.later(second))
            queue.add(delivery=make.delivery(event, hook.id), event=event, webhook=hook)
            second += 1
    return queue


@pytest.mark.parametrize(
    ("backlog", "limit", "per_account", "holding", "claimed"),
    [
        # oldest first, whatever the account (per_account 0: as before fair claims)
        ("A*100 B*3", 10, 0, None, {"A": 10}),
        # each account's share first, then the oldest fill the batch
        ("A*100 B*3", 10, 4, None, {"A": 7, "B": 3}),
        ("A*100 B*10", 10, 4, None, {"A": 6, "B": 4}),
        ("A*100 B*10 C*10", 10, 2, None, {"A": 6, "B": 2, "C": 2}),
        # shares alone fill it: the oldest shares go first
        ("A*100 B*10 C*10", 4, 2, None, {"A": 2, "B": 2}),
        # fewer due than the batch: all of them
        ("A*2 B*1", 10, 4, None, {"A": 2, "B": 1}),
        # a worker holding A's: only the others' shares, no fill
        ("A*100 B*10 C*1", 10, 4, {"A"}, {"B": 4, "C": 1}),
        ("A*100", 10, 4, {"A"}, {}),
        ("A*100 B*3", 10, 0, {"A"}, {}),  # no share: nothing
        ("A*100 B*10", 10, 4, set(), {"A": 4, "B": 4}),
    ],
)
async def test_a_claim_takes_each_accounts_share_then_the_oldest(
    backlog: str,
    limit: int,
    per_account: int,
    holding: set[str] | None,
    claimed: dict[str, int],
) -> None:
    queue = _queue(backlog)

    taken = await queue.claim_due_deliveries(
        now=NOW, limit=limit, lease_seconds=30, per_account=per_account, holding=holding
    )

    assert Counter(c.account_id for c in taken) == claimed
