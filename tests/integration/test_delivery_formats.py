"""Each format end to end: what its receivers get from a running worker, verified their way."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from delivery_harness import Deployment
from receivers import Receiver
from standardwebhooks.webhooks import Webhook as StandardWebhook


def _hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def test_an_apivideo_receiver_gets_its_body_and_verifies_its_signature(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver()
    hook = await hookcast.create_webhook(
        receiver.url, format="apivideo", events=["live-stream.broadcast.started"]
    )
    hookcast.start_worker()

    await hookcast.publish(
        {"event": "media_available", "media_id": "MNYaMSQl"},  # no api.video name: not sent
        {"event": "channel_active", "channel_id": "li3VbBGc", "event_time": "2024-08-27T00:15:45Z"},
    )
    (item,) = await receiver.wait_for(1)

    assert item.payload == {
        "type": "live-stream.broadcast.started",
        "emittedAt": "2024-08-27T00:15:45.000Z",
        "liveStreamId": "li3VbBGc",
    }
    assert item.headers["X-Api-Video-WebhookID"] == hook["id"]
    # api.video's PHP sample: hash_hmac("sha256", file_get_contents("php://input"), $secret)
    assert item.headers["X-Api-Video-Signature"] == _hex(hook["secret"], item.body)
    assert "Authorization" not in item.headers
    await hookcast.wait_for_status(hook["id"], "succeeded", 1)
    assert (await hookcast.deliveries(hook["id"]))["total"] == 1


async def test_a_standard_webhooks_receiver_verifies_with_the_official_library(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver()
    hook = await hookcast.create_webhook(
        receiver.url, format="standard", events=["media.available"]
    )
    hookcast.start_worker()

    await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})
    (item,) = await receiver.wait_for(1)

    verified = StandardWebhook(hook["secret"]).verify(item.body, item.headers)
    assert verified["type"] == "media.available"
    assert verified["data"] == {"media_id": "MNYaMSQl", "site_id": hookcast.site_id, "sequence": 1}


async def test_a_media_manager_receiver_checks_the_signature_header(hookcast: Deployment) -> None:
    receiver = await hookcast.receiver()
    hook = await hookcast.create_webhook(receiver.url, format="mediamanager", events=["*"])
    hookcast.start_worker()

    await hookcast.publish({"event": "channel_created", "channel_id": "YijbmYHJ"})
    (item,) = await receiver.wait_for(1)

    assert item.payload["event"] == "media.created"
    assert item.payload["data"] == {"token": "YijbmYHJ"}
    assert item.headers["Signature"] == _hex(hook["secret"], item.body)
    assert hook["metadata"]["timeout_seconds"] == 3


async def test_flowplayer_deliveries_wait_held_for_the_organization_secret(
    hookcast: Deployment,
) -> None:
    receiver, hook = await _one_held_flowplayer_delivery(hookcast)
    assert (await hookcast.webhook(hook["id"]))["metadata"]["held_deliveries"] == 1
    test = await hookcast.api.post(f"/v2/webhooks/{hook['id']}/test/")
    assert test.status_code == 409, test.text
    assert "organization secret" in test.text

    await _set_organization_secret(hookcast)
    released = await hookcast.api.post(f"/v2/webhooks/{hook['id']}/held/deliver/")
    assert released.json() == {"delivered": 1}, released.text
    await hookcast.publish({"event": "media_available", "media_id": "SECOND01"})

    items = await receiver.wait_for(2)
    for item in items:
        assert item.payload["event_type"] == "VIDEO_READY"
        signature = item.headers["X-FP-Webhook-Signature-Hmac-Sha-256"]
        assert signature == _hex("our organization secret", item.body)
    assert sorted(item.payload["payload"]["id"] for item in items) == ["MNYaMSQl", "SECOND01"]


async def test_the_flowplayer_secret_is_revealed_to_admins_and_rotated(
    hookcast: Deployment,
) -> None:
    before = await hookcast.api.get("/v2/account/flowplayer_secret/")
    assert before.json() == {"secret": None}
    short = await hookcast.api.put("/v2/account/flowplayer_secret/", json={"secret": "short"})
    assert short.status_code == 400

    rotated = await hookcast.api.post("/v2/account/flowplayer_secret/rotate/")
    assert rotated.status_code == 200, rotated.text
    secret = rotated.json()["secret"]
    assert len(secret) >= 16
    assert (await hookcast.api.get("/v2/account/flowplayer_secret")).json() == {"secret": secret}


async def test_a_held_flowplayer_delivery_is_not_sent_unsigned_by_a_retry(
    hookcast: Deployment,
) -> None:
    receiver, hook = await _one_held_flowplayer_delivery(hookcast)
    (held,) = (await hookcast.deliveries(hook["id"]))["deliveries"]

    # The log's "Send now" (the API's retry) asks for the secret, as a test or a release does:
    # it sent the delivery to a worker that could not sign it, a failed attempt (and a
    # traceback) each time, the webhook failing, the event given up in the end.
    retried = await hookcast.api.post(f"/v2/deliveries/{held['id']}/retry/")
    assert retried.status_code == 409, retried.text
    assert "organization secret" in retried.text

    await _set_organization_secret(hookcast)
    again = await hookcast.api.post(f"/v2/deliveries/{held['id']}/retry/")
    assert again.status_code == 202, again.text
    (item,) = await receiver.wait_for(1)
    assert item.payload["payload"]["id"] == "MNYaMSQl"
    await hookcast.wait_for_status(hook["id"], "succeeded", 1)


async def _one_held_flowplayer_delivery(hookcast: Deployment) -> tuple[Receiver, dict[str, Any]]:
    """A Flowplayer-format webhook and one event for it, held: no organization secret yet
    (Flowplayer would send nothing; HookCast holds it)."""
    receiver = await hookcast.receiver()
    hook = await hookcast.create_webhook(receiver.url, format="flowplayer", events=["VIDEO_READY"])
    hookcast.start_worker()
    await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})
    await hookcast.wait_for_status(hook["id"], "held", 1)
    return receiver, hook


async def _set_organization_secret(hookcast: Deployment) -> None:
    put = await hookcast.api.put(
        "/v2/account/flowplayer_secret/", json={"secret": "our organization secret"}
    )
    assert put.status_code == 200, put.text
