"""The pure steps around a send: prepare the signed request, conclude from the outcome; and
`expire`, which concludes without a send when the event outlived its time-to-live."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from hookcast.domain.catalog import OPERATIONAL_EVENTS
from hookcast.domain.formats import Format, format_of
from hookcast.domain.freshness import expired_by
from hookcast.domain.health import HealthSignal
from hookcast.domain.models import ERROR_EXCERPT, Attempt, DeliveryStatus, LastError, Webhook
from hookcast.domain.ordering import sequence_headers
from hookcast.domain.retry import (
    Completed,
    GiveUp,
    OutcomeKind,
    RetryAt,
    classify,
    decide,
    disable_warning,
    failing_too_long,
    parse_retry_after,
)
from hookcast.domain.signing import redact_headers
from hookcast.domain.storable import storable_text
from hookcast.ports import (
    LARGE_BODY,
    AttemptReport,
    ClaimedDelivery,
    DeliveryResult,
    OutboundRequest,
    SendOutcome,
)


@dataclass(slots=True)  # not frozen: made per delivery, and a frozen __init__ costs ~3x
class Concluded:
    result: DeliveryResult
    health: HealthSignal
    kind: OutcomeKind
    report: AttemptReport  # what metrics and the attempt's log line see
    # False: `health` is not applied to the webhook. Concluded without a request (expired),
    # it says nothing about the endpoint; the delivery of a notice (webhook_failing, ...)
    # raises no notice, so two webhooks watching each other cannot keep telling each other
    # of failures and recoveries their own notices' deliveries made (docs/operations.md),
    # unless it answered 410 Gone, which disables its webhook as any delivery's does.
    applies: bool = True


def expire(claimed: ClaimedDelivery, now: datetime) -> Concluded | None:
    """The delivery's end without a send if its event is older than the webhook's
    time-to-live for its type (domain/freshness.py): EXPIRED, logged as an attempt with no
    request that says why. None if it may be sent."""
    limit = expired_by(claimed.webhook, claimed, now)
    if limit is None:
        return None
    name = format_of(claimed.webhook).event_name(claimed.type)
    age = int((now - claimed.event_time).total_seconds())
    error = (
        f"expired, not sent: the event was {age} s old, over this webhook's "
        f"max_age_seconds for {name} ({limit} s)"
    )
    number = claimed.attempts + 1
    attempt = Attempt(
        delivery_id=claimed.delivery_id,
        number=number,
        started_at=now,
        request_headers={},
        status_code=None,
        latency_ms=0.0,
        response_body="",
        error=error,
    )
    result = DeliveryResult(
        delivery_id=claimed.delivery_id,
        lease_token=claimed.lease_token,
        attempt=attempt,
        status=DeliveryStatus.EXPIRED,
        next_attempt_at=None,
        completed_at=now,
        created=claimed.created,
        row=claimed.row,
    )
    report = AttemptReport(
        delivery_id=claimed.delivery_id,
        event_id=claimed.event_id,
        webhook_id=claimed.webhook.id,
        account_id=claimed.webhook.account_id,
        attempt=number,
        status_code=None,
        latency_ms=0.0,
        outcome=DeliveryStatus.EXPIRED,
        error=error,
    )
    unsent = HealthSignal(webhook_id=claimed.webhook.id, at=now, succeeded=False)
    return Concluded(
        result=result, health=unsent, kind=OutcomeKind.FAILURE, report=report, applies=False
    )


def prepare(
    claimed: ClaimedDelivery, now: datetime, *, traceparent: str | None = None
) -> OutboundRequest:
    """The exact request: the body is the same on every attempt; the timestamp and
    signatures are fresh for each attempt. `traceparent`, when tracing, names the attempt's
    span to the receiver (W3C Trace Context); no signature covers it.

    `webhook-id` is the delivery id: Standard Webhooks receivers dedupe on it, so it must be
    stable across retries of one delivery yet differ between two webhooks that receive the
    same event (both may point at one endpoint). The webhook's format (domain/formats)
    renders the body and signs it.
    """
    webhook = claimed.webhook
    wire = format_of(webhook)
    body = _exact(
        orjson.dumps(wire.body(claimed, webhook_id=webhook.id, delivery_id=claimed.delivery_id))
    )
    secrets = wire.signing_secrets(webhook, now)
    if not secrets:
        # Fan-out holds these; reaching here means the secret was cleared since.
        raise ValueError(f"the {wire.title} format's signing secret is not set")
    sign = None
    if len(body) > LARGE_BODY:  # signed when written: see _signed_when_written
        headers: dict[str, str] = {}
        sign = functools.partial(
            _signed_when_written, headers, claimed, wire, body, secrets, now, traceparent
        )
    else:
        headers = _headers(claimed, wire, body, secrets, now, traceparent)
    return OutboundRequest(
        url=webhook.webhook_url,
        body=body,
        headers=headers,
        timeout_seconds=float(webhook.timeout_seconds),
        client_certificate=webhook.client_certificate,
        account_id=webhook.account_id,
        sign=sign,
    )


def _headers(
    claimed: ClaimedDelivery,
    wire: Format,
    body: bytes,
    secrets: tuple[str, ...],
    now: datetime,
    traceparent: str | None,
) -> dict[str, str]:
    webhook = claimed.webhook
    headers = wire.headers(
        body,
        msg_id=claimed.delivery_id,
        timestamp=int(now.timestamp()),
        webhook_id=webhook.id,
        secrets=secrets,
    )
    headers.update(sequence_headers(claimed))
    if traceparent is not None:
        headers["traceparent"] = traceparent
    if webhook.headers:  # the customer's own (domain/custom_headers.py: none collide)
        headers.update(webhook.headers)
    return headers


def _signed_when_written(
    logged: dict[str, str],
    claimed: ClaimedDelivery,
    wire: Format,
    body: bytes,
    secrets: tuple[str, ...],
    now: datetime,
    traceparent: str | None,
) -> dict[str, str]:
    """The headers of a large body's request (over LARGE_BODY), the same on every call
    (`now` is the attempt's); `logged` filled, once, with what the attempt's log keeps of
    them. Made when the request is written and let go with its bytes: JW Player's JWT
    carries the body again in base64 (339 KB for a 254 KB body), held beside it for as long
    as the delivery was under way, 2 s and more at a slow receiver. A small body's headers
    are a few hundred bytes, made at once (a call fewer)."""
    headers = _headers(claimed, wire, body, secrets, now, traceparent)
    if not logged:
        logged.update(redact_headers(headers, also=_secret_headers(claimed.webhook, wire)))
    return headers


# orjson sizes its output for the longest escaped form of every string (up to ~8 bytes a
# character) and hands that whole allocation back: a 254 KB body held 2 MB of the heap for
# as long as its delivery was in flight (tracemalloc; 183 in flight held 362 MB). The heap
# then reused those mostly untouched megabytes for other objects, and a `serve` sending
# 380 such deliveries grew to 0.8-1.2 GB. A copy of the exact size costs ~20 µs per 254 KB,
# made for a large body (over LARGE_BODY) only.


def _exact(body: bytes) -> bytes:
    """`body` in an allocation of its own size, when it is large enough to matter."""
    return bytes(memoryview(body)) if len(body) > LARGE_BODY else body


def conclude(
    claimed: ClaimedDelivery,
    *,
    request: OutboundRequest,
    outcome: SendOutcome,
    started_at: datetime,
    now: datetime,
    jitter_sample: float,
    disable_after: timedelta,
    warn_before: timedelta = timedelta(hours=24),
) -> Concluded:
    """Records the attempt and decides what happens next, as data.

    A success (nearly every attempt) takes the short way: it completes the delivery, needs
    no retry decision, no Retry-After and no disable reckoning, and has no error unless the
    client noted one beside its status; each step skipped is a call per delivery."""
    number = claimed.attempts + 1
    webhook = claimed.webhook
    wire = format_of(webhook)
    status_code = outcome.status_code
    error = outcome.error
    since = webhook.failing_since
    disable_at = None
    if status_code is not None and wire.success_from <= status_code < 300:
        kind = OutcomeKind.SUCCESS
        status, next_at, disable, reckoned = DeliveryStatus.SUCCEEDED, None, None, False
    else:
        kind = classify(status_code, error, success_from=wire.success_from)
        decision = decide(
            webhook.retry_policy,
            attempts_made=number,
            outcome=kind,
            retry_after=parse_retry_after(outcome.retry_after, now),
            now=now,
            jitter_sample=jitter_sample,
        )
        status, next_at, disable = _next_state(decision)
        if error is None:
            error = _error(status_code, kind)
        reckoned = disable is None
        if reckoned:
            disable = failing_too_long(failing_since=since, now=now, threshold=disable_after)
            disable_at = disable_warning(
                failing_since=since, now=now, threshold=disable_after, warn_before=warn_before
            )
    if error is not None:
        error = storable_text(error)
    delivery_id = claimed.delivery_id
    if request.sign is not None and not request.headers:
        # Never written (no connection): logged as it would have been sent. Signing may
        # fail (a secret that cannot sign): written, the send failed on it (boundary.py);
        # raised here, past the send's boundary, the outcome was never recorded and the
        # delivery waited for its lease to expire, each attempt again.
        with contextlib.suppress(Exception):
            request.sign()
    attempt = Attempt(
        delivery_id=delivery_id,
        number=number,
        started_at=started_at,
        request_headers=redact_headers(request.headers, also=_secret_headers(webhook, wire)),
        status_code=status_code,
        latency_ms=outcome.latency_ms,
        # The one place a response reaches what is stored: made storable here.
        response_body=storable_text(outcome.response_body),
        error=error,
    )
    result = DeliveryResult(
        delivery_id=delivery_id,
        lease_token=claimed.lease_token,
        attempt=attempt,
        status=status,
        next_attempt_at=next_at,
        completed_at=now if status is not DeliveryStatus.PENDING else None,
        created=claimed.created,
        row=claimed.row,
    )
    if kind is OutcomeKind.SUCCESS:
        health = HealthSignal(webhook_id=webhook.id, at=now, succeeded=True)
    else:
        health = HealthSignal(
            webhook_id=webhook.id,
            at=now,
            succeeded=False,
            disable_reason=disable,
            gone=kind is OutcomeKind.GONE,
            error=_last_error(attempt, now),
            retry_at=next_at,
            disable_at=disable_at,
            streak_since=since if reckoned and (disable or disable_at) else None,
            sent_at=started_at,
        )
    report = AttemptReport(
        delivery_id=delivery_id,
        event_id=claimed.event_id,
        webhook_id=webhook.id,
        account_id=webhook.account_id,
        attempt=number,
        status_code=status_code,
        latency_ms=outcome.latency_ms,
        outcome=status,
        error=error,
    )
    # A 410 Gone applies all the same: the receiver asked for nothing more, and a disable,
    # which ends the webhook's deliveries, can start no loop between watchers.
    applies = kind is OutcomeKind.GONE or claimed.type not in OPERATIONAL_EVENTS
    return Concluded(result=result, health=health, kind=kind, report=report, applies=applies)


def _secret_headers(webhook: Webhook, wire: Format) -> frozenset[str]:
    """The lowercase names whose values the delivery log must not show: the format's
    signatures and, if the webhook has any, its custom headers (their values are secrets)."""
    custom = webhook.headers
    if not custom:
        return wire.signature_headers
    return _with_custom(wire.signature_headers, tuple(custom))


@functools.lru_cache(maxsize=1024)
def _with_custom(signatures: frozenset[str], custom: tuple[str, ...]) -> frozenset[str]:
    # Kept per set of names: a new frozenset per delivery was hashed again on every lookup.
    return signatures | {name.lower() for name in custom}


def _last_error(attempt: Attempt, now: datetime) -> LastError:
    return LastError(
        at=now,
        status_code=attempt.status_code,
        error=attempt.error or f"HTTP {attempt.status_code}",
        body=attempt.response_body[:ERROR_EXCERPT],
    )


def _next_state(
    decision: Completed | RetryAt | GiveUp,
) -> tuple[DeliveryStatus, datetime | None, str | None]:
    if isinstance(decision, Completed):
        return DeliveryStatus.SUCCEEDED, None, None
    if isinstance(decision, RetryAt):
        return DeliveryStatus.PENDING, decision.at, None
    return DeliveryStatus.FAILED, None, decision.disable_webhook


def _error(status_code: int | None, kind: OutcomeKind) -> str | None:
    """The error of an attempt that was not a success and whose send noted none."""
    if kind is OutcomeKind.REDIRECT:
        return f"redirect ({status_code}) not followed"
    if kind is OutcomeKind.SUCCESS:
        return None
    return f"HTTP {status_code}"
