"""The connector port, on each driver: a write block commits all or nothing, and a
constraint the database enforces reaches the caller as HookCast's Conflict."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hookcast.domain.errors import Conflict
from hookcast.domain.models import Account
from hookcast.store import accounts as account_sql
from hookcast.store.connector import Connector
from hookcast.store.database import open_connector
from support import factories as make


@pytest.fixture
async def connector(database_url: str) -> AsyncIterator[Connector]:
    opened = open_connector(database_url)
    try:
        yield opened
    finally:
        await opened.close()


class _Abandoned(Exception):
    """Raised inside a write block to abandon it."""


async def _write(connector: Connector, *accounts: Account, then_raise: bool = False) -> None:
    """Creates `accounts` in one write block (which raises _Abandoned at its end if asked)."""
    async with connector.writing() as tx:
        for account in accounts:
            await account_sql.create_account(tx, account)
        if then_raise:
            raise _Abandoned


async def test_a_write_block_that_raises_leaves_nothing_behind(connector: Connector) -> None:
    kept, dropped = make.account(name="Kept"), make.account(name="Dropped")
    await _write(connector, kept)
    with pytest.raises(_Abandoned):
        await _write(connector, dropped, then_raise=True)

    async with connector.reading() as tx:
        assert await account_sql.get_account(tx, kept.id) == kept
        assert await account_sql.get_account(tx, dropped.id) is None


async def test_a_duplicate_key_is_a_conflict_and_the_connector_goes_on(
    connector: Connector,
) -> None:
    acme = make.account()
    await _write(connector, acme)
    with pytest.raises(Conflict):  # the same id again: the whole block goes
        await _write(connector, make.account(name="Other"), acme)

    await _write(connector, make.account(name="After"))
    async with connector.scanning() as tx:
        names = {account.name for account in await account_sql.list_accounts(tx)}
    assert names == {"Default", acme.name, "After"}
