"""Webhooks' Ed25519 public keys as a JWK Set (RFC 7517, OKP keys per RFC 8037).

Each key is `{"kty": "OKP", "crv": "Ed25519", "x", "kid", "use": "sig", "alg": "EdDSA"}`
plus two HookCast members: `webhook_id`, the webhook it signs for, and `expires_at`: null
for a webhook's current key, the ISO 8601 time it stops signing for a previous key still in
a rotation's grace period.

`kid` is the key's RFC 7638 thumbprint: it names the key, not the webhook, so it never
changes meaning when a rotation makes the current key the previous one, and a receiver can
compute it from a `whpk_` key on its own.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hookcast.domain import ed25519
from hookcast.domain.formats.jwplayer import format_time
from hookcast.domain.models import Webhook

__all__ = ["PublishedKey", "document", "thumbprint", "webhook_keys"]


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """One public key a webhook verifies with, and when it stops signing (None: current)."""

    webhook_id: str
    public_key: str  # whpk_...
    expires_at: datetime | None = None


def webhook_keys(webhook: Webhook, now: datetime) -> list[PublishedKey]:
    """The public keys of the Ed25519 keys signing `webhook`'s deliveries at `now`."""
    keys: list[PublishedKey] = []
    for secret in webhook.secrets_at(now):
        if ed25519.is_signing_key(secret):
            expires = None if secret == webhook.secret else webhook.previous_secret_expires
            keys.append(PublishedKey(webhook.id, ed25519.public_key_of(secret), expires))
    return keys


def document(keys: Iterable[PublishedKey]) -> dict[str, Any]:
    """The JWK Set `{"keys": [...]}` of `keys`, in the order given."""
    return {"keys": [_jwk(key) for key in keys]}


def thumbprint(public_key: str) -> str:
    """The RFC 7638 thumbprint (SHA-256, base64url) of a `whpk_` public key's JWK."""
    # RFC 7638: the required members only, in lexicographic order, without whitespace.
    required = {"crv": "Ed25519", "kty": "OKP", "x": _x(public_key)}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode()
    return _b64url(hashlib.sha256(canonical).digest())


def _jwk(key: PublishedKey) -> dict[str, str | None]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _x(key.public_key),
        "kid": thumbprint(key.public_key),
        "use": "sig",
        "alg": "EdDSA",
        "webhook_id": key.webhook_id,
        "expires_at": None if key.expires_at is None else format_time(key.expires_at),
    }


def _x(public_key: str) -> str:
    return _b64url(ed25519.public_key_bytes(public_key))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
