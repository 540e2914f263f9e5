"""Which queued deliveries an edit of their webhook sends back: those claimed with a copy
the webhook no longer matches in anything a request is made from, or whose webhook was
disabled or deleted; never for what recording attempts changed (its standing)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import replace

import pytest

from hookcast.delivery.edits import EditWatch, is_outdated
from hookcast.delivery.memory_queue import MemoryDeliveryQueue
from hookcast.domain.models import Webhook
from support import factories as make
from support.waiting import eventually

HOOK = make.webhook("acct", webhook_url="https://old.example/hook")
LATER = make.later(60)


@pytest.mark.parametrize(
    ("current", "outdated"),
    [
        (HOOK, False),
        (replace(HOOK, last_success=LATER, failing_since=None), False),
        (replace(HOOK, failing_since=LATER, held_deliveries=3), False),
        (replace(HOOK, webhook_url="https://new.example/hook"), True),
        (replace(HOOK, secret="whsec_rotated", previous_secret=HOOK.secret), True),
        (replace(HOOK, headers={"X-Team": "video"}), True),
        (replace(HOOK, timeout_seconds=3), True),
        (replace(HOOK, organization_secret="rotated"), True),
        (replace(HOOK, enabled=False, disabled_reason="disabled by a user"), True),
        (None, True),  # deleted
    ],
)
def test_a_queued_copy_is_outdated_when_a_request_would_differ(
    current: Webhook | None, outdated: bool
) -> None:
    assert is_outdated(HOOK, current) is outdated


def _queued(queue: MemoryDeliveryQueue, *hooks: Webhook) -> list[Webhook]:
    for hook in hooks:
        event = make.event(hook.account_id)
        queue.add(delivery=make.delivery(event, hook.id), event=event, webhook=hook)
    return list(hooks)


async def test_a_look_hands_back_the_webhooks_edited_or_deleted_since_their_claim() -> None:
    queue = MemoryDeliveryQueue()
    kept, moved, deleted = (make.webhook("acct") for _ in range(3))
    claimed = _queued(queue, kept, moved, deleted)
    dropped: list[Collection[str]] = []
    watch = EditWatch(queue, queued=lambda: claimed, drop=dropped.append, period=1.0)
    queue.edit_webhook(replace(moved, webhook_url="https://moved.example/hook"))
    queue.delete_webhook(deleted.id)

    await watch.look()

    assert dropped == [{moved.id, deleted.id}]


async def test_an_edit_the_queue_tells_of_is_handed_back_at_once() -> None:
    queue = MemoryDeliveryQueue()
    claimed = _queued(queue, HOOK)
    dropped: list[Collection[str]] = []
    watch = EditWatch(queue, queued=lambda: claimed, drop=dropped.append, period=1.0)
    stop_watching = queue.watch_edits(watch.edited)

    queue.edit_webhook(replace(HOOK, enabled=False))
    stop_watching()
    queue.delete_webhook(HOOK.id)

    assert dropped == [{HOOK.id}]


async def test_the_edits_told_since_a_claim_was_asked_for_are_named_latest_first() -> None:
    watch = EditWatch(MemoryDeliveryQueue(), queued=list, drop=lambda _: None, period=1.0)
    loop = asyncio.get_running_loop()
    watch.edited("before")
    asked = loop.time()
    watch.edited("during")
    watch.edited("before")  # edited again: named again

    assert watch.edited_since(asked) == {"during", "before"}
    assert watch.edited_since(loop.time() + 1.0) == set()


async def test_with_nothing_queued_the_watch_waits_without_a_timer_until_some_is() -> None:
    """An idle worker's watch woke every period to find nothing queued (a wake-up a
    second): after a look that finds nothing it waits for `filled`, then looks a period
    later."""
    claimed: list[Webhook] = []
    looks = 0

    def queued() -> list[Webhook]:
        nonlocal looks
        looks += 1
        return claimed

    queue = MemoryDeliveryQueue()
    watch = EditWatch(queue, queued=queued, drop=lambda _: None, period=0.01)
    stop = asyncio.Event()
    running = asyncio.create_task(watch.run(stop))
    try:
        await asyncio.sleep(0.3)  # thirty periods (a window, not a synchronisation)
        assert looks == 1
        claimed.extend(_queued(queue, HOOK))
        watch.filled()
        await eventually(lambda: looks >= 3)  # it looks again, and every period after
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
