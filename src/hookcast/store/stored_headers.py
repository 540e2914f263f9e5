"""An attempt's request headers in fewer bytes (PostgreSQL's recording statement).

The request headers were most of an attempt row (about 250 of 350 bytes for a JW Player
delivery), and the row is written to the WAL whole, once per delivery. Nearly all of them
are the same on every delivery: the names, the content type, the user agent, "[redacted]"
where a signature was; the rest is the delivery's id (`webhook-id`) and the second the
attempt was signed at (`webhook-timestamp`), which the attempt row holds already. So they
are stored as a JSON array instead of an object, name and value in turn, in their order:
a string stands for itself, a number ≥ 0 for that entry of `_WORDS`, `_DELIVERY_ID` for
the attempt's delivery id and `_SIGNED_AT` for its `started_at` in whole seconds. A JW
Player delivery's headers take 34 bytes instead of 246. Reading gives back exactly the
object that was sent (test_stored_headers.py); rows stored as an object are read as they
are.

`_WORDS` only grows: stored rows name its entries by position. A value not in it (a newer
user agent, a custom header) is stored as itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

__all__ = ["compact", "expand"]

_DELIVERY_ID: Final = -1
_SIGNED_AT: Final = -2
_WORDS: Final = (
    "Content-Type",
    "application/json",
    "User-Agent",
    "HookCast/0.1 (+webhooks)",
    "Authorization",
    "[redacted]",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "X-Hookcast-Signature",
    "X-Hookcast-Resource",
    "X-Hookcast-Sequence",
    "X-Api-Video-Signature",
    "X-Api-Video-WebhookID",
    "X-FP-Webhook-Signature-Hmac-Sha-256",
    "Signature",
    "traceparent",
)
_CODES: Final = {word: code for code, word in enumerate(_WORDS)}


def compact(headers: Mapping[str, str], *, delivery_id: str, started_at: datetime) -> list[Any]:
    """`headers` as stored (module docstring)."""
    signed_at = str(int(started_at.timestamp()))
    stored: list[Any] = []
    for name, value in headers.items():
        stored.append(_CODES.get(name, name))
        if value == delivery_id:
            stored.append(_DELIVERY_ID)
        elif value == signed_at:
            stored.append(_SIGNED_AT)
        else:
            stored.append(_CODES.get(value, value))
    return stored


def expand(stored: Any, *, delivery_id: str, started_at: datetime) -> dict[str, str]:
    """The headers `compact` stored, or an object stored as it was."""
    if isinstance(stored, dict):
        return stored
    words = [_word(item, delivery_id, started_at) for item in stored]
    return dict(zip(words[::2], words[1::2], strict=True))


def _word(item: str | int, delivery_id: str, started_at: datetime) -> str:
    if isinstance(item, str):
        return item
    if item == _DELIVERY_ID:
        return delivery_id
    if item == _SIGNED_AT:
        return str(int(started_at.timestamp()))
    return _WORDS[item]
