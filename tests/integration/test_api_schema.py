"""Schemathesis against /openapi.json, on SQLite, in-process (no network). Every operation
declares its answers (models.py: bodies, and the error shape for each 4xx it can send), so
the checks are real: no 5xx, the status is documented, the content type is the declared one,
and the body matches the declared schema for that status.

- Generated requests: a few per operation, with an admin key; half of them aim at resources
  that exist (so GET/PATCH/POST on an id can answer 2xx, not only 404).
- A valid request to every operation: each one must answer 2xx and conform, so the success
  schemas are checked at least once whatever hypothesis generates.
- Rejections every operation can meet: 401 without a key, 413 and 415 for bodies.

The app runs on one event loop in a portal thread for the whole module, because the store's
connections belong to the loop that opened them; each case is sent from the synchronous
hypothesis test through that loop.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from anyio.from_thread import BlockingPortal, start_blocking_portal
from harness import BASE_URL, DNS, SITE_ID, WEBHOOK_URL, FakeResolver, webhook_metadata
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hookcast.api import create_app
from hookcast.cli.runtime import Runtime, policy, utc_now
from hookcast.config import Settings
from hookcast.domain.models import Role
from hookcast.services import Caller, build_services
from hookcast.store import migrate

Case = schemathesis.Case[Any]  # a generated request, for any operation of the document

# The document does not depend on a database: build it from an app without services.
DOCUMENT = create_app(None, max_body_bytes=1 << 20).openapi()  # type: ignore[arg-type]
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
OPERATIONS = {
    (method.upper(), path)
    for path, operations in DOCUMENT["paths"].items()
    for method in operations
}
MAX_BODY = 64 * 1024
BODY_METHODS = {"POST", "PATCH", "PUT"}


@dataclass
class Live:
    portal: BlockingPortal
    client: httpx.AsyncClient
    admin: str
    # Path parameters of resources that exist, for generated requests to aim at.
    existing: dict[str, str] = field(default_factory=dict)

    def send(self, kwargs: dict[str, Any]) -> httpx.Response:
        return self.portal.call(lambda: self.client.request(**kwargs))


async def _open(database_url: str) -> tuple[Runtime, httpx.AsyncClient, str, dict[str, str]]:
    config = Settings(
        database_url=database_url,
        secret_key="schema-test",
        rate_limit_per_second=0,
        max_body_bytes=MAX_BODY,
    )
    runtime = await Runtime.open(config)
    runtime.services = build_services(
        runtime.store, clock=utc_now, resolver=FakeResolver(DNS), policy=policy(config)
    )
    services = runtime.services
    created = await services.accounts.bootstrap_admin_key()
    assert created is not None
    admin = Caller(account_id=created.key.account_id, role=Role.ADMIN)
    await services.sites.create(admin, name="Main", site_id=SITE_ID)
    hook = await services.webhooks.create(admin, webhook_metadata([SITE_ID]))
    await services.events.publish(
        admin, {"event": "media_available", "site_id": SITE_ID, "media_id": "MNYaMSQl"}
    )
    sent = await services.deliveries.send_test(admin, hook.id)
    existing = {
        "site_id": SITE_ID,
        "webhook_id": hook.id,
        "delivery_id": sent.delivery_id,
        "name": "media_available",
    }
    transport = httpx.ASGITransport(app=runtime.app(with_worker=False))
    client = httpx.AsyncClient(transport=transport, base_url=BASE_URL)
    return runtime, client, created.secret, existing


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """One server for every generated request (they add webhooks up to the account's limit)."""
    yield from _live(tmp_path_factory)


@pytest.fixture
def fresh_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A server of its own, whatever the generated requests left in the shared one."""
    yield from _live(tmp_path_factory)


def _live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    path: Path = tmp_path_factory.mktemp("schema") / "hookcast.db"
    database_url = f"sqlite:///{path}"
    migrate(database_url)
    with start_blocking_portal() as portal:
        runtime, client, admin, existing = portal.call(_open, database_url)
        try:
            yield Live(portal, client, admin, existing)
        finally:
            portal.call(client.aclose)
            portal.call(runtime.store.close)


def _request_kwargs(case: Case, admin: str | None) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url=BASE_URL)
    headers = {
        name: value
        for name, value in kwargs.get("headers", {}).items()
        if name.lower() != "authorization"
    }
    if admin is not None:
        headers["Authorization"] = admin  # a generated value would only ever test a 401
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


def _aim_at_existing(case: Case, existing: dict[str, str]) -> None:
    """Half the generated cases (chosen by a stable hash, so runs repeat) get the ids of
    resources that exist; DELETE keeps its generated ids, so the resources stay for the rest.
    """
    if case.method.upper() == "DELETE" or not case.path_parameters:
        return
    if zlib.crc32(repr(sorted(case.path_parameters.items())).encode()) % 2:
        return
    for name in case.path_parameters:
        if name in existing:
            case.path_parameters[name] = existing[name]


def _validate(case: Case, kwargs: dict[str, Any], response: httpx.Response) -> None:
    case.validate_response(response, checks=CHECKS, headers=kwargs["headers"])


@SCHEMA.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_generated_requests_never_get_a_5xx_and_answers_match_the_schema(
    case: Case, live: Live
) -> None:
    _aim_at_existing(case, live.existing)
    kwargs = _request_kwargs(case, live.admin)
    _validate(case, kwargs, live.send(kwargs))


class Valid:
    """Sends one valid request to an operation and checks the answer with every check."""

    def __init__(self, live: Live) -> None:
        self.live = live
        self.answered: dict[tuple[str, str], int] = {}

    def __call__(
        self,
        method: str,
        path: str,
        *,
        ids: dict[str, str] | None = None,
        body: Any = None,
        query: dict[str, Any] | None = None,
    ) -> Any:
        extra: dict[str, Any] = {} if body is None else {"body": body}
        case = SCHEMA[path][method].Case(path_parameters=ids or {}, query=query, **extra)
        kwargs = _request_kwargs(case, self.live.admin)
        response = self.live.send(kwargs)
        _validate(case, kwargs, response)
        assert 200 <= response.status_code < 300, (method, path, response.text)
        self.answered[(method, path)] = response.status_code
        return response.json() if response.content else None


def test_a_valid_request_to_every_operation_answers_2xx_as_documented(
    fresh_live: Live,
) -> None:
    call = Valid(fresh_live)
    site = call("POST", "/v2/sites/", body={"metadata": {"name": "Second"}})["id"]
    call("GET", "/v2/sites/", query={"page_length": 100})
    call("GET", "/v2/sites/{site_id}/", ids={"site_id": site})
    call("PATCH", "/v2/sites/{site_id}/", ids={"site_id": site}, body={"metadata": {"name": "B"}})

    metadata = webhook_metadata([SITE_ID, site], retry_policy=[5, 30.5], conditions={})
    hook = call("POST", "/v2/webhooks/", body={"metadata": metadata})["id"]
    on_hook = {"webhook_id": hook}
    call("GET", "/v2/webhooks/", query={"page_length": 100})
    call("GET", "/v2/webhooks/{webhook_id}/", ids=on_hook)
    call(
        "PATCH",
        "/v2/webhooks/{webhook_id}/",
        ids=on_hook,
        body={"metadata": {"conditions": None, "webhook_url": WEBHOOK_URL + "/2"}},
    )
    call("GET", "/v2/webhooks/{webhook_id}/secret/", ids=on_hook)
    call("POST", "/v2/webhooks/{webhook_id}/secret/rotate/", ids=on_hook)
    call("GET", "/v2/webhooks/jwks.json/")

    events = [
        {"event": "media_available", "site_id": site, "media_id": "MNYaMSQl", "data": {"a": 1}},
        {"event": "thumbnail_created", "site_id": site, "thumbnail_id": "k9", "media_id": "M"},
        {"event": "channel_active", "site_id": SITE_ID, "channel_id": "YijbmYHJ"},
    ]
    call("POST", "/v2/events/", body={"events": events})
    call("GET", "/v2/events/", query={"page_length": 100})
    sent = call("POST", "/v2/webhooks/{webhook_id}/test/", ids=on_hook)
    log = call("GET", "/v2/webhooks/{webhook_id}/deliveries/", ids=on_hook)
    assert log["deliveries"], log
    on_delivery = {"delivery_id": sent["delivery_id"]}
    call("GET", "/v2/deliveries/{delivery_id}/", ids=on_delivery)
    call("POST", "/v2/deliveries/{delivery_id}/retry/", ids=on_delivery)
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    call("POST", "/v2/webhooks/{webhook_id}/recover/", ids=on_hook, body={"since": since})
    replay = {"since": since, "dry_run": True}
    call("POST", "/v2/webhooks/{webhook_id}/replay/", ids=on_hook, body=replay)
    call("POST", "/v2/webhooks/{webhook_id}/held/deliver/", ids=on_hook)
    call("POST", "/v2/webhooks/{webhook_id}/held/discard/", ids=on_hook)

    call("GET", "/v2/event_types/")
    call("GET", "/v2/event_types/{name}/", ids={"name": "track_created"})

    key = call("POST", "/v2/api_keys/", body={"metadata": {"name": "ci", "role": "viewer"}})
    call("GET", "/v2/api_keys/")
    call("DELETE", "/v2/api_keys/{key_id}/", ids={"key_id": key["id"]})

    call("PUT", "/v2/account/flowplayer_secret/", body={"secret": "organization secret"})
    call("POST", "/v2/account/flowplayer_secret/rotate/")
    call("GET", "/v2/account/flowplayer_secret/")

    call("PUT", "/v2/account/contact/", body={"email": "oncall@example.com"})
    call("GET", "/v2/account/contact/")

    call("PUT", "/v2/account/portal/", body={"name": "Acme", "accent_colour": "#0f766e"})
    call("GET", "/v2/account/portal/")
    call("POST", "/v2/portal_links/", body={"role": "viewer", "duration": "1h"})

    call("DELETE", "/v2/webhooks/{webhook_id}/", ids=on_hook)
    call("DELETE", "/v2/sites/{site_id}/", ids={"site_id": site})
    call("GET", "/healthz")
    call("GET", "/readyz")

    assert set(call.answered) == OPERATIONS


def test_rejections_every_operation_can_meet_are_documented(live: Live) -> None:
    """401 without a key, 415 for a body that is not JSON, 413 for one over the limit: each
    a documented status with the documented error body."""
    checked = 0
    for method, path in sorted(OPERATIONS):
        if not path.startswith("/v2/"):
            continue
        operation = SCHEMA[path][method]
        ids = {name: "Zz999999" for name in ("site_id", "webhook_id", "delivery_id", "key_id")}
        ids["name"] = "media_available"
        needed = {name: value for name, value in ids.items() if "{" + name + "}" in path}
        rejections: list[tuple[int, dict[str, str], bytes | None, bool]] = [(401, {}, None, False)]
        if method in BODY_METHODS:
            rejections += [
                (415, {"Content-Type": "text/plain"}, b"metadata=1", True),
                (413, {"Content-Type": "application/json"}, b" " * (MAX_BODY + 1), True),
            ]
        for status, headers, content, with_key in rejections:
            case = operation.Case(path_parameters=needed)
            kwargs = _request_kwargs(case, live.admin if with_key else None)
            kwargs["headers"].update(headers)
            if content is not None:
                kwargs.pop("json", None)
                kwargs["content"] = content
            response = live.send(kwargs)
            assert response.status_code == status, (method, path, status, response.text)
            _validate(case, kwargs, response)
            checked += 1
    assert checked > len(OPERATIONS)
