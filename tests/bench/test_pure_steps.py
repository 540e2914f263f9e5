"""`python -m benchmarks.pure_steps` times every step on both sides it is given."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.pure_steps import STEPS

REPO = Path(__file__).resolve().parents[2]


def test_pure_steps_times_every_step_on_both_sides() -> None:
    quick = ("--calls", "50", "--runs", "1", "--pairs", "2")
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.pure_steps", *quick, "--src", str(REPO / "src")],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=REPO,
    )
    rows = [json.loads(line) for line in run.stdout.splitlines()]
    children = [row for row in rows if "side" in row and "least" not in row]
    assert [row["side"] for row in children] == ["src", "this", "this", "src"]
    for row in children:
        assert row["compiled"] is False  # both sides are this checkout's interpreted code
        assert all(row[step] > 0 for step in STEPS), row
    (ratios,) = [row["src/this"] for row in rows if "src/this" in row]
    assert set(ratios) == set(STEPS)
