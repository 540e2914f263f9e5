"""A batch of attempt outcomes, reduced to its effect on each webhook's health."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime

from hookcast.domain.frozen import quick_init
from hookcast.domain.models import LastError


@quick_init
@dataclass(frozen=True, slots=True)
class HealthSignal:
    """One attempt's contribution: when it happened, whether it succeeded, and whether it
    asks for the webhook to be disabled (410 Gone, failing for too long)."""

    webhook_id: str
    at: datetime
    succeeded: bool
    disable_reason: str | None = None
    gone: bool = False  # the endpoint answered 410: disable even if another attempt succeeded
    error: LastError | None = None  # what a failed attempt got
    retry_at: datetime | None = None  # when a failed attempt's delivery is tried again
    # When the webhook will be disabled for failing too long, set by a failed attempt made
    # within the warning period before it (domain/retry.py disable_warning).
    disable_at: datetime | None = None
    # The failing streak's start that a disable for failing too long, or its warning, was
    # reckoned from: the webhook as the worker had it, which may be older than the stored
    # one (a publish hands deliveries over with the webhook its cache kept).
    streak_since: datetime | None = None
    # When a failed attempt's request went out (`at` is when it ended): a request sent
    # before the endpoint's last success that failed after it (a timeout of a request made
    # while the endpoint hung, ending once it answers again) says nothing of the endpoint
    # since that success (`_after_success`). None: not sent (an expired delivery), `at`.
    sent_at: datetime | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class WebhookHealth:
    """A batch's net effect on one webhook's health (what the store applies)."""

    webhook_id: str
    succeeded_at: datetime | None  # the latest success in the batch, if any
    # The earliest failure in the batch, if any (only without success); None as well once
    # on_standing found every failure older than the webhook's stored last success.
    failed_at: datetime | None
    disable_reason: str | None = None  # disables the webhook (410 Gone, failing for too long)
    # The latest failure's error (only without success); beside failed_at None, the error
    # alone is news (older than the stored last success, newer than the stored error).
    last_error: LastError | None = None
    retry_at: datetime | None = None  # the earliest retry the failures scheduled (idem)
    disable_at: datetime | None = None  # a failure's warning of the disable ahead (idem)
    # The failing streak the disable for failing too long or its warning was reckoned from
    # (HealthSignal.streak_since); None for a 410's disable.
    streak_since: datetime | None = None
    # A success older than the stored failing streak's start (on_standing, succeeded_at then
    # None): it moves the webhook's last success alone, the streak goes on.
    earlier_success: datetime | None = None
    # When the latest-sent of the batch's failures went out (only without success): read by
    # on_standing alone, so not compared.
    last_sent: datetime | None = field(default=None, compare=False)


def summarize(signals: Iterable[HealthSignal]) -> list[WebhookHealth]:
    """Latest success wins over failures in the same batch; a disable request always counts,
    except that a success in the same batch overrides "failing for too long"."""
    by_webhook: dict[str, list[HealthSignal]] = {}
    for signal in signals:
        by_webhook.setdefault(signal.webhook_id, []).append(signal)
    return [_reduce(webhook_id, group) for webhook_id, group in by_webhook.items()]


def _reduce(webhook_id: str, group: list[HealthSignal]) -> WebhookHealth:
    successes = [signal.at for signal in group if signal.succeeded]
    failures = [signal.at for signal in group if not signal.succeeded]
    gone = [signal.disable_reason for signal in group if signal.gone and signal.disable_reason]
    # Copies of one webhook in a batch may carry different failing streaks (a handover's
    # cached copy, a claim's stored one). Streaks do not overlap: a later start means the
    # earlier streak ended, so only what was reckoned from the latest may stand (on_standing
    # checks that one against the stored streak).
    streak = max((s.streak_since for s in group if s.streak_since is not None), default=None)
    current = [s for s in group if s.streak_since is None or s.streak_since == streak]
    stale = [signal.disable_reason for signal in current if signal.disable_reason]
    reason = gone[0] if gone else (stale[0] if stale and not successes else None)
    failing = [] if successes else [signal for signal in group if not signal.succeeded]
    errors = [signal.error for signal in failing if signal.error is not None]
    retries = [signal.retry_at for signal in failing if signal.retry_at is not None]
    # (A warning is always reckoned from a streak: `current` by that streak alone.)
    warnings = [s.disable_at for s in failing if s.disable_at and s.streak_since == streak]
    sent = [signal.sent_at or signal.at for signal in failing]
    return WebhookHealth(
        webhook_id=webhook_id,
        succeeded_at=max(successes) if successes else None,
        failed_at=min(failures) if failures and not successes else None,
        disable_reason=reason,
        last_error=max(errors, key=lambda error: error.at) if errors else None,
        retry_at=min(retries) if retries else None,
        disable_at=min(warnings) if warnings else None,
        streak_since=streak if not gone and not successes else None,
        last_sent=max(sent) if sent else None,
    )


def on_standing(
    health: WebhookHealth,
    failing_since: datetime | None,
    *,
    last_success: datetime | None = None,
    last_error_at: datetime | None = None,
) -> WebhookHealth:
    """`health` as the webhook's stored state allows. Outcomes may be recorded out of the
    order their attempts were made in: failures no later than its stored `last_success`, or
    sent before it, do not make it failing (`_after_success`), a success older than its
    stored `failing_since` does not end that streak (`_before_streak`). And a disable for
    failing too long, or its warning, reckoned from a failing streak that has ended since
    (the stored `failing_since` is unset or later) is dropped: a webhook that recovered is
    not disabled, or warned of it, for its old streak."""
    health = _before_streak(_after_success(health, last_success, last_error_at), failing_since)
    streak = health.streak_since
    if streak is None or (failing_since is not None and failing_since <= streak):
        return health
    return replace(health, disable_reason=None, disable_at=None, streak_since=None)


def _after_success(
    health: WebhookHealth, last_success: datetime | None, last_error_at: datetime | None
) -> WebhookHealth:
    """`health` without what its failures older than a success already stored would say.

    Outcomes can be written out of the order their attempts were made in: a write that
    failed and is retried after the write begun beside it committed (`write_ahead`), or two
    PostgreSQL workers recording one webhook's outcomes. A failure no later than the stored
    last success came before it, and so did one whose request went out before it (a timeout
    ends well after its request went out): it starts no failing streak, schedules no retry mark, no
    disable for failing too long or warning (so no notice); its error is kept only if no
    later one is stored. The attempt itself is recorded as it happened. A 410's disable
    stands, as it does beside a success in one batch (summarize).
    """
    failed_at = health.failed_at
    if last_success is None or failed_at is None or health.succeeded_at is not None:
        return health
    if health.disable_reason is not None and health.streak_since is None:
        return health  # 410 Gone: the endpoint asked to stop
    latest = health.last_error.at if health.last_error is not None else failed_at
    # A failure whose request went out before that success (a request made while the
    # endpoint hung, timing out once it answers again) came before it, however late it
    # ended: two workers' requests held by a hung receiver made three failing periods, each
    # with its webhook_failing, webhook_recovered and recovery e-mail, in the second after
    # it answered again (docs/reliability.md, "Bugs the chaos runs found").
    sent = health.last_sent if health.last_sent is not None else latest
    if latest > last_success and sent > last_success:
        # Some failed after the success: a streak began after it. Of its start the batch
        # tells only that it is no later than its latest failure.
        return health if failed_at > last_success else replace(health, failed_at=latest)
    error = health.last_error
    newer = error is not None and (last_error_at is None or error.at > last_error_at)
    return replace(
        health,
        failed_at=None,
        disable_reason=None,
        last_error=error if newer else None,
        retry_at=None,
        disable_at=None,
        streak_since=None,
    )


def _before_streak(health: WebhookHealth, failing_since: datetime | None) -> WebhookHealth:
    """`health` without the recovery a success older than the stored failing streak's start
    would make: written out of order (as in `_after_success`), it came before the streak's
    first failure and ends nothing; it moves the last success alone. A 410's disable in its
    batch stands as it was."""
    succeeded_at = health.succeeded_at
    if succeeded_at is None or failing_since is None or succeeded_at >= failing_since:
        return health
    if health.disable_reason is not None:
        return health  # 410 Gone (summarize keeps no other disable beside a success)
    return replace(health, succeeded_at=None, earlier_success=succeeded_at)
