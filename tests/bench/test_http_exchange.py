"""benchmarks.http_exchange keeps working: with small counts, both sides (HookCast's sender
and the floor) answer every request 204, nginx's log holds every request each process sent
(the benchmark checks it and fails otherwise), and a baseline checkout's rounds pair with
this one's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks.nginx import nginx_binary

pytestmark = pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed")

REPO = Path(__file__).resolve().parents[2]


def test_a_small_run_measures_both_sides_of_every_round() -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.http_exchange",
            *("--requests", "300", "--warmup", "40", "--inflight", "4", "--rounds", "2"),
            # This checkout as its own baseline: the pairing, not a difference, is checked.
            *("--baseline-src", str(REPO / "src")),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    *rows, summary = [json.loads(line) for line in completed.stdout.splitlines()]

    assert [(row["round"], row["side"]) for row in rows] == [
        (0, "this"),
        (0, "baseline"),
        (1, "baseline"),
        (1, "this"),
    ]
    assert {row["order"] for row in rows} == {"sender-floor", "floor-sender"}
    for row in rows:
        assert row["sent"] == 2 * 40 + 4 * 300
        assert row["sender_us"] > 0
        assert row["floor_us"] > 0
        assert len(row["sender_legs_us"]) == len(row["floor_legs_us"]) == 2
    assert len(summary["this_over_baseline_sender"]) == 2
    assert summary["this_over_baseline_median"] > 0
