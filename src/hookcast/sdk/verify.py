"""Verify a HookCast delivery in a receiver: any framework, any of the three schemes.

    from hookcast import verify

    payload = verify.any(body, headers, "whsec_...")   # raw body bytes, the request's headers

`any` requires the Standard Webhooks headers, whose timestamp refuses replays; the JWT and
the hex HMAC alone are accepted only with `allow_untimestamped=True` (see its docstring).

`body` is the raw request body (bytes, before any JSON parsing) and `headers` any mapping of
the request's headers (Flask, Django, Starlette, aiohttp or a plain dict; names in any case).
`secrets` is one secret or several (during a rotation, accept the old and the new one).
Each call returns the delivery's JSON object, or raises a `SignatureError` subclass saying
what failed: `MissingSignature`, `MalformedSignature`, `InvalidSignature`, `StaleTimestamp`.

The checks themselves are `hookcast.domain.signing`'s, the code HookCast signs with:
constant-time comparisons, HS256 only for the JWT, and a timestamp window for Standard
Webhooks. Standard library only, so a receiver importing this pays for nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from hookcast.domain import signing
from hookcast.domain.signing import (
    InvalidSignature,
    MalformedSignature,
    MissingSignature,
    SignatureError,
    StaleTimestamp,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "InvalidSignature",
    "MalformedSignature",
    "MissingSignature",
    "SignatureError",
    "StaleTimestamp",
    "any",
    "hex",
    "jwt",
    "standard",
]

DEFAULT_TOLERANCE: Final = signing.DEFAULT_TOLERANCE
HEX_HEADER: Final = "x-hookcast-signature"
_STANDARD_HEADERS: Final = ("webhook-id", "webhook-timestamp", "webhook-signature")

Secrets = str | Sequence[str]
Tolerance = timedelta | float


def jwt(body: bytes | str, authorization: str, secrets: Secrets) -> dict[str, Any]:
    """JW Player's scheme: `authorization` is the `Authorization` header (or the bare JWT)."""
    raw = _bytes(body)
    signing.verify_jwt(authorization, raw, _secrets(secrets))
    return _payload(raw)


def standard(
    body: bytes | str,
    headers: Mapping[str, str],
    secrets: Secrets,
    *,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Standard Webhooks: `webhook-id`, `webhook-timestamp` (within `tolerance` of now,
    against replays) and `webhook-signature`."""
    raw = _bytes(body)
    signing.verify_standard(
        headers=_lowered(headers),
        body=raw,
        secrets=_secrets(secrets),
        now=now or datetime.now(UTC),
        tolerance=_tolerance(tolerance),
    )
    return _payload(raw)


# `hex` and `any` shadow builtins on purpose: `verify.hex(...)`, `verify.any(...)` read well.
def hex(body: bytes | str, signature: str, secrets: Secrets) -> dict[str, Any]:
    """The hex HMAC-SHA256 of the body: `signature` is the `X-Hookcast-Signature` value."""
    raw = _bytes(body)
    signing.verify_hex(signature, raw, _secrets(secrets))
    return _payload(raw)


def any(
    body: bytes | str,
    headers: Mapping[str, str],
    secrets: Secrets,
    *,
    tolerance: Tolerance = DEFAULT_TOLERANCE,
    now: datetime | None = None,
    allow_untimestamped: bool = False,
) -> dict[str, Any]:
    """Verify a delivery by its Standard Webhooks headers, which HookCast always sends.

    Only that scheme has a timestamp, so only it refuses a replay. By default a request
    without `webhook-signature` is refused (`MissingSignature`), because a captured
    delivery stripped of that header still carries a valid JWT and hex signature.

    `allow_untimestamped=True` also accepts the JWT, then the hex HMAC, when no
    `webhook-signature` is there: for senders that send only those. The risk: anyone who
    captured one such request (a log, a proxy, a plain-http URL) can replay it, unchanged,
    for ever; deduplicate on `event_id` if you allow them. Whatever is allowed, there is no
    falling back: a stale Standard Webhooks timestamp is not rescued by a JWT.
    """
    lowered = _lowered(headers)
    if _STANDARD_HEADERS[-1] in lowered:
        return standard(body, lowered, secrets, tolerance=tolerance, now=now)
    bearer = lowered.get("authorization", "").strip().lower().startswith("bearer ")
    if (bearer or HEX_HEADER in lowered) and not allow_untimestamped:
        raise MissingSignature(
            "no webhook-signature header: HookCast always sends the Standard Webhooks "
            "headers, and a JWT or hex signature alone may be a replay (pass "
            "allow_untimestamped=True to accept them anyway)"
        )
    if bearer:
        return jwt(body, lowered["authorization"], secrets)
    if HEX_HEADER in lowered:
        return hex(body, lowered[HEX_HEADER], secrets)
    raise MissingSignature(
        "no signature: expected webhook-signature, Authorization: Bearer <JWT> or "
        "X-Hookcast-Signature headers"
    )


def _bytes(body: bytes | str) -> bytes:
    # Frameworks hand out bytes, memoryviews or str; the signature covers the exact bytes.
    return body.encode() if isinstance(body, str) else bytes(body)


def _secrets(secrets: Secrets) -> Sequence[str]:
    listed = [secrets] if isinstance(secrets, str) else list(secrets)
    if not listed or not all(isinstance(item, str) and item for item in listed):
        raise ValueError("pass a webhook secret (whsec_...) or a list of them")
    return listed


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in headers.items()}


def _tolerance(value: Tolerance) -> timedelta:
    return value if isinstance(value, timedelta) else timedelta(seconds=value)


def _payload(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise SignatureError("the signature is valid but the body is not a JSON object")
    return parsed
