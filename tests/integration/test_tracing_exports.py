"""What /metrics says of the spans the OTLP exporter sent, of those it lost with the
collector down (a real OTLP/HTTP receiver on loopback, then none), and of those dropped
while a collector that stalls held the exporter."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import pytest
from otlp_receiver import OtlpReceiver

from hookcast.metrics import Metrics
from hookcast.tracing.otel import OtelTracer


async def _two_spans_exported(endpoint: str, metrics: Metrics) -> None:
    tracer = OtelTracer.exporting(endpoint, counter=metrics)
    for _ in range(2):
        with tracer.fanout():
            pass
    await asyncio.to_thread(tracer.close)  # exports what is batched, as a process stops


def _spans(metrics: Metrics, result: str) -> float | None:
    return metrics.registry.get_sample_value(
        "hookcast_trace_spans_exported_total", {"result": result}
    )


def _dropped(metrics: Metrics, reason: str) -> float | None:
    labels = {"reason": reason}
    return metrics.registry.get_sample_value("hookcast_trace_spans_dropped_total", labels)


@pytest.mark.timeout(60)
async def test_spans_the_collector_took_and_spans_lost_with_it_down_are_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The exporter gives up on a batch after 1 s of retries rather than 10.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1")
    metrics = Metrics()
    collector = await OtlpReceiver().start()
    endpoint = collector.endpoint + "/v1/traces"
    try:
        await _two_spans_exported(endpoint, metrics)
    finally:
        await collector.close()
    assert len(collector.named("hookcast.fanout")) == 2
    assert (_spans(metrics, "exported"), _spans(metrics, "failed")) == (2, 0)
    await _two_spans_exported(endpoint, metrics)  # nothing listens there now
    assert (_spans(metrics, "exported"), _spans(metrics, "failed")) == (2, 2)


@contextlib.contextmanager
def stalled_collector() -> Iterator[str]:
    """A collector's traces URL whose port takes connections and never answers: the kernel
    accepts them into the listen backlog, nothing reads the requests."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1/traces"


@pytest.mark.timeout(60)
async def test_spans_dropped_while_a_stalled_collector_holds_the_exporter_are_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "2")  # each batch given up in 2 s
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2")
    metrics = Metrics()
    with stalled_collector() as endpoint:
        tracer = OtelTracer.exporting(endpoint, counter=metrics, queue_size=4)
        for _ in range(20):  # in well under the 2 s the first batch's export is held
            with tracer.fanout():
                pass
        # Four wait (one batch of them with the exporter), sixteen could not.
        assert (_dropped(metrics, "queue_full"), _dropped(metrics, "shutdown")) == (16, 0)
        await asyncio.to_thread(tracer.close)
    # Every span is accounted for: the four the exporter gave up on, the sixteen dropped.
    assert (_spans(metrics, "exported"), _spans(metrics, "failed")) == (0, 4)
    with tracer.fanout():  # ended after the tracer closed: lost too
        pass
    assert _dropped(metrics, "shutdown") == 1
