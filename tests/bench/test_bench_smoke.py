"""The benchmark harness keeps working: its smoke mode (tiny counts) runs end to end, every
server it starts is stopped, and every count it checks matches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)  # took 3.5 min here at load average 7 (other suites running)
def test_smoke_run_delivers_and_counts_every_event(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--results", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=570,
        check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    (result_file,) = tmp_path.glob("smoke-*.json")
    results = json.loads(result_file.read_text())
    phases = results["phases"]
    assert phases["ceilings"]["raw-aiohttp"]["median"] > 0
    throughput = phases["throughput"]["deliveries_per_second"]
    assert throughput["hookcast-embedded"]["median"] > 0
    live = phases["latency_publish_fanout"]
    assert live["latency"]["hookcast-embedded"]["50"]["missing"] == 0
    assert live["fanout_seconds"]["hookcast-embedded"]["median"] > 0
    assert phases["backlog"]["hookcast-embedded"]["deliveries"] == 1000
