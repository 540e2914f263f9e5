"""Webhook use-cases: create, read, change, delete, reveal and rotate the signing secret."""

from __future__ import annotations

import builtins
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson

from hookcast.domain.catalog import ALL_EVENTS, guess_for, where_listed
from hookcast.domain.conditions import MAX_TEXT as MAX_CONDITIONS_TEXT
from hookcast.domain.conditions import parse_conditions
from hookcast.domain.custom_headers import parse_custom_headers
from hookcast.domain.delivery_rate import parse_rate_limit
from hookcast.domain.errors import LimitExceeded, NotFound, ValidationFailed
from hookcast.domain.formats import (
    DEFAULT_FORMAT,
    FORMATS,
    Format,
    format_of,
    formats_sending_to_all,
)
from hookcast.domain.freshness import parse_max_age
from hookcast.domain.ids import new_resource_id
from hookcast.domain.jwks import PublishedKey, webhook_keys
from hookcast.domain.models import (
    ALL_SITES,
    ClientCertificate,
    DeliveryRateLimit,
    Ordering,
    Permission,
    RetryPolicySpec,
    Webhook,
)
from hookcast.domain.retry import MIN_CUSTOM_DELAY, parse_retry_policy, retry_policy_to_json
from hookcast.domain.signing import REDACTED
from hookcast.ports import AccountFull, Clock, Page, PageRequest, Store, WebhookQuery
from hookcast.services import validation as v
from hookcast.services.auth import Caller
from hookcast.services.client_certificates import parse_client_certificate
from hookcast.services.urls import UrlGuard

SORT_FIELDS = ("created", "last_modified", "name")
# The per-webhook controls (docs/delivery.md, "Per-webhook controls").
HEADERS, RATE, BURST, CERTIFICATE = (
    "headers",
    "rate_limit_per_second",
    "rate_limit_burst",
    "client_certificate",
)
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "webhook_url",
        "events",
        "site_ids",
        "enabled",
        "conditions",
        "retry_policy",
        "timeout_seconds",
        "ordering",
        "coalesce",
        "max_age_seconds",
        HEADERS,
        RATE,
        BURST,
        CERTIFICATE,
    }
)
# Chosen at create, fixed after: a PATCH may repeat them unchanged, never change them.
FIXED_FIELDS = frozenset({"format"})
# Changing `signing` in a PATCH is a rotation to a secret of the other kind (see update).
SIGNING_FIELD = "signing"
SIGNING_SCHEMES = ("hmac", "ed25519")
FORMAT_DEFAULTED = frozenset({"retry_policy", "timeout_seconds"})


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """What a customer sets on a webhook, validated (JW's metadata plus HookCast's own)."""

    name: str
    description: str
    webhook_url: str
    events: tuple[str, ...]
    site_ids: tuple[str, ...]
    all_sites: bool
    enabled: bool
    conditions: Mapping[str, Any] | None
    retry_policy: RetryPolicySpec
    timeout_seconds: int
    ordering: Ordering
    coalesce: bool
    max_age_seconds: Mapping[str, int]
    headers: Mapping[str, str]
    rate_limit: DeliveryRateLimit | None
    client_certificate: ClientCertificate | None


DEFAULTS: Mapping[str, Any] = {
    "description": "",
    "enabled": True,
    "conditions": None,
    "ordering": Ordering.NONE.value,
    "coalesce": False,
    "max_age_seconds": None,
    HEADERS: None,
    RATE: None,
    BURST: None,
    CERTIFICATE: None,
}


