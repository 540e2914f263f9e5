"""The SSRF guard at delivery time: a webhook whose name resolved to nothing (or to a public
address) when it was created, and resolves to 127.0.0.1 when it is sent (DNS rebinding), is
refused on the address actually connected to, and the refusal is recorded in its attempt.

No real DNS is involved: the sender's resolver is replaced by one that answers 127.0.0.1.
(Redirects, which must never be followed, are covered in test_delivery_retries.py.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from delivery_harness import Deployment, require_sqlite
from ops_support import json_logs, observed_worker

REBINDING_NAME = "rebind.hookcast.test"


class LoopbackResolver:
    """Answers 127.0.0.1 for every name: what a rebinding attacker's DNS server does."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(self, host: str) -> list[str]:
        self.asked.append(host)
        return ["127.0.0.1"]


@pytest.fixture
async def hookcast(database_url: str) -> AsyncIterator[Deployment]:
    require_sqlite(database_url)
    async with Deployment.open(database_url) as deployment:
        yield deployment


async def test_a_name_that_resolves_to_loopback_at_send_time_is_refused(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver()
    url = f"http://{REBINDING_NAME}:{receiver.port}/hook"
    # Accepted at creation: the name does not resolve (yet) for the create-time check.
    hook = await hookcast.create_webhook(url, retry_policy=[0.1])
    resolver = LoopbackResolver()
    with json_logs() as lines:
        worker = observed_worker(hookcast, allowed="", resolver=resolver)
        await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})
        (delivery,) = await hookcast.wait_for_status(hook["id"], "failed", 1)
        await worker.close()

    assert receiver.received == []  # nothing reached the loopback receiver
    assert REBINDING_NAME in resolver.asked
    errors = [attempt["error"] for attempt in delivery["attempt_log"]]
    assert len(errors) == 2
    for error in errors:
        assert "refused by the SSRF guard" in error
        assert "loopback" in error
        # the setting that decides it, and whose: the worker's, not the API server's
        assert error.endswith(
            "which the delivering process's HOOKCAST_ALLOWED_NETWORKS does not allow"
        )
    assert [attempt["status_code"] for attempt in delivery["attempt_log"]] == [None, None]
    logged = [line for line in lines if line.get("delivery_id") == delivery["id"]]
    assert [line["outcome"] for line in logged] == ["retrying", "failed"]
    assert all("SSRF guard" in line["error"] for line in logged)


async def test_the_same_name_is_delivered_when_loopback_is_allowed(hookcast: Deployment) -> None:
    """The control: the resolver does steer the connection, and only the guard refused it."""
    receiver = await hookcast.receiver()
    hook = await hookcast.hook_for(receiver)
    patched = await hookcast.api.patch(
        f"/v2/webhooks/{hook['id']}/",
        json={"metadata": {"webhook_url": f"http://{REBINDING_NAME}:{receiver.port}/hook"}},
    )
    assert patched.status_code == 200, patched.text
    observed_worker(hookcast, allowed="127.0.0.0/8", resolver=LoopbackResolver())
    await hookcast.publish({"event": "media_available", "media_id": "MNYaMSQl"})

    await hookcast.wait_for_status(hook["id"], "succeeded", 1)
    (received,) = receiver.received
    assert received.verified
