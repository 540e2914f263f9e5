"""Publishing events (durably, fanned out in the same transaction) and reading them back."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeGuard

from hookcast.domain.catalog import (
    EVENT_TYPES,
    PUBLISHABLE_EVENTS,
    guess_for,
    where_listed,
)
from hookcast.domain.conditions import MAX_VISITS
from hookcast.domain.errors import LimitExceeded, Unauthorized, ValidationFailed
from hookcast.domain.fanout import MAX_PUBLISH_VISITS, FanoutPlan
from hookcast.domain.ids import is_event_id, new_delivery_id, new_event_id
from hookcast.domain.models import Event, Permission
from hookcast.ports import (
    ClaimedDelivery,
    Clock,
    ConfigChanged,
    ConfigVersion,
    EventQuery,
    EventSummary,
    FanoutTrace,
    Handoff,
    NoObserver,
    Page,
    PageRequest,
    PublishObserver,
    Store,
    Tracer,
)
from hookcast.services import validation as v
from hookcast.services.auth import Caller, hash_secret, parse_authorization
from hookcast.services.publish_cache import AccountConfig, PublishCache

_log = logging.getLogger("hookcast.publish")

_ENVELOPE_FIELDS = frozenset({"event", "site_id", "event_id", "event_time", "data"})
# Each publishable event's fields, for the one subset test of a valid event.
_FIELDS = {
    name: _ENVELOPE_FIELDS | frozenset(EVENT_TYPES[name].id_fields) for name in PUBLISHABLE_EVENTS
}
_MAX_ID_LENGTH = 128
# An event's `data` past these is refused at publish: it could be stored but not delivered
# (the wire body nests it one level further, and JSON parsers such as Ruby's stop at 100).
MAX_DATA_DEPTH = 64
MAX_DATA_BYTES = 256 * 1024
# The defaults of HOOKCAST_MAX_CONTAINERS_PER_PUBLISH and _PER_EVENT (docs/operations.md,
# "Limits"): the arrays and objects one publish request's body and one event's `data` may
# hold. The catalog's examples and the platforms' documented events hold 1-4 in `data`, a
# full batch of 1,000 such events 2,000-5,000 in its body (each event one more); 100,000
# empty arrays parse in ~7 ms where attack 15's 1.6 million per body took 0.17-2.7 s.
MAX_PUBLISH_CONTAINERS = 100_000
MAX_EVENT_CONTAINERS = 10_000
# Writes checked against the cached configuration before one that reads it afresh and is
# not checked (the reads and the write then race as any read-then-write does): a publish
# always completes, however often the account's configuration changes meanwhile.
_CHECKED_ATTEMPTS = 4


class EventService:
    def __init__(
        self,
        store: Store,
        *,
        clock: Clock,
        max_batch: int,
        max_deliveries: int,
        max_containers_per_publish: int,
        max_containers_per_event: int,
        observer: PublishObserver | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self._store = store
        # None: not tracing (the default), and a publish pays nothing for it. The publish
        # endpoint reads it too, for the request's own span.
        self.tracer = tracer
        self._clock = clock
        self._max_batch = max_batch
        self._max_deliveries = max_deliveries
        self._max_containers = max_containers_per_publish
        self._max_event_containers = max_containers_per_event
        self._observer = observer or NoObserver()
        self._cache = PublishCache(store)
        # The worker of this process, while it runs (`hookcast serve`): it takes each
        # publish's deliveries as they commit instead of claiming them from the database.
        self.handoff: Handoff | None = None

    async def publisher(self, authorization: str | None) -> Caller:
        """The caller behind an API secret, for publishing only: the key is looked up once
        and remembered, and `publish` checks it still exists as it commits."""
        key = await self._cache.key(hash_secret(parse_authorization(authorization)))
        if key is None:
            raise Unauthorized("invalid API key")
        return Caller(account_id=key.account_id, role=key.role, key_id=key.id)

    def check_body(self, body: bytes) -> None:
        """Refuses a publish request's body (JSON text) that holds more arrays and objects
        than a publish may, before it is parsed: parsing makes a Python list or dict of
        each, and 5 MB of `[]` made 1.6 million, 2.7 s of the API's event loop (the
        collector walking them) and about 0.9 GB of the process's memory (attack 15)."""
        found = v.containers_past(body, self._max_containers)
        if found:
            raise LimitExceeded(
                f"this publish holds {found} arrays and objects; at most "
                f"{self._max_containers} are allowed in one request: publish the events in "
                "smaller batches",
                field="events",
            )

    def check_values(self, raw: object) -> None:
        """`check_body` for a publish handed over as Python values (hookcast.Hub), counted in
        the JSON text it would be over HTTP: otherwise a batch of 1,000 events could hold a
        thousand times the count of one event's data, 10 million arrays and objects by
        default where a request may hold 100,000. A value JSON has no form for is left to
        the event's own checks to name."""
        text = v.json_text(raw)
        if text is not None:
            self.check_body(text)

    async def publish(self, caller: Caller, raw: object) -> list[str]:
        """Validates one event or a batch (`{"events": [...]}`), stores it with its
        deliveries in one transaction, and returns the event ids once committed.

        A repeated event_id is accepted and returns the same id, but is stored and
        delivered only once.
        """
        caller.require(Permission.PUBLISH)
        items, prefix = _items(raw, self._max_batch)
        now = self._clock()
        events = [
            parse_event(
                item,
                account_id=caller.account_id,
                now=now,
                field=prefix(index),
                max_containers=self._max_event_containers,
            )
            for index, item in enumerate(items)
        ]
        if self.tracer is None:
            return await self._store_checked(caller, events, prefix, now)
        with self.tracer.fanout() as trace:
            # Kept with each event: its attempts, in whichever worker, continue this trace.
            traced = [replace(event, traceparent=trace.traceparent) for event in events]
            return await self._store_checked(caller, traced, prefix, now, trace=trace)

    async def _store_checked(
        self,
        caller: Caller,
        events: Sequence[Event],
        prefix: Callable[[int], str],
        now: datetime,
        *,
        trace: FanoutTrace | None = None,
    ) -> list[str]:
        for _ in range(_CHECKED_ATTEMPTS):
            try:
                return await self._store_events(
                    caller, events, prefix, now, checked=True, trace=trace
                )
            except ConfigChanged:
                continue
        return await self._store_events(caller, events, prefix, now, checked=False, trace=trace)

    async def _store_events(
        self,
        caller: Caller,
        events: Sequence[Event],
        prefix: Callable[[int], str],
        now: datetime,
        *,
        checked: bool,
        trace: FanoutTrace | None = None,
    ) -> list[str]:
        config = await self._account(caller)
        await self._check_sites(config, events, prefix)
        handoff = self.handoff
        lease = handoff.lease() if handoff is not None else None
        unique = _first_of_each_id(events)
        plan = FanoutPlan(config.subscribers, unique, now=now, new_id=new_delivery_id, lease=lease)
        self._check_size(plan, len(unique))
        expect = ConfigVersion(config.account_id, config.version) if checked else None
        # Which of the leased deliveries the store stored pending to a webhook enabled as it
        # stored them: not one that a pause, disable or delete made by another process while
        # the publish waited on the webhook's lock stored paused or not at all (this
        # process's worker is told of no such edit, and sent its copy once: attack16), nor
        # one of an event found stored already (the store may fan out events it then finds
        # stored: PostgreSQL's one-statement attempt, store/append_at_once.py).
        handover: set[str] | None = set() if lease is not None else None
        try:
            stored = set(
                await self._store.append_events(
                    events=unique, fanout=plan, expect=expect, handover=handover
                )
            )
        except ConfigChanged:
            self._cache.forget(config)
            raise
        if handoff is not None and lease is not None and handover:
            handoff.take(
                [
                    ClaimedDelivery.of(d, lease.token, event, webhook)
                    for d, event, webhook in plan.leased
                    if d.id in handover
                ],
                lease.until,
            )
        self._observer.on_published([event for event in unique if event.id in stored])
        if trace is not None:
            trace.counted(events=len(stored), deliveries=plan.size)
        if plan.over_budget:
            _log_over_budget(plan, caller.account_id)
            self._observer.on_conditions_over_budget(len(plan.over_budget))
        return [event.id for event in events]

    def _check_size(self, plan: FanoutPlan, events: int) -> None:
        # Checked before anything is written: a 202 means every matching delivery will be
        # made, so a publish too large to fan out on the event loop is refused whole.
        if plan.exhausted:
            raise LimitExceeded(
                "the conditions of this account's webhooks would visit more than "
                f"{MAX_PUBLISH_VISITS} elements of this publish's events: publish them in "
                "smaller batches",
                field="events",
            )
        if plan.size > self._max_deliveries:
            raise LimitExceeded(
                f"this publish would create {plan.size} deliveries ({events} events to the "
                f"webhooks that want them); at most {self._max_deliveries} are allowed at once: "
                "publish the events in smaller batches",
                field="events",
            )

    async def _account(self, caller: Caller) -> AccountConfig:
        if caller.key_id is None:
            return await self._cache.account(caller.account_id)
        config = await self._cache.account_for_key(caller.account_id, caller.key_id)
        if config is None:
            raise Unauthorized("invalid API key")  # revoked since it was looked up
        return config

    async def list(
        self,
        caller: Caller,
        *,
        page: PageRequest,
        type: str | None = None,
        site_id: str | None = None,
        resource_id: str | None = None,
    ) -> Page[EventSummary]:
        caller.require(Permission.READ)
        query = EventQuery(
            account_id=caller.account_id,
            page=page,
            type=type,
            site_id=site_id,
            resource_id=resource_id,
        )
        return await self._store.list_events(query)

    async def _check_sites(
        self, config: AccountConfig, events: Sequence[Event], prefix: Callable[[int], str]
    ) -> None:
        missing = await self._cache.missing_sites(config, {event.site_id for event in events})
        if not missing:
            return
        for index, event in enumerate(events):
            if event.site_id in missing:
                raise ValidationFailed(
                    f"{prefix(index)}site_id: unknown site {event.site_id!r}", field="site_id"
                )


