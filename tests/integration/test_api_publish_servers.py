"""Two API servers on one database: what one server changes, the next publish on the other
obeys, although each server keeps what publishing needs to know between publishes."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx
from harness import SITE_ID, Api, assert_error, in_process_client

from hookcast.config import Settings
from hookcast.domain.models import DeliveryStatus
from hookcast.ports import DeliveryQuery, EventQuery

_PUBLISHER = {"metadata": {"name": "encoder", "role": "publisher"}}
EVENT = {"event": "media_available", "site_id": SITE_ID, "media_id": "Media001"}


def _second_server(database_url: str) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    # The secret key open_api's server uses: both must sign with the same webhook secrets.
    return in_process_client(Settings(database_url=database_url, secret_key="test-secret-key"))


async def _publish(server: httpx.AsyncClient, key: str, **fields: Any) -> httpx.Response:
    return await server.post(
        "/v2/events/", json={**EVENT, **fields}, headers={"Authorization": key}
    )


async def _deliveries(api: Api, webhook_id: str, status: DeliveryStatus | None = None) -> int:
    query = DeliveryQuery(api.account_id, webhook_id, status=status)
    return (await api.runtime.store.list_deliveries(query)).total


async def test_webhook_changes_on_one_server_apply_to_the_next_publish_on_the_other(
    api: Api, database_url: str
) -> None:
    await api.site(SITE_ID)
    async with _second_server(database_url) as other:
        assert (await _publish(other, api.admin)).status_code == 202  # no webhook yet

        hook = await api.webhook([SITE_ID])
        assert (await _publish(other, api.admin, media_id="Media002")).status_code == 202
        assert await _deliveries(api, hook["id"]) == 1

        paused = {"metadata": {"enabled": False}}
        assert (await api.call("PATCH", f"/v2/webhooks/{hook['id']}/", json=paused)).is_success
        assert (await _publish(other, api.admin, media_id="Media003")).status_code == 202
        # The other server knows the webhook is disabled now: the new delivery is held.
        assert await _deliveries(api, hook["id"], DeliveryStatus.HELD) == 1
        assert await _deliveries(api, hook["id"]) == 2


async def test_a_key_revoked_on_one_server_no_longer_publishes_on_the_other(
    api: Api, database_url: str
) -> None:
    await api.site(SITE_ID)
    created = await api.call(
        "POST", "/v2/api_keys/", json={"metadata": {"name": "encoder", "role": "publisher"}}
    )
    key = created.json()
    async with _second_server(database_url) as other:
        assert (await _publish(other, key["secret"])).status_code == 202

        assert (await api.call("DELETE", f"/v2/api_keys/{key['id']}/")).status_code == 204
        assert_error(await _publish(other, key["secret"], media_id="Media002"), 401)

    events = await api.runtime.store.list_events(EventQuery(account_id=api.account_id))
    assert events.total == 1


async def test_a_key_rotated_on_one_server_publishes_on_the_other_at_once(
    api: Api, database_url: str
) -> None:
    await api.site(SITE_ID)
    old = (await api.call("POST", "/v2/api_keys/", json=_PUBLISHER)).json()
    async with _second_server(database_url) as other:
        assert (await _publish(other, old["secret"])).status_code == 202

        new = (await api.call("POST", "/v2/api_keys/", json=_PUBLISHER)).json()
        assert (await api.call("DELETE", f"/v2/api_keys/{old['id']}/")).status_code == 204
        for media_id in ("Media002", "Media003"):
            published = await _publish(other, new["secret"], media_id=media_id)
            assert published.status_code == 202, published.text
        assert_error(await _publish(other, old["secret"], media_id="Media004"), 401)

    events = await api.runtime.store.list_events(EventQuery(account_id=api.account_id))
    assert events.total == 3


async def test_a_site_deleted_on_one_server_refuses_events_on_the_other(
    api: Api, database_url: str
) -> None:
    await api.site(SITE_ID)
    async with _second_server(database_url) as other:
        assert (await _publish(other, api.admin)).status_code == 202

        assert (await api.call("DELETE", f"/v2/sites/{SITE_ID}/")).status_code == 204
        refused = await _publish(other, api.admin, media_id="Media002")
        assert "unknown site" in assert_error(refused, 400)
