"""Webhooks on every property (all_sites): stored as such, not as the properties of the day."""

from __future__ import annotations

from dataclasses import replace

from hookcast.domain.models import Account
from hookcast.ports import WebhookQuery
from hookcast.store import SqlStore
from support import factories as make


async def _account_with_site(store: SqlStore) -> tuple[Account, str]:
    acme = make.account()
    await store.create_account(acme)
    site = make.site(acme.id)
    await store.create_site(site)
    return acme, site.id


async def test_a_webhook_on_every_property_round_trips(store: SqlStore) -> None:
    acme, _ = await _account_with_site(store)
    every = make.webhook(acme.id, all_sites=True)
    await store.create_webhook(every)

    assert await store.get_webhook(acme.id, every.id) == every
    (published,) = await store.publish_webhooks(acme.id)
    assert published.all_sites
    assert published.site_ids == ()


async def test_a_webhook_with_a_list_is_not_on_every_property(store: SqlStore) -> None:
    acme, site_id = await _account_with_site(store)
    listed = make.webhook(acme.id, site_ids=(site_id,))
    await store.create_webhook(listed)

    stored = await store.get_webhook(acme.id, listed.id)
    assert stored is not None
    assert not stored.all_sites
    assert stored.site_ids == (site_id,)


async def test_filtering_on_a_property_finds_the_webhooks_on_every_property(
    store: SqlStore,
) -> None:
    acme, first = await _account_with_site(store)
    every = make.webhook(acme.id, all_sites=True)
    listed = make.webhook(acme.id, site_ids=(first,))
    for hook in (every, listed):
        await store.create_webhook(hook)
    later = make.site(acme.id)
    await store.create_site(later)  # after both webhooks

    async def ids(site_id: str) -> set[str]:
        found = await store.list_webhooks(WebhookQuery(account_id=acme.id, site_id=site_id))
        return {hook.id for hook in found.items}

    assert await ids(first) == {every.id, listed.id}
    assert await ids(later.id) == {every.id}


async def test_a_webhook_moves_between_every_property_and_a_list(store: SqlStore) -> None:
    acme, site_id = await _account_with_site(store)
    every = make.webhook(acme.id, all_sites=True)
    await store.create_webhook(every)

    listed = replace(every, all_sites=False, site_ids=(site_id,), last_modified=make.later(1))
    await store.update_webhook(listed, make.later(1))
    assert await store.get_webhook(acme.id, every.id) == listed

    again = replace(listed, all_sites=True, site_ids=(), last_modified=make.later(2))
    await store.update_webhook(again, make.later(2))
    assert await store.get_webhook(acme.id, every.id) == again
