"""What the Events page says of an event with no deliveries: why none of the account's
webhooks took it, rather than "no webhook matched" for every reason alike."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hookcast.dashboard.unmatched import Unmatched
from hookcast.domain.conditions import MAX_VISITS, Condition
from hookcast.domain.fanout import MAX_PUBLISH_VISITS
from hookcast.domain.models import Event, Webhook
from support import factories

ACCOUNT = "acc_1"
SITE = "SiteSite"


def _why(unmatched: Unmatched, event: Event) -> str:
    """The verdict and the breakdown on one line, as the row's disclosure reads."""
    verdict, breakdown = unmatched.reason(event)
    return f"{verdict} ({breakdown})" if breakdown else verdict


def _hook(**overrides: Any) -> Webhook:
    return factories.webhook(ACCOUNT, **({"site_ids": (SITE,)} | overrides))


def _event(**overrides: Any) -> Event:
    return factories.event(ACCOUNT, SITE, **overrides)


def test_an_account_without_webhooks_is_told_so() -> None:
    assert _why(Unmatched([]), _event()) == "not sent: no webhooks yet"


def test_one_webhook_says_what_it_listens_to_instead() -> None:
    assert _why(Unmatched([_hook(events=("media_deleted",))]), _event()) == (
        "not sent: your webhook subscribes to other events"
    )
    assert _why(Unmatched([_hook(site_ids=("OtherSit",))]), _event()) == (
        "not sent: your webhook hears other properties"
    )
    tagged = _hook(conditions={"data.tags": {"$contains": "news"}})
    assert _why(Unmatched([tagged]), _event(data={"tags": ["sports"]})) == (
        "not sent: your webhook has conditions it does not meet"
    )


class _Scanned(tuple[str, ...]):
    """A webhook's properties that count the scans of them (`in` on the tuple)."""

    scans = 0

    def __contains__(self, site_id: object) -> bool:
        type(self).scans += 1
        return super().__contains__(site_id)


def test_a_webhook_of_many_properties_is_told_apart_by_their_set() -> None:
    # A page of 25 events to 100 webhooks of 1,000 properties each scanned 2,500 tuples of
    # 1,000: 26 ms of the 40 the page's reasons took (docs/benchmarks/feature-costs.md, attack17).
    many = _Scanned(f"Site{n:04d}" for n in range(1000))
    hooks = [_hook(site_ids=many) for _ in range(3)]

    assert _why(Unmatched(hooks), _event()) == (
        "not sent: none of your 3 webhooks took it (3 hear other properties)"
    )
    assert _Scanned.scans == 0


def test_several_webhooks_are_counted_by_reason_most_first() -> None:
    hooks = [
        _hook(events=("media_deleted",)),
        _hook(site_ids=("OtherSit",)),
        _hook(events=("media_created",)),
    ]
    assert _why(Unmatched(hooks), _event()) == (
        "not sent: none of your 3 webhooks took it "
        "(2 subscribe to other events, 1 hears other properties)"
    )


def test_a_webhook_changed_since_that_would_take_it_now_says_so() -> None:
    # The event matched none when published; this one (a paused one too) was changed since
    # and would take it now.
    changed = _hook(enabled=False, last_modified=factories.NOW + timedelta(minutes=5))
    assert _why(Unmatched([changed]), _event()) == (
        "not sent: your webhook was changed since, and would take it now"
    )
    assert _why(Unmatched([_hook()]), _event()) == "not sent: your webhook would take it now"


def test_a_webhook_created_after_the_event_could_not_have_taken_it() -> None:
    """Not "subscribes to other events" of a webhook that did not exist: its settings now
    say nothing of the event (it used to be "was created or changed since" only when it
    would take it now, and a reason from today's settings otherwise)."""
    later = factories.NOW + timedelta(hours=1)
    hooks = [
        _hook(created=later, last_modified=later),
        _hook(events=("media_deleted",), created=later, last_modified=later),
    ]
    assert _why(Unmatched(hooks), _event()) == (
        "not sent: none of your 2 webhooks took it (2 were created after it)"
    )


def test_a_webhook_changed_since_is_not_given_todays_reason() -> None:
    """Its settings when the event was published are not kept: the reason its settings now
    would give may not be why it did not take the event then."""
    changed = _hook(events=("media_deleted",), last_modified=factories.NOW + timedelta(days=1))
    assert _why(Unmatched([changed, _hook(site_ids=("OtherSit",))]), _event()) == (
        "not sent: none of your 2 webhooks took it (1 hears other properties, 1 was changed since)"
    )


def test_hookcast_own_events_say_every_event_leaves_them_out() -> None:
    """A webhook_failing about webhook A: "*" does not include HookCast's own events, and A
    itself is never told of its own failure."""
    about = _hook(events=("*",))
    hooks = [about, _hook(events=("*",)), _hook(events=("media_available",))]
    failing = _event(type="webhook_failing", data={"webhook_id": about.id}, resource_ids={})
    assert Unmatched(hooks).reason(failing) == (
        "not sent: HookCast's own event",
        "only for webhooks that name it: 1 is the one it is about, 1 takes All events, which "
        "leaves HookCast's own out, 1 subscribes to other events",
    )


def test_a_page_of_reasons_evaluates_conditions_within_one_publishs_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # attack17: each reason evaluated every webhook's condition with a budget of its own, up
    # to MAX_VISITS: a page of 25 events, each published (202) to 100 webhooks whose
    # conditions ran out of budget, took 28-29 s of the server's loop to explain (25 million
    # visits, 25 publishes' worth; load 14-15). What is not evaluated any more has conditions
    # it does not meet, as a condition over budget at its publish did.
    spent: list[int] = []
    measure = Condition.measure

    def counted(self: Condition, body: Any, *, max_visits: int = MAX_VISITS) -> Any:
        verdict, visits = measure(self, body, max_visits=max_visits)
        spent.append(visits)
        return verdict, visits

    monkeypatch.setattr(Condition, "measure", counted)
    hooks = [_hook(conditions={"data.x": {"$in": [1]}}) for _ in range(100)]
    events = [_event(data={"x": [0] * MAX_VISITS}) for _ in range(5)]
    unmatched = Unmatched(hooks)

    lines = {_why(unmatched, event) for event in events}

    assert sum(spent) <= MAX_PUBLISH_VISITS
    assert lines == {
        "not sent: none of your 100 webhooks took it (100 have conditions it does not meet)"
    }
