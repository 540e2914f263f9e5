"""Traces from publish to the receiver, through real processes: `hookcast serve --no-worker`
and a separate `hookcast worker` export their spans over OTLP/HTTP to a loopback receiver
that decodes the protobuf. A trusted publisher's trace continues through the publish request,
its fan-out and every attempt, and the receiver gets a `traceparent` naming the attempt's
span; an untrusted one's is only linked, and its sampled flag decides nothing."""

from __future__ import annotations

import secrets
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from delivery_harness import Deployment, ServerProcess, processes, require_sqlite
from otlp_receiver import OtlpReceiver, ReceivedSpan
from receivers import Received, answer, first_then

from support.waiting import eventually

# Spans leave each process within 50 ms instead of the SDK's 5 s.
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "50"}


@pytest.fixture
async def collector() -> AsyncIterator[OtlpReceiver]:
    receiver = await OtlpReceiver().start()
    try:
        yield receiver
    finally:
        await receiver.close()


def _only(spans: list[ReceivedSpan], what: str) -> ReceivedSpan:
    assert len(spans) == 1, f"{len(spans)} {what} spans: {spans}"
    return spans[0]


async def _publish(server: ServerProcess, key: str, event: dict[str, str], **headers: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10, trust_env=False) as client:
        response = await client.post(
            "/v2/events/", json=event, headers={"Authorization": f"Bearer {key}", **headers}
        )
    assert response.status_code == 202, response.text


@pytest.mark.timeout(90)
async def test_a_trusted_publishers_trace_continues_through_every_attempt_to_the_receiver(
    database_url: str, tmp_path: Path, collector: OtlpReceiver
) -> None:
    require_sqlite(database_url)  # the traceparent column is contract-tested on both
    publisher_trace, publisher_span = secrets.token_hex(16), secrets.token_hex(8)
    async with (
        Deployment.open(database_url) as hookcast,
        processes(database_url, tmp_path, **FAST_EXPORT) as procs,
    ):
        flaky = await hookcast.receiver(first_then(answer(503), answer(200)))
        hook = await hookcast.hook_for(flaky, retry_policy=[0.1])
        # HookCast's own variable for the API server, the standard one for the worker.
        api = procs.serve(
            "--no-worker",
            HOOKCAST_OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint,
            HOOKCAST_OTEL_TRUST_TRACEPARENT="true",
        )
        await api.wait_ready()
        event = {"event": "media_available", "media_id": "MNYaMSQl", "site_id": hookcast.site_id}
        await _publish(
            api, hookcast.admin_key, event, traceparent=f"00-{publisher_trace}-{publisher_span}-01"
        )
        procs.worker(OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint)
        (failed, succeeded) = await flaky.wait_for(2, timeout=30)
        await eventually(
            lambda: len(collector.named("deliver ")) >= 2,
            timeout=30,
            message=lambda: f"spans so far: {[span.name for span in collector.spans]}",
        )

    publish = _only(collector.named("POST /v2/events/"), "publish")
    fanout = _only(collector.named("hookcast.fanout"), "fan-out")
    attempts = sorted(
        collector.named("deliver "), key=lambda span: span.attributes["hookcast.attempt"]
    )
    # One trace, the publisher's: its span is the publish request's parent.
    assert {span.trace_id for span in (publish, fanout, *attempts)} == {publisher_trace}
    assert (publish.kind, publish.parent_span_id) == ("SERVER", publisher_span)
    assert publish.attributes["http.response.status_code"] == 202
    assert fanout.parent_span_id == publish.span_id
    assert fanout.attributes["hookcast.deliveries"] == 1
    # Each attempt, made by the other process, is a child of the fan-out.
    for number, (span, status, outcome) in enumerate(
        [(attempts[0], 503, "retrying"), (attempts[1], 200, "succeeded")], start=1
    ):
        assert span.kind == "CLIENT"
        assert span.parent_span_id == fanout.span_id
        assert span.attributes["hookcast.webhook.id"] == hook["id"]
        assert span.attributes["hookcast.attempt"] == number
        assert span.attributes["http.response.status_code"] == status
        assert span.attributes["hookcast.outcome"] == outcome
        assert span.attributes["hookcast.latency_ms"] > 0
    assert [span.status_code for span in attempts] == ["ERROR", "UNSET"]
    # The receiver's tracing continues the same trace, under the attempt that reached it.
    for received, span in ((failed, attempts[0]), (succeeded, attempts[1])):
        assert received.headers["traceparent"] == f"00-{publisher_trace}-{span.span_id}-01"
    assert succeeded.verified  # the header is outside every signature
    assert {span.service_name for span in collector.spans} == {"hookcast"}


async def _publish_through_a_serve(
    database_url: str, tmp_path: Path, collector: OtlpReceiver, traceparent: str, **env: str
) -> Received:
    """One event published with `traceparent` through a `hookcast serve` (its worker too)
    exporting to `collector`, delivered, and the process stopped: every span it made has
    been exported by then."""
    async with (
        Deployment.open(database_url) as hookcast,
        processes(database_url, tmp_path, **FAST_EXPORT) as procs,
    ):
        receiver = await hookcast.receiver(answer(200))
        await hookcast.hook_for(receiver)
        server = procs.serve(OTEL_EXPORTER_OTLP_ENDPOINT=collector.endpoint, **env)
        await server.wait_ready()
        event = {"event": "media_available", "media_id": "MNYaMSQl", "site_id": hookcast.site_id}
        await _publish(server, hookcast.admin_key, event, traceparent=traceparent)
        (received,) = await receiver.wait_for(1, timeout=30)
        await server.stop()  # SIGTERM: exports what is still batched
        assert server.process.returncode in (0, -signal.SIGTERM), server.log_tail()
    return received


@pytest.mark.timeout(90)
async def test_an_untrusted_publishers_trace_is_linked_from_a_trace_of_hookcasts_own(
    database_url: str, tmp_path: Path, collector: OtlpReceiver
) -> None:
    require_sqlite(database_url)
    publisher_trace, publisher_span = secrets.token_hex(16), secrets.token_hex(8)
    # "Do not sample" from the publisher: the operator's sampler (the default) samples anyway.
    received = await _publish_through_a_serve(
        database_url, tmp_path, collector, f"00-{publisher_trace}-{publisher_span}-00"
    )

    publish = _only(collector.named("POST /v2/events/"), "publish")
    attempt = _only(collector.named("deliver "), "attempt")
    assert (publish.parent_span_id, publish.links) == ("", ((publisher_trace, publisher_span),))
    assert publish.trace_id != publisher_trace
    assert {span.trace_id for span in collector.spans} == {publish.trace_id}
    assert received.headers["traceparent"].split("-")[1:3] == [publish.trace_id, attempt.span_id]


@pytest.mark.timeout(90)
async def test_an_untrusted_publishers_sampled_flag_exports_nothing_past_the_operators_ratio(
    database_url: str, tmp_path: Path, collector: OtlpReceiver
) -> None:
    require_sqlite(database_url)
    publisher_trace = secrets.token_hex(16)
    received = await _publish_through_a_serve(
        database_url,
        tmp_path,
        collector,
        f"00-{publisher_trace}-{secrets.token_hex(8)}-01",
        OTEL_TRACES_SAMPLER="parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG="0",
    )

    assert collector.spans == []
    # The receiver is still told of the (unsampled) attempt, in HookCast's trace.
    _version, trace_id, _span, flags = received.headers["traceparent"].split("-")
    assert trace_id != publisher_trace
    assert not int(flags, 16) & 1
