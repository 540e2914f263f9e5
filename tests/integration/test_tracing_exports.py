"""What /metrics says of the spans the OTLP exporter sent, and of those it lost with the
collector down (a real OTLP/HTTP receiver on loopback, then none)."""

from __future__ import annotations

import asyncio

import pytest
from otlp_receiver import OtlpReceiver

from hookcast.metrics import Metrics
from hookcast.tracing.otel import OtelTracer


async def _two_spans_exported(endpoint: str, metrics: Metrics) -> None:
    tracer = OtelTracer.exporting(endpoint, on_exported=metrics.on_spans_exported)
    for _ in range(2):
        with tracer.fanout():
            pass
    await asyncio.to_thread(tracer.close)  # exports what is batched, as a process stops


def _spans(metrics: Metrics, result: str) -> float | None:
    return metrics.registry.get_sample_value(
        "hookcast_trace_spans_exported_total", {"result": result}
    )


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
