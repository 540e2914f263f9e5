"""The limits that keep fan-out cheap on the event loop, through the HTTP API: webhooks per
account, deliveries per publish (refused whole, before anything is written) and the condition
budget (the event is not delivered to that webhook; the log and the metrics say so)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from harness import SITE_ID, Api, assert_error, open_api, webhook_metadata

from hookcast.domain.conditions import MAX_VISITS
from hookcast.domain.fanout import MAX_PUBLISH_VISITS
from hookcast.domain.models import Role
from hookcast.ports import DeliveryQuery, EventQuery

MAX_WEBHOOKS = 3
MAX_DELIVERIES = 10


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[Api]:
    if not database_url.startswith("sqlite"):
        pytest.skip("exercises the services and the HTTP layer: SQLite is enough")
    async with open_api(
        database_url,
        max_webhooks_per_account=MAX_WEBHOOKS,
        max_deliveries_per_publish=MAX_DELIVERIES,
    ) as opened:
        await opened.site(SITE_ID)
        yield opened


def _media(count: int, **extra: Any) -> dict[str, Any]:
    return {
        "events": [
            {"event": "media_available", "site_id": SITE_ID, "media_id": f"M{n:04d}", **extra}
            for n in range(count)
        ]
    }


async def _stored_events(api: Api) -> int:
    return (await api.runtime.store.list_events(EventQuery(account_id=api.account_id))).total


async def _deliveries(api: Api, webhook_id: str) -> int:
    query = DeliveryQuery(account_id=api.account_id, webhook_id=webhook_id)
    return (await api.runtime.store.list_deliveries(query)).total


async def _webhook_count(api: Api, key: str | None = None) -> int:
    listed = await api.call("GET", "/v2/webhooks/", key=key or api.admin)
    assert listed.status_code == 200, listed.text
    return int(listed.json()["total"])


async def test_an_account_cannot_create_more_webhooks_than_the_cap(api: Api) -> None:
    hooks = [await api.webhook([SITE_ID]) for _ in range(MAX_WEBHOOKS)]

    refused = await api.call(
        "POST", "/v2/webhooks/", json={"metadata": webhook_metadata([SITE_ID])}
    )

    says = assert_error(refused, 400, "limit_exceeded")
    assert f"at most {MAX_WEBHOOKS} webhooks" in says
    assert await _webhook_count(api) == MAX_WEBHOOKS
    # Deleting one makes room again.
    deleted = await api.call("DELETE", f"/v2/webhooks/{hooks[0]['id']}/")
    assert deleted.status_code == 204, deleted.text
    await api.webhook([SITE_ID])
    assert await _webhook_count(api) == MAX_WEBHOOKS


async def test_the_webhook_cap_is_per_account(api: Api) -> None:
    for _ in range(MAX_WEBHOOKS):
        await api.webhook([SITE_ID])
    other = await api.runtime.services.accounts.create_account("Other")
    other_admin = await api.key(Role.ADMIN, account_id=other.id)
    other_site = await api.site("OtherSit", key=other_admin)

    await api.webhook([other_site], key=other_admin)

    assert await _webhook_count(api, other_admin) == 1


async def test_a_publish_over_the_delivery_cap_is_refused_and_writes_nothing(api: Api) -> None:
    wanted = [await api.webhook([SITE_ID]) for _ in range(2)]
    await api.webhook([SITE_ID], events=["media_created"])  # does not want these events

    # 6 events x 2 webhooks that want them = 12 deliveries, over the cap of 10.
    refused = await api.call("POST", "/v2/events/", json=_media(6))

    says = assert_error(refused, 400, "limit_exceeded")
    assert "would create 12 deliveries" in says
    assert f"at most {MAX_DELIVERIES}" in says
    assert await _stored_events(api) == 0
    assert [await _deliveries(api, hook["id"]) for hook in wanted] == [0, 0]


async def test_a_publish_at_the_delivery_cap_is_accepted_whole(api: Api) -> None:
    wanted = [await api.webhook([SITE_ID]) for _ in range(2)]
    await api.webhook([SITE_ID], events=["media_created"])  # not counted: it wants none

    accepted = await api.call("POST", "/v2/events/", json=_media(5))

    assert accepted.status_code == 202, accepted.text
    assert await _stored_events(api) == 5
    assert [await _deliveries(api, hook["id"]) for hook in wanted] == [5, 5]


async def test_a_condition_over_its_budget_does_not_match_and_is_logged_and_counted(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    costly = await api.webhook([SITE_ID], conditions={"data.x": {"$in": [1]}})
    plain = await api.webhook([SITE_ID])
    long_list = {"x": [0] * MAX_VISITS}  # 20 KB: accepted, and over the budget to search

    accepted = await api.call("POST", "/v2/events/", json=_media(1, data=long_list))

    assert accepted.status_code == 202, accepted.text
    (event_id,) = accepted.json()["event_ids"]
    assert await _deliveries(api, costly["id"]) == 0
    assert await _deliveries(api, plain["id"]) == 1
    (warning,) = [r for r in caplog.records if r.name == "hookcast.publish"]
    assert event_id in warning.getMessage()
    assert costly["id"] in warning.getMessage()
    assert f"more than {MAX_VISITS} elements" in warning.getMessage()
    metrics = await api.call("GET", "/metrics", key=None)
    assert "hookcast_conditions_over_budget_total 1.0" in metrics.text


async def test_a_publish_whose_conditions_would_cost_too_much_is_refused_whole(
    api: Api,
) -> None:
    costly = await api.webhook([SITE_ID], conditions={"data.x": {"$in": [1]}})
    # Each event costs the condition 2 + 9,990 visits: 100 fit in 1,000,000, 101 do not.
    listing = {"x": [0] * 9_990}
    assert 100 * 9_992 <= MAX_PUBLISH_VISITS < 101 * 9_992

    refused = await api.call("POST", "/v2/events/", json=_media(101, data=listing))

    says = assert_error(refused, 400, "limit_exceeded")
    assert f"more than {MAX_PUBLISH_VISITS} elements" in says
    assert await _stored_events(api) == 0

    accepted = await api.call("POST", "/v2/events/", json=_media(100, data=listing))

    assert accepted.status_code == 202, accepted.text
    assert await _stored_events(api) == 100
    assert await _deliveries(api, costly["id"]) == 0  # searched in full: no 1 among them
