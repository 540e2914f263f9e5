"""The SDK's one set of rules, shared by `Client` and `AsyncClient`: no I/O here.

Each API operation is a function returning a `Call`: the request to make and how to read the
answer. The two clients differ only in how they send it (`httpx.Client` or
`httpx.AsyncClient`), then both hand the status and body to `finish`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from hookcast.sdk._wire import read
from hookcast.sdk.errors import UnexpectedResponseError, error_from_response
from hookcast.sdk.types import (
    ApiKey,
    Delivery,
    EventRecord,
    EventType,
    Page,
    PortalLink,
    PortalSettings,
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
    *,
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


def finish(call: Call[T], *, status: int, body: bytes) -> T:
    """The value of a successful answer; a `HookcastAPIError` subclass for an error, and
    `UnexpectedResponseError` for a success HookCast would not send (not JSON, or JSON that
    lacks what the answer needs: another server at that URL)."""
    if status >= 400:
        raise error_from_response(status, body)
    try:
        data = None if status in _NO_BODY_STATUSES or not body else json.loads(body)
        return call.parse(data)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UnexpectedResponseError(status, body) from exc


def unreachable(base_url: str, exc: Exception) -> str:
    """Why a request never got an answer, in words: httpx says "[Errno 111] Connection
    refused", whose number tells a reader nothing."""
    words = re.sub(r"^\[Errno -?\d+\] ", "", str(exc)) or type(exc).__name__
    return f"cannot reach HookCast at {base_url}: {words}"


def _segment(value: str) -> str:
    # Ids go into the path: quoting keeps "/", "?" or "#" in a caller's string from
    # changing which resource is addressed. Two more than `quote` does: a "." (httpx
    # resolves "." and ".." segments: `webhooks get .` was GET /v2/webhooks/, the list),
    # and "/" twice, as %252F (the server decodes %2F before routing: `webhooks get
    # <id>/secret` was GET /v2/webhooks/<id>/secret/). Either way the route is the one
    # asked for and the id one it does not know: HookCast's ids hold neither.
    return quote(value, safe="").replace(".", "%2E").replace("%2F", "%252F")


def _params(**values: str | int | None) -> dict[str, str | int]:
    return {name: value for name, value in values.items() if value is not None}


def _nothing(data: Any) -> None:
    # HookCast answers these (deletes) with 204 and no body: a body means another server.
    if data is not None:
        raise TypeError("an answer with a body where HookCast sends none")


# --- reading answers --------------------------------------------------------------------------


def _one(kind: type[T]) -> Callable[[Any], T]:
    return lambda data: read(kind, data)


def _page(name: str, kind: type[T]) -> Callable[[Any], Page[T]]:
    def parse(data: Any) -> Page[T]:
        return Page(
            items=tuple(read(kind, item) for item in data[name]),
            page=int(data["page"]),
            page_length=int(data["page_length"]),
            total=int(data["total"]),
        )

    return parse


def _all(name: str, kind: type[T]) -> Callable[[Any], list[T]]:
    return lambda data: [read(kind, item) for item in data[name]]


# --- operations -------------------------------------------------------------------------------


def create_site(name: str, site_id: str | None) -> Call[Site]:
    body: dict[str, Any] = {"metadata": {"name": name}}
    if site_id is not None:
        body["id"] = site_id
    return Call("POST", "/v2/sites/", _one(Site), json=body)


def list_sites(page: int, page_length: int) -> Call[Page[Site]]:
    params = _params(page=page, page_length=page_length)
    return Call("GET", "/v2/sites/", _page("sites", Site), params=params)


def get_site(site_id: str) -> Call[Site]:
    return Call("GET", f"/v2/sites/{_segment(site_id)}/", _one(Site))


def rename_site(site_id: str, name: str) -> Call[Site]:
    body = {"metadata": {"name": name}}
    return Call("PATCH", f"/v2/sites/{_segment(site_id)}/", _one(Site), json=body)


def delete_site(site_id: str) -> Call[None]:
    return Call("DELETE", f"/v2/sites/{_segment(site_id)}/", _nothing)


def create_api_key(role: str, name: str) -> Call[ApiKey]:
    body = {"metadata": {"role": role, "name": name}}
    return Call("POST", "/v2/api_keys/", _one(ApiKey), json=body)


def list_api_keys() -> Call[list[ApiKey]]:
    return Call("GET", "/v2/api_keys/", _all("api_keys", ApiKey))


def revoke_api_key(key_id: str) -> Call[None]:
    return Call("DELETE", f"/v2/api_keys/{_segment(key_id)}/", _nothing)


def create_webhook(fields: WebhookFields) -> Call[Webhook]:
    return Call("POST", "/v2/webhooks/", _one(Webhook), json={"metadata": dict(fields)})


def list_webhooks(
    *,
    page: int,
    page_length: int,
    sort: str,
    events: str | None,
    site_id: str | None,
    format: str | None = None,
) -> Call[Page[Webhook]]:
    params = _params(
        page=page,
        page_length=page_length,
        sort=sort,
        events=events,
        site_id=site_id,
        format=format,
    )
    return Call("GET", "/v2/webhooks/", _page("webhooks", Webhook), params=params)


def _webhook_path(webhook_id: str, rest: str = "") -> str:
    return f"/v2/webhooks/{_segment(webhook_id)}/{rest}"


def get_webhook(webhook_id: str) -> Call[Webhook]:
    return Call("GET", _webhook_path(webhook_id), _one(Webhook))


def update_webhook(webhook_id: str, changes: WebhookChanges) -> Call[Webhook]:
    body = {"metadata": dict(changes)}
    return Call("PATCH", _webhook_path(webhook_id), _one(Webhook), json=body)


