"""HOOKCAST_SECRET_KEY as a passphrase: a salted, slow KDF (scrypt) derives the key, and a
database whose webhook secrets were encrypted under the old derivation (one SHA-256 of the
passphrase) still decrypts, on every backend, while new secrets use the new key."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.fernet import Fernet

from hookcast.bootstrap import open_settings_store
from hookcast.config import Settings, fernet_key_from_passphrase
from hookcast.store import open_store
from hookcast.store.crypto import SecretKeyError
from support import factories as make

PASSPHRASE = "correct horse battery staple"


def _sha256_key(passphrase: str) -> bytes:
    """How HookCast turned a passphrase into a key before the KDF."""
    return base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest())


def test_a_passphrase_is_not_one_sha256_away_from_the_key() -> None:
    key = fernet_key_from_passphrase(PASSPHRASE)
    assert key != _sha256_key(PASSPHRASE)
    assert key == fernet_key_from_passphrase(f"  {PASSPHRASE}\n")  # the same in every process
    assert key != fernet_key_from_passphrase(PASSPHRASE + ".")
    Fernet(key)  # a Fernet key


def test_a_fernet_key_is_used_as_it_is() -> None:
    generated = Fernet.generate_key()
    assert fernet_key_from_passphrase(generated.decode()) == generated


async def test_secrets_stored_under_the_old_derivation_still_decrypt(database_url: str) -> None:
    settings = Settings(database_url=database_url, secret_key=PASSPHRASE)
    account = make.account()
    old_hook = make.webhook(account.id)
    before = await open_store(database_url, secret_key=_sha256_key(PASSPHRASE))
    try:
        await before.create_account(account)
        await before.create_webhook(old_hook)
    finally:
        await before.close()

    upgraded = await open_settings_store(settings)
    try:
        read = await upgraded.get_webhook(account.id, old_hook.id)
        assert read is not None
        assert read.secret == old_hook.secret
        new_hook = make.webhook(account.id)
        await upgraded.create_webhook(new_hook)
    finally:
        await upgraded.close()

    # The new secret is written under the KDF's key: the old key alone cannot read it.
    old_only = await open_store(database_url, secret_key=_sha256_key(PASSPHRASE))
    try:
        with pytest.raises(SecretKeyError):
            await old_only.get_webhook(account.id, new_hook.id)
    finally:
        await old_only.close()
