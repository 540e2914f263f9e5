"""What an operator sees while HookCast delivers: /metrics counting outcomes, the backlog
read from the database, one structured log line per attempt, and the worker's heartbeat."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from delivery_harness import Deployment, require_sqlite
from ops_support import json_logs, observed_worker, scrape
from receivers import answer, closed_port, first_then

from support.waiting import eventually

EVENT = {"event": "media_available", "media_id": "MNYaMSQl", "event_id": "evt-ops-1"}


@pytest.fixture
async def hookcast(database_url: str) -> AsyncIterator[Deployment]:
    require_sqlite(database_url)  # the store's figures are contract-tested on both databases
    async with Deployment.open(database_url) as deployment:
        yield deployment


async def test_metrics_count_publishes_attempts_outcomes_and_the_backlog(
    hookcast: Deployment,
) -> None:
    flaky = await hookcast.receiver(first_then(answer(503), answer(200)))
    ok_hook = await hookcast.hook_for(flaky, retry_policy=[0.1])
    dead_hook = await hookcast.create_webhook(
        f"http://127.0.0.1:{closed_port()}/hook", retry_policy=[0.1]
    )
    await hookcast.publish(EVENT)
    await hookcast.publish(EVENT)  # a publisher's retry: stored and counted once

    before = await scrape(hookcast)
    assert before.value("hookcast_events_published_total", event="media_available") == 1
    assert before.value("hookcast_deliveries_pending") == 2
    assert before.value("hookcast_oldest_due_delivery_age_seconds") >= 0
    assert before.value("hookcast_database_up") == 1
    # No worker yet (an API-only serve): nothing said of the worker's writes.
    assert "hookcast_database_writable" not in before.text

    observed_worker(hookcast)
    await hookcast.wait_for_status(ok_hook["id"], "succeeded", 1)
    await hookcast.wait_for_status(dead_hook["id"], "failed", 1)
    patched = await hookcast.api.patch(
        f"/v2/webhooks/{dead_hook['id']}/", json={"metadata": {"enabled": False}}
    )
    assert patched.status_code == 200

    after = await scrape(hookcast)
    counts = {
        (outcome, status): after.value(
            "hookcast_deliveries_total", outcome=outcome, status_class=status
        )
        for outcome in ("succeeded", "retrying", "failed")
        for status in ("2xx", "3xx", "4xx", "5xx", "error")
    }
    assert {key: n for key, n in counts.items() if n} == {
        ("retrying", "5xx"): 1,
        ("succeeded", "2xx"): 1,
        ("retrying", "error"): 1,
        ("failed", "error"): 1,
    }
    assert after.value("hookcast_delivery_attempts_total") == 4
    assert after.value("hookcast_delivery_latency_seconds_count") == 4
    assert after.value("hookcast_deliveries_pending") == 0
    assert after.value("hookcast_oldest_due_delivery_age_seconds") == 0
    assert after.value("hookcast_webhooks_disabled") == 1
    # This app runs no worker of its own: no heartbeat to report.
    assert after.value("hookcast_worker_heartbeat_age_seconds") == -1
    assert after.value("hookcast_database_writable") == 1  # the observed worker's writes


async def test_each_attempt_is_one_json_log_line_with_its_ids_and_outcome(
    hookcast: Deployment,
) -> None:
    receiver = await hookcast.receiver(first_then(answer(500), answer(204)))
    hook = await hookcast.hook_for(receiver, retry_policy=[0.1])
    with json_logs() as lines:
        worker = observed_worker(hookcast)
        (event_id,) = await hookcast.publish(EVENT)
        (delivery,) = await hookcast.wait_for_status(hook["id"], "succeeded", 1)
        await worker.close()

    attempts = [line for line in lines if line.get("delivery_id") == delivery["id"]]
    assert [
        (line["attempt"], line["status_code"], line["outcome"], line["level"]) for line in attempts
    ] == [(1, 500, "retrying", "info"), (2, 204, "succeeded", "info")]
    for line in attempts:
        assert (line["event_id"], line["webhook_id"]) == (event_id, hook["id"])
        assert line["latency_ms"] >= 0
        assert line["logger"] == "hookcast.delivery"
        assert delivery["id"] in line["message"]
        assert "127.0.0.1" not in str(line)  # no URL in an attempt's line


async def test_the_worker_heartbeat_is_fresh_while_it_runs(hookcast: Deployment) -> None:
    heartbeat = observed_worker(hookcast).worker.heartbeat
    await hookcast.publish(EVENT)
    await eventually(lambda: heartbeat.age() is not None, message=lambda: "no heartbeat")
    age = heartbeat.age()
    assert age is not None
    assert age < 5
    assert heartbeat.stale_reason() is None
