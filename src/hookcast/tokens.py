"""Signed, expiring tokens: the dashboard's session cookies and portal links, and the
access and refresh tokens of the api.video management API, are all one of these.

A token is `<payload>.<mac>`: base64url JSON and base64url HMAC-SHA256 over a purpose tag
and the payload. The purpose tag keeps one kind of token from being replayed as another (a
portal link cannot be pasted into the session cookie). Tokens are signed, not encrypted:
they carry ids and roles, never secrets.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

__all__ = ["InvalidToken", "dashboard_key", "derive_key", "sign", "verify"]

_EXPIRES = "x"


class InvalidToken(Exception):
    """The token is malformed, forged, for another purpose, or expired (`expired` says)."""

    def __init__(self, reason: str, *, expired: bool = False) -> None:
        super().__init__(reason)
        self.expired = expired


def dashboard_key(secret_key: bytes) -> bytes:
    """The dashboard's signing key, derived from the server's secret key so operators have
    one secret to manage; the derivation keeps the Fernet key itself out of HMAC use."""
    return derive_key(secret_key, "hookcast-dashboard")


def derive_key(secret_key: bytes, label: str) -> bytes:
    """A signing key for one use of the server's secret key (`label` names the use): keys
    of different uses differ, so no token signed for one is genuine for another."""
    return hmac.new(secret_key, label.encode(), hashlib.sha256).digest()


def sign(key: bytes, *, purpose: str, claims: Mapping[str, Any], expires: datetime) -> str:
    payload = _b64(orjson.dumps({**claims, _EXPIRES: int(expires.timestamp())}))
    return f"{payload}.{_b64(_mac(key, purpose, payload))}"


def verify(
    key: bytes, *, purpose: str, token: str, now: datetime, previous: Sequence[bytes] = ()
) -> dict[str, Any]:
    """The claims of a genuine, unexpired token of this purpose, signed with `key` or one
    of the `previous` keys (tokens signed before a key change); `InvalidToken` otherwise."""
    payload, _, mac = token.partition(".")
    try:
        given = _unb64(mac)
    except (binascii.Error, ValueError):
        raise InvalidToken("the token is malformed") from None
    # Constant-time compare: a timing difference would let an attacker forge a MAC bytewise.
    genuine = (hmac.compare_digest(given, _mac(k, purpose, payload)) for k in (key, *previous))
    if not payload or not any(genuine):
        raise InvalidToken("the token's signature does not match")
    claims = orjson.loads(_unb64(payload))
    if not isinstance(claims, dict) or not isinstance(claims.get(_EXPIRES), int):
        raise InvalidToken("the token is malformed")
    if claims[_EXPIRES] <= now.timestamp():
        raise InvalidToken("the token has expired", expired=True)
    return claims


def _mac(key: bytes, purpose: str, payload: str) -> bytes:
    return hmac.new(key, f"{purpose}.{payload}".encode(), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
