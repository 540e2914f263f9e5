"""POST /v2/events/ over HTTP: answered by its own handler ahead of FastAPI's routing, with
every rule the other routes keep (errors, limits, headers) and nothing stored on refusal."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from harness import BASE_URL, SITE_ID, Api, assert_error, open_api
from starlette.types import Message

from hookcast.api.app import create_app
from hookcast.api.operations import Operations
from hookcast.domain.models import Role
from hookcast.ports import EventQuery

EVENT = {"event": "media_available", "site_id": SITE_ID, "media_id": "Media001"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def api(database_url: str) -> Any:
    if not database_url.startswith("sqlite"):
        pytest.skip("exercises the HTTP layer, not the database: SQLite is enough")
    async with open_api(database_url, max_body_bytes=4096) as opened:
        await opened.site(SITE_ID)
        yield opened


async def _stored(api: Api) -> int:
    return (await api.runtime.store.list_events(EventQuery(account_id=api.account_id))).total


async def test_a_publish_answers_202_with_the_ids_and_the_api_headers(api: Api) -> None:
    for path in ("/v2/events/", "/v2/events"):  # both spellings, no redirect
        response = await api.call("POST", path, json={**EVENT, "event_id": f"id-{len(path)}"})
        assert response.status_code == 202, response.text
        assert response.json() == {"event_ids": [f"id-{len(path)}"]}
        assert response.headers["content-type"] == "application/json"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
    assert await _stored(api) == 2


@pytest.mark.parametrize(
    "body", [b'{"event": ', b"{'event': 1}", b"\xff\xfe", b"", b"[1, 2,]", b"NaN"]
)
async def test_a_body_that_is_not_json_is_400_invalid_json(api: Api, body: bytes) -> None:
    response = await api.call("POST", "/v2/events/", content=body, headers=JSON)
    assert "not valid JSON" in assert_error(response, 400, "invalid_json")
    assert await _stored(api) == 0


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([EVENT], "must be a JSON object"),
        ("media_available", "must be a JSON object"),
        ({"events": []}, "at least one event"),
        ({"events": [EVENT, {**EVENT, "media_id": 7}]}, "events[1].media_id"),
        ({**EVENT, "site_id": "Nowhere1"}, "unknown site"),
        ({"events": [EVENT, {**EVENT, "site_id": "Nowhere1"}]}, "events[1].site_id: unknown"),
    ],
)
async def test_json_that_is_not_a_publish_is_400_naming_the_problem(
    api: Api, body: Any, says: str
) -> None:
    response = await api.call("POST", "/v2/events/", json=body)
    assert says in assert_error(response, 400, "invalid_body")
    assert await _stored(api) == 0


async def test_who_may_publish(api: Api) -> None:
    missing = await api.call("POST", "/v2/events/", key=None, json=EVENT)
    assert_error(missing, 401, "unauthorized")
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert_error(await api.call("POST", "/v2/events/", key="hck_wrong", json=EVENT), 401)
    viewer = await api.key(Role.VIEWER)
    assert_error(await api.call("POST", "/v2/events/", key=viewer, json=EVENT), 403, "forbidden")
    publisher = await api.key(Role.PUBLISHER)
    bearer = f"Bearer {publisher}"
    assert (await api.call("POST", "/v2/events/", key=bearer, json=EVENT)).status_code == 202
    assert await _stored(api) == 1


async def test_body_limits_hold_for_publishing(api: Api) -> None:
    big = {**EVENT, "data": {"notes": "x" * 5000}}
    assert_error(await api.call("POST", "/v2/events/", json=big), 413, "payload_too_large")
    as_text = {"Content-Type": "text/plain"}
    plain = await api.call("POST", "/v2/events/", content=b'{"event": 1}', headers=as_text)
    assert_error(plain, 415, "unsupported_media_type")
    assert await _stored(api) == 0


async def test_a_body_its_client_left_before_its_end_is_not_published(api: Api) -> None:
    """serve closes a connection whose body stops coming (408), and the app then reads a
    disconnect: what came before it, a whole valid event here, is only a prefix."""
    body = json.dumps(EVENT).encode()
    headers = [
        (b"authorization", api.admin.encode()),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body) + 1000).encode()),  # the rest never comes
    ]
    path = "/v2/events/"
    scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode()}
    scope |= {"headers": headers, "query_string": b"", "client": ("127.0.0.1", 50000)}
    messages: list[Message] = [
        {"type": "http.request", "body": body, "more_body": True},
        {"type": "http.disconnect"},
    ]
    said: list[Message] = []

    async def receive() -> Message:
        return messages.pop(0)

    async def send(message: Message) -> None:
        said.append(message)

    await api.runtime.app(with_worker=False)(scope, receive, send)
    assert said == []  # no one to answer: nor a 400, counted beside serve's 408
    assert await _stored(api) == 0


async def test_publishing_counts_against_the_keys_rate_limit(api: Api) -> None:
    limits = Operations(rate_limit_per_second=0.5, rate_limit_burst=2)
    app = create_app(api.runtime.services, max_body_bytes=4096, operations=limits)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        answers = [
            await c.post("/v2/events/", json=EVENT, headers={"Authorization": api.admin})
            for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [202, 202, 429]
    assert_error(answers[-1], 429, "rate_limited")
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 2
    assert await _stored(api) == 2


async def test_publishing_through_many_keys_counts_against_the_accounts_rate_limit(
    api: Api,
) -> None:
    # Two publisher keys of one account, each well within its own bucket, share the
    # account's bucket of 3; the refused publish stores nothing.
    keys = [await api.key(Role.PUBLISHER, account_id=api.account_id) for _ in range(2)]
    limits = Operations(
        rate_limit_per_second=0.5,
        rate_limit_burst=10,
        account_rate_limit_per_second=0.5,
        account_rate_limit_burst=3,
    )
    app = create_app(api.runtime.services, max_body_bytes=4096, operations=limits)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL) as c:
        answers = [
            await c.post("/v2/events/", json=EVENT, headers={"Authorization": key})
            for key in keys * 2
        ]
    assert [a.status_code for a in answers] == [202, 202, 202, 429]
    assert "for this account" in assert_error(answers[-1], 429, "rate_limited")
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 2
    assert await _stored(api) == 3


async def test_the_openapi_document_still_describes_publishing(api: Api) -> None:
    document = (await api.call("GET", "/openapi.json")).json()
    operation = document["paths"]["/v2/events/"]["post"]
    assert set(operation["responses"]) >= {"202", "400", "401", "403", "413", "415"}


async def test_a_key_created_after_a_publish_publishes_at_once(api: Api) -> None:
    assert (await api.call("POST", "/v2/events/", json=EVENT)).status_code == 202
    created = await api.call(
        "POST", "/v2/api_keys/", json={"metadata": {"name": "encoder", "role": "publisher"}}
    )
    new_key = created.json()["secret"]
    answer = await api.call("POST", "/v2/events/", key=new_key, json={**EVENT, "media_id": "M2"})
    assert answer.status_code == 202, answer.text
    assert await _stored(api) == 2
