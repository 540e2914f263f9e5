"""What the database refuses reaches callers as HookCast's errors (the connectors translate
their driver's errors once): a bad value is the caller's fault, an outage is not."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hookcast.domain.errors import Unavailable, ValidationFailed
from hookcast.store import SqlStore, open_store
from support import factories as make


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
        with pytest.raises(Unavailable):
            await store.list_accounts()
        with pytest.raises(Unavailable):
            await store.create_account(make.account())
    finally:
        await store.close()
