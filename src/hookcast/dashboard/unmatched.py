"""Why an event on the Events page has no deliveries, in words: "no webhook matched" was
said alike of an account without webhooks, of webhooks subscribed to other events or
properties, of conditions that left the event out, and of HookCast's own events, which a
subscription to every event does not include.

An event stores no record of the webhooks it was matched against, and a webhook keeps no
copy of its settings as they were then: the reasons are judged against the account's
webhooks as they are now, and the page says so. What the webhooks' own times tell is used:
one created after the event could not have taken it, and one changed since is said to be
(its reason now may not be its reason then), rather than given a reason its old settings
may not have had.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Sequence

from hookcast.domain.catalog import ALL_EVENTS, OPERATIONAL_EVENTS
from hookcast.domain.conditions import MAX_VISITS, Verdict
from hookcast.domain.fanout import MAX_PUBLISH_VISITS, Subscribers, subscribes
from hookcast.domain.models import Event, Webhook
from hookcast.domain.operational import OperationalSubscribers

__all__ = ["Miss", "Unmatched"]


class Miss(enum.Enum):
    """Why one webhook did not take an event: (said of one, said of several)."""

    ABOUT = ("is the one it is about",) * 2  # one webhook at most
    NOT_NAMED = (
        "takes All events, which leaves HookCast's own out",
        "take All events, which leaves HookCast's own out",
    )
    EVENT = ("subscribes to other events", "subscribe to other events")
    SITE = ("hears other properties", "hear other properties")
    CONDITIONS = ("has conditions it does not meet", "have conditions it does not meet")
    LATER = ("was created after it", "were created after it")
    NOW = (
        "was changed since, and would take it now",
        "were changed since, and would take it now",
    )
    CHANGED = ("was changed since", "were changed since")
    # unchanged since the event, yet it would take it: not expected (it would have taken it
    # then), and said as it is rather than explained
    TAKES_NOW = ("would take it now", "would take it now")


class Unmatched:
    """The account's webhooks, asked why an event went to none of them."""

    def __init__(self, webhooks: Sequence[Webhook]) -> None:
        self.webhooks = list(webhooks)
        # Each keeps a set of a webhook's many properties, ~7 ms for 100 webhooks of 1,000
        # each: HookCast's own are made when an event of theirs is first asked about.
        self._publishable = Subscribers(self.webhooks)
        self._own: OperationalSubscribers | None = None
        # The visits the conditions may make for all the reasons of one page together, as
        # for one publish: each reason evaluated every webhook's condition up to MAX_VISITS,
        # and a page of 25 events, each published to 100 webhooks whose conditions ran out
        # of budget, took 28-29 s of the server's loop (attack17). Once they are spent, a
        # condition is not evaluated: it does not meet, as one over budget at its publish.
        self._visits_left = MAX_PUBLISH_VISITS

    def reason(self, event: Event) -> tuple[str, str]:
        """Why an event has no deliveries: the verdict, short enough for one line of the
        Events page's Deliveries column, and what each of several webhooks said ("" when the
        verdict says it all). Together they had taken 3-4 lines of every row at 1280 px."""
        own = event.type in OPERATIONAL_EVENTS
        if not self.webhooks:
            return "not sent: no webhooks yet", ""
        misses = Counter(self._miss(webhook, event, own=own) for webhook in self.webhooks)
        if len(self.webhooks) == 1:
            (miss,) = misses
            reasons = f"your webhook {miss.value[0]}"
        else:
            reasons = ", ".join(
                f"{count} {miss.value[0] if count == 1 else miss.value[1]}"
                for miss, count in sorted(misses.items(), key=_most_first)
            )
        if own:  # who gets it is the surprise, more than which webhook did not
            return "not sent: HookCast's own event", f"only for webhooks that name it: {reasons}"
        if len(self.webhooks) == 1:
            return f"not sent: {reasons}", ""
        return f"not sent: none of your {len(self.webhooks)} webhooks took it", reasons

    def _miss(self, webhook: Webhook, event: Event, *, own: bool) -> Miss:
        if webhook.created > event.created:
            return Miss.LATER
        changed = webhook.last_modified > event.created
        subscribers = self._publishable
        if own:
            subscribers = self._own = self._own or OperationalSubscribers(self.webhooks)
        allowed = min(MAX_VISITS, self._visits_left)
        verdict, visits = subscribers.match(webhook, event, max_visits=allowed)
        self._visits_left -= visits
        if verdict is Verdict.MATCH:
            return Miss.NOW if changed else Miss.TAKES_NOW
        if changed:  # its settings now are not those it was matched with
            return Miss.CHANGED
        if own:
            if (event.data or {}).get("webhook_id") == webhook.id:
                return Miss.ABOUT
            if event.type not in webhook.events:
                return Miss.NOT_NAMED if ALL_EVENTS in webhook.events else Miss.EVENT
        elif not self._publishable.hears_site(webhook, event.site_id):
            # In the set where the webhook has many properties: a scan of a tuple of 1,000
            # for each of 100 webhooks, and of 25 events, was 26 ms of the 40 a page took.
            return Miss.SITE
        if not subscribes(webhook, event.type):
            return Miss.EVENT
        return Miss.CONDITIONS


def _most_first(item: tuple[Miss, int]) -> tuple[int, int]:
    """The most common reason first, then in Miss's order, so the line reads the same."""
    return -item[1], list(Miss).index(item[0])