class WebhookService:
    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        url_guard: UrlGuard,
        rotation_grace: timedelta,
        max_per_account: int,
        min_retry_delay: float = MIN_CUSTOM_DELAY,
    ) -> None:
        self._store = store
        self._clock = clock
        self._urls = url_guard
        self._grace = rotation_grace
        self._max_per_account = max_per_account
        self._min_retry_delay = min_retry_delay

    async def create(
        self, caller: Caller, metadata: Mapping[str, Any], *, format: str | None = None
    ) -> Webhook:
        """Creates a webhook; the returned value carries the new secret (shown once).

        The format is `format` if given, else `metadata["format"]`, else "jwplayer"; the
        events are named in it (api.video's names for "apivideo", ...) and its defaults fill
        `retry_policy` and `timeout_seconds`. `LimitExceeded` if the account has its maximum
        number of webhooks already."""
        caller.require(Permission.WRITE)
        chosen = parse_format(format if format is not None else metadata.get("format"))
        signing = _signing(metadata.get(SIGNING_FIELD, "hmac"), chosen)
        settings = await self._validate(caller.account_id, _with_defaults(metadata, chosen), chosen)
        now = self._clock()
        webhook = Webhook(
            id=new_resource_id(),
            account_id=caller.account_id,
            secret=chosen.new_secret(signing),
            created=now,
            last_modified=now,
            format=chosen.name,
            signing=signing,
            **_fields(settings),
        )
        try:
            await self._store.create_webhook(webhook, most=self._max_per_account)
        except AccountFull as full:
            # Every event fans out to each webhook that wants it, on the event loop that
            # serves the API: the cap bounds one event's deliveries. The store counts under
            # a lock of the account's row, so creates racing at the cap cannot both pass.
            raise LimitExceeded(
                f"an account may have at most {self._max_per_account} webhooks and this one "
                f"has {full.held}: delete one, or combine them with events, site_ids and "
                "conditions"
            ) from None
        return webhook

    async def get(self, caller: Caller, webhook_id: str) -> Webhook:
        caller.require(Permission.READ)
        webhook = await self._store.get_webhook(caller.account_id, webhook_id)
        if webhook is None:
            raise NotFound(f"webhook {webhook_id!r} was not found")
        return webhook

    async def list(
        self,
        caller: Caller,
        *,
        page: PageRequest,
        sort: str = "created:dsc",
        event: str | None = None,
        site_id: str | None = None,
        format: str | None = None,
    ) -> Page[Webhook]:
        """One page of the account's webhooks. With `event`, those that receive it: named
        in their subscription, or subscribed to every event ("*") in a format that sends it.
        With `format`, only that format's, and `event` is one of its names (api.video's for
        "apivideo"); else a catalog name."""
        caller.require(Permission.READ)
        field, descending = parse_sort(sort, SORT_FIELDS)
        wire = None if format is None else parse_format(format)
        if wire is not None and event is not None:
            event = _catalog_event(event, wire)
        query = WebhookQuery(
            account_id=caller.account_id,
            page=page,
            sort=field,
            descending=descending,
            event=event,
            # A filter answers "which webhooks get it": those on every event too.
            all_events_formats=() if event is None else formats_sending_to_all(event),
            site_id=site_id,
            format=None if wire is None else wire.name,
        )
        return await self._store.list_webhooks(query)

    async def update(
        self, caller: Caller, *, webhook_id: str, changes: Mapping[str, Any]
    ) -> Webhook:
        """Applies a partial change (JW's PATCH with partial metadata); events are named in
        the webhook's format."""
        caller.require(Permission.WRITE)
        unknown = sorted(set(changes) - EDITABLE_FIELDS - FIXED_FIELDS - {SIGNING_FIELD})
        if unknown:
            raise ValidationFailed(
                f"unknown metadata field(s): {', '.join(unknown)}", field=unknown[0]
            )
        current = await self.get(caller, webhook_id)
        _check_fixed(current, changes)
        signing = _signing(changes.get(SIGNING_FIELD, current.signing), format_of(current))
        changes = {k: v for k, v in changes.items() if k not in FIXED_FIELDS | {SIGNING_FIELD}}
        merged = {**_editable(current), **changes}
        if "webhook_url" not in changes:
            merged.pop("webhook_url")  # unchanged: do not re-resolve it
        if "site_ids" not in changes:
            # unchanged: kept as they are, even empty after their sites were deleted
            merged.pop("site_ids")
        if "retry_policy" not in changes:
            # unchanged: kept, even a schedule saved before today's limits (docs/delivery.md)
            merged.pop("retry_policy")
        _merge_controls(merged, changes)
        settings = await self._validate(
            caller.account_id,
            merged,
            format_of(current),
            url=current.webhook_url,
            sites=(current.all_sites, current.site_ids),
            retry_policy=current.retry_policy,
            current=current,
        )
        updated = dataclasses.replace(current, last_modified=self._clock(), **_fields(settings))
        updated = _apply_enabled_change(current, updated)
        if signing != current.signing:
            # A new kind of secret is a rotation, which only an admin may make.
            caller.require(Permission.ADMIN)
            updated = self._rotated(updated, signing=signing)
        await self._store.update_webhook(updated, self._clock())
        return updated

    async def delete(self, caller: Caller, webhook_id: str) -> None:
        caller.require(Permission.WRITE)
        if not await self._store.delete_webhook(caller.account_id, webhook_id):
            raise NotFound(f"webhook {webhook_id!r} was not found")

    async def reveal_secret(self, caller: Caller, webhook_id: str) -> Webhook:
        caller.require(Permission.ADMIN)
        return await self.get(caller, webhook_id)

    async def rotate_secret(self, caller: Caller, webhook_id: str) -> Webhook:
        """A new secret signs from now on; where the format's headers can carry two
        signatures (Standard Webhooks' header), the old one keeps signing until the grace
        period ends, so receivers can switch without losing events."""
        caller.require(Permission.ADMIN)
        rotated = self._rotated(await self.get(caller, webhook_id), signing=None)
        await self._store.update_webhook(rotated, rotated.last_modified)
        return rotated

    def _rotated(self, current: Webhook, *, signing: str | None) -> Webhook:
        """`current` with a new secret for `signing` (None: its own), the old one kept
        signing beside it until the grace period ends where the format's headers can carry
        both: after a change from "hmac" to "ed25519", webhook-signature carries a v1a and a
        v1 signature until then, and the old secret makes the JWT and hex HMAC
        (domain/signing.delivery_headers)."""
        now = self._clock()
        wire = format_of(current)
        signing = signing or current.signing
        # A format whose headers carry one signature cannot sign with the old secret too:
        # none is kept, so nothing claims it still signs.
        keeps = wire.signs_with_previous
        return dataclasses.replace(
            current,
            secret=wire.new_secret(signing),
            signing=signing,
            previous_secret=current.secret if keeps else None,
            previous_secret_expires=now + self._grace if keeps else None,
            last_modified=now,
        )

    async def public_keys(self, caller: Caller) -> Sequence[PublishedKey]:
        """The Ed25519 public keys that sign the account's deliveries now, oldest webhook
        first: each ed25519 webhook's key, and its previous key during a rotation's grace."""
        caller.require(Permission.READ)
        now = self._clock()
        return [
            key for hook in await self._all(caller.account_id) for key in webhook_keys(hook, now)
        ]

    async def _all(self, account_id: str) -> Sequence[Webhook]:
        # Bounded: an account holds at most max_per_account webhooks.
        hooks: builtins.list[Webhook] = []
        page = 1
        while True:
            request = PageRequest(page=page, page_length=100)
            query = WebhookQuery(account_id=account_id, page=request, descending=False)
            found = await self._store.list_webhooks(query)
            hooks.extend(found.items)
            if not found.items or len(hooks) >= found.total:
                return hooks
            page += 1

    async def _validate(
        self,
        account_id: str,
        raw: Mapping[str, Any],
        wire: Format,
        *,
        url: str | None = None,
        sites: tuple[bool, tuple[str, ...]] | None = None,
        retry_policy: RetryPolicySpec | None = None,
        current: Webhook | None = None,
    ) -> WebhookSettings:
        webhook_url = url
        if "webhook_url" in raw:
            webhook_url = await self._urls.check(
                v.text(raw["webhook_url"], field="webhook_url", max_length=2048)
            )
        if "name" not in raw or webhook_url is None:
            missing = "name" if "name" not in raw else "webhook_url"
            raise ValidationFailed(f"metadata.{missing} is required", field=missing)
        if "site_ids" in raw or sites is None:
            sites = await self._sites(account_id, raw.get("site_ids"))
        return WebhookSettings(
            name=v.text(raw["name"], field="name", max_length=256),
            description=v.text(
                raw["description"] or "", field="description", max_length=2048, required=False
            ),
            webhook_url=webhook_url,
            events=_events(raw.get("events"), wire),
            all_sites=sites[0],
            site_ids=sites[1],
            enabled=v.boolean(raw["enabled"], field="enabled"),
            conditions=_conditions(raw["conditions"]),
            retry_policy=(
                parse_retry_policy(raw["retry_policy"], min_delay=self._min_retry_delay)
                if "retry_policy" in raw or retry_policy is None
                else retry_policy
            ),
            timeout_seconds=v.integer(
                raw["timeout_seconds"], field="timeout_seconds", low=1, high=30
            ),
            ordering=_ordering(raw["ordering"]),
            coalesce=v.boolean(raw["coalesce"], field="coalesce"),
            max_age_seconds=parse_max_age(raw["max_age_seconds"], wire),
            **self._controls(raw, webhook_url=webhook_url, current=current),
        )

    def _controls(
        self, raw: Mapping[str, Any], *, webhook_url: str, current: Webhook | None
    ) -> dict[str, Any]:
        """The per-webhook controls: each one given in `raw` checked, the others kept from
        `current` (an update) as they are."""
        kept_headers: Mapping[str, str] = {}
        certificate: ClientCertificate | None = None
        if current is not None and _target(current.webhook_url) == _target(webhook_url):
            kept_headers, certificate = current.headers, current.client_certificate
        elif current is not None:  # moved elsewhere: nothing stored goes along
            _require_secrets_again(raw, current)
        if CERTIFICATE in raw:
            certificate = parse_client_certificate(raw[CERTIFICATE], now=self._clock())
        # The scheme as the sender reads it: "HTTPS://" is https too.
        if certificate is not None and urlsplit(webhook_url).scheme.lower() != "https":
            raise ValidationFailed(
                "metadata.client_certificate is presented in TLS only: the webhook_url must "
                "be https://",
                field=CERTIFICATE,
            )
        return {
            "headers": (
                parse_custom_headers(raw[HEADERS], current=kept_headers)
                if HEADERS in raw
                else kept_headers
            ),
            "rate_limit": parse_rate_limit(raw[RATE], raw[BURST]),
            "client_certificate": certificate,
        }

    async def _sites(self, account_id: str, raw: object) -> tuple[bool, tuple[str, ...]]:
        """(all_sites, site_ids): ["*"] is every property, those created later too."""
        site_ids = v.string_list(raw, field="site_ids")
        if ALL_SITES in site_ids:
            if len(site_ids) > 1:
                raise ValidationFailed(
                    f'use "{ALL_SITES}" alone for every property (those created later too), '
                    "or list property ids without it",
                    field="site_ids",
                )
            return True, ()
        known = await self._store.existing_site_ids(account_id, site_ids)
        unknown = [site_id for site_id in site_ids if site_id not in known]
        if unknown:
            raise ValidationFailed(f"unknown site id(s): {', '.join(unknown)}", field="site_ids")
        return False, tuple(site_ids)


