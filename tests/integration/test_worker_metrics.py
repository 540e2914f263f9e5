"""A scaled-out `hookcast worker` exports what only it knows: the attempts it made."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from delivery_harness import Deployment, processes, require_sqlite
from receivers import closed_port

from support.waiting import eventually


@pytest.mark.timeout(90)
async def test_worker_serves_its_delivery_counters_on_metrics_port(
    database_url: str, tmp_path: Path
) -> None:
    require_sqlite(database_url)
    port = closed_port()
    async with (
        Deployment.open(database_url) as hookcast,
        processes(database_url, tmp_path) as procs,
    ):
        receiver = await hookcast.receiver()
        hook = await hookcast.hook_for(receiver)
        ids = await hookcast.publish_media(3)
        worker = procs.worker("--metrics-port", str(port))
        await receiver.wait_for_events(set(ids), timeout=45)

        url = f"http://127.0.0.1:{port}/metrics"
        async with httpx.AsyncClient(timeout=2) as client:

            async def counted() -> bool:
                assert worker.process.poll() is None, worker.log_tail()
                try:
                    page = (await client.get(url)).text
                except httpx.TransportError:
                    return False
                return "hookcast_delivery_attempts_total 3.0" in page

            await eventually(counted, timeout=30, message=lambda: worker.log_tail())
            page = (await client.get(url)).text
        assert 'hookcast_deliveries_total{outcome="succeeded",status_class="2xx"} 3.0' in page
        # Per webhook, for the failure-ratio alert; and the worker's own heartbeat, fresh
        # (the stalled-worker alert reads it from this exporter too).
        assert (
            f'hookcast_webhook_attempts_total{{result="succeeded",webhook_id="{hook["id"]}"}} 3.0'
            in page
        )
        (heartbeat,) = re.findall(r"^hookcast_worker_heartbeat_age_seconds (\S+)$", page, re.M)
        assert 0 < float(heartbeat) < 30  # 0.0 would be a gauge nobody set
        # The database's figures are the API servers' to report: this exporter never reads
        # them, and its `hookcast_database_up 0` made the "Database down" rule page for every
        # worker scraped (chaos2, a real Prometheus on a scaled-out deployment).
        assert not re.findall(
            r"^hookcast_(database_up|workers_alive|deliveries_pending)", page, re.M
        )