def _log_over_budget(plan: FanoutPlan, account_id: str) -> None:
    for event_id, webhook_id in plan.over_budget:
        _log.warning(
            "event %s not delivered to webhook %s (account %s): its condition visited more "
            "than %d elements of the event",
            event_id,
            webhook_id,
            account_id,
            MAX_VISITS,
        )


def _items(raw: object, max_batch: int) -> tuple[list[object], Callable[[int], str]]:
    if not _is_object(raw):
        raise ValidationFailed(
            'the body must be a JSON object: one event, or {"events": [...]} for a batch'
        )
    if "events" not in raw:
        return [raw], lambda _index: ""
    batch = raw["events"]
    if set(raw) != {"events"} or not isinstance(batch, list) or not batch:
        raise ValidationFailed(
            'a batch is {"events": [<event>, ...]} with at least one event', field="events"
        )
    if len(batch) > max_batch:
        raise ValidationFailed(f"a batch holds at most {max_batch} events", field="events")
    return batch, lambda index: f"events[{index}]."


def parse_event(
    raw: object,
    *,
    account_id: str,
    now: datetime,
    field: str = "",
    max_containers: int = MAX_EVENT_CONTAINERS,
) -> Event:
    """One published event, checked against the catalog; errors name the field."""
    if not _is_object(raw):
        raise ValidationFailed(f"{field or 'event'} must be a JSON object", field="event")
    name = raw.get("event")
    if name not in PUBLISHABLE_EVENTS:
        guess = guess_for(name, PUBLISHABLE_EVENTS) if isinstance(name, str) else ""
        raise ValidationFailed(
            f"{field}event: {name!r} is not a known event{guess}; "
            f"{where_listed(PUBLISHABLE_EVENTS, 'the', 'events a publisher may send')}",
            field="event",
        )
    event_type = EVENT_TYPES[name]
    if not raw.keys() <= _FIELDS[name]:
        _reject_unknown_fields(raw, event_type.id_fields, field)
    return Event(
        id=_event_id(raw.get("event_id"), field),
        account_id=account_id,
        site_id=v.text(raw.get("site_id"), field=f"{field}site_id", max_length=64),
        type=name,
        resource_ids={
            id_field: _resource_id(raw.get(id_field), f"{field}{id_field}", name)
            for id_field in event_type.id_fields
        },
        event_time=(
            v.timestamp(raw["event_time"], field=f"{field}event_time")
            if raw.get("event_time") is not None
            else now.replace(microsecond=0)  # JW Player's event_time has seconds precision
        ),
        data=_data(raw.get("data"), field, max_containers),
        created=now,
    )


