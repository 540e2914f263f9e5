"""`python -m benchmarks.durable_stairs` drains every step to its last delivery recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.durable_stairs import STEPS

REPO = Path(__file__).resolve().parents[2]


def test_every_step_drains_and_records_past_its_warmup() -> None:
    quick = ("--deliveries", "600", "--warmup", "100", "--rounds", "1")
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.durable_stairs", *quick],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        cwd=REPO,
    )
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    drains = [row for row in rows if "round" in row]
    assert [row["step"] for row in drains] == list(STEPS)
    for row in drains:
        # Measured from the first recording at or past the 100th delivery to the last: at
        # most 500, fewer where that recording's batch (up to 128 in the peer) passed the
        # 100th well (344 seen in CI: the measure began at the 256th).
        assert 200 < row["deliveries"] <= 500, row
        assert row["process_us"] >= row["thread_us"] > 0, row
