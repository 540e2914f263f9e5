"""`AsyncClient`: HookCast's HTTP API from asyncio code, method for method like `Client`.

    from hookcast import AsyncClient

    async with AsyncClient(api_key="hck_...") as hookcast:
        await hookcast.publish("media_available", site_id="1A23bCD4", media_id="MNYaMSQl")

Requests and answers are built and read by `hookcast.sdk._core`, the same code `Client` uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar, Unpack

import httpx

from hookcast.sdk import _core
from hookcast.sdk.errors import HookcastConnectionError
from hookcast.sdk.events import batch_body, event_body
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

__all__ = ["AsyncClient"]

T = TypeVar("T")


class AsyncClient:
    """An asyncio HookCast API client. Close it (or use `async with`) to free its connections.

    `base_url` defaults to HOOKCAST_URL, then http://127.0.0.1:8000; `api_key` to
    HOOKCAST_API_KEY. `transport` swaps the network for tests (e.g. `httpx.MockTransport`).
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = _core.DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._config = _core.client_config(base_url=base_url, api_key=api_key, timeout=timeout)
        self._http = httpx.AsyncClient(
            base_url=self._config.base_url,
            headers=dict(self._config.headers),
            timeout=timeout,
            transport=transport,
        )

    @property
    def base_url(self) -> str:
        return self._config.base_url

    def __repr__(self) -> str:
        return f"AsyncClient({self._config.base_url!r})"

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _send(self, call: _core.Call[T]) -> T:
        try:
            response = await self._http.request(
                call.method, call.path, params=call.params, json=call.json
            )
        except httpx.TransportError as exc:  # connection refused, timeout, broken pipe...
            raise HookcastConnectionError(_core.unreachable(self.base_url, exc)) from exc
        return _core.finish(call, status=response.status_code, body=response.content)

    # sites

    async def create_site(self, name: str, *, site_id: str | None = None) -> Site:
        """Create a property; `site_id` is an optional 8-character id of your own."""
        return await self._send(_core.create_site(name, site_id))

    async def list_sites(self, *, page: int = 1, page_length: int = 10) -> Page[Site]:
        return await self._send(_core.list_sites(page, page_length))

    async def get_site(self, site_id: str) -> Site:
        return await self._send(_core.get_site(site_id))

    async def rename_site(self, site_id: str, name: str) -> Site:
        return await self._send(_core.rename_site(site_id, name))

    async def delete_site(self, site_id: str) -> None:
        return await self._send(_core.delete_site(site_id))

    # API keys (admin)

    async def create_api_key(self, *, role: str, name: str = "") -> ApiKey:
        """A new key; its `secret` is in this answer only."""
        return await self._send(_core.create_api_key(role, name))

    async def list_api_keys(self) -> list[ApiKey]:
        return await self._send(_core.list_api_keys())

    async def revoke_api_key(self, key_id: str) -> None:
        return await self._send(_core.revoke_api_key(key_id))

    # webhooks

    async def create_webhook(self, **fields: Unpack[WebhookFields]) -> Webhook:
        """Create a webhook; its `secret` is in this answer only (see `get_webhook_secret`)."""
        return await self._send(_core.create_webhook(fields))

    async def list_webhooks(
        self,
        *,
        page: int = 1,
        page_length: int = 10,
        sort: str = "created:dsc",
        events: str | None = None,
        site_id: str | None = None,
        format: str | None = None,
    ) -> Page[Webhook]:
        """One page of the webhooks. `events` (a catalog name): those that would receive it,
        subscribed to every event ("*") included; `site_id`: those that hear that property,
        those on every property included; `format`: those of one format."""
        return await self._send(
            _core.list_webhooks(
                page=page,
                page_length=page_length,
                sort=sort,
                events=events,
                site_id=site_id,
                format=format,
            )
        )

    async def get_webhook(self, webhook_id: str) -> Webhook:
        return await self._send(_core.get_webhook(webhook_id))

    async def update_webhook(self, webhook_id: str, **changes: Unpack[WebhookChanges]) -> Webhook:
        """Change only the given settings (`conditions=None` clears the conditions)."""
        return await self._send(_core.update_webhook(webhook_id, changes))

    async def delete_webhook(self, webhook_id: str) -> None:
        return await self._send(_core.delete_webhook(webhook_id))

    async def get_webhook_secret(self, webhook_id: str) -> WebhookSecret:
        return await self._send(_core.get_webhook_secret(webhook_id))

    async def rotate_webhook_secret(self, webhook_id: str) -> WebhookSecret:
        return await self._send(_core.rotate_webhook_secret(webhook_id))

    async def get_flowplayer_secret(self) -> str | None:
        """The account's Flowplayer organization secret (admin), or None if unset."""
        return await self._send(_core.get_flowplayer_secret())

    async def set_flowplayer_secret(self, secret: str) -> str | None:
        """Sets the organization secret that signs every Flowplayer-format webhook."""
        return await self._send(_core.set_flowplayer_secret(secret))

    async def rotate_flowplayer_secret(self) -> str | None:
        """Replaces the organization secret with a new random one, and returns it."""
        return await self._send(_core.rotate_flowplayer_secret())

    async def create_portal_link(
        self, role: str, *, duration: str = "24h", frame_ancestors: list[str] | None = None
    ) -> PortalLink:
        """A link to the customer portal (admin): `role` "editor" or "viewer", `duration`
        one of "1h", "8h", "24h", "3d", "7d"; `frame_ancestors` the origins that may show it
        in an iframe (None: the account's default)."""
        return await self._send(_core.create_portal_link(role, duration, frame_ancestors))

    async def get_portal_settings(self) -> PortalSettings:
        """The portal's brand and the origins that may frame it by default."""
        return await self._send(_core.get_portal_settings())

    async def set_portal_settings(
        self,
        *,
        name: str | None = None,
        logo: str | None = None,
        accent_colour: str | None = None,
        frame_ancestors: list[str] | None = None,
    ) -> PortalSettings:
        """Replaces the portal's brand and default framing origins (admin); None: HookCast's
        own name, no logo, HookCast's colour, framed by nobody."""
        call = _core.set_portal_settings(
            name=name, logo=logo, accent_colour=accent_colour, frame_ancestors=frame_ancestors
        )
        return await self._send(call)

    async def get_contact_email(self) -> str | None:
        """The address HookCast e-mails about the account's webhooks, or None if unset."""
        return await self._send(_core.get_contact_email())

    async def set_contact_email(self, email: str | None) -> str | None:
        """Sets (None: clears) the address HookCast e-mails before a webhook is disabled,
        when it is and when it recovers (admin)."""
        return await self._send(_core.set_contact_email(email))

    async def test_webhook(self, webhook_id: str) -> TestSent:
        """Queue a `webhook_test` ping for this webhook."""
        return await self._send(_core.test_webhook(webhook_id))

    async def recover_webhook(self, webhook_id: str, *, since: datetime | str) -> int:
        """Resend every failed delivery created since `since`; returns how many."""
        return await self._send(_core.recover_webhook(webhook_id, since))

    async def replay_webhook(
        self,
        webhook_id: str,
        *,
        since: datetime | str,
        until: datetime | str | None = None,
        resource_id: str | None = None,
        event: str | None = None,
        dry_run: bool = False,
    ) -> int:
        """Resend every finished delivery created in [since, until), perhaps only those about
        one resource id or of one event type, in publish order; returns how many (with
        `dry_run`, how many would go, sending none)."""
        return await self._send(
            _core.replay_webhook(
                webhook_id,
                since,
                until=until,
                resource_id=resource_id,
                event=event,
                dry_run=dry_run,
            )
        )

    async def deliver_held_deliveries(self, webhook_id: str) -> int:
        """Send the deliveries held while the webhook was disabled, in publish order (the
        webhook must be enabled first, else ConflictError); returns how many."""
        return await self._send(_core.deliver_held(webhook_id))

    async def discard_held_deliveries(self, webhook_id: str) -> int:
        """Mark the deliveries held while the webhook was disabled as discarded; returns how
        many."""
        return await self._send(_core.discard_held(webhook_id))

    # deliveries

    async def list_deliveries(
        self,
        webhook_id: str,
        *,
        page: int = 1,
        page_length: int = 10,
        status: str | None = None,
        event: str | None = None,
        event_id: str | None = None,
        resource_id: str | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> Page[Delivery]:
        """The webhook's deliveries, newest first: of a status or event type, of one event,
        of events holding a resource id (media_id, ...), created since / until a time."""
        find = {
            "event_id": event_id,
            "resource_id": resource_id,
            "since": _core.as_time(since),
            "until": _core.as_time(until),
        }
        return await self._send(
            _core.list_deliveries(
                webhook_id,
                page=page,
                page_length=page_length,
                status=status,
                event=event,
                find=find,
            )
        )

    async def get_delivery(self, delivery_id: str) -> Delivery:
        return await self._send(_core.get_delivery(delivery_id))

    async def retry_delivery(self, delivery_id: str) -> Delivery:
        return await self._send(_core.retry_delivery(delivery_id))

    # events

    async def publish(
        self,
        event: str,
        *,
        site_id: str,
        data: Mapping[str, Any] | None = None,
        event_id: str | None = None,
        event_time: datetime | str | None = None,
        **ids: str,
    ) -> PublishResult:
        """Publish one event, e.g. `publish("media_available", site_id=s, media_id=m)`.

        Returns once HookCast has committed it. A repeated `event_id` is stored once.
        """
        body = event_body(
            event, site_id=site_id, ids=ids, data=data, event_id=event_id, event_time=event_time
        )
        return await self._send(_core.publish(body))

    async def publish_many(self, events: Iterable[Mapping[str, Any]]) -> PublishResult:
        """Publish a batch (each item shaped like POST /v2/events/ takes it) atomically."""
        return await self._send(_core.publish(batch_body(events)))

    async def list_events(
        self,
        *,
        page: int = 1,
        page_length: int = 10,
        event: str | None = None,
        site_id: str | None = None,
        resource_id: str | None = None,
    ) -> Page[EventRecord]:
        return await self._send(
            _core.list_events(
                page=page,
                page_length=page_length,
                event=event,
                site_id=site_id,
                resource_id=resource_id,
            )
        )

    async def list_event_types(self) -> list[EventType]:
        return await self._send(_core.list_event_types())
