"""What every wire format is: event names, a body, signature headers, a secret and defaults.

A format is data plus three pure functions (`render`, `sign`, `make_secret`); the methods
here are the same for all of them, so each format module states only what differs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from hookcast.domain import ed25519
from hookcast.domain.catalog import ALL_EVENTS, EVENT_TYPES
from hookcast.domain.models import EventFields, RetryPolicySpec, Webhook
from hookcast.domain.signing import USER_AGENT, sign_hex

__all__ = ["Format", "Render", "Sign", "hex_signed", "resource_fields"]

TEST_EVENT = "webhook_test"  # the catalog's ping: every format names it, never subscribable


def resource_fields(event: EventFields, *, primary_as: str) -> dict[str, Any]:
    """The event's resource ids, the primary one (per the catalog) first under `primary_as`,
    then the publisher's data; an id wins over a data field of the same name."""
    event_type = EVENT_TYPES.get(event.type)
    primary = event_type.id_fields[0] if event_type and event_type.id_fields else None
    fields: dict[str, Any] = {}
    if primary is not None and primary in event.resource_ids:
        fields[primary_as] = event.resource_ids[primary]
    fields.update((name, value) for name, value in event.resource_ids.items() if name != primary)
    for key, value in (event.data or {}).items():
        fields.setdefault(key, value)
    return fields


class Render(Protocol):
    def __call__(
        self, event: EventFields, *, name: str, webhook_id: str, delivery_id: str
    ) -> dict[str, Any]:
        """The JSON object delivered for `event`, named `name` in this format."""
        ...


class Sign(Protocol):
    def __call__(
        self, body: bytes, *, msg_id: str, timestamp: int, webhook_id: str, secrets: Sequence[str]
    ) -> dict[str, str]:
        """Every header of the request carrying `body`, signed with `secrets` (current first)."""
        ...


def hex_signed(header: str, *, webhook_id_header: str | None = None) -> Sign:
    """The headers of a format that signs with one hex HMAC-SHA256 of the raw body in
    `header`, keyed by the current secret: such a header has room for one signature, so a
    rotation switches it at once. `webhook_id_header`, if given, carries the webhook's id."""

    def sign(
        body: bytes, *, msg_id: str, timestamp: int, webhook_id: str, secrets: Sequence[str]
    ) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if webhook_id_header is not None:
            headers[webhook_id_header] = webhook_id
        headers[header] = sign_hex(body, secrets[0])
        return headers

    return sign


@dataclass(frozen=True, slots=True)
class Format:
    """One wire format. `names` maps catalog event names to this format's names; several
    catalog events may share one name (Media Manager calls a new livestream media.created),
    and a catalog event missing from it is not delivered to this format's webhooks."""

    name: str  # the value of metadata.format
    title: str  # for people: "api.video"
    names: Mapping[str, str]
    render: Render
    sign: Sign
    make_secret: Callable[[], str]
    retry_policy: RetryPolicySpec
    timeout_seconds: int = 10
    success_from: int = 200  # the lowest status that counts as delivered (up to 299)
    # Headers carrying a signature (lowercase): redacted in the delivery log, as a signature
    # is a replayable credential for its body.
    signature_headers: frozenset[str] = frozenset()
    # For people (dashboard, docs): what a secret rotation does to the signature headers,
    # and a receiver's check (`verify_language` code) as the Reveal secret page shows it.
    rotation: str = ""
    verify_language: str = "Python"
    verify_example: str = ""
    all_events: str = ALL_EVENTS  # how a subscription to every event is spelled
    # Signs with the account's organization secret rather than the webhook's own.
    organization_signed: bool = False
    # A header carries a signature per secret, so a rotated-out secret keeps signing
    # through the grace period (Standard Webhooks' webhook-signature); else it stops at once.
    signs_with_previous: bool = False
    # The signature schemes a webhook of this format may choose (metadata.signing): "ed25519"
    # only where the Standard Webhooks header is sent, which carries its v1a signatures.
    signings: tuple[str, ...] = ("hmac",)
    _catalog: Mapping[str, tuple[str, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.names) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"format {self.name} names unknown catalog events: {unknown}")
        reverse: dict[str, tuple[str, ...]] = {}
        for catalog_event, own in self.names.items():
            reverse[own] = (*reverse.get(own, ()), catalog_event)
        object.__setattr__(self, "_catalog", reverse)

    def event_name(self, catalog_event: str) -> str | None:
        """This format's name for a catalog event, or None if it is not delivered in it."""
        return self.names.get(catalog_event)

    def catalog_events(self, format_event: str) -> tuple[str, ...]:
        """The catalog events a name of this format stands for (none if it is unknown)."""
        return self._catalog.get(format_event, ())

    def event_names(self) -> tuple[str, ...]:
        """The names a webhook of this format may subscribe to, in catalog order."""
        subscribable = (own for catalog, own in self.names.items() if catalog != TEST_EVENT)
        return tuple(dict.fromkeys(subscribable))

    def delivers(self, catalog_event: str) -> bool:
        return catalog_event in self.names

    def to_own(self, catalog_events: Sequence[str]) -> tuple[str, ...]:
        """A webhook's stored (catalog) subscription, in this format's names."""
        if ALL_EVENTS in catalog_events:
            return (self.all_events,)
        own = (self.names.get(event) for event in catalog_events)
        return tuple(dict.fromkeys(name for name in own if name is not None))

    def body(self, event: EventFields, *, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        """The JSON object delivered to one webhook (serialising is the caller's)."""
        name = self.names.get(event.type)
        if name is None:
            raise ValueError(f"{event.type} is not delivered in the {self.name} format")
        return self.render(event, name=name, webhook_id=webhook_id, delivery_id=delivery_id)

    def headers(
        self, body: bytes, *, msg_id: str, timestamp: int, webhook_id: str, secrets: Sequence[str]
    ) -> dict[str, str]:
        """The request's headers, signed with `secrets` (current first)."""
        if not secrets:
            raise ValueError("at least one secret is required to sign a delivery")
        return self.sign(
            body, msg_id=msg_id, timestamp=timestamp, webhook_id=webhook_id, secrets=secrets
        )

    def signing_secrets(self, webhook: Webhook, now: datetime) -> tuple[str, ...]:
        """The secrets that sign the webhook's deliveries now; none: it cannot be sent."""
        if self.organization_signed:
            secret = webhook.organization_secret
            return (secret,) if secret else ()
        return webhook.secrets_at(now)

    def new_secret(self, signing: str = "hmac") -> str:
        """A new secret in this format's shape: a `whsk_` Ed25519 key for "ed25519"."""
        if signing not in self.signings:
            raise ValueError(f"the {self.name} format does not sign with {signing}")
        return ed25519.new_signing_key() if signing == "ed25519" else self.make_secret()
