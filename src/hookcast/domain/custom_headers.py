"""Custom headers a webhook sends with every delivery (`metadata.headers`): for receivers
behind a gateway that wants its own key or a routing header.

Everything here is hostile input from whoever holds an editor key, and it ends up in the
raw request HookCast writes on the wire (delivery/http1.encode_request), so the rules are
strict: RFC 9110 token names, printable ASCII values (no CR, LF or NUL: no header or request
smuggling), bounded count and size, and no name HookCast sets itself, whatever the webhook's
format (a signature, the framing, Host, the X-Hookcast-* family): a receiver must be able to
trust that those come from HookCast.

Values are treated as secrets (a gateway key usually is): stored encrypted, shown as
REDACTED. A PATCH or form that sends REDACTED back for a name it already has keeps the
stored value, so a client can round-trip what it read without knowing the secrets.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Final

from hookcast.domain.errors import ValidationFailed
from hookcast.domain.formats import FORMATS
from hookcast.domain.signing import REDACTED

__all__ = [
    "MAX_HEADERS",
    "MAX_NAME_LENGTH",
    "MAX_TOTAL_SIZE",
    "MAX_VALUE_LENGTH",
    "REDACTED",
    "parse_custom_headers",
    "redacted",
    "reserved_reason",
]

MAX_HEADERS: Final = 20
MAX_NAME_LENGTH: Final = 64
MAX_VALUE_LENGTH: Final = 4096
MAX_TOTAL_SIZE: Final = 8192  # names and values together, in characters
FIELD: Final = "headers"

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# Visible ASCII, space and tab (RFC 9110 field-vchar without obs-text): encode_request writes
# Latin-1, and anything else (CR, LF, NUL, DEL, non-ASCII) has no business in a gateway key.
_VALUE = re.compile(r"[\x21-\x7e]([\x20-\x7e\t]*[\x21-\x7e])?")

# Framing and connection management: owned by the HTTP client; a second Content-Length or a
# Transfer-Encoding would let a tenant smuggle a request to the receiver.
_FRAMING: Final = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "expect",
        "proxy-connection",
        "proxy-authorization",
        "content-encoding",
    }
)
# Set by HookCast on every delivery of some format: the body's type, the client, the three
# signature schemes of the jwplayer format, Standard Webhooks' trio and trace context.
_HOOKCAST: Final = frozenset(
    {
        "content-type",
        "user-agent",
        "authorization",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "traceparent",
        "tracestate",
    }
)
_PREFIX: Final = "x-hookcast-"


def reserved_reason(name: str) -> str | None:
    """Why `name` may not be a custom header (case-insensitive), or None if it may."""
    lower = name.lower()
    if lower in _FRAMING:
        return "the HTTP client sets it (framing and connection headers)"
    if lower.startswith(_PREFIX) or lower in _HOOKCAST or lower in _signature_headers():
        return "HookCast sets it on deliveries (signatures and its own headers)"
    return None


@functools.cache
def _signature_headers() -> frozenset[str]:
    """Every header some format sets on its requests (lowercase), as its own signing code
    writes them (X-Api-Video-WebhookID too, which carries no signature), and the ones it
    redacts as signatures."""
    written = (
        name.lower()
        for wire in FORMATS.values()
        for name in wire.sign(
            b"{}", msg_id="m", timestamp=0, webhook_id="w", secrets=(wire.make_secret(),)
        )
    )
    return frozenset(written).union(
        name for wire in FORMATS.values() for name in wire.signature_headers
    )


def parse_custom_headers(
    raw: object, *, current: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`metadata.headers` checked: an object of header name to value (None or {}: none).

    A value of REDACTED keeps the value stored under the same name (case-insensitive) in
    `current`. Raises ValidationFailed naming the rule broken."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValidationFailed(
            'metadata.headers must be an object of header name to value, e.g. {"X-Api-Key": "..."}',
            field=FIELD,
        )
    if len(raw) > MAX_HEADERS:
        raise ValidationFailed(
            f"metadata.headers may hold at most {MAX_HEADERS} headers", field=FIELD
        )
    kept = {name.lower(): value for name, value in (current or {}).items()}
    headers: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in raw.items():
        _check_name(name, seen)
        headers[name] = _value(name, value, kept)
    size = sum(len(name) + len(value) for name, value in headers.items())
    if size > MAX_TOTAL_SIZE:
        raise ValidationFailed(
            f"metadata.headers are {size} characters long in all, over {MAX_TOTAL_SIZE}",
            field=FIELD,
        )
    return headers


def _check_name(name: object, seen: set[str]) -> None:
    if not isinstance(name, str) or not _TOKEN.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed(
            f"metadata.headers: {name!r} is not a header name (letters, digits and "
            f"!#$%&'*+-.^_`|~, at most {MAX_NAME_LENGTH} characters)",
            field=FIELD,
        )
    reason = reserved_reason(name)
    if reason is not None:
        raise ValidationFailed(f"metadata.headers: {name} cannot be set: {reason}", field=FIELD)
    if name.lower() in seen:
        raise ValidationFailed(
            f"metadata.headers: {name} is given twice (names are case-insensitive)", field=FIELD
        )
    seen.add(name.lower())


def _value(name: str, value: object, kept: Mapping[str, str]) -> str:
    if value == REDACTED:
        if name.lower() not in kept:
            raise ValidationFailed(
                f"metadata.headers: {name} is {REDACTED}, which keeps a stored value, but the "
                "webhook has no such header: give its value",
                field=FIELD,
            )
        return kept[name.lower()]
    if not isinstance(value, str) or not _VALUE.fullmatch(value):
        raise ValidationFailed(
            f"metadata.headers: the value of {name} must be non-empty printable ASCII (no "
            "line breaks or control characters, no leading or trailing spaces)",
            field=FIELD,
        )
    if len(value) > MAX_VALUE_LENGTH:
        raise ValidationFailed(
            f"metadata.headers: the value of {name} is longer than {MAX_VALUE_LENGTH} characters",
            field=FIELD,
        )
    return value


def redacted(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers as API responses, the dashboard and the delivery log show them: the
    names, every value REDACTED."""
    return dict.fromkeys(headers, REDACTED)
