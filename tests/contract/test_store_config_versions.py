"""Configuration versions: every change a publish depends on moves the account's version,
and append_events(expect=...) refuses, storing nothing, a publish that read an older one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

import pytest

from hookcast.domain.health import WebhookHealth
from hookcast.domain.models import Account
from hookcast.ports import ConfigChanged, ConfigVersion, DeliveryQuery, EventQuery
from hookcast.store import SqlStore
from support import factories as make


async def _account(store: SqlStore) -> Account:
    created = make.account()
    await store.create_account(created)
    return created


async def _moves(
    store: SqlStore, account: Account, change: Callable[[], Awaitable[object]]
) -> bool:
    before = await store.config_version(account.id)
    await change()
    return await store.config_version(account.id) > before


async def test_each_change_a_publish_depends_on_moves_the_version(store: SqlStore) -> None:
    acme = await _account(store)
    key, site, hook = make.api_key(acme.id), make.site(acme.id), make.webhook(acme.id)

    assert await _moves(store, acme, lambda: store.create_api_key(key))
    assert await _moves(store, acme, lambda: store.create_site(site))
    assert await _moves(store, acme, lambda: store.create_webhook(hook))
    assert await _moves(
        store, acme, lambda: store.update_webhook(replace(hook, name="b"), make.NOW)
    )
    assert await _moves(store, acme, lambda: store.delete_webhook(acme.id, hook.id))
    assert await _moves(store, acme, lambda: store.delete_site(acme.id, site.id))
    assert await _moves(store, acme, lambda: store.delete_api_key(acme.id, key.id))
    # Deleting what is not there changes nothing, and moves nothing.
    assert not await _moves(store, acme, lambda: store.delete_api_key(acme.id, key.id))


async def test_the_worker_disabling_a_webhook_moves_its_accounts_version_only(
    store: SqlStore,
) -> None:
    acme, other = await _account(store), await _account(store)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    other_version = await store.config_version(other.id)
    await store.append_events(events=[make.event(acme.id)], fanout=make.fanout_to(hook.id))
    (claimed,) = await store.claim_due_deliveries(now=make.NOW, limit=1, lease_seconds=30)

    succeeded = WebhookHealth(hook.id, make.NOW, None)
    assert not await _moves(
        store, acme, lambda: store.record_results([make.succeeded(claimed)], [succeeded])
    )
    gone = WebhookHealth(hook.id, None, make.NOW, disable_reason="410 Gone")
    assert await _moves(store, acme, lambda: store.record_results([], [gone]))
    assert await store.config_version(other.id) == other_version


async def test_a_publish_that_read_an_older_version_stores_nothing(store: SqlStore) -> None:
    acme = await _account(store)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)
    read_at = ConfigVersion(acme.id, await store.config_version(acme.id))
    await store.create_webhook(make.webhook(acme.id))  # after the publish read its webhooks

    with pytest.raises(ConfigChanged):
        await store.append_events(
            events=[make.event(acme.id)], fanout=make.fanout_to(hook.id), expect=read_at
        )

    assert (await store.list_events(EventQuery(account_id=acme.id))).total == 0
    current = ConfigVersion(acme.id, await store.config_version(acme.id))
    event = make.event(acme.id)
    assert await store.append_events(
        events=[event], fanout=make.fanout_to(hook.id), expect=current
    ) == [event.id]


async def test_in_a_group_commit_only_the_stale_call_is_refused(store: SqlStore) -> None:
    acme, other = await _account(store), await _account(store)
    hooks = [make.webhook(acme.id), make.webhook(other.id)]
    for hook in hooks:
        await store.create_webhook(hook)
    stale = ConfigVersion(acme.id, await store.config_version(acme.id) - 1)
    current = ConfigVersion(other.id, await store.config_version(other.id))
    same_id, fresh = make.event(other.id), make.event(other.id)

    # Gathered: the calls share one transaction (see test_store_events' group commit test).
    results = await asyncio.gather(
        store.append_events(
            events=[make.event(acme.id)], fanout=make.fanout_to(hooks[0].id), expect=stale
        ),
        store.append_events(events=[same_id], fanout=make.fanout_to(hooks[1].id), expect=current),
        store.append_events(events=[same_id, fresh], fanout=make.fanout_to(hooks[1].id)),
        return_exceptions=True,
    )

    assert isinstance(results[0], ConfigChanged)
    assert results[1] == [same_id.id]
    assert results[2] == [fresh.id]  # same_id was stored by the call before it
    assert (await store.list_events(EventQuery(account_id=acme.id))).total == 0
    delivered = await store.list_deliveries(DeliveryQuery(other.id, hooks[1].id))
    assert delivered.total == 2  # one per event, however many calls carried it