def parse_sort(sort: str, fields: Sequence[str]) -> tuple[str, bool]:
    """JW's `field:asc` / `field:dsc` (also `desc`)."""
    field, _, direction = sort.partition(":")
    direction = direction or "asc"
    if field not in fields or direction not in ("asc", "dsc", "desc"):
        raise ValidationFailed(
            f"sort must be <field>:<asc|dsc> with field one of {', '.join(fields)}", field="sort"
        )
    return field, direction != "asc"


def parse_format(raw: object) -> Format:
    """The format named `raw` (None: the default); a 400 listing the formats otherwise."""
    if raw is None:
        return FORMATS[DEFAULT_FORMAT]
    name = v.one_of(raw, list(FORMATS), field="format")
    return FORMATS[name]


def _with_defaults(metadata: Mapping[str, Any], wire: Format) -> dict[str, Any]:
    """A create's metadata over the defaults, the format's for its retry policy and timeout
    (null there means "the default" too); the fixed fields are the caller's to read."""
    defaults = {
        **DEFAULTS,
        "retry_policy": retry_policy_to_json(wire.retry_policy),
        "timeout_seconds": wire.timeout_seconds,
    }
    given = {
        name: value
        for name, value in metadata.items()
        if name not in FIXED_FIELDS | {SIGNING_FIELD}
        and not (value is None and name in FORMAT_DEFAULTED)
    }
    return {**defaults, **given}


