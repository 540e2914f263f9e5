"""Which webhooks an event goes to, and the deliveries that carries it there."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from hookcast.domain.catalog import ALL_EVENTS
from hookcast.domain.conditions import Condition, parse_conditions
from hookcast.domain.models import Delivery, DeliveryStatus, Event, Webhook
from hookcast.domain.payload import body_fields


class Subscribers:
    """An account's enabled webhooks, matched against events.

    Conditions are compiled once here, not once per event: a batch publish evaluates every
    event against every webhook, and one set of subscribers serves many publishes.
    """

    def __init__(self, webhooks: Sequence[Webhook]) -> None:
        self.webhooks = [webhook for webhook in webhooks if webhook.enabled]
        self._conditions: dict[str, Condition] = {
            webhook.id: parse_conditions(webhook.conditions)
            for webhook in self.webhooks
            if webhook.conditions
        }

    def wants(self, webhook: Webhook, event: Event) -> bool:
        if event.account_id != webhook.account_id or event.site_id not in webhook.site_ids:
            return False
        if ALL_EVENTS not in webhook.events and event.type not in webhook.events:
            return False
        condition = self._conditions.get(webhook.id)
        return condition is None or condition.matches(body_fields(event, webhook.id))


@dataclass(frozen=True, slots=True)
class Lease:
    """Up to `room` deliveries may be created already leased (`token`, until `until`) to a
    worker in the publishing process, which sends them without claiming them first."""

    token: str
    until: datetime
    room: int


class FanoutPlan:
    """The deliveries that carry newly stored events to the subscribers that want them.

    With a lease, the first `lease.room` of them are created leased, and the last call's
    leased deliveries are kept in `leased` with their event and webhook, for the publisher
    to hand to its worker once they are committed.
    """

    def __init__(
        self,
        subscribers: Subscribers,
        *,
        now: datetime,
        new_id: Callable[[], str],
        lease: Lease | None = None,
    ) -> None:
        self._subscribers = subscribers
        self._now = now
        self._new_id = new_id
        self._lease = lease
        self.leased: list[tuple[Delivery, Event, Webhook]] = []

    def __call__(self, events: Sequence[Event]) -> list[Delivery]:
        wants, lease = self._subscribers.wants, self._lease
        deliveries: list[Delivery] = []
        self.leased = []
        for event in events:
            for webhook in self._subscribers.webhooks:
                if not wants(webhook, event):
                    continue
                delivery = direct_delivery(
                    event, webhook.id, now=self._now, delivery_id=self._new_id()
                )
                if lease is not None and len(self.leased) < lease.room:
                    delivery = replace(
                        delivery, next_attempt_at=lease.until, lease_token=lease.token
                    )
                    self.leased.append((delivery, event, webhook))
                deliveries.append(delivery)
        return deliveries


def direct_delivery(event: Event, webhook_id: str, *, now: datetime, delivery_id: str) -> Delivery:
    """A delivery due immediately (fan-out, and test events sent to one webhook)."""
    return Delivery(
        id=delivery_id,
        account_id=event.account_id,
        event_id=event.id,
        webhook_id=webhook_id,
        status=DeliveryStatus.PENDING,
        attempts=0,
        next_attempt_at=now,
        created=now,
    )