def delete_webhook(webhook_id: str) -> Call[None]:
    return Call("DELETE", _webhook_path(webhook_id), _nothing)


def get_webhook_secret(webhook_id: str) -> Call[WebhookSecret]:
    return Call("GET", _webhook_path(webhook_id, "secret/"), _one(WebhookSecret))


def rotate_webhook_secret(webhook_id: str) -> Call[WebhookSecret]:
    return Call("POST", _webhook_path(webhook_id, "secret/rotate/"), _one(WebhookSecret))


def _secret(data: Any) -> str | None:
    value = data["secret"]
    return None if value is None else str(value)


def get_flowplayer_secret() -> Call[str | None]:
    return Call("GET", "/v2/account/flowplayer_secret/", _secret)


def set_flowplayer_secret(secret: str) -> Call[str | None]:
    body = {"secret": secret}
    return Call("PUT", "/v2/account/flowplayer_secret/", _secret, json=body)


def rotate_flowplayer_secret() -> Call[str | None]:
    return Call("POST", "/v2/account/flowplayer_secret/rotate/", _secret)


def create_portal_link(
    role: str, duration: str, frame_ancestors: list[str] | None
) -> Call[PortalLink]:
    body: dict[str, Any] = {"role": role, "duration": duration}
    if frame_ancestors is not None:
        body["frame_ancestors"] = frame_ancestors
    return Call("POST", "/v2/portal_links/", _one(PortalLink), json=body)


def get_portal_settings() -> Call[PortalSettings]:
    return Call("GET", "/v2/account/portal/", _one(PortalSettings))


def set_portal_settings(
    *,
    name: str | None,
    logo: str | None,
    accent_colour: str | None,
    frame_ancestors: list[str] | None,
) -> Call[PortalSettings]:
    body = {
        "name": name,
        "logo": logo,
        "accent_colour": accent_colour,
        "frame_ancestors": frame_ancestors or [],
    }
    return Call("PUT", "/v2/account/portal/", _one(PortalSettings), json=body)


def _email(data: Any) -> str | None:
    value = data["email"]
    return None if value is None else str(value)


def get_contact_email() -> Call[str | None]:
    return Call("GET", "/v2/account/contact/", _email)


def set_contact_email(email: str | None) -> Call[str | None]:
    return Call("PUT", "/v2/account/contact/", _email, json={"email": email})


def test_webhook(webhook_id: str) -> Call[TestSent]:
    return Call(
        "POST",
        _webhook_path(webhook_id, "test/"),
        _one(TestSent),
    )


def as_time(value: datetime | str | None) -> str | None:
    """A time as the API reads it: ISO 8601 (a string is passed on as given)."""
    return value.isoformat() if isinstance(value, datetime) else value


def recover_webhook(webhook_id: str, since: datetime | str) -> Call[int]:
    body = {"since": as_time(since)}
    path = _webhook_path(webhook_id, "recover/")
    return Call("POST", path, lambda d: int(d["recovered"]), json=body)


def replay_webhook(
    webhook_id: str,
    since: datetime | str,
    *,
    until: datetime | str | None = None,
    resource_id: str | None = None,
    event: str | None = None,
    dry_run: bool = False,
) -> Call[int]:
    body: dict[str, Any] = {"since": _iso(since), "dry_run": dry_run}
    if until is not None:
        body["until"] = _iso(until)
    if resource_id is not None:
        body["resource_id"] = resource_id
    if event is not None:
        body["event"] = event
    path = _webhook_path(webhook_id, "replay/")
    return Call("POST", path, _replay_count, json=body)


def _replay_count(answer: Mapping[str, Any]) -> int:
    # {"replayed": n}, or {"would_replay": n} for a dry run
    return int(answer["replayed"] if "replayed" in answer else answer["would_replay"])


def _iso(moment: datetime | str) -> str:
    return moment.isoformat() if isinstance(moment, datetime) else moment


def deliver_held(webhook_id: str) -> Call[int]:
    path = _webhook_path(webhook_id, "held/deliver/")
    return Call("POST", path, lambda d: int(d["delivered"]))


def discard_held(webhook_id: str) -> Call[int]:
    path = _webhook_path(webhook_id, "held/discard/")
    return Call("POST", path, lambda d: int(d["discarded"]))


def list_deliveries(
    webhook_id: str,
    *,
    page: int,
    page_length: int,
    status: str | None,
    event: str | None,
    find: Mapping[str, str | None] | None = None,
) -> Call[Page[Delivery]]:
    """`find`: event_id, resource_id, since, until (ISO 8601), as the API names them."""
    params = _params(page=page, page_length=page_length, status=status, event=event, **(find or {}))
    path = _webhook_path(webhook_id, "deliveries/")
    return Call("GET", path, _page("deliveries", Delivery), params=params)


def get_delivery(delivery_id: str) -> Call[Delivery]:
    return Call("GET", f"/v2/deliveries/{_segment(delivery_id)}/", _one(Delivery))


def retry_delivery(delivery_id: str) -> Call[Delivery]:
    return Call("POST", f"/v2/deliveries/{_segment(delivery_id)}/retry/", _one(Delivery))


def publish(body: Mapping[str, Any]) -> Call[PublishResult]:
    return Call("POST", "/v2/events/", _one(PublishResult), json=dict(body))


def list_events(
    *,
    page: int,
    page_length: int,
    event: str | None,
    site_id: str | None,
    resource_id: str | None,
) -> Call[Page[EventRecord]]:
    params = _params(
        page=page, page_length=page_length, event=event, site_id=site_id, resource_id=resource_id
    )
    return Call("GET", "/v2/events/", _page("events", EventRecord), params=params)


def list_event_types() -> Call[list[EventType]]:
    return Call("GET", "/v2/event_types/", _all("event_types", EventType))
