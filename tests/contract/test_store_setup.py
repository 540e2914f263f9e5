"""Opening a store: URLs, the secret key file, and errors when the database is unreachable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hookcast.bootstrap import open_settings_store
from hookcast.config import Settings
from hookcast.domain.errors import HookcastError
from hookcast.store import (
    StoreUnavailable,
    load_or_create_key,
    migrate,
    open_store,
    to_async_url,
)
from hookcast.store.crypto import SecretBox, SecretKeyError
from support import factories as make


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///hookcast.db", "sqlite+aiosqlite:///hookcast.db"),
        ("sqlite:////var/lib/hookcast.db", "sqlite+aiosqlite:////var/lib/hookcast.db"),
        ("postgresql://u:p@db:5432/hc", "postgresql+asyncpg://u:p@db:5432/hc"),
        ("postgres://u@db/hc", "postgresql+asyncpg://u@db/hc"),
        ("postgresql+asyncpg://u@db/hc", "postgresql+asyncpg://u@db/hc"),
    ],
)
def test_database_urls_are_translated_to_async_drivers(given: str, expected: str) -> None:
    assert to_async_url(given).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://db/hc"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"not supported|unsupported"):
        to_async_url(url)


def test_the_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    key = load_or_create_key(path)
    assert load_or_create_key(path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    box = SecretBox(key)
    assert box.decrypt(box.encrypt("whsec_x")) == "whsec_x"
    assert "whsec" not in repr(box)


def test_a_malformed_key_is_refused() -> None:
    with pytest.raises(SecretKeyError):
        SecretBox(b"too short")


@pytest.mark.postgres
async def test_a_store_opened_without_a_key_refuses_secrets_and_names_the_key(
    postgres_database: str,
) -> None:
    # The operator's commands (`sites create`) open one on PostgreSQL without
    # HOOKCAST_SECRET_KEY: what touches no secret works, a secret is refused in words.
    settings = Settings(database_url=postgres_database)
    store = await open_settings_store(settings, secrets=False)
    try:
        acme = make.account()
        await store.create_account(acme)
        await store.create_site(make.site(acme.id))
        with pytest.raises(HookcastError, match="needs HOOKCAST_SECRET_KEY"):
            await store.create_webhook(make.webhook(acme.id))
    finally:
        await store.close()
    with pytest.raises(HookcastError, match="HOOKCAST_SECRET_KEY is required"):
        await open_settings_store(settings)


async def test_an_unreachable_database_raises_a_hookcast_error() -> None:
    # Port 1 on loopback refuses connections (SQLite's case: test_store_errors.py).
    store = await open_store(
        "postgresql://hookcast@127.0.0.1:1/nowhere", secret_key=Fernet.generate_key()
    )
    try:
        with pytest.raises(StoreUnavailable) as raised:
            await store.list_accounts()
        assert isinstance(raised.value, HookcastError)
    finally:
        await store.close()


async def test_a_new_sqlite_database_and_the_files_beside_it_are_private(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'new.db'}")
    previous = os.umask(0o022)  # the usual umask, which leaves new files readable by all
    try:
        migrate(settings.database_url)
        store = await open_settings_store(settings)
        try:
            await store.create_account(make.account())  # a write: the -wal and -shm exist
            modes = _modes(tmp_path)
        finally:
            await store.close()
    finally:
        os.umask(previous)
    names = ["new.db", "new.db-shm", "new.db-wal", "new.db.key"]
    assert modes == dict.fromkeys(names, 0o600)


def _modes(directory: Path) -> dict[str, int]:
    return {path.name: stat.S_IMODE(path.stat().st_mode) for path in directory.iterdir()}