def _signing(raw: object, wire: Format) -> str:
    signing = v.one_of(raw, list(SIGNING_SCHEMES), field=SIGNING_FIELD)
    if signing not in wire.signings:
        raise ValidationFailed(
            f"metadata.signing {signing!r} is not available in the {wire.name} format "
            f"(only {', '.join(wire.signings)}): its receivers check an HMAC signature",
            field=SIGNING_FIELD,
        )
    return signing


def _check_fixed(current: Webhook, changes: Mapping[str, Any]) -> None:
    for name in sorted(FIXED_FIELDS & set(changes)):
        if changes[name] != getattr(current, name):
            raise ValidationFailed(
                f"metadata.{name} cannot be changed after a webhook is created (it is "
                f"{getattr(current, name)!r}): the secret's shape and the receivers differ "
                "between formats; create a new webhook instead",
                field=name,
            )


_FORMATS = "the format's"  # whose events where_listed counts


def _events(raw: object, wire: Format) -> tuple[str, ...]:
    """The subscription, named in `wire`'s names, as the catalog events it stands for."""
    events = v.string_list(raw, field="events")
    if wire.all_events in events or ALL_EVENTS in events:
        if len(events) > 1:
            raise ValidationFailed(
                f'use "{wire.all_events}" alone to subscribe to every event', field="events"
            )
        return (ALL_EVENTS,)
    unknown = [event for event in events if not wire.catalog_events(event)]
    if unknown:
        known = wire.event_names()
        named = ", ".join(event + _guess(event, wire) for event in unknown)
        raise ValidationFailed(
            f"unknown event(s) for the {wire.name} format: {named}; "
            f'{where_listed(known, _FORMATS)}, and "{wire.all_events}" subscribes to every '
            "event",
            field="events",
        )
    catalog = (name for event in events for name in wire.catalog_events(event))
    return tuple(dict.fromkeys(catalog))


