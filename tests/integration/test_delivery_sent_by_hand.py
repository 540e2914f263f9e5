"""A test a person sends to a webhook goes "even when it is disabled", to a real receiver
on loopback, from a real worker: sent while no worker ran, or retrying when the webhook
was disabled. Before, the start-up sweep and the disable's walk paused it with the
webhook's published deliveries, and it went only once the webhook was enabled again.
"""

from __future__ import annotations

from datetime import timedelta

from delivery_harness import Deployment, OffsetClock, moved_while_claimed
from receivers import answer, first_then

from hookcast.cli.runtime import utc_now
from support.waiting import eventually


async def _send_test(hookcast: Deployment, webhook_id: str) -> str:
    sent = await hookcast.api.post(f"/v2/webhooks/{webhook_id}/test/")
    assert sent.status_code == 202, sent.text
    event_id: str = sent.json()["event_id"]
    return event_id


async def _disable(hookcast: Deployment, webhook_id: str) -> None:
    """A person disables the webhook; its walk is over when this returns."""
    saved = await hookcast.api.patch(
        f"/v2/webhooks/{webhook_id}/", json={"metadata": {"enabled": False}}
    )
    assert saved.status_code == 200, saved.text
    await hookcast.runtime.store.settle_pauses()


async def _still_disabled_with_one_paused(hookcast: Deployment, webhook_id: str) -> None:
    assert (await hookcast.webhook(webhook_id))["metadata"]["enabled"] is False
    paused = await hookcast.deliveries(webhook_id, status="paused")
    assert paused["total"] == 1  # the published delivery: still kept from the endpoint


async def test_a_test_sent_while_no_worker_ran_goes_when_one_starts(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver()
    hook = await hookcast.hook_for(receiver)
    await hookcast.publish_media(1)
    await _disable(hookcast, hook["id"])
    test_id = await _send_test(hookcast, hook["id"])

    # A worker's start: its sweep of the walks owed (cli/runtime.py), then its claims.
    await hookcast.runtime.store.finish_walks(utc_now())
    hookcast.start_worker()

    await receiver.wait_for(1)
    assert receiver.event_ids() == [test_id]
    await _still_disabled_with_one_paused(hookcast, hook["id"])
    receiver.assert_all_verified()


async def test_a_test_retrying_when_its_webhook_is_disabled_still_goes(
    hookcast: Deployment,
) -> None:
    """The receiver is down for the test and a published delivery (each retried in an
    hour); the webhook is disabled meanwhile; the receiver comes back. The published one
    stays paused, the test goes."""
    receiver = await hookcast.receiver(first_then(answer(503), answer(204), times=2))
    hook = await hookcast.hook_for(receiver, retry_policy=[3600])
    clock = OffsetClock()
    hookcast.start_worker(clock=clock)
    test_id = await _send_test(hookcast, hook["id"])
    await receiver.wait_for(1)
    await hookcast.publish_media(1)
    await _attempted_once(hookcast, hook["id"], count=2)
    await _disable(hookcast, hook["id"])

    clock.offset = timedelta(hours=2)  # the retries are due

    await receiver.wait_for(3)
    assert receiver.event_ids()[2] == test_id
    (sent,) = await hookcast.wait_for_status(hook["id"], "succeeded", 1)
    assert sent["event_id"] == test_id
    await _still_disabled_with_one_paused(hookcast, hook["id"])


async def _attempted_once(hookcast: Deployment, webhook_id: str, *, count: int) -> None:
    """Waits until `count` deliveries of the webhook have their failed attempt recorded."""

    async def recorded() -> bool:
        page = await hookcast.deliveries(webhook_id, status="pending")
        return sum(1 for d in page["deliveries"] if d["attempts"] == 1) == count

    await eventually(recorded, message="the failed attempts were not recorded")


async def test_a_test_claimed_before_its_disabled_webhook_moved_goes_to_the_new_url(
    hookcast: Deployment,
) -> None:
    """The worker's claim read the test with the webhook's old URL; a person saved a new
    one before the worker took it on. Before, the park kept it leased and the worker sent
    it with the stale copy, to the old URL; an enabled webhook's delivery goes back to be
    claimed with the saved webhook, and so does this one now."""
    old = await hookcast.receiver()
    hook = await hookcast.hook_for(old)
    new = await hookcast.receiver()
    new.secret = hook["secret"]
    await _disable(hookcast, hook["id"])

    test_id = await moved_while_claimed(
        hookcast, hook["id"], new.url, lambda: _send_test(hookcast, hook["id"])
    )

    (sent,) = await hookcast.wait_for_status(hook["id"], "succeeded", 1)
    assert sent["event_id"] == test_id
    assert (old.event_ids(), new.event_ids()) == ([], [test_id])
    new.assert_all_verified()
