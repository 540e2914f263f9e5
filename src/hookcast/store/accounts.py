"""Accounts and API keys."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hookcast.domain.models import Account, ApiKey
from hookcast.store import raw
from hookcast.store.rows import account_from_row, api_key_from_row, api_key_values
from hookcast.store.sql import IDS, count
from hookcast.store.tables import accounts, api_keys, webhooks

__all__ = [
    "config_changed",
    "config_changed_for_webhooks",
    "config_versions",
    "count_api_keys",
    "create_account",
    "create_api_key",
    "delete_api_key",
    "find_api_key",
    "get_account",
    "list_accounts",
    "list_api_keys",
]


async def create_account(conn: AsyncConnection, account: Account) -> None:
    await conn.execute(
        insert(accounts).values(id=account.id, name=account.name, created=account.created)
    )


async def get_account(conn: AsyncConnection, account_id: str) -> Account | None:
    row = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).first()
    return None if row is None else account_from_row(row._mapping)


async def list_accounts(conn: AsyncConnection) -> Sequence[Account]:
    result = await conn.execute(select(accounts).order_by(accounts.c.created, accounts.c.id))
    return [account_from_row(row) for row in result.mappings()]


async def create_api_key(conn: AsyncConnection, key: ApiKey) -> None:
    await conn.execute(insert(api_keys).values(api_key_values(key)))


async def find_api_key(conn: AsyncConnection, secret_hash: str) -> ApiKey | None:
    query = select(api_keys).where(api_keys.c.secret_hash == secret_hash)
    row = (await conn.execute(query)).first()
    return None if row is None else api_key_from_row(row._mapping)


async def list_api_keys(conn: AsyncConnection, account_id: str) -> Sequence[ApiKey]:
    query = (
        select(api_keys)
        .where(api_keys.c.account_id == account_id)
        .order_by(api_keys.c.created, api_keys.c.id)
    )
    return [api_key_from_row(row) for row in (await conn.execute(query)).mappings()]


async def delete_api_key(conn: AsyncConnection, account_id: str, key_id: str) -> bool:
    result = await conn.execute(
        delete(api_keys).where(api_keys.c.account_id == account_id, api_keys.c.id == key_id)
    )
    return result.rowcount > 0


async def count_api_keys(conn: AsyncConnection) -> int:
    return await count(conn, api_keys)


# Configuration versions. A transaction that changes an account's keys, sites or webhooks
# moves the account's version as its last statement: every writer then locks rows in the
# same order (the changed rows, then the account), so PostgreSQL never sees a lock cycle.


async def config_changed(conn: AsyncConnection, account_id: str) -> None:
    await conn.execute(_BUMP, {"ids": [account_id]})


async def config_changed_for_webhooks(conn: AsyncConnection, webhook_ids: Collection[str]) -> None:
    """The accounts owning these webhooks changed (the worker disabled them)."""
    if webhook_ids:
        await conn.execute(_BUMP_OWNERS, {"ids": sorted(webhook_ids)})


async def config_versions(conn: AsyncConnection, account_ids: Collection[str]) -> dict[str, int]:
    if len(account_ids) == 1:  # the usual group commit: no IN list to render per execution
        rows = await raw.fetch_all(conn, _VERSION, {"id": next(iter(account_ids))})
    else:
        rows = [tuple(row) for row in await conn.execute(_VERSIONS, {"ids": list(account_ids)})]
    return {account_id: version for account_id, version in rows}


_NEXT_VERSION = {"config_version": accounts.c.config_version + 1}
_BUMP = update(accounts).where(accounts.c.id.in_(IDS)).values(_NEXT_VERSION)
_BUMP_OWNERS = (
    update(accounts)
    .where(accounts.c.id.in_(select(webhooks.c.account_id).where(webhooks.c.id.in_(IDS))))
    .values(_NEXT_VERSION)
)
_VERSIONS = select(accounts.c.id, accounts.c.config_version).where(accounts.c.id.in_(IDS))
_VERSION = select(accounts.c.id, accounts.c.config_version).where(accounts.c.id == bindparam("id"))
