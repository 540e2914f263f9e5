"""The send boundary: building, signing and sending one request, with every exception on the
way turned into an outcome (as httpx maps transport errors once): `build` for the request,
and the worker's one `try` around `Sender.send`, whose exception `send_failed` makes an
outcome of.

A delivery whose request cannot be built (data orjson refuses to serialise) or whose send
fails unexpectedly (a URL the client cannot encode, a bug) is then an attempt recorded as a
failure with its reason, retried as its policy says; not a lease lost and re-claimed every
`lease_seconds` for ever. Cancellation (a worker shutting down) still propagates: it is a
BaseException, not an outcome.

Why the send's `try` is the worker's and not a coroutine here: each coroutine between the
worker and the socket is a frame made, and resumed on every wake-up, per delivery
(docs/benchmarks/embedded-delivery.md, seventh pass on target 3).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from hookcast.delivery.attempt import prepare
from hookcast.ports import ClaimedDelivery, OutboundRequest, SendOutcome

_log = logging.getLogger("hookcast.worker")
_REASON_LIMIT = 200  # characters of the exception's message kept in the attempt's error


def build(
    claimed: ClaimedDelivery, *, started_at: datetime, traceparent: str | None = None
) -> tuple[OutboundRequest, SendOutcome | None]:
    """The request for `claimed` (signed at `started_at`, with `traceparent` if tracing),
    and None; or, if it could not be built, a stand-in with no body or headers and the
    outcome that says why (nothing is sent then)."""
    try:
        return prepare(claimed, started_at, traceparent=traceparent), None
    except Exception as error:
        return _unsent(claimed), _failed(
            "the request could not be built", error, claimed=claimed, latency_ms=0.0
        )


def send_failed(claimed: ClaimedDelivery, error: Exception, *, began: float) -> SendOutcome:
    """The outcome of a send that raised `error` (`began`: `time.perf_counter()` before it)."""
    latency_ms = (time.perf_counter() - began) * 1000
    return _failed("the request could not be sent", error, claimed=claimed, latency_ms=latency_ms)


def _failed(
    what: str, error: Exception, *, claimed: ClaimedDelivery, latency_ms: float
) -> SendOutcome:
    # The traceback goes to the log once, for whoever fixes the cause; the attempt keeps a
    # short reason that the webhook's owner reads in the delivery's log.
    _log.error(
        "%s: delivery_id=%s webhook_id=%s",
        what,
        claimed.delivery_id,
        claimed.webhook.id,
        exc_info=error,
    )
    reason = f"{what}: {type(error).__name__}: {error}"[:_REASON_LIMIT]
    return SendOutcome(status_code=None, latency_ms=latency_ms, error=reason)


def _unsent(claimed: ClaimedDelivery) -> OutboundRequest:
    """Stands for a request that was never built: no body and no headers to record."""
    webhook = claimed.webhook
    return OutboundRequest(
        url=webhook.webhook_url,
        body=b"",
        headers={},
        timeout_seconds=float(webhook.timeout_seconds),
    )