def _guess(name: str, wire: Format) -> str:
    """What an unknown `name` most likely meant in `wire`: its name in `wire` if it is
    another format's name (a JW Player name in an api.video webhook had no close match), else
    the closest of `wire`'s names, if any."""
    for other in FORMATS.values():
        meant = other.catalog_events(name) if other is not wire else ()
        if meant:
            own = wire.to_own(meant)
            theirs = f"{wire.name}'s is {', '.join(own)}" if own else f"not sent in {wire.name}"
            return f" ({other.name}'s name; {theirs})"
    return guess_for(name, wire.event_names())


def _catalog_event(name: str, wire: Format) -> str:
    """The catalog event to filter a format's webhooks on for one of its event names.

    A name standing for several catalog events is stored as all of them (`_events`), so
    its first one finds exactly the webhooks subscribed to the name."""
    catalog = wire.catalog_events(name)
    if not catalog:
        known = wire.event_names()
        raise ValidationFailed(
            f"unknown event for the {wire.name} format: {name}{_guess(name, wire)}; "
            f"{where_listed(known, _FORMATS)}",
            field="events",
        )
    return catalog[0]


def _ordering(raw: object) -> Ordering:
    choices = [ordering.value for ordering in Ordering]
    if raw not in choices:
        raise ValidationFailed(
            f'ordering must be "none" (send as soon as possible) or "resource" (each media\'s '
            f"or channel's events in publish order), not {raw!r}",
            field="ordering",
        )
    return Ordering(raw)


