"""Formats in the store: a webhook's format and scheme, the Flowplayer organization secret."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from hookcast.domain.models import Account
from hookcast.ports import PageRequest, WebhookQuery
from hookcast.store import SqlStore, to_async_url
from hookcast.store.tables import accounts
from support import factories as make


async def _account(store: SqlStore) -> Account:
    created = make.account()
    await store.create_account(created)
    return created


async def test_format_and_signing_round_trip(store: SqlStore) -> None:
    acme = await _account(store)
    hook = make.webhook(acme.id, format="apivideo", signing="hmac", secret="sig_sec_" + "a" * 22)
    await store.create_webhook(hook)

    found = await store.get_webhook(acme.id, hook.id)
    assert found is not None
    assert (found.format, found.signing, found.secret) == ("apivideo", "hmac", hook.secret)


async def test_a_webhook_saved_without_a_format_is_jwplayer_with_hmac(store: SqlStore) -> None:
    acme = await _account(store)
    hook = make.webhook(acme.id)
    await store.create_webhook(hook)

    found = await store.get_webhook(acme.id, hook.id)
    assert found is not None
    assert (found.format, found.signing) == ("jwplayer", "hmac")


async def test_flowplayer_secret_is_set_read_rotated_and_cleared(store: SqlStore) -> None:
    acme, other = await _account(store), await _account(store)
    assert await store.get_flowplayer_secret(acme.id) is None

    assert await store.set_flowplayer_secret(acme.id, "first organization secret")
    assert await store.set_flowplayer_secret(acme.id, "second organization secret")
    assert await store.get_flowplayer_secret(acme.id) == "second organization secret"
    assert await store.get_flowplayer_secret(other.id) is None

    assert await store.set_flowplayer_secret(acme.id, None)
    assert await store.get_flowplayer_secret(acme.id) is None
    assert not await store.set_flowplayer_secret("NoSuchId", "x" * 20)


async def test_setting_the_flowplayer_secret_moves_the_configuration_version(
    store: SqlStore,
) -> None:
    acme = await _account(store)
    before = await store.config_version(acme.id)
    await store.set_flowplayer_secret(acme.id, "organization secret")
    assert await store.config_version(acme.id) > before


async def test_flowplayer_secret_is_encrypted_at_rest(store: SqlStore, database_url: str) -> None:
    acme = await _account(store)
    await store.set_flowplayer_secret(acme.id, "plain organization secret")

    engine = create_async_engine(to_async_url(database_url))
    try:
        async with engine.connect() as conn:
            query = select(accounts.c.flowplayer_secret_encrypted).where(accounts.c.id == acme.id)
            stored = (await conn.execute(query)).scalar_one()
    finally:
        await engine.dispose()
    assert stored
    assert "plain organization secret" not in stored


async def test_flowplayer_webhooks_are_read_with_their_accounts_secret(store: SqlStore) -> None:
    acme, other = await _account(store), await _account(store)
    flow = make.webhook(acme.id, format="flowplayer")
    plain = make.webhook(acme.id)
    theirs = make.webhook(other.id, format="flowplayer")
    for hook in (flow, plain, theirs):
        await store.create_webhook(hook)
    await store.set_flowplayer_secret(acme.id, "acme organization secret")

    by_id = {hook.id: hook for hook in await store.publish_webhooks(acme.id)}
    assert by_id[flow.id].organization_secret == "acme organization secret"
    # Only Flowplayer-format webhooks carry it: no other format signs with it.
    assert by_id[plain.id].organization_secret is None
    found = await store.get_webhook(other.id, theirs.id)
    assert found is not None
    assert found.organization_secret is None


async def test_webhooks_are_listed_by_format(store: SqlStore) -> None:
    acme = await _account(store)
    apivideo = [make.webhook(acme.id, format="apivideo") for _ in range(3)]
    for hook in (*apivideo, make.webhook(acme.id), make.webhook(acme.id, format="standard")):
        await store.create_webhook(hook)

    query = WebhookQuery(account_id=acme.id, format="apivideo", page=PageRequest(1, 2))
    page = await store.list_webhooks(query)
    assert page.total == 3
    assert len(page.items) == 2
    assert {hook.format for hook in page.items} == {"apivideo"}
