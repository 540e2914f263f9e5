"""Which health changes tell what (pure): one notice per change of state, ids per period,
and who receives an operational event."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from hookcast.domain.conditions import Verdict
from hookcast.domain.formats import FORMATS
from hookcast.domain.health import WebhookHealth
from hookcast.domain.mail import MAIL_RETRY_DELAYS, compose, retry_at, valid_address
from hookcast.domain.operational import (
    DISABLE_WARNING,
    DISABLED,
    FAILING,
    RECOVERED,
    Notice,
    OperationalSubscribers,
    Standing,
    notices_for,
    operational_event,
    standing_after,
)
from hookcast.domain.retry import disable_warning
from support import factories as make

T0, T1 = make.later(0), make.later(60)
HEALTHY = Standing("hook1234", enabled=True, failing_since=None)
FAILING_NOW = Standing("hook1234", enabled=True, failing_since=T0)
OFF = Standing("hook1234", enabled=False, failing_since=T0)


def _failed(
    *, disable_at: datetime | None = None, disable_reason: str | None = None
) -> WebhookHealth:
    return WebhookHealth("hook1234", None, T1, disable_reason=disable_reason, disable_at=disable_at)


SUCCEEDED = WebhookHealth("hook1234", T1, None)


@pytest.mark.parametrize(
    ("standing", "health", "after"),
    [
        (HEALTHY, _failed(), Standing("hook1234", enabled=True, failing_since=T1)),
        (FAILING_NOW, _failed(), FAILING_NOW),  # the period goes on from its start
        (FAILING_NOW, SUCCEEDED, HEALTHY),
        (HEALTHY, _failed(disable_reason="410 Gone"), Standing("hook1234", False, T1)),
        (FAILING_NOW, WebhookHealth("hook1234", None, None), FAILING_NOW),  # nothing new
    ],
)
def test_the_standing_a_change_of_health_leaves(
    standing: Standing, health: WebhookHealth, after: Standing
) -> None:
    # What store/foreseen.py foresees the next recording's notices from.
    assert standing_after(standing, health) == after


@pytest.mark.parametrize(
    ("standing", "health", "told"),
    [
        (HEALTHY, _failed(), [(FAILING, T1)]),  # the period starts
        (FAILING_NOW, _failed(), []),  # still the same period
        (FAILING_NOW, SUCCEEDED, [(RECOVERED, T0)]),  # the period named by its start
        (HEALTHY, SUCCEEDED, []),
        (FAILING_NOW, _failed(disable_at=T1 + timedelta(days=1)), [(DISABLE_WARNING, T0)]),
        (FAILING_NOW, _failed(disable_reason="too long"), [(DISABLED, T1)]),
        (HEALTHY, _failed(disable_reason="410 Gone"), [(FAILING, T1), (DISABLED, T1)]),
        (OFF, _failed(disable_reason="410 Gone"), []),  # disabled already: in-flight attempts
        (OFF, SUCCEEDED, []),
    ],
)
def test_notices_for_a_change_of_health(
    standing: Standing, health: WebhookHealth, told: list[tuple[str, object]]
) -> None:
    assert [(n.kind, n.period) for n in notices_for(standing, health)] == told


def test_a_notice_id_is_its_kind_webhook_and_period() -> None:
    first = Notice(FAILING, "hook1234", at=T1, period=T0)
    assert first.event_id == Notice(FAILING, "hook1234", at=make.later(99), period=T0).event_id
    assert first.event_id != Notice(FAILING, "hook1234", at=T1, period=T1).event_id
    assert first.event_id != Notice(RECOVERED, "hook1234", at=T1, period=T0).event_id
    assert len(first.event_id) <= 128  # the events table's id column


def test_the_warning_comes_within_its_period_before_the_disable() -> None:
    five_days, day = timedelta(days=5), timedelta(days=1)

    def warn(after: timedelta) -> object:
        return disable_warning(
            failing_since=T0, now=T0 + after, threshold=five_days, warn_before=day
        )

    assert warn(timedelta(days=3, hours=23)) is None
    assert warn(timedelta(days=4)) == T0 + five_days
    assert warn(five_days) is None  # due: failing_too_long disables instead


def test_operational_events_go_to_webhooks_naming_them_never_to_their_subject() -> None:
    subject = make.webhook("acc", events=(FAILING,), site_ids=("SiteSite",))
    named = make.webhook("acc", events=(FAILING,))
    everything = make.webhook("acc", events=("*",))
    api_video = make.webhook("acc", events=(FAILING,), format="apivideo")
    elsewhere = make.webhook("other", events=(FAILING,))
    event = operational_event(Notice(FAILING, subject.id, at=T1, period=T1), subject, waiting=3)
    subscribers = OperationalSubscribers([subject, named, everything, api_video, elsewhere])

    matched = [
        hook.id
        for hook in subscribers.webhooks
        if subscribers.match(hook, event)[0] is Verdict.MATCH
    ]
    assert matched == [named.id, api_video.id]
    assert event.site_id == "SiteSite"
    assert event.data is not None
    assert event.data["deliveries_waiting"] == 3


def test_an_operational_event_is_timed_to_the_second_as_published_events_are() -> None:
    # A receiver saw "event_time": "...T08:57:50.049107+00:00" on webhook_failing and
    # "...T08:57:50+00:00" on every published event; its id keeps the period's microseconds.
    subject = make.webhook("acc", events=(FAILING,))
    failed_at = T1 + timedelta(microseconds=49107)
    event = operational_event(Notice(FAILING, subject.id, failed_at, failed_at), subject, waiting=0)
    assert event.event_time == T1.replace(microsecond=0)
    assert event.id.endswith("049107Z")


def test_the_mail_names_the_webhook_and_what_to_do() -> None:
    data = {
        "webhook_id": "hook1234",
        "webhook_name": "Indexer",
        "webhook_url": "https://indexer.example/hook",
        "reason": "410 Gone",
        "deliveries_waiting": 4,
        "last_error": "HTTP 410",
        "last_response_body": "gone",
    }
    mail = compose(DISABLED, data, recipient="oncall@acme.example")
    assert mail.subject == '[HookCast] Webhook "Indexer" was disabled'
    assert "Reason: 410 Gone" in mail.body
    assert "Deliveries waiting: 4" in mail.body
    assert "enable the webhook" in mail.body
    with pytest.raises(ValueError, match="not sent by e-mail"):
        compose(FAILING, data, recipient="oncall@acme.example")


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("oncall@acme.example", True),
        ("a.b+c@sub.acme.example", True),
        ("no-at.example", False),
        ("two@@acme.example", False),
        ("oncall@localhost", False),
        ("a@b.example, c@d.example", False),
        ("a@b.example\r\nBcc: x@y.example", False),
    ],
)
def test_a_contact_address_is_one_address(address: str, valid: bool) -> None:
    assert valid_address(address) is valid


def test_a_mail_is_retried_on_a_schedule_then_given_up() -> None:
    assert retry_at(attempts=1, now=T0) == T0 + timedelta(seconds=MAIL_RETRY_DELAYS[0])
    assert retry_at(attempts=len(MAIL_RETRY_DELAYS), now=T0) is not None
    assert retry_at(attempts=len(MAIL_RETRY_DELAYS) + 1, now=T0) is None


@pytest.mark.parametrize(
    ("format_name", "name_key", "name", "webhook_key"),
    [
        ("jwplayer", "event", "webhook_failing", ("data", "webhook_id")),
        ("standard", "type", "webhook.failing", ("data", "webhook_id")),
        ("apivideo", "type", "webhook.failing", ("webhookId",)),
        ("flowplayer", "event_type", "WEBHOOK_FAILING", ("payload", "webhook_id")),
        ("mediamanager", "event", "webhook.failing", ("data", "webhook_id")),
    ],
)
def test_every_format_delivers_operational_events_in_its_own_names(
    format_name: str, name_key: str, name: str, webhook_key: tuple[str, ...]
) -> None:
    subject = make.webhook("acc")
    event = operational_event(Notice(FAILING, subject.id, at=T1, period=T1), subject, waiting=0)
    body = FORMATS[format_name].body(event, webhook_id="receiver", delivery_id="d1")
    assert body[name_key] == name
    found: Any = body
    for key in webhook_key:
        found = found[key]
    assert found == subject.id
