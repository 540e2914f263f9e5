"""No silent drops: what is published while a webhook is disabled is held for it, shown as a
count, and sent (in publish order) or discarded when a person says so."""

from __future__ import annotations

from typing import Any

import pytest
from delivery_harness import Deployment, with_options


async def _set_enabled(hookcast: Deployment, webhook_id: str, *, enabled: bool) -> None:
    body = {"metadata": {"enabled": enabled}}
    response = await hookcast.api.patch(f"/v2/webhooks/{webhook_id}/", json=body)
    assert response.status_code == 200, response.text


async def _held_action(hookcast: Deployment, webhook_id: str, action: str) -> Any:
    return await hookcast.api.post(f"/v2/webhooks/{webhook_id}/held/{action}/")


@pytest.mark.timeout(60)
async def test_events_published_while_disabled_are_held_then_delivered_in_order(
    database_url: str,
) -> None:
    async with Deployment.open(database_url) as hookcast:
        receiver = await hookcast.receiver()
        hook = await hookcast.hook_for(receiver)
        await _set_enabled(hookcast, hook["id"], enabled=False)
        hookcast.start_worker(with_options(concurrency=1))
        ids = [
            event_id
            for n in range(3)  # three publishes: an order to keep
            for event_id in await hookcast.publish(
                {"event": "media_available", "media_id": f"MEDIA{n:03d}"}
            )
        ]

        assert (await hookcast.webhook(hook["id"]))["metadata"]["held_deliveries"] == 3
        await hookcast.wait_for_status(hook["id"], "held", 3)
        # Still disabled: the person enables it first (the endpoint is known to be back).
        refused = await _held_action(hookcast, hook["id"], "deliver")
        assert refused.status_code == 409, refused.text
        assert refused.json()["errors"][0]["code"] == "conflict"

        await _set_enabled(hookcast, hook["id"], enabled=True)
        delivered = await _held_action(hookcast, hook["id"], "deliver")
        assert delivered.status_code == 202, delivered.text
        assert delivered.json() == {"delivered": 3}

        await receiver.wait_for_events(set(ids))
        assert receiver.event_ids() == ids
        await hookcast.wait_for_status(hook["id"], "succeeded", 3)
        assert (await hookcast.webhook(hook["id"]))["metadata"]["held_deliveries"] == 0
        receiver.assert_all_verified()


@pytest.mark.timeout(60)
async def test_discarded_held_deliveries_are_final_and_never_sent(database_url: str) -> None:
    async with Deployment.open(database_url) as hookcast:
        receiver = await hookcast.receiver()
        hook = await hookcast.hook_for(receiver)
        await _set_enabled(hookcast, hook["id"], enabled=False)
        await hookcast.publish_media(2)

        discarded = await _held_action(hookcast, hook["id"], "discard")
        assert discarded.status_code == 200, discarded.text
        assert discarded.json() == {"discarded": 2}
        await hookcast.wait_for_status(hook["id"], "discarded", 2)
        assert (await hookcast.webhook(hook["id"]))["metadata"]["held_deliveries"] == 0

        # Enabled again and working: only what is published from now on arrives.
        await _set_enabled(hookcast, hook["id"], enabled=True)
        hookcast.start_worker()
        (after,) = await hookcast.publish_media(1)
        await hookcast.wait_for_status(hook["id"], "succeeded", 1)
        assert receiver.event_ids() == [after]
        nothing = await _held_action(hookcast, hook["id"], "deliver")
        assert nothing.json() == {"delivered": 0}
        assert (await hookcast.deliveries(hook["id"], status="discarded"))["total"] == 2
