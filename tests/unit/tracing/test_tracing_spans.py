"""The spans HookCast makes (hookcast/tracing/otel.py), kept in memory: whose children they
are, what they say about an attempt, what the receiver's traceparent names, and what a
publisher's traceparent may decide."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio, Sampler
from opentelemetry.trace import SpanKind, StatusCode

from hookcast.domain.models import DeliveryStatus
from hookcast.ports import AttemptReport, ClaimedDelivery
from hookcast.tracing.otel import OtelTracer
from support import factories as make

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


def _tracer(
    spans: InMemorySpanExporter, *, trust_traceparent: bool, sampler: Sampler | None = None
) -> OtelTracer:
    provider = TracerProvider(sampler=sampler)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return OtelTracer(provider, trust_traceparent=trust_traceparent)


@pytest.fixture
def tracer(spans: InMemorySpanExporter) -> OtelTracer:
    """As by default: publishers' traceparents are not trusted."""
    return _tracer(spans, trust_traceparent=False)


@pytest.fixture
def trusting(spans: InMemorySpanExporter) -> OtelTracer:
    """As with HOOKCAST_OTEL_TRUST_TRACEPARENT=true."""
    return _tracer(spans, trust_traceparent=True)


def _claimed(traceparent: str | None, *, attempts: int = 0) -> ClaimedDelivery:
    acme = make.account()
    hook = make.webhook(acme.id)
    event = make.event(acme.id, traceparent=traceparent)
    return ClaimedDelivery.of(
        make.delivery(event, hook.id, attempts=attempts), "lease", event, hook
    )


def _report(claimed: ClaimedDelivery, status: int | None, outcome: DeliveryStatus) -> AttemptReport:
    return AttemptReport(
        delivery_id=claimed.delivery_id,
        event_id=claimed.event_id,
        webhook_id=claimed.webhook.id,
        account_id=claimed.webhook.account_id,
        attempt=claimed.attempts + 1,
        status_code=status,
        latency_ms=12.5,
        outcome=outcome,
        error=None if status == 200 else "HTTP 503",
    )


def _hex(span: ReadableSpan) -> tuple[str, str, str]:
    """Trace id, span id and parent span id ("" for a root), as a traceparent spells them."""
    context, parent = span.context, span.parent
    assert context is not None
    return (
        f"{context.trace_id:032x}",
        f"{context.span_id:016x}",
        "" if parent is None else f"{parent.span_id:016x}",
    )


def test_publish_fanout_and_attempt_are_one_trace_under_a_trusted_publisher(
    trusting: OtelTracer, spans: InMemorySpanExporter
) -> None:
    request = trusting.publish_request(f"00-{TRACE}-{SPAN}-01")
    with trusting.fanout() as fanout:
        fanout.counted(events=1, deliveries=3)
        kept = fanout.traceparent
    request.finish(status_code=202)
    claimed = _claimed(kept)
    attempt = trusting.attempt(claimed)
    sent = attempt.traceparent
    attempt.finish(_report(claimed, 200, DeliveryStatus.SUCCEEDED))

    fanout_span, publish_span, attempt_span = spans.get_finished_spans()
    assert _hex(publish_span)[::2] == (TRACE, SPAN)
    assert publish_span.kind is SpanKind.SERVER
    assert _hex(fanout_span)[2] == _hex(publish_span)[1]
    assert kept == f"00-{TRACE}-{_hex(fanout_span)[1]}-01"
    assert _hex(attempt_span) == (TRACE, sent.split("-")[2], _hex(fanout_span)[1])
    assert attempt_span.kind is SpanKind.CLIENT
    assert (
        dict(attempt_span.attributes or {}).items()
        >= {
            "hookcast.webhook.id": claimed.webhook.id,
            "hookcast.delivery.id": claimed.delivery_id,
            "hookcast.attempt": 1,
            "http.response.status_code": 200,
            "hookcast.outcome": "succeeded",
            "hookcast.latency_ms": 12.5,
        }.items()
    )
    assert attempt_span.status.status_code is StatusCode.UNSET
    assert dict(fanout_span.attributes or {}) == {"hookcast.events": 1, "hookcast.deliveries": 3}


