"""What /metrics counts for requests the API refuses, and what it says of the database's
writes."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import generate_latest

from hookcast.delivery.outage import Outage
from hookcast.domain.errors import Unreachable
from hookcast.metrics import Metrics


def _refused(metrics: Metrics, api: str, status: str, reason: str) -> float | None:
    labels = {"api": api, "status": status, "reason": reason}
    return metrics.registry.get_sample_value("hookcast_api_refused_total", labels)


@pytest.mark.parametrize(
    ("status", "label", "reason"),
    [
        (400, "400", "invalid"),
        (413, "413", "invalid"),
        (401, "401", "unauthenticated"),
        (403, "403", "forbidden"),
        (404, "404", "not_found"),
        (409, "409", "conflict"),
        (429, "429", "rate_limited"),
        (500, "500", "internal_error"),
        (503, "503", "unavailable"),
        (418, "4xx", "other"),  # a status the API does not make: still a bounded label
        (502, "5xx", "other"),
    ],
)
def test_a_refusal_is_counted_by_api_status_and_reason(
    status: int, label: str, reason: str
) -> None:
    metrics = Metrics()
    metrics.on_refused("publish", status)
    metrics.on_refused("publish", status)
    assert _refused(metrics, "publish", label, reason) == 2
    assert _refused(metrics, "management", label, reason) in (None, 0)


def test_the_alerted_refusals_are_exported_before_the_first() -> None:
    # increase() over a series that appears at 1 misses that first refusal.
    metrics = Metrics()
    for api in ("publish", "management", "apivideo"):
        assert _refused(metrics, api, "503", "unavailable") == 0
        assert _refused(metrics, api, "429", "rate_limited") == 0


def test_not_writable_from_a_failed_call_until_calls_go_through_for_5_s() -> None:
    metrics, now = Metrics(), [0.0]
    value = metrics.registry.get_sample_value
    # No worker in this process: nothing known of its writes, nothing exported.
    assert "hookcast_database_writable" not in generate_latest(metrics.registry).decode()
    metrics.outage = outage = Outage(logging.getLogger("test"), clock=lambda: now[0])
    assert value("hookcast_database_writable") == 1
    outage.failed("beating", Unreachable("the database is unavailable", reason="SQLITE_FULL"))
    now[0] = 4.0
    outage.worked()  # a read went through: the writes may still fail
    assert value("hookcast_database_writable") == 0
    now[0] = 6.0
    outage.worked()
    assert value("hookcast_database_writable") == 1


async def test_an_unexpected_error_in_apivideo_is_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import functools

    import httpx
    from fastapi import FastAPI

    from hookcast.api import errors
    from hookcast.api.apivideo import problems

    metrics = Metrics()
    parent, apivideo = FastAPI(), FastAPI()
    errors.install(parent, refused=functools.partial(metrics.on_refused, "management"))
    problems.install(apivideo, refused=functools.partial(metrics.on_refused, "apivideo"))

    @apivideo.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    parent.mount("/apivideo", apivideo)
    transport = httpx.ASGITransport(parent, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hookcast") as client:
        answer = await client.get("/apivideo/broken")
    assert answer.status_code == 500
    assert "traceback" not in answer.text.lower()
    assert _refused(metrics, "apivideo", "500", "internal_error") == 1
    assert _refused(metrics, "management", "500", "internal_error") in (None, 0)
    assert [r.message for r in caplog.records].count("unexpected error") == 1


async def test_an_error_raised_from_one_instance_is_answered_every_time() -> None:
    # api.video's bad credentials are one ProblemError raised by every such request: marked
    # as answered on the exception by the first, every later one got an empty 500 (CI).
    import functools

    import httpx
    from fastapi import FastAPI

    from hookcast.api import errors
    from hookcast.api.apivideo import problems
    from hookcast.api.apivideo.problems import Problem, ProblemError

    metrics = Metrics()
    parent, apivideo = FastAPI(), FastAPI()
    errors.install(parent, refused=functools.partial(metrics.on_refused, "management"))
    problems.install(apivideo, refused=functools.partial(metrics.on_refused, "apivideo"))
    refused = ProblemError(400, [Problem("authentication-invalid-user-credentials", "No.")])

    @apivideo.post("/auth")
    async def auth() -> None:
        raise refused

    parent.mount("/apivideo", apivideo)
    transport = httpx.ASGITransport(parent, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://hookcast") as client:
        answers = [await client.post("/apivideo/auth") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [400, 400, 400]
    assert _refused(metrics, "apivideo", "400", "invalid") == 3
