"""The delivery log a customer reads, and what they can do from it: retry one delivery,
recover every failed one since a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from delivery_harness import Deployment
from receivers import answer, first_then

from support.waiting import eventually


async def test_each_attempt_is_logged_without_its_signatures(hookcast: Deployment) -> None:
    big = "z" * 10 * 1024
    receiver = await hookcast.receiver(first_then(answer(500, body=big), answer(200)))
    hook = await hookcast.hook_for(receiver, retry_policy=[0.2])
    hookcast.start_worker()
    (event_id,) = await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})

    await receiver.wait_for(2)
    (delivery,) = await hookcast.wait_for_status(hook["id"], "succeeded", 1)
    log = await hookcast.api.get(f"/v2/webhooks/{hook['id']}/deliveries/")

    assert delivery["event_id"] == event_id
    assert delivery["event"] == "media_available"
    assert delivery["attempts"] == 2
    failed, succeeded = delivery["attempt_log"]
    assert [failed["number"], succeeded["number"]] == [1, 2]
    assert failed["status_code"] == 500
    assert failed["response_body"] == "z" * 4096  # the first 4 KiB, exactly
    assert failed["error"] == "HTTP 500"
    assert succeeded["status_code"] == 200
    assert succeeded["error"] is None
    for attempt in (failed, succeeded):
        assert attempt["latency_ms"] > 0
        assert datetime.fromisoformat(attempt["started_at"]) <= datetime.now(UTC)
        headers = {name.lower(): value for name, value in attempt["request_headers"].items()}
        assert headers["webhook-id"] == delivery["id"]  # stable across retries
        assert headers["content-type"] == "application/json"
        for signed in ("authorization", "webhook-signature", "x-hookcast-signature"):
            assert headers[signed] == "[redacted]"
    # no signature that was actually sent appears anywhere in the log
    for item in receiver.received:
        token = item.headers["Authorization"].removeprefix("Bearer ")
        for secret_value in (
            token,
            item.headers["webhook-signature"],
            item.headers["X-Hookcast-Signature"],
        ):
            assert secret_value not in log.text
    assert receiver.secret not in log.text


async def by_event_type(_number: int, request: web.Request) -> web.StreamResponse:
    body = await request.json()
    return web.Response(status=200 if body["event"] == "media_available" else 500)


async def test_the_log_is_paginated_and_filters_by_status_and_event(hookcast: Deployment) -> None:
    receiver = await hookcast.receiver(by_event_type)
    hook = await hookcast.hook_for(receiver, retry_policy=[0.1])
    hookcast.start_worker()
    await hookcast.publish(
        *({"event": "media_available", "media_id": f"OK{n:06d}"} for n in range(3)),
        *({"event": "media_created", "media_id": f"NO{n:06d}"} for n in range(2)),
    )

    await hookcast.wait_for_status(hook["id"], "succeeded", 3)
    failed = await hookcast.wait_for_status(hook["id"], "failed", 2)

    assert {d["event"] for d in failed} == {"media_created"}
    available = await hookcast.deliveries(hook["id"], event="media_available")
    assert available["total"] == 3
    assert {d["status"] for d in available["deliveries"]} == {"succeeded"}
    both = await hookcast.deliveries(hook["id"], event="media_created", status="succeeded")
    assert both["total"] == 0
    pages = [await hookcast.deliveries(hook["id"], page=n, page_length=2) for n in (1, 2, 3)]
    assert [p["total"] for p in pages] == [5, 5, 5]
    assert [len(p["deliveries"]) for p in pages] == [2, 2, 1]
    assert len({d["id"] for p in pages for d in p["deliveries"]}) == 5
    refused = await hookcast.api.get(
        f"/v2/webhooks/{hook['id']}/deliveries/", params={"status": "lost"}
    )
    assert refused.status_code == 400


async def test_a_manual_retry_sends_the_delivery_again_now(hookcast: Deployment) -> None:
    receiver = await hookcast.receiver()
    hook = await hookcast.hook_for(receiver)
    hookcast.start_worker()
    (event_id,) = await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})
    (delivery,) = await hookcast.wait_for_status(hook["id"], "succeeded", 1)

    response = await hookcast.api.post(f"/v2/deliveries/{delivery['id']}/retry/")

    assert response.status_code == 202, response.text
    await receiver.wait_for(2)
    assert receiver.event_ids() == [event_id, event_id]
    receiver.assert_all_verified()

    async def twice() -> bool:
        found = await hookcast.api.get(f"/v2/deliveries/{delivery['id']}/")
        return bool(found.json()["attempts"] == 2 and found.json()["status"] == "succeeded")

    await eventually(twice, message="the manual retry was not logged as a second attempt")
    missing = await hookcast.api.post("/v2/deliveries/nosuchid/retry/")
    assert missing.status_code == 404


async def test_recover_resends_every_failed_delivery_since_a_time(hookcast: Deployment) -> None:
    receiver = await hookcast.receiver(answer(500))
    hook = await hookcast.hook_for(receiver, retry_policy=[0.1])
    hookcast.start_worker()
    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = await hookcast.publish_media(3)
    await hookcast.wait_for_status(hook["id"], "failed", 3)
    receiver.behaviour = answer(200)
    sent = len(receiver.received)

    later = await hookcast.api.post(
        f"/v2/webhooks/{hook['id']}/recover/", json={"since": datetime.now(UTC).isoformat()}
    )
    assert later.json() == {"recovered": 0}
    response = await hookcast.api.post(
        f"/v2/webhooks/{hook['id']}/recover/", json={"since": before.isoformat()}
    )

    assert response.status_code == 202, response.text
    assert response.json() == {"recovered": 3}
    await receiver.wait_for(sent + 3)
    await hookcast.wait_for_status(hook["id"], "succeeded", 3)
    assert sorted(receiver.event_ids()[sent:]) == sorted(ids)
    receiver.assert_all_verified()


async def test_a_failing_webhook_shows_its_state_last_error_and_next_retry(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver(answer(401, body="refused: bad signature"))
    hook = await hookcast.hook_for(receiver, retry_policy=[60])
    assert (await hookcast.webhook(hook["id"]))["metadata"]["state"] == "healthy"
    hookcast.start_worker()
    await hookcast.publish_media(1)

    await receiver.wait_for(1)
    found: dict[str, object] = {}

    async def failing() -> bool:
        found.update((await hookcast.webhook(hook["id"]))["metadata"])
        return found["state"] == "failing" and found["last_error"] is not None

    await eventually(failing, message=lambda: f"the webhook is {found.get('state')}")
    error = found["last_error"]
    assert isinstance(error, dict)
    assert (error["status_code"], error["error"]) == (401, "HTTP 401")
    assert error["body"] == "refused: bad signature"
    assert found["failing_since"] == error["at"]
    next_at = datetime.fromisoformat(str(found["next_attempt_at"]))
    assert next_at - datetime.fromisoformat(error["at"]) >= timedelta(seconds=30)  # 60 s, jittered
    listed = await hookcast.api.get("/v2/webhooks/")
    (item,) = listed.json()["webhooks"]
    assert item["metadata"]["last_error"] == error
    assert item["metadata"]["state"] == "failing"


async def test_the_log_finds_deliveries_by_event_id_resource_id_and_time(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver(answer(200))
    hook = await hookcast.hook_for(receiver)
    before = datetime.now(UTC) - timedelta(seconds=1)
    first, second = await hookcast.publish(
        {"event": "media_available", "media_id": "Find0001"},
        {"event": "media_available", "media_id": "Find0002"},
    )

    by_media = await hookcast.deliveries(hook["id"], resource_id="Find0002")
    by_event = await hookcast.deliveries(hook["id"], event_id=first)
    recent = await hookcast.deliveries(hook["id"], since=before.isoformat())
    future = await hookcast.deliveries(hook["id"], since="2999-01-01 00:00")
    bad = await hookcast.api.get(
        f"/v2/webhooks/{hook['id']}/deliveries/", params={"until": "yesterday"}
    )

    assert [d["event_id"] for d in by_media["deliveries"]] == [second]
    assert [d["event_id"] for d in by_event["deliveries"]] == [first]
    assert recent["total"] == 2
    assert future["total"] == 0
    assert bad.status_code == 400
    assert "until" in bad.text


async def test_a_manual_retry_moves_the_webhooks_next_retry_to_the_one_it_scheduled(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver(answer(503, body="down"))
    hook = await hookcast.hook_for(receiver, retry_policy=[60, 3600])
    hookcast.start_worker()
    await hookcast.publish_media(1)
    await receiver.wait_for(1)

    async def attempts(count: int) -> dict[str, object]:
        found: dict[str, object] = {}

        async def recorded() -> bool:
            (delivery,) = (await hookcast.deliveries(hook["id"]))["deliveries"]
            found.update(delivery)
            shown = (await hookcast.webhook(hook["id"]))["metadata"]["next_attempt_at"]
            return delivery["attempts"] == count and shown is not None

        await eventually(recorded, message=lambda: f"{found.get('attempts')} attempts")
        return found

    first = await attempts(1)
    retried = await hookcast.api.post(f"/v2/deliveries/{first['id']}/retry/")
    assert retried.status_code == 202, retried.text
    await receiver.wait_for(2)
    second = await attempts(2)

    # The first failure's retry (in about a minute) was the manual retry's: the webhook
    # shows the retry the second failure scheduled (in about an hour), as its delivery does.
    shown = (await hookcast.webhook(hook["id"]))["metadata"]["next_attempt_at"]
    assert shown == second["next_attempt_at"]
    ahead = datetime.fromisoformat(str(shown)) - datetime.now(UTC)
    assert ahead > timedelta(minutes=30)


async def test_deliveries_of_one_publish_list_newest_published_first(
    hookcast: Deployment,
) -> None:
    """A publish's deliveries and events share their creation time: they list in the order
    published, the last first, on every page; their random ids had put them in any order."""
    hook = await hookcast.create_webhook("https://receiver.example/hook")
    published = await hookcast.publish_media(9)

    whole = await hookcast.deliveries(hook["id"], page_length=100)
    pages = [await hookcast.deliveries(hook["id"], page=n, page_length=4) for n in (1, 2, 3)]

    assert len({delivery["created"] for delivery in whole["deliveries"]}) == 1
    assert [delivery["event_id"] for delivery in whole["deliveries"]] == published[::-1]
    paged = [delivery["event_id"] for page in pages for delivery in page["deliveries"]]
    assert paged == published[::-1]
    listed = await hookcast.api.get("/v2/events/", params={"page_length": 100})
    assert [event["event_id"] for event in listed.json()["events"]] == published[::-1]
