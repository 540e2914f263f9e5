"""HookCast's own events about an account's webhooks (webhook_failing, webhook_disabled, ...):
which changes of a webhook's health cause them, their bodies and ids, and who receives them.

A batch of attempt outcomes is reduced to each webhook's `WebhookHealth` (domain/health.py);
set beside the webhook's `Standing` before the batch (read under the row's lock), it yields
the `Notice`s the store publishes in the same transaction. One notice per change of state:
the first failure of a period (not every failure), the disable, the recovery. Each event's
id is derived from its webhook and its period, so storing it twice stores it once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from hookcast.domain.conditions import MAX_VISITS, Verdict
from hookcast.domain.fanout import Subscribers
from hookcast.domain.formats import format_of
from hookcast.domain.formats.jwplayer import body_fields
from hookcast.domain.health import WebhookHealth
from hookcast.domain.models import Event, LastError, Webhook

__all__ = [
    "DISABLED",
    "DISABLE_WARNING",
    "FAILING",
    "HELD",
    "MAILED",
    "RECOVERED",
    "Notice",
    "OperationalSubscribers",
    "Standing",
    "notices_for",
    "operational_event",
    "standing_after",
]

FAILING: Final = "webhook_failing"
DISABLE_WARNING: Final = "webhook_disable_warning"
DISABLED: Final = "webhook_disabled"
RECOVERED: Final = "webhook_recovered"
HELD: Final = "webhook_held"
# The notices also sent by e-mail to the account's contact address (domain/mail.py).
MAILED: Final = frozenset({DISABLE_WARNING, DISABLED, RECOVERED})


@dataclass(frozen=True, slots=True)
class Standing:
    """A webhook's health before a batch is applied, as the store read it under its lock."""

    webhook_id: str
    enabled: bool
    failing_since: datetime | None
    # What failures recorded after a newer success are set beside (domain/health.py).
    last_success: datetime | None = None
    last_error_at: datetime | None = None
    # A failure's retry still announced: a success clears it (store/webhooks.py).
    next_retry_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """One operational event to publish: what happened to which webhook, and when.

    `period` is the start of the failing (or disabled) period the notice is about: with the
    kind and the webhook it makes the event's id, so a period has one event of each kind.
    """

    kind: str  # a catalog name, one of the constants above
    webhook_id: str
    at: datetime
    period: datetime
    reason: str | None = None  # why it was disabled (disabled, held)
    disable_at: datetime | None = None  # when it will be disabled (disable_warning)

    @property
    def event_id(self) -> str:
        """The same for every notice of this kind about this webhook and period."""
        stamp = self.period.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return f"hc_{self.kind}_{self.webhook_id}_{stamp}"


def notices_for(standing: Standing, health: WebhookHealth) -> list[Notice]:
    """The notices a batch's effect on one webhook causes (none for one disabled already:
    its attempts still in flight change nothing worth telling)."""
    if not standing.enabled:
        return []
    notices: list[Notice] = []
    since = standing.failing_since
    if health.succeeded_at is not None and since is not None:
        notices.append(Notice(RECOVERED, health.webhook_id, health.succeeded_at, since))
    elif health.succeeded_at is None and health.failed_at is not None:
        notices.extend(_failure_notices(since, health))
    if health.disable_reason is not None:
        at = health.failed_at or health.succeeded_at  # a disable comes with an attempt
        if at is not None:
            notices.append(Notice(DISABLED, health.webhook_id, at, at, health.disable_reason))
    return notices


def standing_after(standing: Standing, health: WebhookHealth) -> Standing:
    """What the webhook's standing becomes once `health` is applied, as far as its notices
    go (enabled, failing since): a success ends a failing period, a failure begins one if
    none is under way, a disable disables."""
    since = standing.failing_since
    if health.succeeded_at is not None:
        since = None
    elif health.failed_at is not None:
        since = since or health.failed_at
    enabled = standing.enabled and health.disable_reason is None
    return Standing(health.webhook_id, enabled=enabled, failing_since=since)


