"""The SDK's one set of rules, shared by `Client` and `AsyncClient`: no I/O here.

Each API operation is a function returning a `Call`: the request to make and how to read the
answer. The two clients differ only in how they send it (`httpx.Client` or
`httpx.AsyncClient`), then both hand the status and body to `finish`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from hookcast.sdk.errors import error_from_response
from hookcast.sdk.types import (
    ApiKey,
    Attempt,
    Delivery,
    EventRecord,
    EventType,
    Page,
    PublishResult,
    Site,
    TestSent,
    Webhook,
    WebhookChanges,
    WebhookFields,
    WebhookSecret,
)

T = TypeVar("T")

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT = 10.0
USER_AGENT = "hookcast-python"
_NO_BODY_STATUSES = frozenset({204})


@dataclass(frozen=True, slots=True)
class ClientConfig:
    base_url: str
    headers: Mapping[str, str] = field(repr=False)
    timeout: float


def client_config(
    base_url: str | None,
    api_key: str | None,
    timeout: float,
    environ: Mapping[str, str] | None = None,
) -> ClientConfig:
    """Arguments first, then HOOKCAST_URL / HOOKCAST_API_KEY, then the defaults."""
    env = os.environ if environ is None else environ
    url = (base_url or env.get("HOOKCAST_URL") or DEFAULT_URL).rstrip("/")
    key = api_key or env.get("HOOKCAST_API_KEY")
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return ClientConfig(base_url=url, headers=headers, timeout=timeout)


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request, and the function that turns its (successful) JSON answer into a value."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: Mapping[str, str | int] | None = None
    json: Any = None


def finish(call: Call[T], status: int, body: bytes) -> T:
    """The value of a successful answer; a `HookcastAPIError` subclass for an error."""
    if status >= 400:
        raise error_from_response(status, body)
    data = None if status in _NO_BODY_STATUSES or not body else json.loads(body)
    return call.parse(data)


def _segment(value: str) -> str:
    # Ids go into the path: quoting keeps "../" or "?" in a caller's string from changing
    # which resource is addressed.
    return quote(value, safe="")


def _params(**values: str | int | None) -> dict[str, str | int]:
    return {name: value for name, value in values.items() if value is not None}


def _nothing(_data: Any) -> None:
    return None


# --- parsing ----------------------------------------------------------------------------------


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _optional_time(value: str | None) -> datetime | None:
    return None if value is None else _time(value)


def _page(name: str, parse_item: Callable[[Any], T]) -> Callable[[Any], Page[T]]:
    def parse(data: Any) -> Page[T]:
        return Page(
            items=tuple(parse_item(item) for item in data[name]),
            page=int(data["page"]),
            page_length=int(data["page_length"]),
            total=int(data["total"]),
        )

    return parse


def parse_site(data: Any) -> Site:
    return Site(
        id=data["id"],
        name=data["metadata"]["name"],
        created=_time(data["created"]),
        last_modified=_time(data["last_modified"]),
    )


def parse_api_key(data: Any) -> ApiKey:
    return ApiKey(
        id=data["id"],
        name=data["metadata"]["name"],
        role=data["metadata"]["role"],
        created=_time(data["created"]),
        secret=data.get("secret"),
    )


def parse_webhook(data: Any) -> Webhook:
    meta = data["metadata"]
    policy = meta["retry_policy"]
    return Webhook(
        id=data["id"],
        name=meta["name"],
        description=meta.get("description"),
        webhook_url=meta["webhook_url"],
        events=tuple(meta["events"]),
        site_ids=tuple(meta["site_ids"]),
        enabled=bool(meta["enabled"]),
        disabled_reason=meta.get("disabled_reason"),
        conditions=meta.get("conditions"),
        retry_policy=policy if isinstance(policy, str) else tuple(policy),
        timeout_seconds=int(meta["timeout_seconds"]),
        last_success=_optional_time(meta.get("last_success")),
        failing_since=_optional_time(meta.get("failing_since")),
        created=_time(data["created"]),
        last_modified=_time(data["last_modified"]),
        secret=data.get("secret"),
    )


def parse_secret(data: Any) -> WebhookSecret:
    return WebhookSecret(
        webhook_id=data["id"],
        secret=data["secret"],
        previous_secret=data.get("previous_secret"),
        previous_secret_expires=_optional_time(data.get("previous_secret_expires")),
    )


def parse_attempt(data: Any) -> Attempt:
    return Attempt(
        number=int(data["number"]),
        started_at=_time(data["started_at"]),
        request_headers=dict(data.get("request_headers") or {}),
        status_code=data.get("status_code"),
        latency_ms=float(data["latency_ms"]),
        response_body=data.get("response_body"),
        error=data.get("error"),
    )


def parse_delivery(data: Any) -> Delivery:
    return Delivery(
        id=data["id"],
        webhook_id=data["webhook_id"],
        event_id=data["event_id"],
        event=data["event"],
        status=data["status"],
        attempts=int(data["attempts"]),
        next_attempt_at=_optional_time(data.get("next_attempt_at")),
        last_status_code=data.get("last_status_code"),
        created=_time(data["created"]),
        completed_at=_optional_time(data.get("completed_at")),
        attempt_log=tuple(parse_attempt(item) for item in data.get("attempt_log") or ()),
    )


def parse_event_type(data: Any) -> EventType:
    return EventType(
        name=data["name"],
        group=data["group"],
        id_fields=tuple(data["id_fields"]),
        description=data["description"],
        example=data["example"],
    )


_EVENT_RECORD_FIELDS = frozenset(
    {"event_id", "event", "site_id", "event_time", "created", "data", "deliveries"}
)


def parse_event_record(data: Any) -> EventRecord:
    return EventRecord(
        event_id=data["event_id"],
        event=data["event"],
        site_id=data["site_id"],
        # the API lays resource ids out flat (JW Player's shape): whatever else is there
        resource_ids={k: v for k, v in data.items() if k not in _EVENT_RECORD_FIELDS},
        event_time=_time(data["event_time"]),
        created=_time(data["created"]),
        data=data.get("data"),
        deliveries=dict(data.get("deliveries") or {}),
    )


def parse_publish(data: Any) -> PublishResult:
    return PublishResult(event_ids=tuple(data["event_ids"]))


# --- operations -------------------------------------------------------------------------------


def create_site(name: str, site_id: str | None) -> Call[Site]:
    body: dict[str, Any] = {"metadata": {"name": name}}
    if site_id is not None:
        body["id"] = site_id
    return Call("POST", "/v2/sites/", parse_site, json=body)


def list_sites(page: int, page_length: int) -> Call[Page[Site]]:
    params = _params(page=page, page_length=page_length)
    return Call("GET", "/v2/sites/", _page("sites", parse_site), params=params)


def get_site(site_id: str) -> Call[Site]:
    return Call("GET", f"/v2/sites/{_segment(site_id)}/", parse_site)


def rename_site(site_id: str, name: str) -> Call[Site]:
    body = {"metadata": {"name": name}}
    return Call("PATCH", f"/v2/sites/{_segment(site_id)}/", parse_site, json=body)


def delete_site(site_id: str) -> Call[None]:
    return Call("DELETE", f"/v2/sites/{_segment(site_id)}/", _nothing)


def create_api_key(role: str, name: str) -> Call[ApiKey]:
    body = {"metadata": {"role": role, "name": name}}
    return Call("POST", "/v2/api_keys/", parse_api_key, json=body)


def list_api_keys() -> Call[list[ApiKey]]:
    return Call("GET", "/v2/api_keys/", lambda d: [parse_api_key(i) for i in d["api_keys"]])


def revoke_api_key(key_id: str) -> Call[None]:
    return Call("DELETE", f"/v2/api_keys/{_segment(key_id)}/", _nothing)


def create_webhook(fields: WebhookFields) -> Call[Webhook]:
    return Call("POST", "/v2/webhooks/", parse_webhook, json={"metadata": dict(fields)})


def list_webhooks(
    page: int, page_length: int, sort: str, events: str | None, site_id: str | None
) -> Call[Page[Webhook]]:
    params = _params(page=page, page_length=page_length, sort=sort, events=events, site_id=site_id)
    return Call("GET", "/v2/webhooks/", _page("webhooks", parse_webhook), params=params)


def _webhook_path(webhook_id: str, rest: str = "") -> str:
    return f"/v2/webhooks/{_segment(webhook_id)}/{rest}"


def get_webhook(webhook_id: str) -> Call[Webhook]:
    return Call("GET", _webhook_path(webhook_id), parse_webhook)


def update_webhook(webhook_id: str, changes: WebhookChanges) -> Call[Webhook]:
    body = {"metadata": dict(changes)}
    return Call("PATCH", _webhook_path(webhook_id), parse_webhook, json=body)


def delete_webhook(webhook_id: str) -> Call[None]:
    return Call("DELETE", _webhook_path(webhook_id), _nothing)


def get_webhook_secret(webhook_id: str) -> Call[WebhookSecret]:
    return Call("GET", _webhook_path(webhook_id, "secret/"), parse_secret)


def rotate_webhook_secret(webhook_id: str) -> Call[WebhookSecret]:
    return Call("POST", _webhook_path(webhook_id, "secret/rotate/"), parse_secret)


def test_webhook(webhook_id: str) -> Call[TestSent]:
    return Call(
        "POST",
        _webhook_path(webhook_id, "test/"),
        lambda d: TestSent(event_id=d["event_id"], delivery_id=d["delivery_id"]),
    )


def recover_webhook(webhook_id: str, since: datetime | str) -> Call[int]:
    body = {"since": since.isoformat() if isinstance(since, datetime) else since}
    path = _webhook_path(webhook_id, "recover/")
    return Call("POST", path, lambda d: int(d["recovered"]), json=body)


def list_deliveries(
    webhook_id: str, page: int, page_length: int, status: str | None, event: str | None
) -> Call[Page[Delivery]]:
    params = _params(page=page, page_length=page_length, status=status, event=event)
    path = _webhook_path(webhook_id, "deliveries/")
    return Call("GET", path, _page("deliveries", parse_delivery), params=params)


def get_delivery(delivery_id: str) -> Call[Delivery]:
    return Call("GET", f"/v2/deliveries/{_segment(delivery_id)}/", parse_delivery)


def retry_delivery(delivery_id: str) -> Call[Delivery]:
    return Call("POST", f"/v2/deliveries/{_segment(delivery_id)}/retry/", parse_delivery)


def publish(body: Mapping[str, Any]) -> Call[PublishResult]:
    return Call("POST", "/v2/events/", parse_publish, json=dict(body))


def list_events(
    page: int,
    page_length: int,
    event: str | None,
    site_id: str | None,
    resource_id: str | None,
) -> Call[Page[EventRecord]]:
    params = _params(
        page=page, page_length=page_length, event=event, site_id=site_id, resource_id=resource_id
    )
    return Call("GET", "/v2/events/", _page("events", parse_event_record), params=params)


def list_event_types() -> Call[list[EventType]]:
    return Call(
        "GET", "/v2/event_types/", lambda d: [parse_event_type(i) for i in d["event_types"]]
    )
