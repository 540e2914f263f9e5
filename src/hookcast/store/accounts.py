"""Accounts and API keys."""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence

import orjson
from sqlalchemy import (
    BigInteger,
    Table,
    Text,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from hookcast.domain.models import Account, ApiKey
from hookcast.domain.portal import PortalSettings
from hookcast.ports import AccountFull
from hookcast.store.connector import Transaction
from hookcast.store.crypto import SecretBox
from hookcast.store.rows import account_from_row, api_key_from_row, api_key_values
from hookcast.store.sql import count, in_list
from hookcast.store.statement import Statement
from hookcast.store.tables import accounts, api_keys, webhooks

__all__ = [
    "added_to_account",
    "config_changed",
    "config_changed_for_webhooks",
    "config_versions",
    "count_api_keys",
    "create_account",
    "create_api_key",
    "create_first_api_key",
    "delete_api_key",
    "find_api_key",
    "get_account",
    "get_flowplayer_secret",
    "get_portal_settings",
    "list_accounts",
    "list_api_keys",
    "set_flowplayer_secret",
    "set_portal_settings",
]


async def create_account(tx: Transaction, account: Account) -> None:
    values = {"id": account.id, "name": account.name, "created": account.created}
    await tx.execute(_INSERT_ACCOUNT, values)


async def get_account(tx: Transaction, account_id: str) -> Account | None:
    rows = await tx.fetch_mappings(_ACCOUNT, {"id": account_id})
    return account_from_row(rows[0]) if rows else None


async def list_accounts(tx: Transaction) -> Sequence[Account]:
    return [account_from_row(row) for row in await tx.fetch_mappings(_ACCOUNTS)]


async def set_flowplayer_secret(
    tx: Transaction, *, account_id: str, secret: str | None, box: SecretBox
) -> bool:
    """Saves (None: clears) the account's Flowplayer secret; whether the account exists."""
    token = None if secret is None else box.encrypt(secret)
    return await tx.execute(_SET_FLOWPLAYER, {"b_id": account_id, "b_token": token}) > 0


async def get_flowplayer_secret(tx: Transaction, *, account_id: str, box: SecretBox) -> str | None:
    row = await tx.fetch_one(_FLOWPLAYER, {"id": account_id})
    return None if row is None or row[0] is None else box.decrypt(row[0])


async def set_portal_settings(
    tx: Transaction, *, account_id: str, settings: PortalSettings
) -> bool:
    """Saves the account's portal settings; whether the account exists."""
    document = orjson.dumps(
        {
            "name": settings.name,
            "logo": settings.logo,
            "accent": settings.accent,
            "frame_ancestors": list(settings.frame_ancestors),
        }
    ).decode()
    return await tx.execute(_SET_PORTAL, {"b_id": account_id, "b_doc": document}) > 0


async def get_portal_settings(tx: Transaction, account_id: str) -> PortalSettings:
    row = await tx.fetch_one(_PORTAL, {"id": account_id})
    if row is None or row[0] is None:
        return PortalSettings()
    saved = orjson.loads(row[0])
    return PortalSettings(
        name=saved.get("name"),
        logo=saved.get("logo"),
        accent=saved.get("accent"),
        frame_ancestors=tuple(saved.get("frame_ancestors") or ()),
    )


async def create_api_key(tx: Transaction, key: ApiKey) -> None:
    await tx.execute(_INSERT_API_KEY, api_key_values(key))


async def find_api_key(tx: Transaction, secret_hash: str) -> ApiKey | None:
    rows = await tx.fetch_mappings(_API_KEY_BY_HASH, {"secret_hash": secret_hash})
    return api_key_from_row(rows[0]) if rows else None


async def list_api_keys(tx: Transaction, account_id: str) -> Sequence[ApiKey]:
    rows = await tx.fetch_mappings(_API_KEYS, {"account_id": account_id})
    return [api_key_from_row(row) for row in rows]


async def delete_api_key(tx: Transaction, *, account_id: str, key_id: str) -> bool:
    return await tx.execute(_DELETE_API_KEY, {"account_id": account_id, "id": key_id}) > 0


async def count_api_keys(tx: Transaction) -> int:
    row = await tx.fetch_one(_COUNT_API_KEYS)
    return int(row[0]) if row else 0


async def create_first_api_key(tx: Transaction, key: ApiKey, *, postgres: bool) -> bool:
    """Creates `key` unless a key exists already; whether it did. On PostgreSQL the table is
    locked against other writers first: `serve --reuse-port` processes started together on
    a new database would otherwise each see none and each print an admin key of its own.
    (A SQLite write transaction already excludes every other writer.)"""
    if postgres:
        await tx.execute(_LOCK_API_KEYS)
    if await count_api_keys(tx) > 0:
        return False
    await create_api_key(tx, key)
    return True


_INSERT_ACCOUNT = Statement(lambda _: insert(accounts), columns=["id", "name", "created"])
_ACCOUNT = Statement(lambda _: select(accounts).where(accounts.c.id == bindparam("id")))
_ACCOUNTS = Statement(lambda _: select(accounts).order_by(accounts.c.created, accounts.c.id))
_SET_FLOWPLAYER = Statement(
    lambda _: (
        update(accounts)
        .where(accounts.c.id == bindparam("b_id"))
        .values(flowplayer_secret_encrypted=bindparam("b_token", type_=Text))
    )
)
_FLOWPLAYER = Statement(
    lambda _: select(accounts.c.flowplayer_secret_encrypted).where(accounts.c.id == bindparam("id"))
)
_SET_PORTAL = Statement(
    lambda _: (
        update(accounts)
        .where(accounts.c.id == bindparam("b_id"))
        .values(portal_settings=bindparam("b_doc", type_=Text))
    )
)
_PORTAL = Statement(
    lambda _: select(accounts.c.portal_settings).where(accounts.c.id == bindparam("id"))
)
_INSERT_API_KEY = Statement(lambda _: insert(api_keys))
_API_KEY_BY_HASH = Statement(
    lambda _: select(api_keys).where(api_keys.c.secret_hash == bindparam("secret_hash"))
)
_API_KEYS = Statement(
    lambda _: (
        select(api_keys)
        .where(api_keys.c.account_id == bindparam("account_id"))
        .order_by(api_keys.c.created, api_keys.c.id)
    )
)
_DELETE_API_KEY = Statement(
    lambda _: delete(api_keys).where(
        api_keys.c.account_id == bindparam("account_id"), api_keys.c.id == bindparam("id")
    )
)
_COUNT_API_KEYS = Statement(lambda _: select(func.count()).select_from(api_keys))
# Blocks other inserts (and other such locks) until the transaction ends; reads go on.
_LOCK_API_KEYS = text("LOCK TABLE api_keys IN SHARE ROW EXCLUSIVE MODE")


# Configuration versions. A transaction that changes an account's keys, sites or webhooks
# moves the account's version as its last statement: every writer then locks rows in the
# same order (the changed rows, then the account), so PostgreSQL never sees a lock cycle.
#
# It moves forward by a random step, not by one: processes keep what they read under the
# version (services/publish_cache.py, store/claimed_webhooks.py), and a restored backup
# moves it back; counting up by one, the edits after the restore would meet a version a
# process kept before it, and the process would go on with what it kept. With random
# steps of 1 to 2**31 (2**30 on average) that is about a 1 in 2**30 chance for a version a
# process kept, and the column holds about 2**33 changes of one account on average
# (2**32 at the least).
_MOST_STEP = 2**31


def _step() -> int:
    return 1 + secrets.randbelow(_MOST_STEP)


async def config_changed(tx: Transaction, account_id: str) -> None:
    await tx.execute(_BUMP, {"b_id": account_id, "b_step": _step()})


async def added_to_account(
    tx: Transaction, *, table: Table, account_id: str, added: str, most: int | None
) -> None:
    """Ends a transaction that added the row `added` (its id) of `table` (API keys,
    webhooks) to the account: moves its configuration version, then, if the account holds
    more than `most` rows of `table` (None: no bound), deletes the row and raises
    `AccountFull`. The delete is for a caller's transaction (`SqlStore.using`), which the
    error does not roll back and which may go on to commit: the row must not stay in it.

    Counted after the version's UPDATE, which holds the account's row until commit: creates
    of one account queue there, each counting what those before it committed (PostgreSQL's
    READ COMMITTED gives each statement a snapshot of its own; on SQLite the transaction
    already excludes every other writer). Counting before the insert let creates racing at
    the bound each pass; locking the account first would break the lock order above."""
    await config_changed(tx, account_id)
    if most is None:
        return
    held = await count(tx, table, table.c.account_id == account_id)
    if held > most:
        await tx.execute(delete(table).where(table.c.id == added))
        raise AccountFull(held - 1)


async def config_changed_for_webhooks(tx: Transaction, webhook_ids: Collection[str]) -> None:
    """The accounts owning these webhooks changed (the worker disabled them)."""
    if webhook_ids:
        await tx.execute(_BUMP_OWNERS, {"ids": sorted(webhook_ids), "b_step": _step()})


async def config_versions(tx: Transaction, account_ids: Collection[str]) -> dict[str, int]:
    if len(account_ids) == 1:  # the usual group commit
        rows = await tx.fetch_all(_VERSION, {"id": next(iter(account_ids))})
    else:
        rows = await tx.fetch_all(_VERSIONS, {"ids": list(account_ids)})
    return {account_id: version for account_id, version in rows}


_NEXT_VERSION = {
    "config_version": accounts.c.config_version + bindparam("b_step", type_=BigInteger)
}
_BUMP = Statement(
    lambda _: update(accounts).where(accounts.c.id == bindparam("b_id")).values(_NEXT_VERSION)
)
_BUMP_OWNERS = Statement(
    lambda database: (
        update(accounts)
        .where(
            accounts.c.id.in_(
                select(webhooks.c.account_id).where(in_list(database, column=webhooks.c.id))
            )
        )
        .values(_NEXT_VERSION)
    )
)
_VERSIONS = Statement(
    lambda database: select(accounts.c.id, accounts.c.config_version).where(
        in_list(database, column=accounts.c.id)
    )
)
_VERSION = Statement(
    lambda _: select(accounts.c.id, accounts.c.config_version).where(
        accounts.c.id == bindparam("id")
    )
)
