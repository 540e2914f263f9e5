"""What a receiver gets: the body, the three signatures, and only the events it asked for."""

from __future__ import annotations

import re
import time

import pytest
from delivery_harness import Deployment
from receivers import hex_verifies, jwt_verifies, standard_verifies

from support.waiting import eventually


async def test_every_event_family_arrives_in_jw_shape_and_verifies_three_ways(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver()
    hook = await hookcast.hook_for(receiver)
    hookcast.start_worker()

    ids = await hookcast.publish(
        {
            "event": "media_available",
            "media_id": "MNYaMSQl",
            "data": {"tags": ["sports"]},
            "event_time": "2024-08-27T00:15:45Z",
        },
        {"event": "thumbnail_created", "thumbnail_id": "THUMB001", "media_id": "MNYaMSQl"},
        {"event": "track_created", "track_id": "TRACK001", "media_id": "MNYaMSQl"},
        {"event": "channel_active", "channel_id": "CHAN0001"},
    )
    await receiver.wait_for_events(set(ids))

    receiver.assert_all_verified()
    by_event = {item.payload["event"]: item for item in receiver.received}
    media = by_event["media_available"].payload
    assert media == {
        "event": "media_available",
        "event_id": ids[0],
        "media_id": "MNYaMSQl",
        "webhook_id": hook["id"],
        "site_id": hookcast.site_id,
        "event_time": "2024-08-27T00:15:45+00:00",
        "sequence": 1,
        "data": {"tags": ["sports"]},
    }
    assert list(media) == [
        "event",
        "event_id",
        "media_id",
        "webhook_id",
        "site_id",
        "event_time",
        "sequence",
        "data",
    ]
    # JW's order: the primary id first, the parent media_id after event_time
    assert list(by_event["thumbnail_created"].payload) == [
        "event",
        "event_id",
        "thumbnail_id",
        "webhook_id",
        "site_id",
        "event_time",
        "media_id",
        "sequence",
    ]
    assert list(by_event["track_created"].payload) == [
        "event",
        "event_id",
        "track_id",
        "webhook_id",
        "site_id",
        "event_time",
        "media_id",
        "sequence",
    ]
    assert by_event["channel_active"].payload["channel_id"] == "CHAN0001"
    # Thumbnails and tracks are about their media: numbered with it, in publish order.
    numbered = {
        name: (by_event[name].headers["X-Hookcast-Resource"], by_event[name].payload["sequence"])
        for name in by_event
    }
    assert numbered == {
        "media_available": ("media:MNYaMSQl", 1),
        "thumbnail_created": ("media:MNYaMSQl", 2),
        "track_created": ("media:MNYaMSQl", 3),
        "channel_active": ("channel:CHAN0001", 1),
    }
    for item in receiver.received:
        assert item.headers["X-Hookcast-Sequence"] == str(item.payload["sequence"])
    assert "data" not in by_event["channel_active"].payload

    for item in receiver.received:
        headers = item.headers
        assert headers["Content-Type"] == "application/json"
        assert headers["Authorization"].startswith("Bearer ")
        assert headers["webhook-id"].startswith("dlv_")
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
        assert re.fullmatch(r"v1,[A-Za-z0-9+/]+=*", headers["webhook-signature"])
        assert re.fullmatch(r"[0-9a-f]{64}", headers["X-Hookcast-Signature"])
    # one id per delivery: a receiver deduping on webhook-id never drops a different event
    assert len({item.headers["webhook-id"] for item in receiver.received}) == len(receiver.received)


async def test_a_tampered_or_foreign_delivery_fails_all_three_checks(
    hookcast: Deployment,
) -> None:
    """The receivers' checks are real: the same request fails them with another secret or
    another body."""
    receiver = await hookcast.receiver()
    other = await hookcast.create_webhook(receiver.url, name="other", enabled=False)
    await hookcast.hook_for(receiver)
    hookcast.start_worker()
    await hookcast.publish({"event": "media_created", "media_id": "MNYaMSQl"})
    (item,) = await receiver.wait_for(1)

    assert item.verified
    forged = item.body.replace(b"MNYaMSQl", b"XXXXXXXX")
    for check in (jwt_verifies, standard_verifies, hex_verifies):
        assert not check(item.headers, item.body, other["secret"])
        assert not check(item.headers, forged, receiver.secret)


async def test_only_subscribed_events_of_subscribed_sites_matching_conditions_arrive(
    hookcast: Deployment,
) -> None:
    second_site = await hookcast.api.post("/v2/sites/", json={"metadata": {"name": "Two"}})
    site_two = second_site.json()["id"]
    everything = await hookcast.receiver()
    await hookcast.hook_for(everything, site_ids=[hookcast.site_id, site_two])
    sports = await hookcast.receiver()
    sports_hook = await hookcast.hook_for(
        sports,
        events=["media_available"],
        conditions={"data.tags": {"$contains": "sports"}},
    )
    disabled = await hookcast.receiver()
    await hookcast.hook_for(disabled, enabled=False)
    hookcast.start_worker()

    wanted, *others = await hookcast.publish(
        {"event": "media_available", "media_id": "MEDIA001", "data": {"tags": ["sports"]}},
        {"event": "media_available", "media_id": "MEDIA002", "data": {"tags": ["news"]}},
        {"event": "media_available", "media_id": "MEDIA003"},
        {"event": "media_created", "media_id": "MEDIA004", "data": {"tags": ["sports"]}},
        {
            "event": "media_available",
            "media_id": "MEDIA005",
            "data": {"tags": ["sports"]},
            "site_id": site_two,
        },
    )

    # Fan-out happens when the event is stored: the log already says who gets what.
    sports_log = await hookcast.deliveries(sports_hook["id"])
    assert [d["event_id"] for d in sports_log["deliveries"]] == [wanted]
    await everything.wait_for_events({wanted, *others})
    await sports.wait_for(1)
    assert await sports.stays_quiet(0.3, count=1)
    assert sports.event_ids() == [wanted]
    sports.assert_all_verified()
    assert disabled.received == []


async def test_a_repeated_event_id_is_accepted_and_delivered_once(hookcast: Deployment) -> None:
    receiver = await hookcast.receiver()
    await hookcast.hook_for(receiver)
    event = {"event": "media_available", "media_id": "MNYaMSQl", "event_id": "encoder-42"}

    assert await hookcast.publish(event) == ["encoder-42"]
    assert await hookcast.publish(event, event) == ["encoder-42", "encoder-42"]
    hookcast.start_worker()
    await receiver.wait_for(1)

    assert await receiver.stays_quiet(0.5, count=1)
    receiver.assert_all_verified()
    assert receiver.event_ids() == ["encoder-42"]


@pytest.mark.parametrize(
    ("event", "missing"),
    [
        ({"event": "media_available"}, "media_id"),
        ({"event": "thumbnail_created", "media_id": "MNYaMSQl"}, "thumbnail_id"),
        ({"event": "thumbnail_created", "thumbnail_id": "THUMB001"}, "media_id"),
        ({"event": "track_deleted", "track_id": "TRACK001"}, "media_id"),
        ({"event": "channel_idle"}, "channel_id"),
    ],
)
async def test_publishing_without_a_required_id_is_refused_naming_the_field(
    hookcast: Deployment, event: dict[str, str], missing: str
) -> None:
    response = await hookcast.api.post("/v2/events/", json={**event, "site_id": hookcast.site_id})

    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert missing in error["description"]
    listed = await hookcast.api.get("/v2/events/")
    assert listed.json()["total"] == 0


async def test_a_batch_is_all_or_nothing_and_at_most_1000_events(hookcast: Deployment) -> None:
    good = {"event": "media_created", "media_id": "MNYaMSQl", "site_id": hookcast.site_id}
    bad = {"event": "media_created", "site_id": hookcast.site_id}

    mixed = await hookcast.api.post("/v2/events/", json={"events": [good, good, bad]})
    too_many = await hookcast.api.post("/v2/events/", json={"events": [good] * 1001})
    most = await hookcast.api.post("/v2/events/", json={"events": [good] * 1000})

    assert mixed.status_code == 400
    assert "events[2].media_id" in mixed.json()["errors"][0]["description"]
    assert too_many.status_code == 400
    assert most.status_code == 202
    assert len(most.json()["event_ids"]) == 1000
    listed = await hookcast.api.get("/v2/events/", params={"page_length": 1})
    assert listed.json()["total"] == 1000


async def test_recent_events_show_how_their_deliveries_ended(hookcast: Deployment) -> None:
    ok = await hookcast.receiver()
    await hookcast.hook_for(ok)
    refused = await hookcast.create_webhook(
        "http://127.0.0.1:1/hook", name="refused", retry_policy=[0.1]
    )
    hookcast.start_worker()
    (event_id,) = await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})

    await hookcast.wait_for_status(refused["id"], "failed", 1)
    await ok.wait_for(1)

    async def summarised() -> bool:
        listed = (await hookcast.api.get("/v2/events/")).json()
        # The refusal also publishes HookCast's own webhook_failing event into the list.
        (event,) = [event for event in listed["events"] if event["event_id"] == event_id]
        return bool(event["deliveries"]["succeeded"] == 1 and event["deliveries"]["failed"] == 1)

    await eventually(summarised, message="the event list never showed 1 succeeded, 1 failed")


