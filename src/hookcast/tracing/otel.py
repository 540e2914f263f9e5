"""The `Tracer` port on OpenTelemetry's SDK, exporting spans over OTLP/HTTP (protobuf).

Spans: the publish request (SERVER, a new trace linked to the publisher's `traceparent`, or
continuing it where the operator trusts publishers: HOOKCAST_OTEL_TRUST_TRACEPARENT), its fan-out
(INTERNAL, whose context is kept with the events), and each delivery attempt (CLIENT, the
fan-out's child, whose context is the `traceparent` header the receiver gets). The SDK reads
the standard OTEL_* variables itself: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, the
sampler (OTEL_TRACES_SAMPLER, by default: follow the parent, sample new traces), the batch
processor's OTEL_BSP_* and the exporter's headers, timeout, compression and certificates.

What the exporter did with each batch (sent, or given up on: the collector down or refusing)
is told to a `SpanCounter` (metrics: hookcast_trace_spans_exported_total), and so is each
span dropped before the exporter saw it (hookcast_trace_spans_dropped_total): the batch
processor says of the spans it drops from a full queue nothing but a WARNING line (its own
metrics of them are on only under OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED, through an
OpenTelemetry meter provider, which HookCast does not run), so HookCast bounds the spans it
hands the processor itself, and counts those it holds back (`_Admission`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import Token
from typing import Protocol

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from hookcast.domain.formats import format_of
from hookcast.domain.models import DeliveryStatus
from hookcast.ports import AttemptReport, ClaimedDelivery

__all__ = ["QUEUE_SIZE", "OtelTracer", "SpanCounter", "traceparent_of"]

# The SDK's default OTEL_BSP_MAX_QUEUE_SIZE.
QUEUE_SIZE = 2048


class SpanCounter(Protocol):
    """Told what became of the spans HookCast ended (on the exporter's thread, or on the
    thread that ended a span)."""

    def on_spans_exported(self, spans: int, sent: bool) -> None:
        """A batch of `spans` the exporter was handed: sent, or given up on (lost)."""

    def on_spans_dropped(self, spans: int, reason: str) -> None:
        """Spans lost before the exporter saw them: "queue_full" (more waiting than the
        queue holds: a collector slower than the span rate) or "shutdown" (ended after the
        tracer closed)."""


_PROPAGATOR = TraceContextTextMapPropagator()
_PUBLISH_ROUTE = "/v2/events/"


class OtelTracer:
    """HookCast's spans on one TracerProvider of its own (never the global one, so that a
    host application's tracing, or a test's, is left alone).

    `trust_traceparent`: a publisher's `traceparent` is continued, its sampled flag followed.
    Otherwise (a shared deployment's publishers are not the operator's) the publish starts a
    trace of HookCast's own, linked to the publisher's span: a publisher's flag would decide
    what the operator's sampler exports, and a ratio sampler reads the trace id, which the
    publisher chose too."""

    def __init__(self, provider: TracerProvider, *, trust_traceparent: bool = False) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer("hookcast")
        self._trust_traceparent = trust_traceparent

    @classmethod
    def exporting(
        cls,
        endpoint: str,
        *,
        trust_traceparent: bool = False,
        counter: SpanCounter | None = None,
        queue_size: int = QUEUE_SIZE,
    ) -> OtelTracer:
        """A tracer batching its spans to the OTLP/HTTP `endpoint` (the full traces URL), at
        most `queue_size` waiting (OTEL_BSP_MAX_QUEUE_SIZE), telling `counter` what became
        of them."""
        provider = TracerProvider(resource=_resource())
        admission = _Admission(queue_size, counter or _NOT_COUNTED)
        exporter = _Counted(OTLPSpanExporter(endpoint=endpoint), admission)
        batches = BatchSpanProcessor(exporter, max_queue_size=queue_size)
        provider.add_span_processor(_Admitted(batches, admission))
        return cls(provider, trust_traceparent=trust_traceparent)

    def publish_request(self, traceparent: str | None) -> _RequestTrace:
        publisher = _parent(traceparent)
        parent, links = (
            (publisher, []) if self._trust_traceparent else (Context(), _link(publisher))
        )
        span = self._tracer.start_span(
            f"POST {_PUBLISH_ROUTE}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": "POST", "http.route": _PUBLISH_ROUTE},
            links=links,
        )
        # Current until finished, so the fan-out below is its child.
        token = context.attach(trace.set_span_in_context(span, parent))
        return _RequestTrace(span, token)

    @contextmanager
    def fanout(self) -> Iterator[_FanoutTrace]:
        with self._tracer.start_as_current_span("hookcast.fanout") as span:
            yield _FanoutTrace(span)

    def attempt(self, claimed: ClaimedDelivery) -> _AttemptTrace:
        webhook = claimed.webhook
        name = format_of(webhook).event_name(claimed.type)
        span = self._tracer.start_span(
            f"deliver {name}",
            context=_parent(claimed.traceparent),
            kind=SpanKind.CLIENT,
            # Ids only, as in the attempt's log line: never the URL, which may hold a token.
            attributes={
                "http.request.method": "POST",
                "hookcast.webhook.id": webhook.id,
                "hookcast.delivery.id": claimed.delivery_id,
                "hookcast.event.id": claimed.event_id,
                "hookcast.event.type": name,
                "hookcast.attempt": claimed.attempts + 1,
            },
        )
        return _AttemptTrace(span)

    def close(self) -> None:
        # Exports the spans still batched (bounded by the exporter's timeout).
        self._provider.shutdown()


class _NotCounted:
    def on_spans_exported(self, spans: int, sent: bool) -> None:
        pass

    def on_spans_dropped(self, spans: int, reason: str) -> None:
        pass


_NOT_COUNTED = _NotCounted()


class _Admission:
    """How many spans were handed to the batch processor and have not left its exporter:
    at most `capacity`, so its own queue (of that capacity) is never full and never drops
    one uncounted. A span over it is dropped here, and counted. A batch being exported is
    still counted, so under a stalled collector up to a batch fewer wait than the
    processor alone would keep; its queue dropped the oldest span, this the newest."""

    def __init__(self, capacity: int, counter: SpanCounter) -> None:
        self.counter = counter
        self._capacity = capacity
        self._held = 0
        self._lock = threading.Lock()  # spans end on any thread; batches leave on another
        self.closed = False

    def admit(self) -> bool:
        """Whether one more span may be handed on; counted as dropped if not."""
        with self._lock:
            admitted = not self.closed and self._held < self._capacity
            self._held += admitted
        if not admitted:
            self.counter.on_spans_dropped(1, "shutdown" if self.closed else "queue_full")
        return admitted

    def left(self, spans: int, sent: bool) -> None:
        """A batch of `spans` left the exporter: `sent`, or lost."""
        with self._lock:
            self._held -= spans
        self.counter.on_spans_exported(spans, sent)


class _Admitted(SpanProcessor):
    """`batches`, handed only the sampled spans `admission` lets through (it exports no
    other: BatchSpanProcessor's on_end skips the unsampled)."""

    def __init__(self, batches: BatchSpanProcessor, admission: _Admission) -> None:
        self._batches = batches
        self._admission = admission

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._batches.on_start(span, parent_context)  # type: ignore[arg-type]

    def on_end(self, span: ReadableSpan) -> None:
        if span.context is None or not span.context.trace_flags.sampled:
            return
        if self._admission.admit():
            self._batches.on_end(span)

    def shutdown(self) -> None:
        self._admission.closed = True  # a span ended from now on is lost: counted so
        self._batches.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._batches.force_flush(timeout_millis)


class _Counted(SpanExporter):
    """`exporter`, telling `admission` of each batch that leaves it: the batch processor
    drops what its exporter returns (a failure, after the OTLP exporter's own retries, is a
    lost batch)."""

    def __init__(self, exporter: SpanExporter, admission: _Admission) -> None:
        self._exporter = exporter
        self._admission = admission

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = SpanExportResult.FAILURE
        try:
            result = self._exporter.export(spans)
        finally:  # an exception (logged by the processor) loses the batch too
            self._admission.left(len(spans), result is SpanExportResult.SUCCESS)
        return result

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


class _RequestTrace:
    def __init__(self, span: Span, token: Token[Context]) -> None:
        self._span = span
        self._token = token

    def finish(self, *, status_code: int) -> None:
        self._span.set_attribute("http.response.status_code", status_code)
        if status_code >= 500:  # a 4xx is the publisher's mistake, not a failed request
            self._span.set_status(Status(StatusCode.ERROR))
        self._span.end()
        context.detach(self._token)


class _FanoutTrace:
    def __init__(self, span: Span) -> None:
        self._span = span

    @property
    def traceparent(self) -> str:
        return traceparent_of(self._span)

    def counted(self, *, events: int, deliveries: int) -> None:
        self._span.set_attributes({"hookcast.events": events, "hookcast.deliveries": deliveries})


class _AttemptTrace:
    def __init__(self, span: Span) -> None:
        self._span = span

    @property
    def traceparent(self) -> str:
        return traceparent_of(self._span)

    def finish(self, report: AttemptReport | None) -> None:
        span = self._span
        if report is None:
            span.set_status(Status(StatusCode.ERROR, "abandoned: the worker stopped"))
        else:
            span.set_attributes(
                {"hookcast.outcome": report.outcome_name, "hookcast.latency_ms": report.latency_ms}
            )
            if report.status_code is not None:
                span.set_attribute("http.response.status_code", report.status_code)
            if report.outcome is not DeliveryStatus.SUCCEEDED:
                span.set_status(Status(StatusCode.ERROR, report.error or report.outcome_name))
        span.end()


def traceparent_of(span: Span) -> str:
    """The W3C `traceparent` (version 00) naming `span`."""
    found = span.get_span_context()
    return f"00-{found.trace_id:032x}-{found.span_id:016x}-{int(found.trace_flags):02x}"


def _parent(traceparent: str | None) -> Context:
    """The context a `traceparent` names; an empty one (a new trace) when it is missing or
    not a valid W3C traceparent. Never the ambient context: each span's parent is explicit."""
    if traceparent is None:
        return Context()
    return _PROPAGATOR.extract({"traceparent": traceparent}, context=Context())


def _link(publisher: Context) -> list[Link]:
    """A link to the publisher's span, when it named a valid one: the sampler reads no flag
    of a link, a trace backend shows the way back to the publisher's trace."""
    found = trace.get_current_span(publisher).get_span_context()
    return [Link(found)] if found.is_valid else []


def _resource() -> Resource:
    detected = Resource.create()  # OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
    name = str(detected.attributes.get(SERVICE_NAME, ""))
    if name and not name.startswith("unknown_service"):
        return detected
    return detected.merge(Resource({SERVICE_NAME: "hookcast"}))
