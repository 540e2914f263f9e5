"""Issue 19's targets measured in rounds: each round runs the target's parts (the two sides of
its ratio, in an order that alternates from round to round), records the load average before
and after and the machine's steal meanwhile, and takes the round's ratios from the parts
whose counts matched. A part whose counts do not match (BenchFailure: the receiver, nginx or
the database counted other than what was sent) is reported as FAILED with why, and the
round gives no ratio; the medians and spreads are taken over the rounds that did."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.config import BenchFailure
from benchmarks.procs import cpu_times, steal_percent
from benchmarks.run import Run
from benchmarks.stats import summary

Parts = Mapping[str, dict[str, Any]]  # the figures of each part that matched, by part name


@dataclass(frozen=True)
class Part:
    """One side of a round: its name and what measures it (its figures, or BenchFailure)."""

    name: str
    measure: Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Plan:
    """What a target phase runs in round `number` (`parts`), the ratios it takes from the
    parts' figures (None where a part it needs failed or gave no figure), and a line that
    sums a round up for the log and the report."""

    parts: Callable[[int], Sequence[Part]]
    ratios: Callable[[Parts], dict[str, float | None]]  # called only when every part matched
    describe: Callable[[Parts], str]  # given the parts that matched


def target_rounds(
    plan: Plan, *, rounds: int, phase: str, log: Callable[[str], None]
) -> dict[str, Any]:
    """`rounds` rounds of `plan` (each logged): every round's figures, load, steal and
    ratios, and each ratio's median and spread over the rounds that gave it."""
    done = [_round(plan, number, phase=phase, log=log) for number in range(rounds)]
    keys = list(dict.fromkeys(key for r in done for key in r["ratios"]))
    return {
        "rounds": done,
        "ratios": {key: summary([r["ratios"].get(key) for r in done]) for key in keys},
        "failed_rounds": [r["round"] for r in done if r["failed"]],
    }


def _round(plan: Plan, number: int, *, phase: str, log: Callable[[str], None]) -> dict[str, Any]:
    parts = list(plan.parts(number))
    if number % 2:
        parts.reverse()
    load_before = os.getloadavg()[0]
    machine = cpu_times()
    measured: dict[str, dict[str, Any]] = {}
    failed: list[str] = []
    for part in parts:
        try:
            measured[part.name] = part.measure()
        except BenchFailure as exc:
            failed.append(f"{part.name}: {exc}")
    # A round whose counts did not match gives no ratio at all.
    ratios = {} if failed else plan.ratios(measured)
    result = {
        "round": number,
        "order": [part.name for part in parts],
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "steal_percent": steal_percent(machine, cpu_times()),
        "parts": measured,
        "failed": failed,
        "ratios": {k: None if v is None else round(v, 5) for k, v in ratios.items()},
        "text": plan.describe(measured),
    }
    log(
        f"   {phase} round {number}: {result['text']}; ratios {result['ratios']}; load "
        f"{result['load_before']}-{result['load_after']}, steal {result['steal_percent']}%"
        + (f"; FAILED: {'; '.join(failed)}" if failed else "")
    )
    return result


def part_work(run: Run, phase: str, number: int, name: str) -> Path:
    """A fresh work directory (logs, databases) for one part of one round."""
    path = run.work / f"{phase}-{number}-{name}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def skipped(run: Run, phase: str, reason: str) -> dict[str, Any]:
    """A target phase this machine cannot run: recorded as skipped, with why."""
    run.skip(phase, reason)
    return {"skipped": reason}
