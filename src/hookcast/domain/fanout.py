"""Which webhooks an event goes to, and the deliveries that carries it there."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from hookcast.domain.catalog import ALL_EVENTS
from hookcast.domain.conditions import MAX_VISITS, Condition, Verdict, parse_conditions
from hookcast.domain.formats import format_of
from hookcast.domain.formats.jwplayer import body_fields
from hookcast.domain.freshness import coalesce_key, newest_of_each
from hookcast.domain.models import Delivery, DeliveryStatus, Event, Ordering, Webhook
from hookcast.domain.ordering import resource_key

# Element visits all the conditions of one publish may make together (docs/delivery.md,
# "Conditions"): ~0.4 s of the event loop. MAX_VISITS bounds one evaluation, not how many
# there are: 250 events of 20 KB to 100 webhooks with conditions would take ~100 s.
MAX_PUBLISH_VISITS: Final = 1_000_000
_SCANNED_SITES: Final = 8  # a webhook's properties up to this many are scanned, not hashed


class Subscribers:
    """An account's webhooks, matched against events. A disabled webhook still matches: its
    deliveries are created held (DeliveryStatus.HELD), never sent until a person says so.

    Conditions are compiled once here, not once per event: a batch publish evaluates every
    event against every webhook, and one set of subscribers serves many publishes.
    """

    def __init__(self, webhooks: Sequence[Webhook]) -> None:
        self.webhooks = list(webhooks)
        self._conditions: dict[str, Condition] = {
            webhook.id: parse_conditions(webhook.conditions)
            for webhook in self.webhooks
            if webhook.conditions
        }
        # A webhook's properties as a set where they are many: the site check compared an
        # event's site with each of up to 1,000, outside the conditions' budget, and 1,000
        # events of another property to 100 webhooks of 1,000 held one publish's fan-out on
        # the API's loop for 4.0 s (attack17). A few are scanned as quickly, and kept as
        # they are in every account's cached configuration.
        self._sites: dict[str, frozenset[str]] = {
            webhook.id: frozenset(webhook.site_ids)
            for webhook in self.webhooks
            if len(webhook.site_ids) > _SCANNED_SITES
        }

    def hears_site(self, webhook: Webhook, site_id: str) -> bool:
        """Whether `webhook` hears events of the property `site_id` (of its own account),
        its many properties looked up in their set."""
        return webhook.all_sites or site_id in self._sites.get(webhook.id, webhook.site_ids)

    def match(
        self, webhook: Webhook, event: Event, *, max_visits: int = MAX_VISITS
    ) -> tuple[Verdict, int]:
        """Whether `webhook` wants `event` (its account, sites, events and condition), and
        the element visits its condition cost."""
        if event.account_id != webhook.account_id or not (
            webhook.all_sites or event.site_id in self._sites.get(webhook.id, webhook.site_ids)
        ):  # hears_site, written out; many properties looked up in their set
            return Verdict.NO_MATCH, 0
        if not subscribes(webhook, event.type):
            return Verdict.NO_MATCH, 0
        condition = self._conditions.get(webhook.id)
        if condition is None:
            return Verdict.MATCH, 0
        return condition.measure(body_fields(event, webhook.id), max_visits=max_visits)


@dataclass(frozen=True, slots=True)
class Lease:
    """Up to `room` deliveries may be created already leased (`token`, until `until`) to a
    worker in the publishing process, which sends them without claiming them first."""

    token: str
    until: datetime
    room: int
    worker: str | None = None  # the worker's id: its leases are taken back if it dies


class FanoutPlan:
    """The deliveries that carry a publish's events to the subscribers that want them.

    Which webhooks want which event is decided when the plan is made, before anything is
    written, so a publish can be refused on its `size` (deliveries it would create) or when
    its conditions would visit more than `max_visits` elements together (`exhausted`: the
    plan stopped there and is incomplete). Called with the events the store newly stored (a
    subset: a repeated event id has its deliveries already), it returns their deliveries.

    Deliveries for a disabled webhook are created held and count in `size` as any other row.
    Deliveries to an ordered webhook carry their event's resource and sequence, and are
    never leased: the store decides, under the chain's lock, which of them go now.
    With a lease, the first `lease.room` sendable ones are created leased, and the last call's
    leased deliveries are kept in `leased` with their event and webhook, for the publisher
    to hand to its worker once they are committed.

    Called again with the same events, numbered otherwise or not, it returns the same
    deliveries, ids included (with the new numbers where a delivery carries its event's;
    ports/store.py `Fanout`): PostgreSQL's one-statement publish
    stores the deliveries of a first call made before its SQL numbers the events, then
    calls again with the events as stored, so that `leased` carries their numbers to the
    worker (store/append_at_once.py).
    """

    def __init__(
        self,
        subscribers: Subscribers,
        events: Sequence[Event],
        *,
        now: datetime,
        new_id: Callable[[], str],
        lease: Lease | None = None,
        max_visits: int = MAX_PUBLISH_VISITS,
    ) -> None:
        self._now = now
        self._new_id = new_id
        self._lease = lease
        self._ids: dict[tuple[str, str], str] = {}  # (event id, webhook id): delivery id
        self.leased: list[tuple[Delivery, Event, Webhook]] = []
        # (event id, webhook id) pairs whose condition ran out of budget: not delivered.
        self.over_budget: list[tuple[str, str]] = []
        self.visits_left = max_visits
        self.exhausted = False
        self.unplanned: list[str] = []  # exhausted: the events from the one it ran out on
        self._targets: dict[str, list[Webhook]] = {}
        for number, event in enumerate(events):
            self._targets[event.id] = self._match(subscribers, event)
            if self.exhausted:
                self.unplanned = [later.id for later in events[number:]]
                break
        self.size = sum(len(targets) for targets in self._targets.values())

    def _match(self, subscribers: Subscribers, event: Event) -> list[Webhook]:
        targets = []
        for webhook in subscribers.webhooks:
            allowed = min(MAX_VISITS, self.visits_left)
            verdict, visits = subscribers.match(webhook, event, max_visits=allowed)
            self.visits_left -= visits
            if verdict is Verdict.MATCH:
                targets.append(webhook)
            elif verdict is Verdict.OVER_BUDGET and allowed < MAX_VISITS:
                self.exhausted = True  # the publish's budget ran out, not the condition's
                break
            elif verdict is Verdict.OVER_BUDGET:
                self.over_budget.append((event.id, webhook.id))
        return targets

    def __call__(self, events: Sequence[Event]) -> list[Delivery]:
        deliveries: list[Delivery] = []
        self.leased = []
        newest = self._newest_updates(events)
        for event in events:
            for webhook in self._targets.get(event.id, ()):
                delivery = self._delivery(event, webhook, newest)
                if delivery.lease_token is not None:
                    self.leased.append((delivery, event, webhook))
                deliveries.append(delivery)
        return deliveries

    def _delivery(
        self, event: Event, webhook: Webhook, newest: dict[tuple[str, str], int]
    ) -> Delivery:
        """`event`'s delivery to `webhook`, made once with all its fields: a
        `dataclasses.replace` per field set later cost several times the making (~5 us for
        each delivery leased to the worker, on every publish in `serve`)."""
        now, lease = self._now, self._lease
        ordered = resource_key(event) if webhook.ordering is Ordering.RESOURCE else None
        key = coalesce_key(webhook, event)
        status, due, completed_at, token, worker = DeliveryStatus.PENDING, now, None, None, None
        if not webhook.enabled or not sendable(webhook, now):
            status = DeliveryStatus.HELD
        elif key is not None and newest[(webhook.id, key)] != event.sequence:
            # A newer update about the same resource is in this publish: latest wins.
            status, completed_at = DeliveryStatus.SUPERSEDED, now
        elif ordered is None and lease is not None and len(self.leased) < lease.room:
            # (An ordered one is not leased: the store decides whether it goes now.)
            due, token, worker = lease.until, lease.token, lease.worker
        delivery_id = self._ids.get((event.id, webhook.id))
        if delivery_id is None:
            delivery_id = self._ids[event.id, webhook.id] = self._new_id()
        return Delivery(
            id=delivery_id,
            account_id=event.account_id,
            event_id=event.id,
            webhook_id=webhook.id,
            status=status,
            attempts=0,
            next_attempt_at=due,
            created=now,
            completed_at=completed_at,
            lease_token=token,
            lease_worker=worker,
            resource_key=ordered,
            sequence=event.sequence if ordered is not None or key is not None else None,
            coalesce_key=key,
        )

    def _newest_updates(self, events: Sequence[Event]) -> dict[tuple[str, str], int]:
        keyed = (
            ((webhook.id, key), event.sequence)
            for event in events
            for webhook in self._targets.get(event.id, ())
            if (key := coalesce_key(webhook, event)) is not None and event.sequence is not None
        )
        return newest_of_each(keyed)


def subscribes(webhook: Webhook, event_type: str) -> bool:
    """Whether `webhook` subscribes to events of `event_type`: named, or all events ("*")
    where its format has a name for this one (a format without one sends it to none)."""
    named = ALL_EVENTS in webhook.events or event_type in webhook.events
    return named and format_of(webhook).delivers(event_type)


def sendable(webhook: Webhook, now: datetime) -> bool:
    """Whether the webhook's deliveries can be signed: a Flowplayer-format webhook cannot
    until its account has an organization secret, and Flowplayer sends nothing then; HookCast
    holds them instead, so nothing is lost silently."""
    return bool(format_of(webhook).signing_secrets(webhook, now))


def direct_delivery(event: Event, webhook_id: str, *, now: datetime, delivery_id: str) -> Delivery:
    """A delivery due immediately: a test or example a person sent to one webhook, sent
    even while it is disabled (`by_hand`); fan-out makes its deliveries with every field
    at once: FanoutPlan._delivery."""
    return Delivery(
        id=delivery_id,
        account_id=event.account_id,
        event_id=event.id,
        webhook_id=webhook_id,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created=now,
        by_hand=True,
    )
