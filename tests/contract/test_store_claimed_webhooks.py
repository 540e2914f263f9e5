"""A claim hands out each delivery's webhook as it is now: PostgreSQL keeps claimed
webhooks between claims (store/claimed_webhooks.py), so an edit, a pause, a deletion and
what recording outcomes wrote must each show at the very next claim."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from hookcast.delivery.edits import is_outdated
from hookcast.domain.health import WebhookHealth
from hookcast.domain.models import Webhook
from hookcast.ports import ClaimedDelivery
from hookcast.store import SqlStore
from support import factories as make


async def _webhook(store: SqlStore) -> Webhook:
    acme = make.account()
    await store.create_account(acme)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    return hook


async def _publish(store: SqlStore, hook: Webhook, count: int = 1) -> None:
    events = [make.event(hook.account_id) for _ in range(count)]
    await store.append_events(events=events, fanout=make.fanout_to(hook.id))


async def _claim(store: SqlStore, *, limit: int = 10) -> list[ClaimedDelivery]:
    claimed = await store.claim_due_deliveries(now=make.NOW, limit=limit, lease_seconds=30)
    return list(claimed)


async def _claimed_and_sent(store: SqlStore, hook: Webhook) -> ClaimedDelivery:
    """Publishes one event to `hook`, claims its delivery and records it sent."""
    await _publish(store, hook)
    (claimed,) = await _claim(store)
    succeeded = WebhookHealth(hook.id, make.NOW, None)
    await store.record_results([make.succeeded(claimed)], [succeeded])
    return claimed


async def test_a_webhook_edited_since_the_last_claim_is_claimed_as_edited(
    store: SqlStore,
) -> None:
    hook = await _webhook(store)
    first = await _claimed_and_sent(store, hook)
    edited = replace(hook, webhook_url="https://elsewhere.example/hook", events=("*",))
    await store.update_webhook(edited, make.NOW)

    second = await _claimed_and_sent(store, hook)

    assert first.webhook.webhook_url == "https://receiver.example/hook"
    assert second.webhook.webhook_url == "https://elsewhere.example/hook"
    assert second.webhook.events == ("*",)


async def test_a_webhook_paused_resumed_or_deleted_since_the_last_claim(
    store: SqlStore,
) -> None:
    hook = await _webhook(store)
    await _publish(store, hook, count=2)
    await _claim(store, limit=1)  # the webhook as it was, perhaps kept
    await store.update_webhook(replace(hook, enabled=False), make.NOW)

    assert await _claim(store) == []

    await store.update_webhook(replace(hook, name="renamed"), make.NOW)
    (resumed,) = await _claim(store)
    assert resumed.webhook.enabled
    assert resumed.webhook.name == "renamed"

    await store.delete_webhook(hook.account_id, hook.id)
    await _publish(store, hook)
    assert await _claim(store) == []


async def test_what_recording_wrote_is_in_the_next_claims_webhook(store: SqlStore) -> None:
    hook = await _webhook(store)
    await _publish(store, hook, count=3)
    failed, *_ = await _claim(store, limit=1)
    failure = WebhookHealth(hook.id, None, make.NOW, retry_at=make.later(60))
    await store.record_results([make.retry_later(failed, make.later(60))], [failure])

    failing, *_ = await _claim(store, limit=1)
    assert failing.webhook.failing_since == make.NOW
    assert failing.webhook.next_retry_at == make.later(60)
    recovered = WebhookHealth(hook.id, make.later(1), None)
    await store.record_results([make.succeeded(failing, make.later(1))], [recovered])

    healthy, *_ = await _claim(store, limit=1)
    assert healthy.webhook.failing_since is None
    assert healthy.webhook.last_success == make.later(1)


async def test_one_claim_of_several_webhooks_carries_each_ones_own_standing(
    store: SqlStore,
) -> None:
    """PostgreSQL's claim reads the claimed webhooks' standing once per claim, not per row
    (store/deliveries.py): each delivery must still get its own webhook's, of two accounts."""
    failing, healthy = await _webhook(store), await _webhook(store)
    third = make.webhook(failing.account_id, name="third")
    await store.create_webhook(third)
    for hook in (failing, healthy, third):
        await _publish(store, hook, count=3)
    failure = WebhookHealth(failing.id, None, make.NOW, retry_at=make.later(60))
    success = WebhookHealth(healthy.id, make.later(1), None)
    await store.record_results([], [failure, success])

    claimed = await _claim(store, limit=9)

    assert len(claimed) == 9
    by_webhook = {c.webhook.id: c.webhook for c in claimed}
    assert {c.webhook.id for c in claimed if c.webhook.failing_since == make.NOW} == {failing.id}
    assert by_webhook[failing.id].next_retry_at == make.later(60)
    assert by_webhook[healthy.id].last_success == make.later(1)
    assert by_webhook[healthy.id].failing_since is None
    assert by_webhook[third.id].name == "third"
    assert by_webhook[third.id].failing_since is None
    assert all(c.webhook.id == c.webhook_id for c in claimed)


