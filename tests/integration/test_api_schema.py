"""Schemathesis against /openapi.json: requests generated from the schema, for every route,
with an admin key, must never get a 5xx, and answers must match the schema where the route
declares one. Bounded: a few examples per route, on SQLite, in-process (no network).

The app runs on one event loop in a portal thread for the whole module, because the store's
connections belong to the loop that opened them; each generated case is sent from the
synchronous hypothesis test through that loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from harness import BASE_URL, DNS, FakeResolver
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from hookcast.api import create_app
from hookcast.cli.runtime import Runtime, policy, utc_now
from hookcast.config import Settings
from hookcast.domain.models import Role
from hookcast.services import Caller, build_services
from hookcast.store import migrate

# The document does not depend on a database: build it from an app without services.
SCHEMA = schemathesis.openapi.from_dict(create_app(None, max_body_bytes=1 << 20).openapi())  # type: ignore[arg-type]
CHECKS = [not_a_server_error, response_schema_conformance]


@dataclass
class Live:
    portal: BlockingPortal
    client: httpx.AsyncClient
    admin: str

    def send(self, kwargs: dict[str, Any]) -> httpx.Response:
        return self.portal.call(lambda: self.client.request(**kwargs))


async def _open(database_url: str) -> tuple[Runtime, httpx.AsyncClient, str]:
    config = Settings(database_url=database_url, secret_key="schema-test", rate_limit_per_second=0)
    runtime = await Runtime.open(config)
    runtime.services = build_services(
        runtime.store, clock=utc_now, resolver=FakeResolver(DNS), policy=policy(config)
    )
    created = await runtime.services.accounts.bootstrap_admin_key()
    assert created is not None
    await runtime.services.sites.create(_admin(runtime, created.key.account_id), "Main", "1A23bCD4")
    transport = httpx.ASGITransport(app=runtime.app(with_worker=False))
    return runtime, httpx.AsyncClient(transport=transport, base_url=BASE_URL), created.secret


def _admin(runtime: Runtime, account_id: str) -> Caller:
    return Caller(account_id=account_id, role=Role.ADMIN)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    path: Path = tmp_path_factory.mktemp("schema") / "hookcast.db"
    database_url = f"sqlite:///{path}"
    migrate(database_url)
    with start_blocking_portal() as portal:
        runtime, client, admin = portal.call(_open, database_url)
        try:
            yield Live(portal, client, admin)
        finally:
            portal.call(client.aclose)
            portal.call(runtime.store.close)


def _request_kwargs(case: schemathesis.Case, admin: str) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    headers = {
        name: value
        for name, value in kwargs.get("headers", {}).items()
        if name.lower() != "authorization"
    }
    headers["Authorization"] = admin  # the generated value would only ever test a 401
    data = kwargs.pop("data", None)
    sent: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": headers,
        "params": kwargs.get("params"),
    }
    if "json" in kwargs:
        sent["json"] = kwargs["json"]
    elif data is not None:
        sent["content"] = data
    return sent


@SCHEMA.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_generated_requests_never_get_a_5xx_and_answers_match_the_schema(
    case: schemathesis.Case, live: Live
) -> None:
    kwargs = _request_kwargs(case, live.admin)
    response = live.send(kwargs)
    case.validate_response(response, checks=CHECKS, headers=kwargs["headers"])
