"""Which webhooks an event goes to, and the deliveries that carries it there."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from hookcast.domain.catalog import ALL_EVENTS
from hookcast.domain.conditions import Condition, Verdict, parse_conditions
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

    def verdict(self, webhook: Webhook, event: Event) -> Verdict:
        """Whether `webhook` wants `event`: its account, sites, events and condition."""
        if event.account_id != webhook.account_id or event.site_id not in webhook.site_ids:
            return Verdict.NO_MATCH
        if ALL_EVENTS not in webhook.events and event.type not in webhook.events:
            return Verdict.NO_MATCH
        condition = self._conditions.get(webhook.id)
        if condition is None:
            return Verdict.MATCH
        return condition.evaluate(body_fields(event, webhook.id))


@dataclass(frozen=True, slots=True)
class Lease:
    """Up to `room` deliveries may be created already leased (`token`, until `until`) to a
    worker in the publishing process, which sends them without claiming them first."""

    token: str
    until: datetime
    room: int


class FanoutPlan:
    """The deliveries that carry a publish's events to the subscribers that want them.

    Which webhooks want which event is decided when the plan is made, before anything is
    written, so a publish can be refused on its `size` (deliveries it would create) and its
    conditions are evaluated once. Called with the events the store newly stored (a subset:
    a repeated event id has its deliveries already), it returns their deliveries.

    With a lease, the first `lease.room` of them are created leased, and the last call's
    leased deliveries are kept in `leased` with their event and webhook, for the publisher
    to hand to its worker once they are committed.
    """

    def __init__(
        self,
        subscribers: Subscribers,
        events: Sequence[Event],
        *,
        now: datetime,
        new_id: Callable[[], str],
        lease: Lease | None = None,
    ) -> None:
        self._now = now
        self._new_id = new_id
        self._lease = lease
        self.leased: list[tuple[Delivery, Event, Webhook]] = []
        # (event id, webhook id) pairs whose condition ran out of budget: not delivered.
        self.over_budget: list[tuple[str, str]] = []
        self._targets = {event.id: self._match(subscribers, event) for event in events}
        self.size = sum(len(targets) for targets in self._targets.values())

    def _match(self, subscribers: Subscribers, event: Event) -> list[Webhook]:
        targets = []
        for webhook in subscribers.webhooks:
            verdict = subscribers.verdict(webhook, event)
            if verdict is Verdict.MATCH:
                targets.append(webhook)
            elif verdict is Verdict.OVER_BUDGET:
                self.over_budget.append((event.id, webhook.id))
        return targets

    def __call__(self, events: Sequence[Event]) -> list[Delivery]:
        lease = self._lease
        deliveries: list[Delivery] = []
        self.leased = []
        for event in events:
            for webhook in self._targets.get(event.id, ()):
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
