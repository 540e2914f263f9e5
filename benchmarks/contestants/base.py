"""A contestant: something that delivers webhooks to the receiver, started for a phase and
stopped after it, whose every delivery is checked where it records them."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from benchmarks.config import REPO, BenchFailure


class Contestant:
    name: str
    secret: str
    prepare_seconds: float = 0.0

    def start(self) -> None:
        """Prepares the contestant (any backlog seeded) and starts its processes."""

    def stop(self) -> None:
        """Stops every process it started."""

    def check_durable(self, expected: int) -> None:
        """Fails the run unless `expected` deliveries are recorded as done."""

    def durable_count(self, expected: int) -> int | None:
        """The deliveries recorded as done, once `expected` are or after a bounded wait (the
        records may trail the sends); None for a contestant that records nothing."""
        return None

    def processes(self) -> dict[str, int]:
        """The processes doing its work, by name: each the root of a family whose CPU time
        is measured (proc_cpu.family_ticks), stores it depends on included."""
        return {}

    def configuration(self) -> str:
        """How it is set up, in a sentence for the report."""
        return ""

    def pace(self, rate: int, seconds: float, phase: str, out: Path) -> dict[str, Any]:
        """Publishes `rate` events a second for `seconds`, writing each event's publish time
        to `out`; the load generator's report."""
        raise NotImplementedError


def run_json(command: list[str], *, timeout: float, env: dict[str, str] | None = None) -> Any:
    """Runs a helper program (a load generator) to its end; the JSON of its last line."""
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        check=False,
        start_new_session=True,
    )
    if completed.returncode != 0:
        raise BenchFailure(f"{' '.join(command[:4])} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])
