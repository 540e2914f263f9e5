"""Webhooks: storage, secrets at rest, listing, updates and the pause/resume of deliveries."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.domain.errors import NotFound, ValidationFailed
from hookcast.domain.models import Account, DeliveryStatus, RetryPolicySpec
from hookcast.ports import DeliveryQuery, PageRequest, WebhookQuery
from hookcast.store import SqlStore, open_store, to_async_url
from hookcast.store.crypto import SecretKeyError
from hookcast.store.tables import webhooks
from support import factories as make


async def _account(store: SqlStore) -> Account:
    created = make.account()
    await store.create_account(created)
    return created


async def test_every_field_round_trips(store: SqlStore) -> None:
    acme = await _account(store)
    sites = [make.site(acme.id) for _ in range(3)]
    for site in sites:
        await store.create_site(site)
    hook = make.webhook(
        acme.id,
        events=("media_deleted", "*", "media_available"),
        site_ids=(sites[2].id, sites[0].id, sites[1].id),
        enabled=False,
        disabled_reason="410 Gone",
        conditions={"data.tags": {"$contains": "sports"}},
        retry_policy=RetryPolicySpec("custom", (1.5, 60.0)),
        timeout_seconds=3,
        previous_secret="whsec_b2xk",
        previous_secret_expires=make.later(3600),
        last_success=make.later(1),
        failing_since=make.later(2),
        last_modified=make.later(3),
    )
    await store.create_webhook(hook)
    assert await store.get_webhook(acme.id, hook.id) == hook


async def test_foreign_webhooks_are_not_found(store: SqlStore) -> None:
    mine, theirs = await _account(store), await _account(store)
    hook = make.webhook(mine.id)
    await store.create_webhook(hook)

    assert await store.get_webhook(theirs.id, hook.id) is None
    assert (await store.list_webhooks(WebhookQuery(account_id=theirs.id))).total == 0
    assert await store.publish_webhooks(theirs.id) == []
    assert not await store.delete_webhook(theirs.id, hook.id)
    with pytest.raises(NotFound):
        await store.update_webhook(replace(hook, account_id=theirs.id), make.NOW)
    assert await store.get_webhook(mine.id, hook.id) == hook


async def test_secrets_are_encrypted_at_rest(
    store: SqlStore, database_url: str, secret_key: bytes
) -> None:
    acme = await _account(store)
    hook = make.webhook(acme.id, previous_secret="whsec_previous_one")
    await store.create_webhook(hook)

    engine = create_async_engine(to_async_url(database_url))
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(select(webhooks).where(webhooks.c.id == hook.id))).one()
    finally:
        await engine.dispose()
    assert hook.secret not in row.secret_encrypted
    assert "whsec_previous_one" not in row.previous_secret_encrypted

    # Another store with the same key reads it; one with another key refuses to.
    same_key = await open_store(database_url, secret_key=secret_key)
    other_key = await open_store(database_url, secret_key=Fernet.generate_key())
    try:
        found = await same_key.get_webhook(acme.id, hook.id)
        assert found is not None
        assert found.secret == hook.secret
        with pytest.raises(SecretKeyError):
            await other_key.get_webhook(acme.id, hook.id)
    finally:
        await same_key.close()
        await other_key.close()


async def test_list_paginates_and_sorts_with_id_as_tie_breaker(store: SqlStore) -> None:
    acme = await _account(store)
    hooks = [
        make.webhook(acme.id, name=name, created=make.later(i // 2), last_modified=make.later(-i))
        for i, name in enumerate(["b", "a", "D", "c", "e"])
    ]
    for hook in hooks:
        await store.create_webhook(hook)

    async def ids(sort: str, descending: bool, page: int = 1, length: int = 10) -> list[str]:
        query = WebhookQuery(
            account_id=acme.id,
            page=PageRequest(page=page, page_length=length),
            sort=sort,
            descending=descending,
        )
        listed = await store.list_webhooks(query)
        assert listed.total == 5
        return [hook.id for hook in listed.items]

    by_created = sorted(hooks, key=lambda hook: (hook.created, hook.id))
    assert await ids("created", descending=False) == [hook.id for hook in by_created]
    assert await ids("created", descending=True) == [hook.id for hook in reversed(by_created)]
    by_modified = sorted(hooks, key=lambda hook: hook.last_modified)
    assert await ids("last_modified", descending=False) == [hook.id for hook in by_modified]
    by_name = sorted(hooks, key=lambda hook: hook.name)  # byte order: "D" before "a"
    assert await ids("name", descending=False) == [hook.id for hook in by_name]
    assert (
        await ids("name", descending=True, page=2, length=2)
        == [hook.id for hook in reversed(by_name)][2:4]
    )
    assert await ids("name", descending=True, page=4, length=2) == []


async def test_list_rejects_unknown_sort_and_bad_pages(store: SqlStore) -> None:
    acme = await _account(store)
    with pytest.raises(ValidationFailed):
        await store.list_webhooks(WebhookQuery(account_id=acme.id, sort="url"))
    with pytest.raises(ValidationFailed):
        await store.list_webhooks(WebhookQuery(account_id=acme.id, page=PageRequest(page=0)))


async def test_list_filters_by_event_and_site(store: SqlStore) -> None:
    acme = await _account(store)
    one, two = make.site(acme.id), make.site(acme.id)
    for site in (one, two):
        await store.create_site(site)
    media = make.webhook(acme.id, events=("media_available", "media_deleted"), site_ids=(one.id,))
    every = make.webhook(acme.id, events=("*",), site_ids=(one.id, two.id))
    channel = make.webhook(acme.id, events=("channel_active",), site_ids=(two.id,))
    for hook in (media, every, channel):
        await store.create_webhook(hook)

    async def ids(*, event: str | None = None, site_id: str | None = None) -> set[str]:
        query = WebhookQuery(account_id=acme.id, event=event, site_id=site_id)
        listed = await store.list_webhooks(query)
        assert listed.total == len(listed.items)
        return {hook.id for hook in listed.items}

    assert await ids(event="media_deleted") == {media.id}  # literal membership: not "*"
    assert await ids(event="*") == {every.id}
    assert await ids(site_id=two.id) == {every.id, channel.id}
    assert await ids(event="channel_active", site_id=two.id) == {channel.id}
    assert await ids(event="channel_active", site_id=one.id) == set()


async def test_an_event_filter_can_take_in_the_webhooks_on_every_event(store: SqlStore) -> None:
    acme = await _account(store)
    site = make.site(acme.id)
    await store.create_site(site)
    named = make.webhook(acme.id, events=("media_available",), site_ids=(site.id,))
    every = make.webhook(acme.id, events=("*",), site_ids=(site.id,))
    every_apivideo = make.webhook(acme.id, events=("*",), site_ids=(site.id,), format="apivideo")
    for hook in (named, every, every_apivideo):
        await store.create_webhook(hook)

    async def ids(event: str, formats: tuple[str, ...]) -> set[str]:
        query = WebhookQuery(account_id=acme.id, event=event, all_events_formats=formats)
        listed = await store.list_webhooks(query)
        assert listed.total == len(listed.items)
        return {hook.id for hook in listed.items}

    assert await ids("media_available", ("jwplayer",)) == {named.id, every.id}
    assert await ids("media_available", ("jwplayer", "apivideo")) == {
        named.id,
        every.id,
        every_apivideo.id,
    }
    assert await ids("media_available", ()) == {named.id}


async def test_list_filters_on_format(store: SqlStore) -> None:
    acme = await _account(store)
    site = make.site(acme.id)
    await store.create_site(site)
    jw = make.webhook(acme.id, events=("rendition_ready",), site_ids=(site.id,))
    api_video = make.webhook(
        acme.id, events=("rendition_ready",), site_ids=(site.id,), format="apivideo"
    )
    for hook in (jw, api_video):
        await store.create_webhook(hook)

    async def ids(fmt: str | None, event: str | None = None) -> list[str]:
        query = WebhookQuery(account_id=acme.id, format=fmt, event=event)
        listed = await store.list_webhooks(query)
        assert listed.total == len(listed.items)
        return [hook.id for hook in listed.items]

    assert await ids("apivideo") == [api_video.id]
    assert await ids("apivideo", "rendition_ready") == [api_video.id]
    assert await ids("apivideo", "channel_active") == []
    assert await ids("jwplayer") == [jw.id]
    assert sorted(await ids(None)) == sorted([jw.id, api_video.id])


async def test_update_saves_every_field_and_replaces_subscriptions(store: SqlStore) -> None:
    acme = await _account(store)
    one, two = make.site(acme.id), make.site(acme.id)
    for site in (one, two):
        await store.create_site(site)
    hook = make.webhook(acme.id, events=("media_available", "media_deleted"), site_ids=(one.id,))
    await store.create_webhook(hook)

    changed = replace(
        hook,
        name="renamed",
        webhook_url="https://other.example/",
        events=("channel_active",),
        site_ids=(two.id, one.id),
        secret="whsec_rotated",
        previous_secret=hook.secret,
        previous_secret_expires=make.later(60),
        conditions={"data.live": {"$eq": True}},
        retry_policy=RetryPolicySpec("quick", (3.0, 3.0)),
        last_modified=make.later(10),
    )
    await store.update_webhook(changed, make.later(10))

    assert await store.get_webhook(acme.id, hook.id) == changed
    assert (await store.list_webhooks(WebhookQuery(acme.id, event="media_deleted"))).total == 0
    assert (await store.list_webhooks(WebhookQuery(acme.id, event="channel_active"))).total == 1


async def test_publish_webhooks_are_all_the_accounts_oldest_first(store: SqlStore) -> None:
    # Disabled webhooks too: a publish creates held deliveries for them.
    acme, other = await _account(store), await _account(store)
    on = make.webhook(acme.id, events=("a", "b"))
    off = make.webhook(acme.id, enabled=False, created=make.later(1))
    for hook in (on, off, make.webhook(other.id)):
        await store.create_webhook(hook)
    assert await store.publish_webhooks(acme.id) == [on, off]


async def _statuses(store: SqlStore, account_id: str, webhook_id: str) -> list[DeliveryStatus]:
    page = await store.list_deliveries(DeliveryQuery(account_id, webhook_id))
    return [record.delivery.status for record in page.items]


async def test_disabling_pauses_pending_deliveries_and_enabling_resumes_them(
    store: SqlStore,
) -> None:
    acme = await _account(store)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    event = make.event(acme.id)
    await store.append_events(events=[event], fanout=make.fanout_to(hook.id))

    await store.update_webhook(replace(hook, enabled=False), make.later(1))
    assert await _statuses(store, acme.id, hook.id) == [DeliveryStatus.PAUSED]
    assert await store.claim_due_deliveries(now=make.later(5), limit=10, lease_seconds=30) == []
    assert await store.next_due_at() is None

    resumed_at = make.later(100)
    await store.update_webhook(replace(hook, enabled=True), resumed_at)
    assert await _statuses(store, acme.id, hook.id) == [DeliveryStatus.PENDING]
    assert await store.next_due_at() == resumed_at


async def test_deleting_a_webhook_deletes_its_deliveries_and_attempts(store: SqlStore) -> None:
    acme = await _account(store)
    hook, other = make.webhook(acme.id), make.webhook(acme.id)
    for each in (hook, other):
        await store.create_webhook(each)
    await store.append_events(
        events=[make.event(acme.id)], fanout=make.fanout_to(hook.id, other.id)
    )
    claimed = await store.claim_due_deliveries(now=make.NOW, limit=10, lease_seconds=30)
    await store.record_results([make.succeeded(c) for c in claimed], [])
    deleted = next(c.delivery_id for c in claimed if c.webhook_id == hook.id)

    assert await store.delete_webhook(acme.id, hook.id)

    assert await store.get_webhook(acme.id, hook.id) is None
    assert await store.get_delivery(acme.id, deleted) is None
    assert (await store.list_deliveries(DeliveryQuery(acme.id, other.id))).total == 1
    assert not await store.delete_webhook(acme.id, hook.id)