async def test_the_webhooks_now_match_a_claimed_copy_until_an_edit(store: SqlStore) -> None:
    """What a worker compares its queued deliveries' webhooks with (delivery/edits.py): an
    unchanged webhook, even with outcomes recorded since, must match, or every look would
    send the queued deliveries back."""
    hook = await _webhook(store)
    await _publish(store, hook, count=2)
    first, second = await _claim(store)
    await store.record_results([make.succeeded(first)], [WebhookHealth(hook.id, make.NOW, None)])

    unchanged = await store.current_webhooks({hook.id})
    assert not is_outdated(second.webhook, unchanged[hook.id])

    await store.update_webhook(replace(hook, webhook_url="https://moved.example/hook"), make.NOW)
    moved = await store.current_webhooks({hook.id})
    assert moved[hook.id].webhook_url == "https://moved.example/hook"
    assert is_outdated(second.webhook, moved[hook.id])

    await store.delete_webhook(hook.account_id, hook.id)
    assert await store.current_webhooks({hook.id}) == {}


async def test_the_store_tells_of_an_edit_once_it_committed(store: SqlStore) -> None:
    """A worker in the API's process (`serve`) hands back its queued deliveries when told;
    a read begun when told sees the edit (claimed again, they get it)."""
    hook = await _webhook(store)

    async def seen(webhook_id: str) -> str | None:
        found = await store.current_webhooks({webhook_id})
        return found[webhook_id].webhook_url if webhook_id in found else None

    reads: list[asyncio.Task[str | None]] = []
    stop = store.watch_edits(lambda webhook_id: reads.append(asyncio.create_task(seen(webhook_id))))
    await store.update_webhook(replace(hook, webhook_url="https://moved.example/hook"), make.NOW)
    assert [await read for read in reads] == ["https://moved.example/hook"]
    await store.delete_webhook(hook.account_id, hook.id)
    assert await reads[-1] is None
    stop()
    await store.create_webhook(hook)
    await store.delete_webhook(hook.account_id, hook.id)

    assert len(reads) == 2  # not told once it stopped watching


async def test_a_publishs_copy_of_a_webhook_matches_the_stored_one(store: SqlStore) -> None:
    """In `serve` a publish hands its deliveries over with the webhook it read for fan-out:
    unedited, a look must not find it outdated (it would send them back every second)."""
    acme = make.account()
    await store.create_account(acme)
    await store.set_flowplayer_secret(acme.id, "organization-secret")
    plain = make.webhook(acme.id, headers={"X-Team": "video"})
    flowplayer = make.webhook(acme.id, format="flowplayer")
    for hook in (plain, flowplayer):
        await store.create_webhook(hook)

    published = await store.publish_webhooks(acme.id)
    current = await store.current_webhooks({plain.id, flowplayer.id})

    assert len(published) == 2
    assert [hook.id for hook in published if is_outdated(hook, current[hook.id])] == []
