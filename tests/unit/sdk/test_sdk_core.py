"""The SDK's request/response core, through both clients on httpx.MockTransport: what goes
on the wire, what comes back typed, and how error answers become exceptions."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from hookcast import (
    AsyncClient,
    AuthenticationError,
    Client,
    ConflictError,
    HookcastAPIError,
    HookcastConnectionError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    UnexpectedResponseError,
    ValidationError,
)
from hookcast.sdk import _core
from hookcast.sdk.types import Page, Webhook

WEBHOOK = {
    "id": "2yW4KmiG",
    "created": "2024-08-27T00:15:45+00:00",
    "last_modified": "2024-08-27T00:15:45+00:00",
    "metadata": {
        "name": "Ready",
        "description": None,
        "webhook_url": "https://example.com/hooks",
        "events": ["media_available"],
        "site_ids": ["1A23bCD4"],
        "enabled": True,
        "disabled_reason": None,
        "conditions": None,
        "retry_policy": [5, 60],
        "timeout_seconds": 10,
        "last_success": None,
        "failing_since": None,
    },
    "relationships": {},
    "schema": None,
    "secret": "whsec_c2VjcmV0",
    "type": "webhook",
}

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """Answers every request with `response` and keeps the requests."""

    def __init__(self, status: int = 200, body: Any = None) -> None:
        self.requests: list[httpx.Request] = []
        self._status, self._body = status, body

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self._body, bytes):
            return httpx.Response(self._status, content=self._body)
        return httpx.Response(self._status, json=self._body)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def client(handler: Handler) -> Client:
    return Client("http://hookcast.test", api_key="hck_key", transport=httpx.MockTransport(handler))


def test_create_webhook_sends_jw_metadata_and_returns_a_typed_webhook() -> None:
    recorder = Recorder(201, WEBHOOK)
    with client(recorder) as hookcast:
        hook = hookcast.create_webhook(
            name="Ready",
            webhook_url="https://example.com/hooks",
            events=["media_available"],
            site_ids=["1A23bCD4"],
            retry_policy=[5, 60],
        )
    request = recorder.last
    assert (request.method, request.url.path) == ("POST", "/v2/webhooks/")
    assert request.headers["authorization"] == "Bearer hck_key"
    assert json.loads(request.content) == {
        "metadata": {
            "name": "Ready",
            "webhook_url": "https://example.com/hooks",
            "events": ["media_available"],
            "site_ids": ["1A23bCD4"],
            "retry_policy": [5, 60],
        }
    }
    assert isinstance(hook, Webhook)
    assert hook.secret == "whsec_c2VjcmV0"
    assert hook.retry_policy == (5, 60)
    assert hook.created == datetime(2024, 8, 27, 0, 15, 45, tzinfo=UTC)
    assert "whsec_" not in repr(hook)  # secrets stay out of logs


def test_lists_are_pages_with_their_position() -> None:
    recorder = Recorder(200, {"page": 2, "page_length": 1, "total": 3, "webhooks": [WEBHOOK]})
    with client(recorder) as hookcast:
        page = hookcast.list_webhooks(page=2, page_length=1, events="media_available")
    assert recorder.last.url.params["events"] == "media_available"
    assert "site_id" not in recorder.last.url.params  # unset filters are not sent
    assert isinstance(page, Page)
    assert [hook.id for hook in page] == ["2yW4KmiG"]
    assert page.has_more


def test_update_sends_only_the_changes_and_none_clears() -> None:
    recorder = Recorder(200, WEBHOOK)
    with client(recorder) as hookcast:
        hookcast.update_webhook("2yW4KmiG", enabled=False, conditions=None)
    assert recorder.last.method == "PATCH"
    assert json.loads(recorder.last.content) == {"metadata": {"enabled": False, "conditions": None}}


def test_ids_cannot_escape_their_path_segment() -> None:
    recorder = Recorder(200, WEBHOOK)
    with client(recorder) as hookcast:
        hookcast.get_webhook("../api_keys")
    assert recorder.last.url.raw_path == b"/v2/webhooks/%2E%2E%252Fapi_keys/"


def test_publish_builds_the_flat_event_body() -> None:
    recorder = Recorder(202, {"event_ids": ["evt_1"]})
    when = datetime(2024, 8, 27, tzinfo=UTC)
    with client(recorder) as hookcast:
        result = hookcast.publish(
            "thumbnail_created",
            site_id="1A23bCD4",
            thumbnail_id="k9x00iro",
            media_id="MNYaMSQl",
            event_time=when,
            data={"w": 640},
        )
    assert json.loads(recorder.last.content) == {
        "event": "thumbnail_created",
        "site_id": "1A23bCD4",
        "thumbnail_id": "k9x00iro",
        "media_id": "MNYaMSQl",
        "event_time": "2024-08-27T00:00:00+00:00",
        "data": {"w": 640},
    }
    assert result.event_id == "evt_1"


def test_delete_accepts_an_empty_204() -> None:
    recorder = Recorder(204, b"")
    with client(recorder) as hookcast:
        hookcast.delete_webhook("2yW4KmiG")  # no body to parse: returns, raises nothing
    assert (recorder.last.method, recorder.last.url.path) == ("DELETE", "/v2/webhooks/2yW4KmiG/")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, ValidationError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (418, HookcastAPIError),
        (503, ServerError),
    ],
)
def test_error_answers_raise_by_status_with_code_and_description(
    status: int, kind: type[HookcastAPIError]
) -> None:
    body = {"errors": [{"code": "some_code", "description": "what went wrong"}]}
    with client(Recorder(status, body)) as hookcast, pytest.raises(kind) as raised:
        hookcast.get_site("1A23bCD4")
    assert (raised.value.status, raised.value.code) == (status, "some_code")
    assert raised.value.description == "what went wrong"


def test_an_error_page_that_is_not_json_still_raises_readably() -> None:
    recorder = Recorder(502, b"<html>Bad Gateway</html>")
    with client(recorder) as hookcast, pytest.raises(ServerError) as raised:
        hookcast.list_sites()
    assert raised.value.code == "http_error"
    assert "Bad Gateway" in raised.value.description


@pytest.mark.parametrize(
    ("body", "looks_like"),
    [
        (b"<!DOCTYPE html><html><body>Directory listing</body></html>", "an HTML page"),
        (b'{"status": "ok"}', "JSON of another shape"),
        (b"hello", "plain text"),
        (b"", "an empty body"),
    ],
)
def test_a_success_that_hookcast_would_not_send_says_what_came_back(
    body: bytes, looks_like: str
) -> None:
    with client(Recorder(200, body)) as hookcast:
        with pytest.raises(UnexpectedResponseError, match=looks_like) as raised:
            hookcast.list_sites()
        assert raised.value.status == 200
        with pytest.raises(HookcastConnectionError):  # one except clause catches both
            hookcast.get_webhook("2yW4KmiG")


def test_an_unreachable_server_is_a_connection_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with client(refuse) as hookcast, pytest.raises(HookcastConnectionError, match="refused"):
        hookcast.list_sites()


async def test_the_async_client_sends_the_same_requests() -> None:
    recorder = Recorder(202, {"event_ids": ["evt_1", "evt_2"]})
    transport = httpx.MockTransport(recorder)
    events = [
        {"event": "media_created", "site_id": "S", "media_id": "M"},
        {"event": "media_deleted", "site_id": "S", "media_id": "M"},
    ]
    async with AsyncClient("http://hookcast.test", "hck_key", transport=transport) as hookcast:
        result = await hookcast.publish_many(events)
        recorder._status, recorder._body = 404, {"errors": [{"code": "not_found"}]}
        with pytest.raises(NotFoundError):
            await hookcast.get_delivery("dlv_x")
    assert json.loads(recorder.requests[0].content) == {"events": events}
    assert result.event_ids == ("evt_1", "evt_2")


def test_both_clients_offer_the_same_methods_with_the_same_signatures() -> None:
    def public(cls: type) -> dict[str, inspect.Signature]:
        return {
            name: inspect.signature(member)
            for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_") and name not in ("close", "aclose")
        }

    sync, asynchronous = public(Client), public(AsyncClient)
    assert sync.keys() == asynchronous.keys()
    for name, signature in sync.items():
        assert str(signature) == str(asynchronous[name]).replace(
            "AsyncBaseTransport", "BaseTransport"
        ), name
        assert inspect.iscoroutinefunction(getattr(AsyncClient, name)), name


def test_settings_come_from_arguments_then_the_environment_then_defaults() -> None:
    env = {"HOOKCAST_URL": "http://env:1/", "HOOKCAST_API_KEY": "hck_env"}
    from_env = _core.client_config(base_url=None, api_key=None, timeout=10, environ=env)
    assert from_env.base_url == "http://env:1"
    assert from_env.headers["Authorization"] == "Bearer hck_env"
    given = _core.client_config(base_url="http://arg:2", api_key="hck_arg", timeout=10, environ=env)
    assert (given.base_url, given.headers["Authorization"]) == ("http://arg:2", "Bearer hck_arg")
    default = _core.client_config(base_url=None, api_key=None, timeout=10, environ={})
    assert default.base_url == "http://127.0.0.1:8000"
    assert "Authorization" not in default.headers
    assert "hck_" not in repr(given)
