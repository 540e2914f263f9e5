"""site_ids ["*"]: a webhook on every property of the account, including those created after
it; stored as such, shown as ["*"], refused when mixed with property ids."""

from __future__ import annotations

from datetime import datetime

import pytest
from delivery_harness import Deployment
from harness import SITE_ID, Api, assert_error


async def test_every_property_is_kept_and_shown_as_a_star(api: Api) -> None:
    await api.site(SITE_ID)
    created = await api.webhook(["*"])
    assert created["metadata"]["site_ids"] == ["*"]
    await api.site("LaterS1t", name="Later")  # not added to the webhook's list: it has none

    got = await api.call("GET", f"/v2/webhooks/{created['id']}/")
    assert got.json()["metadata"]["site_ids"] == ["*"]
    # What is read back can be sent back unchanged.
    again = await api.call(
        "PATCH", f"/v2/webhooks/{created['id']}/", json={"metadata": {"site_ids": ["*"]}}
    )
    assert again.status_code == 200, again.text
    assert again.json()["metadata"]["site_ids"] == ["*"]


async def test_a_webhook_moves_between_a_list_and_every_property(api: Api) -> None:
    await api.site(SITE_ID)
    hook = await api.webhook([SITE_ID])
    path = f"/v2/webhooks/{hook['id']}/"

    every = await api.call("PATCH", path, json={"metadata": {"site_ids": ["*"]}})
    assert every.json()["metadata"]["site_ids"] == ["*"]
    renamed = await api.call("PATCH", path, json={"metadata": {"name": "renamed"}})
    assert renamed.json()["metadata"]["site_ids"] == ["*"]  # untouched by other changes
    listed = await api.call("PATCH", path, json={"metadata": {"site_ids": [SITE_ID]}})
    assert listed.json()["metadata"]["site_ids"] == [SITE_ID]


@pytest.mark.parametrize("site_ids", [["*", SITE_ID], [SITE_ID, "*"]])
async def test_a_star_mixed_with_property_ids_is_a_400(api: Api, site_ids: list[str]) -> None:
    await api.site(SITE_ID)
    created = await api.call(
        "POST",
        "/v2/webhooks/",
        json={
            "metadata": {
                "name": "mixed",
                "webhook_url": "https://receiver.example/hook",
                "events": ["media_available"],
                "site_ids": site_ids,
            }
        },
    )
    assert 'use "*" alone' in assert_error(created, 400)

    hook = await api.webhook([SITE_ID])
    patched = await api.call(
        "PATCH", f"/v2/webhooks/{hook['id']}/", json={"metadata": {"site_ids": site_ids}}
    )
    assert 'use "*" alone' in assert_error(patched, 400)
    unchanged = await api.call("GET", f"/v2/webhooks/{hook['id']}/")
    assert unchanged.json()["metadata"]["site_ids"] == [SITE_ID]


async def test_filtering_on_a_property_lists_the_webhooks_on_every_property(api: Api) -> None:
    await api.site(SITE_ID)
    every = await api.webhook(["*"])
    listed = await api.webhook([SITE_ID])
    later = await api.site("LaterS1t", name="Later")

    async def ids(site_id: str) -> set[str]:
        response = await api.call("GET", "/v2/webhooks/", params={"site_id": site_id})
        return {hook["id"] for hook in response.json()["webhooks"]}

    assert await ids(SITE_ID) == {every["id"], listed["id"]}
    assert await ids(later) == {every["id"]}


async def test_a_property_created_after_the_webhook_is_delivered_to(
    hookcast: Deployment,
) -> None:
    everywhere = await hookcast.receiver()
    only_first = await hookcast.receiver()
    await hookcast.hook_for(everywhere, site_ids=["*"])
    first_only = await hookcast.hook_for(only_first)  # the deployment's first property
    response = await hookcast.api.post("/v2/sites/", json={"metadata": {"name": "Later"}})
    assert response.status_code == 201, response.text
    later = response.json()["id"]
    hookcast.start_worker()

    first, on_later = await hookcast.publish(
        {"event": "media_available", "media_id": "MEDIA001"},
        {"event": "media_available", "media_id": "MEDIA002", "site_id": later},
    )

    await everywhere.wait_for_events({first, on_later})
    await only_first.wait_for_events({first})
    everywhere.assert_all_verified()
    assert {item.payload["site_id"] for item in everywhere.received} == {
        hookcast.site_id,
        later,
    }
    # Fan-out made no delivery of the later property's event to the listed webhook.
    assert (await hookcast.deliveries(first_only["id"]))["total"] == 1


async def test_a_test_event_to_a_webhook_on_every_property_names_a_property(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver()
    hook = await hookcast.hook_for(receiver, site_ids=["*"])
    hookcast.start_worker()

    sent = await hookcast.api.post(f"/v2/webhooks/{hook['id']}/test/")
    assert sent.status_code == 202, sent.text
    await receiver.wait_for_events({sent.json()["event_id"]})
    (ping,) = receiver.received
    assert ping.payload["site_id"] == hookcast.site_id  # the account's (first) property
    # To the second, as every published event's (it had microseconds: "...T09:07:29.542699").
    sent_at = datetime.fromisoformat(ping.payload["event_time"])
    assert sent_at.microsecond == 0


async def test_a_test_event_needs_a_property_to_name(api: Api) -> None:
    # Every delivery names its property (JW Player's site_id), a test event too: with no
    # property in the account there is none to name, and the test is refused, not sent
    # with an empty site_id.
    hook = await api.webhook(["*"])

    refused = await api.call("POST", f"/v2/webhooks/{hook['id']}/test/")

    assert "create a property first" in assert_error(refused, 409)
    events = await api.call("GET", "/v2/events/")
    assert events.json()["total"] == 0  # nothing was published
    await api.site(SITE_ID)
    sent = await api.call("POST", f"/v2/webhooks/{hook['id']}/test/")
    assert sent.status_code == 202, sent.text
    (event,) = (await api.call("GET", "/v2/events/")).json()["events"]
    assert event["site_id"] == SITE_ID
