"""Throughput rounds summed up: each contestant's rate and CPU per delivery over the rounds
whose counts matched, and the ratios between contestants taken round by round, only from
rounds in which both sides' counts matched (a failed round is reported, never divided)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.config import CELERY, EMBEDDED, RAW, SCALED
from benchmarks.stats import summary

Outcome = dict[str, Any]  # one contestant's stretch in one round (throughput.py's _outcome)
Round = Mapping[str, Outcome]  # by contestant

# (numerator, denominator): the comparisons.
PAIRS = ((EMBEDDED, RAW), (SCALED, RAW), (EMBEDDED, CELERY), (SCALED, CELERY))


def ratio_name(numerator: str, denominator: str) -> str:
    return f"{numerator} / {denominator}"


def paired_ratios(rounds: Sequence[Round], numerator: str, denominator: str) -> list[float]:
    """numerator's rate over denominator's, in each round where both stretches' counts
    matched and both rates were measured."""
    ratios = []
    for by_name in rounds:
        top, bottom = by_name.get(numerator), by_name.get(denominator)
        if top is None or bottom is None or not (top["ok"] and bottom["ok"]):
            continue
        if top["rate"] and bottom["rate"]:
            ratios.append(top["rate"] / bottom["rate"])
    return ratios


def summarize(rounds: Sequence[Round]) -> dict[str, Any]:
    """Rates, CPU µs per delivery (per process and in all) and ratios: medians with spread
    over the matching rounds; the failed stretches listed with their counts."""
    names = list(dict.fromkeys(name for by_name in rounds for name in by_name))
    good = {name: [r[name] for r in rounds if name in r and r[name]["ok"]] for name in names}
    cpu: dict[str, dict[str, Any]] = {}
    for name, outcomes in good.items():
        processes = list(dict.fromkeys(p for o in outcomes for p in o["cpu_us"]))
        cpu[name] = {p: summary([o["cpu_us"].get(p) for o in outcomes]) for p in processes}
        cpu[name]["all"] = summary([o["cpu_us_total"] for o in outcomes])
    ratios = {
        ratio_name(top, bottom): summary(paired_ratios(rounds, top, bottom))
        for top, bottom in PAIRS
        if top in names and bottom in names
    }
    return {
        "deliveries_per_second": {n: summary([o["rate"] for o in good[n]]) for n in names},
        "cpu_us_per_delivery": cpu,
        "ratios": ratios,
        "failed": [o for by_name in rounds for o in by_name.values() if not o["ok"]],
    }
