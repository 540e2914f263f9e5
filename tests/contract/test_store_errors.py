"""What the database refuses reaches callers as HookCast's errors (the connectors translate
their driver's errors once): a bad value is the caller's fault, an outage is not."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hookcast.domain.errors import Unavailable, Unreachable, ValidationFailed
from hookcast.store import SqlStore, open_store
from support import factories as make
from support.sql import execute_sql


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_value_postgresql_refuses_is_a_validation_error(store: SqlStore) -> None:
    acme = make.account(name="a\x00b")  # PostgreSQL text cannot hold NUL
    with pytest.raises(ValidationFailed):
        await store.create_account(acme)
    # The refusal spoiled nothing: the next write works.
    await store.create_account(make.account(id=acme.id, name="ab"))
    assert (found := await store.get_account(acme.id)) is not None
    assert found.name == "ab"


async def test_a_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'hookcast.db'}"  # no such directory
    store = await open_store(url, secret_key=Fernet.generate_key())
    try:
        with pytest.raises(Unreachable):  # an outage (delivery/outage.py)
            await store.list_accounts()
        with pytest.raises(Unreachable):
            await store.create_account(make.account())
    finally:
        await store.close()


async def test_a_postgresql_server_nobody_listens_for_is_unreachable() -> None:
    with socket.socket() as taken:  # a port nothing listens on while the test runs
        taken.bind(("127.0.0.1", 0))
        url = f"postgresql://hookcast@127.0.0.1:{taken.getsockname()[1]}/hookcast"
        store = await open_store(url, secret_key=Fernet.generate_key())
        try:
            with pytest.raises(Unreachable):
                await store.list_accounts()
        finally:
            await store.close()


async def test_a_statement_naming_a_column_that_is_gone_is_no_outage(
    database_url: str, secret_key: bytes
) -> None:
    # What a bad migration may leave. It was an outage to the worker, its traceback hidden.
    execute_sql(database_url, "ALTER TABLE accounts RENAME COLUMN name TO name_lost")
    store = await open_store(database_url, secret_key=secret_key)
    try:
        with pytest.raises(Unavailable) as raised:  # still a 503 to the API
            await store.list_accounts()
        assert not isinstance(raised.value, Unreachable)
    finally:
        await store.close()
