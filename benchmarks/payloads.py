"""The events every contestant delivers: the same JW-shaped 150-300 byte JSON body HookCast
sends (docs/delivery.md), signed with a hex HMAC-SHA256 of the body, the signature the
receiver checks."""

from __future__ import annotations

import hashlib
import hmac
import random
from typing import Any

import orjson

SITE_ID = "BENCH001"
EVENT_TYPE = "media_available"


def event_id(phase: str, number: int) -> str:
    return f"{phase}-{number:07d}"


def published_event(phase: str, number: int) -> dict[str, Any]:
    """What a publisher sends to HookCast's POST /v2/events/."""
    return {
        "event": EVENT_TYPE,
        "event_id": event_id(phase, number),
        "site_id": SITE_ID,
        "media_id": f"M{number % 10_000_000:07d}",
        "data": {"title": f"Benchmark clip {number}", "duration": 123.4, "tags": ["bench"]},
    }


def padded(event: dict[str, Any], size: int) -> dict[str, Any]:
    """`event` with `size` more bytes in its `data`: a `blob` of hex digits, different for
    each event id, which PostgreSQL's compression cannot shrink (stored out of line, read
    whole each time a statement returns it)."""
    blob = random.Random(event["event_id"]).randbytes(size // 2).hex()
    return event | {"data": event["data"] | {"blob": blob}}


def delivery_body(phase: str, number: int, webhook_id: str = "BENCHWH1") -> bytes:
    """The body HookCast would deliver for `published_event(phase, number)`."""
    published = published_event(phase, number)
    return orjson.dumps(
        {
            "event": published["event"],
            "event_id": published["event_id"],
            "media_id": published["media_id"],
            "webhook_id": webhook_id,
            "site_id": SITE_ID,
            "event_time": "2026-11-01T00:15:45+00:00",
            "data": published["data"],
        }
    )


def hex_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, event_id_: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "webhook-id": event_id_,
        "X-Hookcast-Signature": hex_signature(secret, body),
    }