def _conditions(raw: object) -> Mapping[str, Any] | None:
    if raw is None:
        return None
    parsed = parse_conditions(raw).raw
    # Checked here, not in parse_conditions: fan-out compiles the conditions stored before.
    if len(orjson.dumps(parsed)) > MAX_CONDITIONS_TEXT:
        raise ValidationFailed(
            f"conditions may take at most {MAX_CONDITIONS_TEXT // 1024} KiB of JSON: test "
            "shorter values, or a field the publisher sets for what you need",
            field="conditions",
        )
    return parsed


def _fields(settings: WebhookSettings) -> dict[str, Any]:
    return {field.name: getattr(settings, field.name) for field in dataclasses.fields(settings)}


def _target(url: str) -> tuple[str, str, str, str]:
    """Where a URL's requests go: its origin (case aside) and its path and query. Not the
    origin alone: one host serves many owners' endpoints by path (hooks.zapier.com/hooks/
    catch/<user>/..., Azure Logic Apps, Discord, webhook.site), so a new path on the same
    host can be anyone's (attack 10)."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower(), parts.path, parts.query


def _require_secrets_again(raw: Mapping[str, Any], current: Webhook) -> None:
    """A webhook_url moved elsewhere (another scheme, host, port, path or query): its stored
    header values and client certificate are not sent there unless given again, so a key
    that may edit URLs cannot carry the secrets it may not read to an endpoint of its
    choosing, on another host or on a shared one."""
    headers = raw.get(HEADERS)
    keeps_a_value = isinstance(headers, Mapping) and REDACTED in headers.values()
    if current.headers and (HEADERS not in raw or keeps_a_value):
        raise ValidationFailed(
            "metadata.webhook_url moves to another URL: give metadata.headers again with "
            "their values (or null): stored values are not sent to a new URL",
            field=HEADERS,
        )
    if current.client_certificate is not None and CERTIFICATE not in raw:
        raise ValidationFailed(
            "metadata.webhook_url moves to another URL: give metadata.client_certificate "
            "again (or null): the stored one is not presented to a new URL",
            field=CERTIFICATE,
        )


def _editable(webhook: Webhook) -> dict[str, Any]:
    values = {name: getattr(webhook, name) for name in EDITABLE_FIELDS - {RATE, BURST}}
    values["events"] = list(format_of(webhook).to_own(webhook.events))
    values["site_ids"] = [ALL_SITES] if webhook.all_sites else list(webhook.site_ids)
    values["retry_policy"] = retry_policy_to_json(webhook.retry_policy)
    values["ordering"] = webhook.ordering.value
    values["max_age_seconds"] = dict(webhook.max_age_seconds)
    limit = webhook.rate_limit
    values[RATE] = None if limit is None else limit.per_second
    values[BURST] = None if limit is None else limit.burst
    return values


def _merge_controls(merged: dict[str, Any], changes: Mapping[str, Any]) -> None:
    """A PATCH's per-webhook controls over the current ones (in `merged`): the headers and
    the certificate are only checked when given; a new rate without a burst gets the
    default burst, and no rate means no burst."""
    for name in (HEADERS, CERTIFICATE):
        if name not in changes:
            merged.pop(name)
    if RATE in changes and BURST not in changes:
        merged[BURST] = None


def _apply_enabled_change(current: Webhook, updated: Webhook) -> Webhook:
    if updated.enabled and not current.enabled:
        # Re-enabling is a fresh start: the failure clock and the reason are cleared.
        return dataclasses.replace(updated, disabled_reason=None, failing_since=None)
    if not updated.enabled and current.enabled:
        return dataclasses.replace(updated, disabled_reason="disabled by a user")
    return updated
