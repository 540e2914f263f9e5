"""Webhook secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256, authenticated) under one key."""

from __future__ import annotations

import base64
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from hookcast.domain.errors import ValidationFailed

__all__ = ["KeylessBox", "SecretBox", "SecretKeyError", "load_or_create_key"]

_CACHE_SIZE = 4096


class SecretKeyError(ValueError):
    """The key is malformed, or a stored secret was encrypted under a different key."""


class SecretBox:
    """Encrypts secrets for storage and decrypts them on read.

    Decryption is memoised by ciphertext: Fernet tokens carry a random IV, so each stored
    secret has a distinct token and a cached plaintext can never be served for another value.
    Workers read the same webhooks over and over; this keeps AES and HMAC off the claim path.
    """

    def __init__(self, key: bytes, *, previous: Sequence[bytes] = ()) -> None:
        # MultiFernet encrypts with the first key and decrypts with any: secrets written
        # under an older key (see config.legacy_fernet_keys) stay readable.
        self._fernet = MultiFernet([Fernet(_fernet_key(k)) for k in (key, *previous)])
        self._plaintexts: OrderedDict[str, str] = OrderedDict()

    def __repr__(self) -> str:
        return "SecretBox(<redacted>)"

    def encrypt(self, secret: str) -> str:
        token = self._fernet.encrypt(secret.encode()).decode("ascii")
        self._remember(token, secret)
        return token

    def decrypt(self, token: str) -> str:
        cached = self._plaintexts.get(token)
        if cached is not None:
            self._plaintexts.move_to_end(token)
            return cached
        try:
            secret = self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken as exc:
            raise SecretKeyError("a webhook secret does not decrypt: wrong secret key?") from exc
        self._remember(token, secret)
        return secret

    def _remember(self, token: str, secret: str) -> None:
        self._plaintexts[token] = secret
        if len(self._plaintexts) > _CACHE_SIZE:
            self._plaintexts.popitem(last=False)


class KeylessBox(SecretBox):
    """The box of a store opened without a secret key, for an operator's command that reads
    and writes no webhook secret (`hookcast sites create`, `keys create`, `accounts create`
    and `list`): asked for one, it refuses, naming the key, rather than write a secret no
    server could read."""

    def __init__(self) -> None:
        super().__init__(Fernet.generate_key())  # never used: both methods refuse

    def encrypt(self, secret: str) -> str:
        raise ValidationFailed(_KEYLESS)

    def decrypt(self, token: str) -> str:
        raise ValidationFailed(_KEYLESS)


_KEYLESS = (
    "this command needs HOOKCAST_SECRET_KEY: webhook secrets are encrypted under it, and "
    "every server and worker must share it"
)


def _fernet_key(key: bytes) -> bytes:
    """Accepts a Fernet key (url-safe base64 of 32 bytes) or the 32 raw bytes."""
    key = key.strip()
    if len(key) == 32:
        return base64.urlsafe_b64encode(key)
    try:
        if len(base64.urlsafe_b64decode(key)) == 32:
            return key
    except ValueError:
        pass
    raise SecretKeyError("the secret key must be a Fernet key (url-safe base64 of 32 bytes)")


def load_or_create_key(path: str | os.PathLike[str]) -> bytes:
    """The key in `path`, generating it (readable by the owner only) if the file is missing."""
    key_path = Path(path)
    try:
        return key_path.read_bytes().strip()
    except FileNotFoundError:
        pass
    key = Fernet.generate_key()
    # Write a private temporary file, then link it into place: link() fails if the key
    # appeared meanwhile, so when two processes race exactly one key wins, and nobody can
    # read a half-written file.
    tmp = key_path.with_name(f".{key_path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(key + b"\n")
        os.link(tmp, key_path)
    except FileExistsError:
        return key_path.read_bytes().strip()
    finally:
        tmp.unlink(missing_ok=True)
    return key
