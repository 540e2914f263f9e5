"""Verify a HookCast delivery in a receiver: any framework, any format and scheme.

    from hookcast import verify

    payload = verify.any(body, headers, "whsec_...")   # raw body bytes, the request's headers
    payload = verify.any(body, headers, "whpk_...")    # a webhook signing with Ed25519

`any` requires the Standard Webhooks headers, whose timestamp refuses replays; the JWT and
the hex HMACs alone are accepted only with `allow_untimestamped=True` (see its docstring).
A webhook's format decides its headers: `jwplayer` (the default) sends the JWT, Standard
Webhooks and `X-Hookcast-Signature`; `standard` the Standard Webhooks headers alone;
`apivideo`, `flowplayer` and `mediamanager` one hex HMAC each, checked by `apivideo`,
`flowplayer` and `mediamanager` (a Flowplayer-format delivery is signed with the account's
Flowplayer organization secret).

`body` is the raw request body (bytes, before any JSON parsing) and `headers` any mapping of
the request's headers (Flask, Django, Starlette, aiohttp or a plain dict; names in any case).
`secrets` is one secret or several (during a rotation, accept the old and the new one). A
`whpk_` public key (a webhook whose `signing` is `ed25519`) checks the Standard Webhooks
`v1a,` signatures; a `whsec_` secret the `v1,` ones, the JWT and the hex HMAC.
Each call returns the delivery's JSON object, or raises a `SignatureError` subclass saying
what failed: `MissingSignature`, `MalformedSignature`, `InvalidSignature`, `StaleTimestamp`.

The checks themselves are `hookcast.domain.signing`'s, the code HookCast signs with:
constant-time comparisons, HS256 only for the JWT, and a timestamp window for Standard
Webhooks. Standard library only, so a receiver importing this pays for nothing else, but
for `cryptography` (a HookCast dependency), loaded when a `whpk_` key is first used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from hookcast.domain import signing
from hookcast.domain.ed25519 import PUBLIC_KEY_PREFIX
from hookcast.domain.signing import (
    InvalidSignature,
    MalformedSignature,
    MissingSignature,
    SignatureError,
    StaleTimestamp,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "PUBLIC_KEY_PREFIX",
    "InvalidSignature",
    "MalformedSignature",
    "MissingSignature",
    "SignatureError",
    "StaleTimestamp",
    "any",
    "apivideo",
    "flowplayer",
    "hex",
    "jwt",
    "mediamanager",
    "standard",
]

DEFAULT_TOLERANCE: Final = signing.DEFAULT_TOLERANCE
HEX_HEADER: Final = "x-hookcast-signature"
APIVIDEO_HEADER: Final = "x-api-video-signature"
FLOWPLAYER_HEADER: Final = "x-fp-webhook-signature-hmac-sha-256"
MEDIAMANAGER_HEADER: Final = "signature"
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
    against replays) and `webhook-signature`, whose space-separated signatures are tried
    in turn: "v1," against `whsec_` secrets, "v1a," (Ed25519) against `whpk_` public keys."""
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


def apivideo(body: bytes | str, headers: Mapping[str, str], secrets: Secrets) -> dict[str, Any]:
    """api.video's format: `X-Api-Video-Signature`, the hex HMAC-SHA256 of the body keyed by
    the webhook's `sig_sec_` secret. It carries no timestamp: deduplicate replays yourself."""
    return _hex_header(body, headers, APIVIDEO_HEADER, secrets)


def flowplayer(body: bytes | str, headers: Mapping[str, str], secrets: Secrets) -> dict[str, Any]:
    """Flowplayer's format: `X-FP-Webhook-Signature-Hmac-Sha-256`, keyed by the account's
    Flowplayer organization secret (not the webhook's). No timestamp."""
    return _hex_header(body, headers, FLOWPLAYER_HEADER, secrets)


def mediamanager(body: bytes | str, headers: Mapping[str, str], secrets: Secrets) -> dict[str, Any]:
    """Media Manager's format: `Signature`, the hex HMAC-SHA256 of the body keyed by the
    webhook's secret. No timestamp."""
    return _hex_header(body, headers, MEDIAMANAGER_HEADER, secrets)


def _hex_header(
    body: bytes | str, headers: Mapping[str, str], name: str, secrets: Secrets
) -> dict[str, Any]:
    value = _lowered(headers).get(name)
    if value is None:
        raise MissingSignature(f"no {name} header")
    return hex(body, value, secrets)


# The untimestamped schemes `any` may fall back to, in order: (header, check).
_UNTIMESTAMPED: Final = (
    (HEX_HEADER, lambda body, headers, secrets: hex(body, headers[HEX_HEADER], secrets)),
    (APIVIDEO_HEADER, apivideo),
    (FLOWPLAYER_HEADER, flowplayer),
    (MEDIAMANAGER_HEADER, mediamanager),
)


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
    if not [key for key in _secrets(secrets) if not key.startswith(PUBLIC_KEY_PREFIX)]:
        raise MissingSignature(
            "no webhook-signature header: an Ed25519 public key (whpk_) verifies its v1a "
            "signatures only"
        )
    bearer = lowered.get("authorization", "").strip().lower().startswith("bearer ")
    hexes = [check for name, check in _UNTIMESTAMPED if name in lowered]
    if (bearer or hexes) and not allow_untimestamped:
        raise MissingSignature(
            "no webhook-signature header: the jwplayer and standard formats always send the "
            "Standard Webhooks headers, and a JWT or hex signature alone may be a replay "
            "(pass allow_untimestamped=True to accept them anyway, e.g. for the apivideo, "
            "flowplayer and mediamanager formats, which have no timestamp)"
        )
    if bearer:
        return jwt(body, lowered["authorization"], secrets)
    if hexes:
        return hexes[0](body, lowered, secrets)
    raise MissingSignature(
        "no signature: expected webhook-signature, Authorization: Bearer <JWT>, "
        "X-Hookcast-Signature, X-Api-Video-Signature, X-FP-Webhook-Signature-Hmac-Sha-256 "
        "or Signature headers"
    )


def _bytes(body: bytes | str) -> bytes:
    # Frameworks hand out bytes, memoryviews or str; the signature covers the exact bytes.
    return body.encode() if isinstance(body, str) else bytes(body)


def _secrets(secrets: Secrets) -> Sequence[str]:
    listed = [secrets] if isinstance(secrets, str) else list(secrets)
    if not listed or not all(isinstance(item, str) and item for item in listed):
        raise ValueError("pass a webhook secret (whsec_...), public key (whpk_...) or a list")
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
