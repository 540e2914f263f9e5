"""A worker's claim hands out each delivery's webhook as another process left it: the API
server that edits a webhook or an account and the worker that claims are two processes with
two stores, and whatever a claim keeps between claims (store/claimed_webhooks.py on
PostgreSQL) must not outlive a change committed by the other one, nor give one account's
delivery another account's webhook."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.domain.health import WebhookHealth
from hookcast.domain.models import DeliveryRateLimit, Webhook
from hookcast.ports import ClaimedDelivery
from hookcast.store import SqlStore, open_store, to_async_url
from hookcast.store.tables import accounts, webhooks
from support import factories as make


@pytest.fixture
async def worker_store(database_url: str, secret_key: bytes) -> AsyncIterator[SqlStore]:
    """The worker's own store on the API server's database (`store`)."""
    opened = await open_store(database_url, secret_key=secret_key)
    try:
        yield opened
    finally:
        await opened.close()


async def _webhook(api: SqlStore, **overrides: object) -> Webhook:
    acme = make.account()
    await api.create_account(acme)
    hook = make.webhook(acme.id, **overrides)
    await api.create_webhook(hook)
    return hook


async def _publish(api: SqlStore, *hooks: Webhook) -> None:
    for hook in hooks:
        await api.append_events(
            events=[make.event(hook.account_id)], fanout=make.fanout_to(hook.id)
        )


async def _claim_and_send(worker: SqlStore) -> list[ClaimedDelivery]:
    """Claims what is due and records each sent, as a worker does."""
    claimed = list(await worker.claim_due_deliveries(now=make.NOW, limit=10, lease_seconds=30))
    if claimed:
        health = [WebhookHealth(c.webhook.id, make.NOW, None) for c in claimed]
        await worker.record_results([make.succeeded(c) for c in claimed], health)
    return claimed


async def test_a_secret_rotated_and_controls_changed_by_the_api_show_at_the_next_claim(
    store: SqlStore, worker_store: SqlStore
) -> None:
    hook = await _webhook(store)
    await _publish(store, hook)
    (first,) = await _claim_and_send(worker_store)  # the webhook as it was, perhaps kept
    rotated = replace(
        hook,
        secret=make.webhook(hook.account_id).secret,
        previous_secret=hook.secret,
        previous_secret_expires=make.later(3600),
        webhook_url="https://elsewhere.example/hook",
        headers={"X-Tenant": "acme"},
        rate_limit=DeliveryRateLimit(per_second=5.0, burst=2),
        timeout_seconds=3,
    )
    await store.update_webhook(rotated, make.NOW)
    await _publish(store, hook)

    (second,) = await _claim_and_send(worker_store)

    assert first.webhook.secret == hook.secret
    sent_with = second.webhook
    assert (sent_with.secret, sent_with.previous_secret) == (rotated.secret, hook.secret)
    assert sent_with.webhook_url == "https://elsewhere.example/hook"
    assert dict(sent_with.headers) == {"X-Tenant": "acme"}
    assert sent_with.rate_limit == DeliveryRateLimit(per_second=5.0, burst=2)
    assert sent_with.timeout_seconds == 3


async def test_an_organization_secret_changed_by_the_api_signs_the_next_claim(
    store: SqlStore, worker_store: SqlStore
) -> None:
    hook = await _webhook(store, format="flowplayer")
    await store.set_flowplayer_secret(hook.account_id, "first organization secret")
    await _publish(store, hook)
    (first,) = await _claim_and_send(worker_store)
    await store.set_flowplayer_secret(hook.account_id, "second organization secret")
    await _publish(store, hook)

    (second,) = await _claim_and_send(worker_store)

    assert first.webhook.organization_secret == "first organization secret"
    assert second.webhook.organization_secret == "second organization secret"


async def test_a_webhook_the_worker_disabled_and_the_api_enabled_again_is_claimed_enabled(
    store: SqlStore, worker_store: SqlStore
) -> None:
    hook = await _webhook(store)
    await _publish(store, hook)
    (gone,) = list(await worker_store.claim_due_deliveries(now=make.NOW, limit=1, lease_seconds=30))
    disabled = WebhookHealth(hook.id, None, make.NOW, disable_reason="410 Gone")
    await worker_store.record_results([make.gave_up(gone)], [disabled])
    await store.update_webhook(replace(hook, name="fixed", enabled=True), make.NOW)
    await _publish(store, hook)

    (claimed,) = await _claim_and_send(worker_store)

    assert claimed.webhook.enabled
    assert claimed.webhook.disabled_reason is None
    assert claimed.webhook.name == "fixed"


async def test_one_claim_of_two_accounts_gives_each_delivery_its_own_accounts_webhook(
    store: SqlStore, worker_store: SqlStore
) -> None:
    acme, other = await _webhook(store), await _webhook(store)
    await _publish(store, acme, other)
    await _claim_and_send(worker_store)
    await store.update_webhook(replace(acme, webhook_url="https://acme.example/new"), make.NOW)
    await _publish(store, acme, other)

    claimed = await _claim_and_send(worker_store)

    assert len(claimed) == 2
    for delivery in claimed:
        assert delivery.webhook.account_id == delivery.account_id
        assert delivery.webhook.id == delivery.webhook_id
    urls = {c.account_id: c.webhook.webhook_url for c in claimed}
    assert urls == {
        acme.account_id: "https://acme.example/new",
        other.account_id: "https://receiver.example/hook",
    }


@pytest.mark.postgres
async def test_a_claim_after_a_restore_and_an_edit_sends_to_the_edited_url(
    pg_store: SqlStore, postgres_database: str
) -> None:
    # A worker left running through a restore (docs/operations.md says to stop them) must
    # not trust what it kept from before when the edits after the restore bring the
    # account's configuration version back to a value it kept a webhook under.
    hook = await _webhook(pg_store, webhook_url="https://before-backup.example/hook")
    backup = await _version_and_url(postgres_database, hook)
    await pg_store.update_webhook(replace(hook, webhook_url="https://gone.example/hook"), make.NOW)
    await _publish(pg_store, hook)
    (before,) = await _claim_and_send(pg_store)
    await _restore(postgres_database, hook, backup)
    await pg_store.update_webhook(replace(hook, webhook_url="https://after.example/hook"), make.NOW)
    await _publish(pg_store, hook)

    (after,) = await _claim_and_send(pg_store)

    assert before.webhook.webhook_url == "https://gone.example/hook"
    assert after.webhook.webhook_url == "https://after.example/hook"


async def _version_and_url(url: str, hook: Webhook) -> tuple[int, str]:
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.connect() as conn:
            version = await conn.scalar(
                select(accounts.c.config_version).where(accounts.c.id == hook.account_id)
            )
            hook_url = await conn.scalar(
                select(webhooks.c.webhook_url).where(webhooks.c.id == hook.id)
            )
    finally:
        await engine.dispose()
    assert version is not None
    assert hook_url is not None
    return int(version), str(hook_url)


async def _restore(url: str, hook: Webhook, backup: tuple[int, str]) -> None:
    """The account's and the webhook's rows as a restore of the backup leaves them."""
    version, hook_url = backup
    engine = create_async_engine(to_async_url(url))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                update(webhooks).where(webhooks.c.id == hook.id).values(webhook_url=hook_url)
            )
            await conn.execute(
                update(accounts)
                .where(accounts.c.id == hook.account_id)
                .values(config_version=version)
            )
    finally:
        await engine.dispose()


async def test_a_delivery_made_just_before_the_worker_disabled_its_webhook_is_claimed_as_such(
    store: SqlStore, worker_store: SqlStore
) -> None:
    """The worker's disable moves the webhook's `last_modified` as a pause through the API
    does: a delivery a publish made before it (on PostgreSQL one that checked its
    configuration before the disable committed) is claimed as made no later than that, so
    the worker parks it (delivery/worker.py `_sendable`); one made after it, a test a person
    sent to the disabled webhook, is not."""
    hook = await _webhook(store)
    await _publish(store, hook)
    (gone,) = list(await worker_store.claim_due_deliveries(now=make.NOW, limit=1, lease_seconds=30))
    racing = make.event(hook.account_id, created=datetime.now(UTC))
    disabled = WebhookHealth(hook.id, None, make.NOW, disable_reason="410 Gone")
    await worker_store.record_results([make.gave_up(gone)], [disabled])
    await worker_store.settle_pauses()  # the backlog's pause, before the two are made
    after = make.event(hook.account_id, created=datetime.now(UTC) + timedelta(milliseconds=1))
    for event in (racing, after):  # as a publish that checked before the disable would
        await store.append_events(events=[event], fanout=make.fanout_to(hook.id))

    claimed = await worker_store.claim_due_deliveries(now=after.created, limit=10, lease_seconds=30)

    by_event = {c.event_id: c for c in claimed}
    assert set(by_event) == {racing.id, after.id}
    webhook = by_event[racing.id].webhook
    assert not webhook.enabled
    assert by_event[racing.id].created <= webhook.last_modified
    assert by_event[after.id].created > webhook.last_modified


async def test_the_worker_leaves_a_paused_webhooks_last_modified_alone(
    store: SqlStore, worker_store: SqlStore
) -> None:
    """An attempt in flight when a person paused the webhook may still disable it (410
    Gone): the pause's time stays its `last_modified`, so a test sent since still goes."""
    hook = await _webhook(store)
    await _publish(store, hook)
    (gone,) = list(await worker_store.claim_due_deliveries(now=make.NOW, limit=1, lease_seconds=30))
    paused = replace(hook, enabled=False, last_modified=make.later(1))
    await store.update_webhook(paused, paused.last_modified)
    disabled = WebhookHealth(hook.id, None, make.NOW, disable_reason="410 Gone")
    await worker_store.record_results([make.gave_up(gone)], [disabled])

    stored = await store.get_webhook(hook.account_id, hook.id)

    assert stored is not None
    assert stored.last_modified == paused.last_modified