def _is_object(raw: object) -> TypeGuard[Mapping[str, Any]]:
    """A JSON object: a dict from JSON (checked first: the Mapping ABC's check of anything
    else, a list say, is slow), or any mapping from an in-process caller."""
    return type(raw) is dict or isinstance(raw, Mapping)


def _reject_unknown_fields(raw: Mapping[str, Any], id_fields: Sequence[str], field: str) -> None:
    unknown = sorted(set(raw) - _ENVELOPE_FIELDS - set(id_fields))
    if unknown:
        raise ValidationFailed(
            f"{field}{unknown[0]}: not a field of a {raw['event']} event (put extra "
            'information in "data")',
            field=unknown[0],
        )


def _event_id(raw: object, field: str) -> str:
    if raw is None:
        return new_event_id()
    if not isinstance(raw, str) or not is_event_id(raw):
        raise ValidationFailed(
            f"{field}event_id must be 1-128 letters, digits, '_', '-', '.' or ':' "
            "starting with a letter or digit",
            field="event_id",
        )
    return raw


def _resource_id(raw: object, field: str, event: str) -> str:
    if raw is None:
        raise ValidationFailed(f"{field} is required for {event} events", field=field)
    return v.text(raw, field=field, max_length=_MAX_ID_LENGTH)


def _data(raw: object, field: str, max_containers: int) -> Mapping[str, Any] | None:
    if raw is None:
        return None
    if not _is_object(raw):
        raise ValidationFailed(f"{field}data must be a JSON object", field="data")
    return v.json_object(
        raw,
        field=f"{field}data",
        max_depth=MAX_DATA_DEPTH,
        max_bytes=MAX_DATA_BYTES,
        max_containers=max_containers,
    )


def _first_of_each_id(events: Sequence[Event]) -> list[Event]:
    first: dict[str, Event] = {}
    for event in events:
        first.setdefault(event.id, event)
    return list(first.values())
