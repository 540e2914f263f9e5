"""The `jwplayer` format (the default): JW Player's flat body, plus `event_id` and optional
`data`, signed three ways at once (JWT, Standard Webhooks headers, hex HMAC; domain/signing).

Key order follows JW Player's examples (receivers and their logs see the familiar shape):
event, event_id, the primary resource id, webhook_id, site_id, event_time, the other resource
ids (a thumbnail's media_id comes after event_time), the sequence number, then data.
Serialising is left to the caller (orjson, outside the pure domain).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from hookcast.domain.catalog import EVENT_TYPES
from hookcast.domain.formats.base import Format
from hookcast.domain.ids import new_webhook_secret
from hookcast.domain.models import EventFields, RetryPolicySpec
from hookcast.domain.retry import STANDARD_DELAYS
from hookcast.domain.signing import delivery_signer

__all__ = ["FORMAT", "body_fields", "format_time"]


def body_fields(event: EventFields, webhook_id: str) -> dict[str, Any]:
    """The JSON object delivered to one webhook for `event`, in wire key order."""
    resource_ids = event.resource_ids
    # Most events name one resource: nothing to order (_ordered_ids' own first case, here
    # to save a call per delivery).
    ids = list(resource_ids.items()) if len(resource_ids) == 1 else _ordered_ids(event)
    body: dict[str, Any] = {"event": event.type, "event_id": event.event_id}
    body.update(ids[:1])
    body["webhook_id"] = webhook_id
    body["site_id"] = event.site_id
    event_time = event.event_time
    if event_time.tzinfo is not UTC:  # a stored time is UTC already (once per delivery)
        event_time = _in_utc(event_time)
    # Whole seconds, as in every one of JW Player's examples: a test ping's, an operational
    # event's or a publisher's time with a fraction would otherwise carry microseconds, which
    # a receiver parsing JW's "2024-08-27T00:15:45+00:00" strictly refuses. A publish without
    # a time is stamped in whole seconds: the plain isoformat() spares it timespec's cost.
    body["event_time"] = (
        event_time.isoformat(timespec="seconds")
        if event_time.microsecond
        else event_time.isoformat()
    )
    body.update(ids[1:])
    if event.sequence is not None:
        # The event's number within its resource (domain/ordering.py): an extra key JSON
        # receivers of JW Player's shape ignore, and one a receiver can spot gaps with.
        body["sequence"] = event.sequence
    data = event.data
    if data is not None:
        # A plain dict (orjson refuses other Mapping types), the event's own when it is one:
        # fan-out makes this body for every webhook with a condition and every event, and a
        # copy each time of data with 24,000 keys held one publish of 19 such events to 100
        # webhooks on the API's loop for 2.6 s (attack17). Nothing changes a body's data.
        body["data"] = data if type(data) is dict else dict(data)
    return body


def _ordered_ids(event: EventFields) -> list[tuple[str, str]]:
    # The catalog says which id is primary (thumbnail_id before media_id), whatever order
    # the publisher sent them in; ids the catalog does not know keep their order at the end.
    resource_ids = event.resource_ids
    if len(resource_ids) == 1:  # most events name one resource: nothing to order
        return list(resource_ids.items())
    event_type = EVENT_TYPES.get(event.type)
    known = event_type.id_fields if event_type else ()
    ids = [(name, resource_ids[name]) for name in known if name in resource_ids]
    ids.extend(item for item in resource_ids.items() if item[0] not in known)
    return ids


def format_time(dt: datetime) -> str:
    """ISO 8601 in UTC with a "+00:00" offset, e.g. "2024-08-27T00:15:45+00:00".

    Microseconds appear only when they are not zero.
    """
    return _in_utc(dt).isoformat()


def _in_utc(dt: datetime) -> datetime:
    if dt.tzinfo is UTC:  # as stored and loaded: no conversion to make (once per delivery)
        return dt
    if dt.tzinfo is None:
        # a naive time has no defined instant; guessing would shift events by hours
        raise ValueError("event times must be timezone-aware")
    return dt.astimezone(UTC)


def _render(event: EventFields, *, name: str, webhook_id: str, delivery_id: str) -> dict[str, Any]:
    return body_fields(event, webhook_id)


def _sign(
    body: bytes, *, msg_id: str, timestamp: int, webhook_id: str, secrets: Sequence[str]
) -> dict[str, str]:
    # delivery_headers' own work, without its call (Format.headers checked the secrets).
    return delivery_signer(secrets).headers(body, msg_id, timestamp)


# JW Player's names are the catalog's own.
FORMAT = Format(
    name="jwplayer",
    title="JW Player",
    names={name: name for name in EVENT_TYPES},
    render=_render,
    sign=_sign,
    signs_with_previous=True,
    make_secret=new_webhook_secret,
    retry_policy=RetryPolicySpec("standard", STANDARD_DELAYS),
    rotation=(
        "The JWT (Authorization) and X-Hookcast-Signature switch to the new secret at once; "
        "webhook-signature carries a signature by each secret until the grace period ends."
    ),
    verify_example=(
        'jwt.decode(token, secret, algorithms=["HS256"]) == json.loads(body)  # PyJWT\n'
        'hmac.compare_digest(hmac.new(secret.encode(), body, "sha256").hexdigest(),\n'
        '                    headers["X-Hookcast-Signature"])'
    ),
    signings=("hmac", "ed25519"),
)
