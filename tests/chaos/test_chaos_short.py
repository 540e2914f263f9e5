"""`make test`'s slice of `make chaos`: every chaos scenario once, with small counts.

Each run publishes known events while its fault strikes (kill -9, PostgreSQL stopped,
SQLite locked, a full disk, hostile receivers, rolling SIGTERMs) and fails if any accepted
event did not reach every webhook it matches, or if publishing ever answered a 500, a
traceback, or a 503 without the API's error format and Retry-After. docs/reliability.md
says what each one proves.

The runs are `python -m chaos --short` (its own PostgreSQL, its own processes), which takes
about 1.5 minutes on well under one core, most of it waiting for faults to end and servers
to restart: it runs beside the rest of the suite, started as soon as the session is
collected (tests/support/background.py), and these tests, run last, read its report.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from chaos.scenarios import RECOVERY_TARGET_S, SCENARIOS, Scenario

from support.background import WAIT_LIMIT, Job, Queue

ROOT = Path(__file__).resolve().parents[2]
CHAOS = "chaos-short"
SEED = 7
RECOVERY = [s for s in SCENARIOS if s.name.startswith("crash-recovery")]


def background_job(items: list[pytest.Item]) -> Job:
    """The scenarios of the selected tests, each once, as `make test` always ran them."""
    chosen = [
        item.callspec.params["scenario"] for item in items if isinstance(item, pytest.Function)
    ]
    names = [scenario.name for scenario in SCENARIOS if scenario in chosen]
    command = [sys.executable, "-m", "chaos", "--short", "--seed", str(SEED)]
    for name in names:
        command += ["--scenario", name]
    # Each run is bounded at 2 min by the runner; a little more for set-up and teardown.
    return Job(CHAOS, command, cwd=ROOT, timeout=150.0 * len(names))


@pytest.fixture(scope="module")
def chaos_runs(background: Queue) -> dict[str, dict[str, Any]]:
    """Each scenario's result, as the runner wrote it."""
    completed = background.result(CHAOS)
    found = list(completed.results.glob("*.json"))
    assert len(found) == 1, f"exit {completed.returncode}, no results:\n{completed.output[-6000:]}"
    runs: list[dict[str, Any]] = json.loads(found[0].read_text())["runs"]
    return {run["scenario"]: run for run in runs}


@pytest.mark.timeout(WAIT_LIMIT)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_nothing_accepted_is_lost(scenario: Scenario, chaos_runs: dict[str, Any]) -> None:
    result = chaos_runs[scenario.name]

    if result["status"] == "skipped":
        pytest.skip(result["reason"])
    assert result["status"] == "pass", result
    assert result["accepted"] > 0, "nothing was accepted: the run proved nothing"
    assert result["missing_pairs"] == 0
    assert result["delivered_pairs"] == result["expected_pairs"]


@pytest.mark.timeout(WAIT_LIMIT)
@pytest.mark.parametrize("scenario", RECOVERY, ids=[s.name for s in RECOVERY])
def test_what_a_killed_worker_held_is_delivered_within_seconds(
    scenario: Scenario, chaos_runs: dict[str, Any]
) -> None:
    """Embedded: within 5 s of the restart; scaled out: within 5 s of the kill, by the
    surviving worker. Not at the 60 s lease's expiry."""
    result = chaos_runs[scenario.name]
    if result["status"] == "skipped":
        pytest.skip(result["reason"])

    assert result["outstanding_at_kill"] > 0, "nothing was in flight: the kill proved nothing"
    assert result["restart_to_last_s"] < RECOVERY_TARGET_S, result
