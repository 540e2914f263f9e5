"""What the core tells distributed tracing: a publish request, its fan-out, each attempt.

Off unless configured (docs/operations.md, "Traces"): services and the worker then hold no
`Tracer` at all and skip every call, so an untraced publish or delivery pays one `is None`
test. The OpenTelemetry implementation is hookcast/tracing/otel.py; no module of the core
imports OpenTelemetry.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from hookcast.ports.observers import AttemptReport
from hookcast.ports.queue import ClaimedDelivery


class PublishTrace(Protocol):
    """The span of one publish request, current (the fan-out's parent) until finished."""

    def finish(self, *, status_code: int) -> None:
        """Ends the span with the status the publisher was answered."""


class FanoutTrace(Protocol):
    """The span of one publish's fan-out; its W3C traceparent is kept with the events."""

    @property
    def traceparent(self) -> str:
        """The W3C `traceparent` of this span: attempts of these events are its children."""

    def counted(self, *, events: int, deliveries: int) -> None:
        """What the fan-out stored: new events and the deliveries made for them."""


class AttemptTrace(Protocol):
    """The span of one delivery attempt, a child of its event's fan-out."""

    @property
    def traceparent(self) -> str:
        """The `traceparent` header sent with the attempt, naming this span as the parent of
        whatever the receiver traces."""

    def finish(self, report: AttemptReport | None) -> None:
        """Ends the span with what the attempt led to; None: it was abandoned (shutdown)."""


class Tracer(Protocol):
    """Starts HookCast's spans. Must not block or raise into the caller."""

    def publish_request(self, traceparent: str | None) -> PublishTrace:
        """A publish request's span. `traceparent` is the publisher's header, unchecked: when
        it is a valid W3C traceparent the span is linked to it (or, where the operator trusts
        publishers, continues its trace and follows its sampling decision)."""

    def fanout(self) -> AbstractContextManager[FanoutTrace]:
        """The span of storing a publish's events and deliveries, a child of the current
        span (the request's, if any)."""

    def attempt(self, claimed: ClaimedDelivery) -> AttemptTrace:
        """An attempt's span, a child of the span named by the event's kept traceparent
        (possibly published minutes ago in another process)."""

    def close(self) -> None:
        """Exports what is left and stops; called once, as the process stops."""
