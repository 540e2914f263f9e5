"""Accounts and API keys."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hookcast.domain.models import Account, ApiKey
from hookcast.store.rows import account_from_row, api_key_from_row, api_key_values
from hookcast.store.sql import count
from hookcast.store.tables import accounts, api_keys

__all__ = [
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
