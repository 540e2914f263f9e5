"""Latest wins, time-to-live and replay end to end (issue 17), against a real loopback
receiver: what arrives, and what the delivery log says about what did not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from delivery_harness import Deployment

from support.waiting import eventually

RETRIES = [0.5] * 10  # short: the newest update is retried until the endpoint is back


class Switch:
    """An endpoint that is down (500) until `up` is set; records what it accepted."""

    def __init__(self) -> None:
        self.up = False
        self.accepted: list[dict[str, object]] = []

    async def __call__(self, _number: int, request: web.Request) -> web.StreamResponse:
        if not self.up:
            return web.Response(status=500, text="down")
        self.accepted.append(await request.json())
        return web.Response(text="ok")


async def _statuses(hookcast: Deployment, webhook_id: str) -> list[str]:
    page = await hookcast.deliveries(webhook_id, page_length=100)
    return sorted(delivery["status"] for delivery in page["deliveries"])


async def test_after_an_outage_only_the_newest_update_of_a_media_is_delivered(
    hookcast: Deployment,
) -> None:
    endpoint = Switch()
    receiver = await hookcast.receiver(endpoint)
    hook = await hookcast.hook_for(receiver, coalesce=True, retry_policy=RETRIES)
    hookcast.start_worker()

    # Five updates of one media while the endpoint is down: each newer one supersedes the
    # older, whether it was waiting for a retry or being sent at that moment.
    published = []
    for n in range(5):
        update = {"event": "media_updated", "media_id": "MEDIA001", "data": {"n": n}}
        (event_id,) = await hookcast.publish(update)
        published.append(event_id)
    await hookcast.wait_for_status(hook["id"], "superseded", 4)
    await eventually(lambda: len(receiver.received) >= 1, message="nothing was attempted")

    endpoint.up = True
    await hookcast.wait_for_status(hook["id"], "succeeded", 1)

    assert [payload["event_id"] for payload in endpoint.accepted] == [published[-1]]
    assert endpoint.accepted[0]["data"] == {"n": 4}
    assert await _statuses(hookcast, hook["id"]) == ["succeeded"] + ["superseded"] * 4
    superseded = await hookcast.deliveries(hook["id"], status="superseded")
    assert {d["event_id"] for d in superseded["deliveries"]} == set(published[:4])


async def test_an_event_older_than_its_time_to_live_is_logged_expired_not_sent(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver()
    hook = await hookcast.hook_for(receiver, max_age_seconds={"channel_active": 600})
    hookcast.start_worker()
    old = (datetime.now(UTC) - timedelta(minutes=20)).isoformat()

    (stale, idle, fresh) = await hookcast.publish(
        {"event": "channel_active", "channel_id": "CHANNEL1", "event_time": old},
        {"event": "channel_idle", "channel_id": "CHANNEL2", "event_time": old},  # no limit
        {"event": "channel_active", "channel_id": "CHANNEL3"},
    )
    await receiver.wait_for_events({idle, fresh})
    (expired,) = await hookcast.wait_for_status(hook["id"], "expired", 1)

    assert expired["event_id"] == stale
    assert stale not in receiver.event_ids()
    record = (await hookcast.api.get(f"/v2/deliveries/{expired['id']}/")).json()
    (attempt,) = record["attempt_log"]
    assert attempt["status_code"] is None
    assert "expired, not sent" in attempt["error"]
    assert "max_age_seconds for channel_active (600 s)" in attempt["error"]


async def test_a_replay_counts_first_then_resends_a_media_in_publish_order(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver()
    hook = await hookcast.hook_for(receiver, ordering="resource")
    hookcast.start_worker()
    since = datetime.now(UTC).isoformat()
    life = ["media_created", "conversions_complete", "media_available", "media_updated"]
    ids = await hookcast.publish(
        *({"event": name, "media_id": "MEDIA001"} for name in life),
        {"event": "media_created", "media_id": "MEDIA002"},
    )
    await receiver.wait_for_events(set(ids))
    await hookcast.wait_for_status(hook["id"], "succeeded", len(ids))
    path = f"/v2/webhooks/{hook['id']}/replay/"

    dry = await hookcast.api.post(path, json={"since": since, "dry_run": True})
    one = {"since": since, "resource_id": "MEDIA001"}
    dry_one = await hookcast.api.post(path, json={**one, "dry_run": True})
    assert (dry.json(), dry_one.json()) == ({"would_replay": 5}, {"would_replay": 4})
    assert len(receiver.received) == 5  # a dry run sends nothing

    replayed = await hookcast.api.post(path, json=one)

    assert replayed.json() == {"replayed": 4}
    await receiver.wait_for(9)
    again = receiver.received[5:]
    assert [item.event_id for item in again] == ids[:4]  # publish order
    assert [item.payload["sequence"] for item in again] == [1, 2, 3, 4]
    receiver.assert_all_verified()