def test_an_untrusted_publishers_span_is_a_link_of_a_trace_of_hookcasts_own(
    tracer: OtelTracer, spans: InMemorySpanExporter
) -> None:
    request = tracer.publish_request(f"00-{TRACE}-{SPAN}-00")  # "do not sample" is not obeyed
    with tracer.fanout() as fanout:
        kept = fanout.traceparent
    request.finish(status_code=202)

    fanout_span, publish_span = spans.get_finished_spans()
    assert publish_span.parent is None
    own_trace = _hex(publish_span)[0]
    assert own_trace != TRACE
    assert [
        (f"{link.context.trace_id:032x}", f"{link.context.span_id:016x}")
        for link in publish_span.links
    ] == [(TRACE, SPAN)]
    version, trace_id, span_id, flags = kept.split("-")
    assert (version, trace_id, span_id) == ("00", own_trace, _hex(fanout_span)[1])
    assert int(flags, 16) & 1  # sampled, as the operator's sampler (by default) decided


# A ratio sampler samples a trace whose id's low 64 bits are under ratio * 2**64: an id a
# publisher picks with low bits of 1 passes even one in a billion.
@pytest.mark.parametrize(
    "traceparent", [f"00-{TRACE}-{SPAN}-01", f"00-{'f' * 16}{'0' * 15}1-{SPAN}-00"]
)
def test_an_untrusted_publisher_cannot_make_the_operators_sampler_export_its_spans(
    spans: InMemorySpanExporter, traceparent: str
) -> None:
    rarely = _tracer(spans, trust_traceparent=False, sampler=ParentBasedTraceIdRatio(1e-9))
    for _ in range(20):
        request = rarely.publish_request(traceparent)
        with rarely.fanout():
            pass
        request.finish(status_code=202)
    assert spans.get_finished_spans() == ()


@pytest.mark.parametrize("header", [None, "", "garbage", f"00-{'0' * 32}-{SPAN}-01", "01-x"])
def test_a_publish_without_a_valid_traceparent_starts_a_trace(
    tracer: OtelTracer, spans: InMemorySpanExporter, header: str | None
) -> None:
    tracer.publish_request(header).finish(status_code=202)
    (publish,) = spans.get_finished_spans()
    assert publish.parent is None


def test_a_failed_attempt_is_an_error_with_its_reason(
    tracer: OtelTracer, spans: InMemorySpanExporter
) -> None:
    claimed = _claimed(None, attempts=2)
    tracer.attempt(claimed).finish(_report(claimed, 503, DeliveryStatus.PENDING))
    (span,) = spans.get_finished_spans()
    assert span.parent is None  # its event was published untraced
    assert (span.status.status_code, span.status.description) == (StatusCode.ERROR, "HTTP 503")
    assert (span.attributes or {})["hookcast.outcome"] == "retrying"
    assert (span.attributes or {})["hookcast.attempt"] == 3


def test_an_abandoned_attempt_ends_as_an_error(
    tracer: OtelTracer, spans: InMemorySpanExporter
) -> None:
    tracer.attempt(_claimed(None)).finish(None)
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert "abandoned" in (span.status.description or "")


def test_an_unsampled_trusted_publisher_gets_no_spans_but_its_trace_reaches_the_receiver(
    trusting: OtelTracer, spans: InMemorySpanExporter
) -> None:
    request = trusting.publish_request(f"00-{TRACE}-{SPAN}-00")
    with trusting.fanout() as fanout:
        kept = fanout.traceparent
    request.finish(status_code=202)
    attempt = trusting.attempt(_claimed(kept))
    attempt.finish(None)

    assert spans.get_finished_spans() == ()
    version, trace_id, _span, flags = attempt.traceparent.split("-")
    assert (version, trace_id, flags) == ("00", TRACE, "00")


def test_a_server_error_marks_the_publish_span(
    tracer: OtelTracer, spans: InMemorySpanExporter
) -> None:
    tracer.publish_request(None).finish(status_code=400)
    tracer.publish_request(None).finish(status_code=503)
    refused, failed = spans.get_finished_spans()
    assert refused.status.status_code is StatusCode.UNSET  # the publisher's mistake
    assert failed.status.status_code is StatusCode.ERROR