async def test_a_test_event_reaches_even_a_disabled_webhook(hookcast: Deployment) -> None:
    receiver = await hookcast.receiver()
    hook = await hookcast.hook_for(receiver, enabled=False)
    hookcast.start_worker()

    response = await hookcast.api.post(f"/v2/webhooks/{hook['id']}/test/")

    assert response.status_code == 202, response.text
    (item,) = await receiver.wait_for(1)
    receiver.assert_all_verified()
    assert item.payload["event"] == "webhook_test"
    assert item.event_id == response.json()["event_id"]


async def test_after_a_rotation_the_new_secret_signs_and_standard_webhooks_carries_both(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver()
    hook = await hookcast.hook_for(receiver)
    rotated = await hookcast.api.post(f"/v2/webhooks/{hook['id']}/secret/rotate/")
    assert rotated.status_code == 200, rotated.text
    old, new = hook["secret"], rotated.json()["secret"]
    assert old != new
    receiver.secret = new
    hookcast.start_worker()

    await hookcast.publish({"event": "media_updated", "media_id": "MNYaMSQl"})
    (item,) = await receiver.wait_for(1)

    receiver.assert_all_verified()
    assert len(item.headers["webhook-signature"].split(" ")) == 2
    assert standard_verifies(item.headers, item.body, old)
    assert not jwt_verifies(item.headers, item.body, old)
    assert not hex_verifies(item.headers, item.body, old)
