"""Ed25519 keys as Standard Webhooks writes them, and the two operations on them.

- Signing key: `whsk_` + standard base64 of the 32-byte seed (RFC 8032's private key).
  The 64-byte seed‖public-key form other libraries write (libsodium, Go's
  `ed25519.PrivateKey`) is accepted too, when its public half is the seed's.
- Public key: `whpk_` + standard base64 of the 32-byte public key. Not a secret.

The one domain module that imports a third-party package: the standard library has no
Ed25519, and a hand-written one would be neither constant-time nor fast. `cryptography`
(already HookCast's dependency for secrets at rest) is pure computation, no I/O, so the
domain stays free of I/O; it is imported on first use, so receivers that only check HMAC
signatures (`hookcast.verify`) do not pay for loading it.
"""

from __future__ import annotations

import base64
import binascii
import functools
import secrets
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

__all__ = [
    "PUBLIC_KEY_PREFIX",
    "SIGNING_KEY_PREFIX",
    "is_public_key",
    "is_signing_key",
    "new_signing_key",
    "public_key_bytes",
    "public_key_of",
    "sign",
    "verify",
]

SIGNING_KEY_PREFIX: Final = "whsk_"
PUBLIC_KEY_PREFIX: Final = "whpk_"
SEED_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64


def is_signing_key(value: str) -> bool:
    """Whether `value` is shaped as an Ed25519 signing key (by its prefix alone)."""
    return value.startswith(SIGNING_KEY_PREFIX)


def is_public_key(value: str) -> bool:
    """Whether `value` is shaped as an Ed25519 public key (by its prefix alone)."""
    return value.startswith(PUBLIC_KEY_PREFIX)


def new_signing_key() -> str:
    """A new `whsk_` signing key: any 32 random bytes are a valid Ed25519 seed."""
    return SIGNING_KEY_PREFIX + base64.b64encode(secrets.token_bytes(SEED_SIZE)).decode("ascii")


def public_key_of(signing_key: str) -> str:
    """The `whpk_` public key receivers verify with; ValueError if `signing_key` is not one."""
    return PUBLIC_KEY_PREFIX + base64.b64encode(_public_bytes(signing_key)).decode("ascii")


def public_key_bytes(public_key: str) -> bytes:
    """The 32 raw bytes of a `whpk_` public key (for a JWK's `x`); ValueError if malformed."""
    raw = _decode(public_key, PUBLIC_KEY_PREFIX, "public key")
    if len(raw) != SEED_SIZE:
        raise ValueError(f"a whpk_ public key holds {SEED_SIZE} bytes, not {len(raw)}")
    return raw


def sign(signing_key: str, message: bytes) -> bytes:
    """The 64-byte Ed25519 signature of `message` (deterministic, as RFC 8032 defines)."""
    return _private_key(signing_key).sign(message)


def verify(public_key: str, signature: bytes, message: bytes) -> bool:
    """Whether `signature` is `public_key`'s signature of `message`.

    Nothing secret is involved, so unlike an HMAC check this needs no constant-time compare.
    """
    from cryptography.exceptions import InvalidSignature

    if len(signature) != SIGNATURE_SIZE:
        return False
    try:
        _public_key(public_key).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _decode(value: str, prefix: str, what: str) -> bytes:
    if not value.startswith(prefix):
        raise ValueError(f"an Ed25519 {what} starts with {prefix}")
    try:
        return base64.b64decode(value.removeprefix(prefix), validate=True)
    except binascii.Error:
        # the message deliberately does not include the key
        raise ValueError(f"the {what} is not base64 after {prefix}") from None


# Cached like the HMAC keys in signing.py: a key object is built once, not per delivery.
@functools.lru_cache(maxsize=4096)
def _private_key(signing_key: str) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = _decode(signing_key, SIGNING_KEY_PREFIX, "signing key")
    if len(raw) not in (SEED_SIZE, 2 * SEED_SIZE):
        raise ValueError(
            f"a whsk_ signing key holds a {SEED_SIZE}-byte seed or the {2 * SEED_SIZE}-byte "
            f"seed and public key, not {len(raw)} bytes"
        )
    key = Ed25519PrivateKey.from_private_bytes(raw[:SEED_SIZE])
    # A 64-byte key whose second half is another key's would sign with one key while
    # claiming the other: refused, rather than publishing a public key that never verifies.
    if len(raw) == 2 * SEED_SIZE and raw[SEED_SIZE:] != _raw_public(key):
        raise ValueError("the whsk_ signing key's public half does not belong to its seed")
    return key


def _public_bytes(signing_key: str) -> bytes:
    return _raw_public(_private_key(signing_key))


def _raw_public(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@functools.lru_cache(maxsize=4096)
def _public_key(public_key: str) -> Ed25519PublicKey:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(public_key_bytes(public_key))
