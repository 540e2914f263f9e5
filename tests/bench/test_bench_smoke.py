"""The benchmark harness keeps working: its smoke mode (tiny counts) runs end to end, every
server it starts is stopped, and every count it checks matches.

`python -m benchmarks --smoke` is a program of its own (its servers, its databases) that
takes one to three minutes on less than one core: it runs beside the rest of the suite, started
as soon as the session is collected (tests/support/background.py), and this test, run last,
reads its report."""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from benchmarks.config import TARGET_PHASES

from support.background import WAIT_LIMIT, Job, Queue

REPO = Path(__file__).resolve().parents[2]
SMOKE = "bench-smoke"


def background_job(_items: list[pytest.Item]) -> Job:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return Job(
        SMOKE,
        [sys.executable, "-m", "benchmarks", "--smoke"],
        cwd=REPO,
        # 3.5 min here at load average 7 (other suites running) before issue 19's target
        # phases; with them 3.3 min alone at load average 7-10. 12 min leaves the suite's
        # background queue (tests/support/background.py) within its 40 min bound.
        timeout=720,
        env={"PYTHONPATH": path},
    )


@pytest.mark.timeout(WAIT_LIMIT)
def test_smoke_run_delivers_and_counts_every_event(background: Queue) -> None:
    completed = background.result(SMOKE)
    assert completed.returncode == 0, completed.output[-6000:]
    (result_file,) = completed.results.glob("smoke-*.json")
    results = json.loads(result_file.read_text())
    phases = results["phases"]
    throughput = phases["throughput"]
    assert throughput["deliveries_per_second"]["raw-aiohttp"]["median"] > 0
    assert throughput["deliveries_per_second"]["hookcast-embedded"]["median"] > 0
    # Every stretch's counts matched (at nginx, or the Python receiver where nginx is not
    # installed), and the CPU per delivery of the embedded server was measured beside it.
    assert throughput["failed"] == []
    (first_round,) = throughput["rounds"]
    assert first_round["hookcast-embedded"]["cpu_us"]["serve"] is not None
    live = phases["latency_publish_fanout"]
    assert live["latency"]["hookcast-embedded"]["5"]["missing"] == 0
    # Publish return to the last receipt: at the smoke run's 20 webhooks on loopback, every
    # delivery can land before the publish call has read its 202 (-0.001 s was seen), so
    # only that the fan-out was measured and finished promptly is checked here.
    fanout = live["fanout_seconds"]["hookcast-embedded"]["median"]
    assert math.isfinite(fanout)
    assert fanout < 30
    assert phases["backlog"]["hookcast-embedded"]["deliveries"] == 1000
    # The machine's steal is reported for every phase and every throughput run, so a slow
    # run on a crowded host can be told from a slow contestant.
    stolen = results["steal_percent"]
    assert set(phases) <= set(stolen)
    assert {"raw-aiohttp run 0", "hookcast-embedded run 0"} <= set(stolen)
    assert all(value is None or 0 <= value <= 100 for value in stolen.values())
    _assert_targets_measured(phases)


def _assert_targets_measured(phases: dict[str, Any]) -> None:
    """Issue 19's target phases each ran their round (or said why this machine cannot: no
    PostgreSQL, no nginx), every count matched, and the ratios that depend on no timing
    threshold were taken."""
    ratios: dict[str, float | None] = {}
    for name in TARGET_PHASES:
        phase = phases[name]
        if "skipped" in phase:
            continue
        assert phase["failed_rounds"] == [], phase["rounds"]
        (only_round,) = phase["rounds"]
        ratios |= only_round["ratios"]
    for key in ("1 batches", "2", "3", "3 CPU", "3 peer CPU", "5a", "5a peer", "6"):
        assert key not in ratios or (ratios[key] or 0) > 0, ratios
    # Each peer is measured in the same rounds as the HookCast deployment it stands beside.
    assert ("5a" in ratios) == ("5a peer" in ratios), ratios
    assert ("3 CPU" in ratios) == (ratios.get("3 peer CPU") is not None), ratios
