"""Accounts, API keys and sites, on every backend."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from hookcast.domain.errors import Conflict, NotFound
from hookcast.domain.models import Role
from hookcast.ports import AccountFull, PageRequest, WebhookQuery
from hookcast.store import SqlStore, open_store
from support import factories as make


async def test_a_new_database_has_one_default_account(store: SqlStore) -> None:
    (only,) = await store.list_accounts()
    assert only.name == "Default"
    assert len(only.id) == 8
    assert only.id.isalnum()


async def test_accounts_round_trip(store: SqlStore) -> None:
    acme = make.account(name="Acme")
    await store.create_account(acme)
    assert await store.get_account(acme.id) == acme
    assert acme in await store.list_accounts()
    assert await store.get_account("NoSuchId") is None


async def test_duplicate_account_id_is_a_conflict(store: SqlStore) -> None:
    acme = make.account()
    await store.create_account(acme)
    with pytest.raises(Conflict):
        await store.create_account(acme)


async def test_api_keys_are_found_by_hash_and_scoped_to_their_account(store: SqlStore) -> None:
    mine, theirs = make.account(), make.account()
    for owner in (mine, theirs):
        await store.create_account(owner)
    key = make.api_key(mine.id, role=Role.ADMIN, last_used=make.later(5))
    await store.create_api_key(key)

    assert await store.find_api_key(key.secret_hash) == key
    assert await store.find_api_key("unknown") is None
    assert await store.list_api_keys(mine.id) == [key]
    assert await store.list_api_keys(theirs.id) == []
    assert await store.count_api_keys() == 1

    assert not await store.delete_api_key(theirs.id, key.id)
    assert await store.delete_api_key(mine.id, key.id)
    assert not await store.delete_api_key(mine.id, key.id)
    assert await store.count_api_keys() == 0


async def test_duplicate_api_key_hash_is_a_conflict(store: SqlStore) -> None:
    acme = make.account()
    await store.create_account(acme)
    key = make.api_key(acme.id)
    await store.create_api_key(key)
    with pytest.raises(Conflict):
        await store.create_api_key(make.api_key(acme.id, secret_hash=key.secret_hash))


async def test_site_ids_are_unique_within_an_account(store: SqlStore) -> None:
    # Not across accounts since review12 (tests/contract/test_store_site_ids.py).
    mine = make.account()
    await store.create_account(mine)
    await store.create_site(make.site(mine.id, id="ChosenId"))
    with pytest.raises(Conflict, match="site id ChosenId is already taken"):
        await store.create_site(make.site(mine.id, id="ChosenId"))


async def test_sites_crud_and_isolation(store: SqlStore) -> None:
    mine, theirs = make.account(), make.account()
    for owner in (mine, theirs):
        await store.create_account(owner)
    sites = [make.site(mine.id, name=f"site {i}", created=make.later(i)) for i in range(3)]
    for site in sites:
        await store.create_site(site)

    assert await store.get_site(mine.id, sites[0].id) == sites[0]
    assert await store.get_site(theirs.id, sites[0].id) is None
    page = await store.list_sites(mine.id, PageRequest(page=2, page_length=2))
    assert (page.items, page.total) == ([sites[2]], 3)
    assert (await store.list_sites(theirs.id, PageRequest())).total == 0

    renamed = replace(sites[0], name="renamed", last_modified=make.later(60))
    await store.update_site(renamed)
    assert await store.get_site(mine.id, sites[0].id) == renamed
    with pytest.raises(NotFound):
        await store.update_site(replace(renamed, account_id=theirs.id))

    wanted = [sites[0].id, sites[1].id, "Missing1"]
    assert await store.existing_site_ids(mine.id, wanted) == {sites[0].id, sites[1].id}
    assert await store.existing_site_ids(theirs.id, wanted) == set()

    assert not await store.delete_site(theirs.id, sites[0].id)
    assert await store.delete_site(mine.id, sites[0].id)
    assert await store.get_site(mine.id, sites[0].id) is None


async def test_deleting_a_site_removes_it_from_webhooks(store: SqlStore) -> None:
    acme = make.account()
    await store.create_account(acme)
    kept, gone = make.site(acme.id), make.site(acme.id)
    for site in (kept, gone):
        await store.create_site(site)
    hook = make.webhook(acme.id, site_ids=(gone.id, kept.id))
    await store.create_webhook(hook)

    await store.delete_site(acme.id, gone.id)

    found = await store.get_webhook(acme.id, hook.id)
    assert found is not None
    assert found.site_ids == (kept.id,)


async def test_processes_starting_together_on_a_new_database_make_one_first_key(
    store: SqlStore, database_url: str, secret_key: bytes
) -> None:
    """`serve --reuse-port` processes started at once each try to make the first admin key:
    one does, and only its key exists (the others print none)."""
    acme = make.account()
    await store.create_account(acme)
    others = [await open_store(database_url, secret_key=secret_key) for _ in range(7)]
    try:
        keys = [make.api_key(acme.id, role=Role.ADMIN) for _ in range(8)]
        stores = [store, *others]
        made = await asyncio.gather(
            *(each.create_first_api_key(key) for each, key in zip(stores, keys, strict=True))
        )
    finally:
        for other in others:
            await other.close()

    assert made.count(True) == 1
    assert await store.list_api_keys(acme.id) == [keys[made.index(True)]]
    assert not await store.create_first_api_key(make.api_key(acme.id, role=Role.ADMIN))


async def test_an_account_at_its_bound_gets_no_more_keys_or_webhooks(store: SqlStore) -> None:
    # The bound is counted in the creating transaction, under the account's row lock
    # (tests/integration/test_api_caps_race.py races creates at it on PostgreSQL).
    acme, other = make.account(), make.account()
    for owner in (acme, other):
        await store.create_account(owner)
    await store.create_api_key(make.api_key(acme.id), most=2)
    await store.create_api_key(make.api_key(acme.id), most=2)
    await store.create_webhook(make.webhook(acme.id), most=1)
    version = await store.config_version(acme.id)

    with pytest.raises(AccountFull) as keys_full:
        await store.create_api_key(make.api_key(acme.id), most=2)
    with pytest.raises(AccountFull) as webhooks_full:
        await store.create_webhook(make.webhook(acme.id), most=1)

    assert (keys_full.value.held, webhooks_full.value.held) == (2, 1)
    assert len(await store.list_api_keys(acme.id)) == 2
    assert (await store.list_webhooks(WebhookQuery(account_id=acme.id))).total == 1
    assert await store.config_version(acme.id) == version  # rolled back whole
    # Another account's rows do not count; without a bound (the operator's) none applies.
    await store.create_webhook(make.webhook(other.id), most=1)
    await store.create_api_key(make.api_key(acme.id))
    assert len(await store.list_api_keys(acme.id)) == 3
