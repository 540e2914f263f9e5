"""The operational face of the API: readiness, /metrics access, per-key rate limits, security
headers, and a real `hookcast serve` logging JSON."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from harness import BASE_URL, Api, assert_error, cli_env, serve

from hookcast.api import create_app
from hookcast.api.operations import Operations
from hookcast.domain.models import Role
from hookcast.heartbeat import Heartbeat
from hookcast.services import Services
from support.waiting import wait_until


@asynccontextmanager
async def client_for(services: Services, **operations: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services, max_body_bytes=1 << 20, operations=Operations(**operations))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sqlite_only(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("exercises the API layer, not the database: SQLite is enough")


# --- readiness -------------------------------------------------------------------------------


async def test_readyz_without_a_worker_needs_only_the_database(api: Api) -> None:
    async with client_for(api.runtime.services) as client:
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})


async def test_readyz_is_503_when_the_worker_heartbeat_is_stale(api: Api) -> None:
    clock = FakeMonotonic()
    heartbeat = Heartbeat(monotonic=clock)
    async with client_for(api.runtime.services, heartbeat=heartbeat) as client:
        not_started = await client.get("/readyz")
        heartbeat.beat()
        clock.now += 29
        fresh = await client.get("/readyz")
        clock.now += 2
        stale = await client.get("/readyz")

    assert not_started.status_code == 503
    assert "has not started" in not_started.json()["reason"]
    assert fresh.status_code == 200
    assert stale.status_code == 503
    assert stale.json()["status"] == "unavailable"
    assert "31 s ago" in stale.json()["reason"]


class UnreachableStore:
    async def list_accounts(self) -> None:
        raise ConnectionRefusedError("database down")


async def test_readyz_is_503_when_the_database_does_not_answer(api: Api) -> None:
    sqlite_only(api.runtime.settings.database_url)
    broken = dataclasses.replace(api.runtime.services, store=UnreachableStore())  # type: ignore[arg-type]
    async with client_for(broken) as client:
        response = await client.get("/readyz")
    assert response.status_code == 503
    assert "database" in response.json()["reason"]


# --- /metrics --------------------------------------------------------------------------------


async def test_metrics_are_open_by_default_and_need_the_token_when_one_is_set(api: Api) -> None:
    sqlite_only(api.runtime.settings.database_url)
    async with client_for(api.runtime.services) as client:
        assert (await client.get("/metrics")).status_code == 200
    async with client_for(api.runtime.services, metrics_token="s3cret-scrape") as client:
        missing = await client.get("/metrics")
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        right = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
    assert_error(missing, 401)
    assert_error(wrong, 401)
    assert right.status_code == 200
    assert "hookcast_deliveries_pending" in right.text
    assert "s3cret-scrape" not in missing.text + wrong.text


async def test_metrics_are_not_part_of_the_openapi_document(api: Api) -> None:
    sqlite_only(api.runtime.settings.database_url)
    paths = (await api.call("GET", "/openapi.json")).json()["paths"]
    assert "/metrics" not in paths
    assert {"/healthz", "/readyz"} <= set(paths)


# --- rate limits -----------------------------------------------------------------------------


async def test_a_key_over_its_rate_is_refused_with_429_and_retry_after(api: Api) -> None:
    sqlite_only(api.runtime.settings.database_url)
    other = await api.key(Role.VIEWER)
    limits = {"rate_limit_per_second": 0.5, "rate_limit_burst": 3}
    async with client_for(api.runtime.services, **limits) as client:

        def as_admin() -> dict[str, str]:
            return {"Authorization": api.admin}

        answers = [await client.get("/v2/sites/", headers=as_admin()) for _ in range(4)]
        by_other_key = await client.get("/v2/sites/", headers={"Authorization": other})
        unauthenticated = await client.get("/v2/sites/", headers={"Authorization": "hck_wrong"})

    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert_error(answers[-1], 429, "rate_limited")
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 2
    assert by_other_key.status_code == 200  # every key has its own bucket
    assert_error(unauthenticated, 401)


async def test_many_keys_of_one_account_are_refused_at_the_accounts_limit(api: Api) -> None:
    # Each key has a bucket of its own (burst 3, far from spent); the account's (burst 5) is
    # shared by all of them, and another account's key is served beside them.
    sqlite_only(api.runtime.settings.database_url)
    keys = [await api.key(Role.VIEWER, account_id=api.account_id) for _ in range(3)]
    other = await api.runtime.services.accounts.create_account("Other")
    theirs = await api.key(Role.VIEWER, account_id=other.id)
    limits = {
        "rate_limit_per_second": 0.5,
        "rate_limit_burst": 3,
        "account_rate_limit_per_second": 0.5,
        "account_rate_limit_burst": 5,
    }
    async with client_for(api.runtime.services, **limits) as client:

        async def get(key: str) -> httpx.Response:
            return await client.get("/v2/sites/", headers={"Authorization": key})

        ours = [await get(key) for key in keys * 2]
        their_answer = await get(theirs)

    assert [r.status_code for r in ours] == [200, 200, 200, 200, 200, 429]
    error = assert_error(ours[-1], 429, "rate_limited")
    assert "too many requests for this account: at most 0.5 per second (bursts of 5)" in error
    assert 1 <= int(ours[-1].headers["Retry-After"]) <= 2
    assert their_answer.status_code == 200


async def test_a_rate_of_zero_disables_the_limit(api: Api) -> None:
    sqlite_only(api.runtime.settings.database_url)
    async with client_for(api.runtime.services, rate_limit_per_second=0) as client:
        codes = {
            (await client.get("/v2/sites/", headers={"Authorization": api.admin})).status_code
            for _ in range(50)
        }
    assert codes == {200}


# --- security headers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v2/webhooks/", None),
        ("GET", "/v2/webhooks/nope1234/", None),
        ("POST", "/v2/sites/", b"x" * (2 << 20)),  # 413 from the request rules
        ("POST", "/v2/events", b"x" * (2 << 20)),  # the publish endpoint's own 413
        ("POST", "/v2/events/", b"{}"),  # its 401, before FastAPI's middleware
        ("GET", "/healthz", None),
    ],
)
async def test_api_responses_carry_security_headers(
    api: Api, method: str, path: str, body: bytes | None
) -> None:
    sqlite_only(api.runtime.settings.database_url)
    async with client_for(api.runtime.services) as client:
        response = await client.request(
            method,
            path,
            content=body,
            headers={"Authorization": api.admin, "Content-Type": "application/json"},
        )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    if path.startswith("/v2"):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Frame-Options"] == "DENY"


async def test_a_publish_failing_unexpectedly_is_a_logged_500_in_the_error_format(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sqlite_only(api.runtime.settings.database_url)

    async def broken(*_args: object) -> list[str]:
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(api.runtime.services.events, "publish", broken)
    app = create_app(api.runtime.services, max_body_bytes=1 << 20)
    # raise_app_exceptions=False: a server logs the re-raised exception and keeps serving.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        response = await client.post(
            "/v2/events/", json={"event": "media_created"}, headers={"Authorization": api.admin}
        )
    assert_error(response, 500, "internal_error")
    assert "disk caught fire" not in response.text  # the traceback is the operator's
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert any("disk caught fire" in (r.exc_text or "") for r in caplog.records)


# --- a real server ---------------------------------------------------------------------------


def test_serve_logs_json_lines_and_is_ready_with_its_worker(
    database_url: str, tmp_path: Path
) -> None:
    sqlite_only(database_url)
    env = cli_env(database_url, HOOKCAST_SECRET_KEY="ops-test", HOOKCAST_LOG_FORMAT="json")
    with serve(env, tmp_path) as server:
        ready = _get_until(server.url + "/readyz", lambda r: r.status_code == 200)
        metrics = httpx.get(server.url + "/metrics", timeout=5, trust_env=False)
        exit_code = server.stop()
    assert ready.json() == {"status": "ok"}
    assert metrics.status_code == 200
    assert "hookcast_worker_heartbeat_age_seconds" in metrics.text
    assert exit_code is not None
    lines = [line for line in server.stderr().splitlines() if line.strip()]
    assert lines, "serve logged nothing"
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(item) for item in parsed)
    assert any(item["logger"].startswith("uvicorn") for item in parsed)


def _get_until(url: str, done: Callable[[httpx.Response], bool]) -> httpx.Response:
    """GETs `url` until `done` accepts the response, and returns that response."""

    def answered() -> httpx.Response | None:
        response = httpx.get(url, timeout=5, trust_env=False)
        return response if done(response) else None

    return wait_until(answered, message=f"{url} never answered as awaited")