def _failure_notices(since: datetime | None, health: WebhookHealth) -> list[Notice]:
    assert health.failed_at is not None  # the caller's condition
    notices = []
    period = since or health.failed_at
    if since is None:
        notices.append(Notice(FAILING, health.webhook_id, health.failed_at, period))
    if health.disable_at is not None and health.disable_reason is None:
        warning = Notice(
            DISABLE_WARNING, health.webhook_id, health.failed_at, period,
            disable_at=health.disable_at,
        )  # fmt: skip
        notices.append(warning)
    return notices


def operational_event(notice: Notice, webhook: Webhook, *, waiting: int) -> Event:
    """The event published for `notice` about `webhook` (read after the batch was applied),
    with `waiting` deliveries of it not yet delivered (pending, waiting or held)."""
    return Event(
        id=notice.event_id,
        account_id=webhook.account_id,
        site_id=webhook.site_ids[0] if webhook.site_ids else "",
        type=notice.kind,
        resource_ids={},
        # Seconds, as a published event's (JW Player's event_time has seconds precision).
        event_time=notice.at.replace(microsecond=0),
        data=_data(notice, webhook, waiting=waiting),
        created=notice.at,
    )


def _data(notice: Notice, webhook: Webhook, *, waiting: int) -> dict[str, Any]:
    error = webhook.last_error
    data: dict[str, Any] = {
        "webhook_id": webhook.id,
        "webhook_name": webhook.name,
        "webhook_url": webhook.webhook_url,
        # A recovery ends the period: say when it began, the webhook no longer does.
        "failing_since": _time(webhook.failing_since or _period_start(notice)),
        **_error_fields(error),
        "deliveries_waiting": waiting,
    }
    reason = notice.reason or (_held_reason(webhook) if notice.kind == HELD else None)
    if reason is not None:
        data["reason"] = reason
    if notice.disable_at is not None:
        data["disable_at"] = _time(notice.disable_at)
    if notice.kind == RECOVERED:
        data["recovered_at"] = _time(notice.at)
    return data


def _held_reason(webhook: Webhook) -> str:
    if not webhook.enabled:
        return webhook.disabled_reason or "disabled by a user"
    # Held while enabled: a Flowplayer-format webhook whose account has no organization
    # secret to sign with (domain/fanout.py sendable).
    return "the account has no Flowplayer organization secret"


def _period_start(notice: Notice) -> datetime | None:
    return notice.period if notice.kind in (RECOVERED, FAILING, DISABLE_WARNING) else None


def _error_fields(error: LastError | None) -> Mapping[str, Any]:
    return {
        "last_status_code": error.status_code if error else None,
        "last_error": error.error if error else None,
        "last_response_body": error.body if error else None,
    }


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


class OperationalSubscribers(Subscribers):
    """The account's webhooks that receive its operational events: those naming the event
    (a subscription to every event, "*", does not include them), in a format that names it,
    whose condition matches; never the webhook the event is about. A failing webhook would
    not take word of its own failure, and its deliveries of it would only add to its
    backlog; being left out, it cannot feed itself either."""

    def match(
        self, webhook: Webhook, event: Event, *, max_visits: int = MAX_VISITS
    ) -> tuple[Verdict, int]:
        """Whether `webhook` receives the operational `event` (sites play no part)."""
        about = (event.data or {}).get("webhook_id")
        if event.account_id != webhook.account_id or webhook.id == about:
            return Verdict.NO_MATCH, 0
        if event.type not in webhook.events or not format_of(webhook).delivers(event.type):
            return Verdict.NO_MATCH, 0
        condition = self._conditions.get(webhook.id)
        if condition is None:
            return Verdict.MATCH, 0
        return condition.measure(body_fields(event, webhook.id), max_visits=max_visits)
