"""Site (property) ids are each account's own: an account may create a site whose id another
account uses (a platform brings its own ids), and nothing one does with it reaches the
other's. Before review12 the id was the sites table's whole key: the second account got a
409 (squatted: it could not use its own property's id, and learned that someone else had
it)."""

from __future__ import annotations

from hookcast.domain.models import Account
from hookcast.store import SqlStore
from support import factories as make

SHARED = "SameSite"


async def _accounts(store: SqlStore) -> tuple[Account, Account]:
    acme, globex = make.account(), make.account()
    await store.create_account(acme)
    await store.create_account(globex)
    return acme, globex


async def test_two_accounts_each_have_a_site_of_one_id(store: SqlStore) -> None:
    acme, globex = await _accounts(store)
    await store.create_site(make.site(acme.id, id=SHARED, name="Acme's"))
    await store.create_site(make.site(globex.id, id=SHARED, name="Globex's"))

    mine, theirs = await store.get_site(acme.id, SHARED), await store.get_site(globex.id, SHARED)
    assert mine is not None
    assert mine.name == "Acme's"
    assert theirs is not None
    assert theirs.name == "Globex's"
    assert await store.existing_site_ids(acme.id, [SHARED]) == {SHARED}


async def test_deleting_a_site_leaves_another_accounts_site_of_that_id_and_its_webhooks(
    store: SqlStore,
) -> None:
    acme, globex = await _accounts(store)
    for account in (acme, globex):
        await store.create_site(make.site(account.id, id=SHARED))
    acme_hook = make.webhook(acme.id, site_ids=(SHARED,))
    globex_hook = make.webhook(globex.id, site_ids=(SHARED,))
    await store.create_webhook(acme_hook)
    await store.create_webhook(globex_hook)

    assert await store.delete_site(acme.id, SHARED)

    assert await store.get_site(globex.id, SHARED) is not None
    kept = await store.get_webhook(globex.id, globex_hook.id)
    assert kept is not None
    assert kept.site_ids == (SHARED,)
    left = await store.get_webhook(acme.id, acme_hook.id)
    assert left is not None
    assert left.site_ids == ()
