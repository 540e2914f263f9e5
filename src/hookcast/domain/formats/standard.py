"""The `standard` format: the Standard Webhooks envelope and headers, nothing else.

Body: `{"type": "media.available", "timestamp": "<ISO 8601>", "data": {<ids>, "site_id",
"sequence", <the publisher's data>}}`. Headers: `webhook-id` (the delivery id, stable across
retries), `webhook-timestamp`, `webhook-signature` ("v1,<base64>", one per secret during a
rotation's grace period), verifiable by the official `standardwebhooks` libraries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from hookcast.domain.catalog import EVENT_TYPES
from hookcast.domain.formats.base import TEST_EVENT, Format, resource_fields
from hookcast.domain.formats.jwplayer import format_time
from hookcast.domain.ids import new_webhook_secret
from hookcast.domain.models import EventFields, RetryPolicySpec
from hookcast.domain.retry import STANDARD_DELAYS
from hookcast.domain.signing import USER_AGENT, sign_standard

__all__ = ["FORMAT", "standard_name"]


def standard_name(catalog_event: str, group: str) -> str:
    """The spec's dotted style: "media_available" -> "media.available", "channel_recording_
    ready" -> "channel.recording_ready", "conversions_complete" -> "media.conversions_complete"."""
    rest = catalog_event.removeprefix(group + "_")
    return f"{group}.{rest}"


NAMES: Final[Mapping[str, str]] = {
    name: "webhook.test" if name == TEST_EVENT else standard_name(name, kind.group)
    for name, kind in EVENT_TYPES.items()
}


def _render(event: EventFields, *, name: str, webhook_id: str, delivery_id: str) -> dict[str, Any]:
    primary = EVENT_TYPES[event.type].id_fields[:1]
    data = resource_fields(event, primary_as=primary[0] if primary else "id")
    data["site_id"] = event.site_id
    if event.sequence is not None:
        # The spec leaves `data` to the sender: the event's number within its resource
        # (domain/ordering.py), as the X-Hookcast-Sequence header also carries.
        data["sequence"] = event.sequence
    return {"type": name, "timestamp": format_time(event.event_time), "data": data}


def _sign(
    body: bytes, *, msg_id: str, timestamp: int, webhook_id: str, secrets: Sequence[str]
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_standard(
            msg_id=msg_id, timestamp=timestamp, body=body, secrets=secrets
        ),
    }


FORMAT = Format(
    name="standard",
    title="Standard Webhooks",
    names=NAMES,
    render=_render,
    sign=_sign,
    signs_with_previous=True,
    make_secret=new_webhook_secret,
    retry_policy=RetryPolicySpec("standard", STANDARD_DELAYS),
    rotation=(
        "webhook-signature carries a signature by each secret until the grace period ends, "
        "so a receiver holding either secret accepts every delivery."
    ),
    verify_example=(
        "from standardwebhooks.webhooks import Webhook\n"
        "payload = Webhook(secret).verify(body, headers)  # raises if forged or stale"
    ),
    signings=("hmac", "ed25519"),
)
