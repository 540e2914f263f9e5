"""Delivery logs and the actions on them: retry one, recover many, send a test event."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hookcast.domain.catalog import EVENT_TYPES, guess_for, where_listed
from hookcast.domain.errors import Conflict, NotFound, ValidationFailed
from hookcast.domain.fanout import direct_delivery, sendable
from hookcast.domain.formats import format_of
from hookcast.domain.formats.base import Format
from hookcast.domain.formats.examples import example_event
from hookcast.domain.ids import new_delivery_id, new_event_id
from hookcast.domain.models import DeliveryStatus, Event, Permission, Webhook
from hookcast.ports import (
    Clock,
    DeliveryCount,
    DeliveryQuery,
    DeliveryRecord,
    Page,
    PageRequest,
    ReplayQuery,
    Store,
)
from hookcast.services import validation as v
from hookcast.services.auth import Caller
from hookcast.services.webhooks import WebhookService

# The most deliveries one replay resends: a bound on one transaction's work and on the
# burst an endpoint gets; a larger replay is done in parts (narrower time ranges).
MAX_REPLAY = 10_000


@dataclass(frozen=True, slots=True)
class DeliveryFilter:
    """What a person searching a delivery log typed: each one narrows it, empty ones don't.
    Times are ISO 8601 (UTC when they give no offset)."""

    event_id: str | None = None
    resource_id: str | None = None  # media_id, channel_id, ...: any of the event's ids
    since: str | None = None  # created at or after
    until: str | None = None  # created before


@dataclass(frozen=True, slots=True)
class TestSent:
    event_id: str
    delivery_id: str


class DeliveryService:
    def __init__(self, store: Store, *, clock: Clock, webhooks: WebhookService) -> None:
        self._store = store
        self._clock = clock
        self._webhooks = webhooks

    async def list(
        self,
        caller: Caller,
        webhook_id: str,
        *,
        page: PageRequest,
        status: str | None = None,
        event: str | None = None,
        find: DeliveryFilter | None = None,
    ) -> Page[DeliveryRecord]:
        """A page of the webhook's delivery log, newest first: of one status, event type,
        and what `find` asks for."""
        await self._webhooks.get(caller, webhook_id)  # 404 for another account's webhook
        find = find or DeliveryFilter()
        query = DeliveryQuery(
            account_id=caller.account_id,
            webhook_id=webhook_id,
            page=page,
            status=DeliveryStatus(
                v.one_of(status, [s.value for s in DeliveryStatus], field="status")
            )
            if status
            else None,
            event_type=event,
            event_id=find.event_id or None,
            resource_id=find.resource_id or None,
            since=v.timestamp(find.since, field="since") if find.since else None,
            until=v.timestamp(find.until, field="until") if find.until else None,
        )
        return await self._store.list_deliveries(query)

    async def count_by_hour(
        self, caller: Caller, webhook_ids: Sequence[str], *, since: datetime
    ) -> Sequence[DeliveryCount]:
        """Deliveries per webhook, hour and status since a time (health at a glance).
        Ids of other accounts' webhooks count nothing, so no 404 check is needed."""
        caller.require(Permission.READ)
        return await self._store.count_deliveries_by_hour(
            account_id=caller.account_id, webhook_ids=webhook_ids, since=since
        )

    async def get(self, caller: Caller, delivery_id: str) -> DeliveryRecord:
        caller.require(Permission.READ)
        record = await self._store.get_delivery(caller.account_id, delivery_id)
        if record is None:
            raise NotFound(f"delivery {delivery_id!r} was not found")
        return record

    async def retry(self, caller: Caller, delivery_id: str) -> DeliveryRecord:
        """Sends the delivery again now, whatever its state (a manual resend). Refused
        (Conflict) while its webhook cannot be signed, as a test or a held release is: a
        held Flowplayer delivery sent without the organization secret failed every attempt
        (a traceback in the log each time, the webhook failing) and was given up."""
        caller.require(Permission.WRITE)
        record = await self.get(caller, delivery_id)
        _require_sendable(
            await self._webhooks.get(caller, record.delivery.webhook_id), self._clock()
        )
        found = await self._store.reschedule_delivery(
            account_id=caller.account_id, delivery_id=delivery_id, now=self._clock()
        )
        if not found:
            raise NotFound(f"delivery {delivery_id!r} was not found")
        return await self.get(caller, delivery_id)

    async def recover(self, caller: Caller, *, webhook_id: str, since: object) -> int:
        """Resends every failed delivery of the webhook created since a time."""
        caller.require(Permission.WRITE)
        _require_sendable(await self._webhooks.get(caller, webhook_id), self._clock())
        start = v.timestamp(since, field="since")
        return await self._store.recover_deliveries(
            account_id=caller.account_id, webhook_id=webhook_id, since=start, now=self._clock()
        )

    async def replay(
        self,
        caller: Caller,
        *,
        webhook_id: str,
        since: object,
        until: object = None,
        resource_id: object = None,
        event: object = None,
        dry_run: bool = False,
    ) -> int:
        """Resends every finished delivery of the webhook created in [since, until), perhaps
        only those about one resource id or of one event type (in the webhook's format's
        names), in publish order; with `dry_run`, only counts them. Returns how many. More
        than MAX_REPLAY at once is refused (ValidationFailed) with the count; a replay (not
        a dry run) while the webhook cannot be signed, too (Conflict)."""
        caller.require(Permission.WRITE)
        webhook = await self._webhooks.get(caller, webhook_id)
        query = ReplayQuery(
            account_id=caller.account_id,
            webhook_id=webhook_id,
            since=v.timestamp(since, field="since"),
            until=None if until is None else v.timestamp(until, field="until"),
            resource_id=(
                None
                if resource_id is None
                else v.text(resource_id, field="resource_id", max_length=128)
            ),
            event_types=_replayed_events(event, format_of(webhook)),
        )
        if query.until is not None and query.until <= query.since:
            raise ValidationFailed("until must be later than since", field="until")
        if not dry_run:  # a dry run sends nothing: it counts, secret or none
            _require_sendable(webhook, self._clock())
        matched = await self._store.replay_deliveries(
            query, now=self._clock(), limit=MAX_REPLAY, dry_run=dry_run
        )
        if matched > MAX_REPLAY:
            raise ValidationFailed(
                f"{matched} deliveries match, more than the {MAX_REPLAY} one replay may "
                "resend: narrow it with until, resource_id or event, and replay in parts",
                field="since",
            )
        return matched

    async def deliver_held(self, caller: Caller, webhook_id: str) -> int:
        """Sends the deliveries held while the webhook was disabled, in publish order.
        Refused (Conflict) while it is still disabled: enabling is a separate, deliberate
        step, so the endpoint is known to be back before the backlog goes to it."""
        caller.require(Permission.WRITE)
        webhook = await self._webhooks.get(caller, webhook_id)
        if not webhook.enabled:
            raise Conflict(
                f"webhook {webhook_id!r} is disabled: enable it first, then deliver what is held"
            )
        _require_sendable(webhook, self._clock())
        return await self._store.deliver_held(account_id=caller.account_id, webhook_id=webhook_id)

    async def discard_held(self, caller: Caller, webhook_id: str) -> int:
        """Marks the deliveries held while the webhook was disabled as discarded: never sent,
        shown as such in the delivery log."""
        caller.require(Permission.WRITE)
        await self._webhooks.get(caller, webhook_id)
        return await self._store.discard_held(
            account_id=caller.account_id, webhook_id=webhook_id, now=self._clock()
        )

    async def send_test(self, caller: Caller, webhook_id: str) -> TestSent:
        """A `webhook_test` event to this one webhook, even when it is disabled."""
        return await self.send_example(caller, webhook_id, "webhook_test")

    async def send_example(self, caller: Caller, webhook_id: str, event_name: str) -> TestSent:
        """The catalog's example of `event_name` to this one webhook alone (whatever it
        subscribes to, even when it is disabled), in its format: a customer sees what their
        endpoint will receive. Nothing else receives it."""
        caller.require(Permission.WRITE)
        event_type = EVENT_TYPES.get(event_name)
        if event_type is None:
            raise NotFound(f"event type {event_name!r} was not found")
        webhook = await self._webhooks.get(caller, webhook_id)
        now = self._clock()
        _require_sendable(webhook, now)
        # Every format carries the test event; another must have a name in the webhook's.
        if event_name != "webhook_test" and format_of(webhook).event_name(event_name) is None:
            raise Conflict(
                f"the {format_of(webhook).title} format has no name for {event_name}, "
                "so this webhook never receives it"
            )
        example = example_event(event_type)
        event = Event(
            id=new_event_id(),
            account_id=caller.account_id,
            site_id=await self._test_site(webhook),
            type=event_name,
            resource_ids=dict(example.resource_ids),
            event_time=now.replace(microsecond=0),  # seconds, as a published event's
            data=dict(example.data or {}),
            created=now,
        )
        delivery = direct_delivery(event, webhook.id, now=now, delivery_id=new_delivery_id())
        await self._store.append_events(events=[event], fanout=lambda _events: [delivery])
        return TestSent(event_id=event.id, delivery_id=delivery.id)

    async def _test_site(self, webhook: Webhook) -> str:
        """The property a test event names: the webhook's first; for a webhook on every
        property, the account's first. Every delivery names its property (JW Player's
        receivers read `site_id`), so with none the test is refused rather than sent
        naming "" (which the event log would keep, too)."""
        if webhook.site_ids:
            return webhook.site_ids[0]
        if webhook.all_sites:
            first = await self._store.list_sites(webhook.account_id, PageRequest(page_length=1))
            if first.items:
                return first.items[0].id
        raise Conflict(
            f"webhook {webhook.id!r} has no property for a test event to name (it is on "
            + ("every property and the account has none" if webhook.all_sites else "none")
            + "): every delivery names its property (site_id); create a property first "
            "(POST /v2/sites/, or the dashboard's Properties page)"
        )


def _require_sendable(webhook: Webhook, now: datetime) -> None:
    if not sendable(webhook, now):
        raise Conflict(
            f"webhook {webhook.id!r} is in the Flowplayer format, which signs with the "
            "account's Flowplayer organization secret, and none is set: set it first "
            "(PUT /v2/account/flowplayer_secret/ or the dashboard's Webhooks page)"
        )


def _replayed_events(raw: object, wire: Format) -> tuple[str, ...]:
    """The catalog events a replay's `event` (a name in the webhook's format) stands for."""
    if raw is None:
        return ()
    name = v.text(raw, field="event", max_length=64)
    catalog = wire.catalog_events(name)
    if not catalog:
        known = wire.event_names()
        raise ValidationFailed(
            f"unknown event {name!r} for the {wire.name} format{guess_for(name, known)}; "
            f"{where_listed(known, 'its')}",
            field="event",
        )
    return catalog
