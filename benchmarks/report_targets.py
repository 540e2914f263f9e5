"""docs/benchmarks.md's opening table of issue 19's targets, computed from one run's target
phases (benchmarks/phases/targets.py): each target, what the issue asks, the run's median
ratio with its spread and whether that meets it; then every round of every target phase with
its load, steal, figures and ratios, a round whose counts did not match shown as FAILED."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.config import TARGET_PHASES

_X = "\N{MULTIPLICATION SIGN}"
_DASH = "\N{EN DASH}"


@dataclass(frozen=True)
class Target:
    key: str  # the ratio's key in its phase's results
    phase: str
    asks: str  # the words
    meets: Callable[[float], bool]  # whether a median ratio meets it
    limit: str = ""  # a ratio taken against an absolute limit: the figure is ratio x limit
    no_figure: str = "no round gave a figure"  # why, when the rounds matched but gave none


TARGETS = (
    Target(
        "1 batches",
        "target1_publish",
        "PostgreSQL publishing from the first request: batches of 100 through "
        "`POST /v2/events/` at least the embedded rate (PostgreSQL / embedded events/s)",
        meets=lambda ratio: ratio >= 1.0,
    ),
    Target(
        "1 single",
        "target1_publish",
        "single-event publishing on PostgreSQL at least 3,000/s (events/s / 3,000)",
        meets=lambda ratio: ratio >= 1.0,
        limit="3,000 events/s",
    ),
    Target(
        "1 single scaled",
        "target1_publish",
        "the same, 3,000/s scaled by this machine's speed against the issue's: events/s / "
        f"(3,000 {_X} the round's raw aiohttp rate / the issue's 13,650)",
        meets=lambda ratio: ratio >= 1.0,
        no_figure="nginx is not installed (no raw aiohttp run to scale by)",
    ),
    Target(
        "2",
        "target2_pg_work",
        "PostgreSQL's work per delivery at most 25 µs (its CPU µs per delivery / 25)",
        meets=lambda ratio: ratio <= 1.0,
        limit="25 µs",
    ),
    Target(
        "2 scaled",
        "target2_pg_work",
        "the same, 25 µs scaled by this machine's speed against the issue's: CPU µs per "
        f"delivery / (25 {_X} the round's raw aiohttp CPU µs per delivery / the issue's 74)",
        meets=lambda ratio: ratio <= 1.0,
        no_figure="nginx is not installed (no raw aiohttp run to scale by)",
    ),
    Target(
        "3",
        "target3_pairs",
        f"embedded durable delivery at least 1.0{_X} the raw aiohttp ceiling (deliveries/s)",
        meets=lambda ratio: ratio >= 1.0,
    ),
    Target(
        "3 CPU",
        "target3_pairs",
        "embedded durable delivery costing no more CPU than the raw POST (raw's CPU µs per "
        "delivery / embedded's)",
        meets=lambda ratio: ratio >= 1.0,
    ),
    Target(
        "3 peer CPU",
        "target3_pairs",
        "3's CPU ratio for the least durable deliverer, measured in the same rounds "
        "(benchmarks/durable_floor.py: HookCast's JW body and three signatures, SQLite WAL "
        "with every outcome and attempt committed, uvloop and httptools, nothing else): what "
        "the machine allows a durable, signed, recorded delivery",
        meets=lambda ratio: ratio >= 1.0,
    ),
    Target(
        "4 embedded",
        "target4_5a_pace",
        "p99 from sending the publish to receipt at 2,000 events/s, embedded, under 20 ms "
        "(p99 / 20 ms)",
        meets=lambda ratio: ratio < 1.0,
        limit="20 ms",
        no_figure="the publisher reached the offered rate in no round (a p99 at a rate not "
        "reached is no result)",
    ),
    Target(
        "4 scaled",
        "target4_5a_pace",
        "the same on PostgreSQL with 2 workers, under 30 ms (p99 / 30 ms)",
        meets=lambda ratio: ratio < 1.0,
        limit="30 ms",
        no_figure="the publisher reached the offered rate in no round (a p99 at a rate not "
        "reached is no result)",
    ),
    Target(
        "5a",
        "target4_5a_pace",
        "cost follows load: CPU per event (HookCast's and PostgreSQL's) at 50 and 250/s "
        "at most twice that at 2,000/s (the higher of the two / the 2,000/s figure)",
        meets=lambda ratio: ratio <= 2.0,
    ),
    Target(
        "5a peer",
        "target4_5a_pace",
        "5a's ratio for the least durable publish server, measured in the same rounds "
        "(benchmarks/mini_publish.py: uvloop, httptools and one committed INSERT into "
        "PostgreSQL per request, nothing else; its CPU and PostgreSQL's): what the machine's "
        "own stack allows",
        meets=lambda ratio: ratio <= 2.0,
    ),
    Target(
        "5b",
        "target5b_balance",
        "deliveries while the embedded API is saturated at least half their drain rate "
        "(delivered/s meanwhile / a seeded backlog of as many deliveries drained by the same "
        "code)",
        meets=lambda ratio: ratio >= 0.5,
    ),
    Target(
        "6",
        "target6_ordering",
        "fairness costs nothing measurable: ordered delivery at least 80% of unordered "
        "(ordered / unordered deliveries/s)",
        meets=lambda ratio: ratio >= 0.8,
    ),
)


def _spread(entry: dict[str, Any], digits: int = 2) -> str:
    low, high = f"{entry['min']:.{digits}f}", f"{entry['max']:.{digits}f}"
    return f"{entry['median']:.{digits}f}{_X} ({low}{_DASH}{high}, n={len(entry['runs'])})"


def _figure(entry: dict[str, Any], limit: str) -> str:
    """The median as the absolute figure it stands for: ratio x the limit."""
    amount, _, unit = limit.partition(" ")
    return f"; {entry['median'] * float(amount.replace(',', '')):,.1f} {unit}"


def _cells(target: Target, phases: dict[str, Any]) -> tuple[str, str]:
    """This run's ratio (spread) and whether it meets the target."""
    phase = phases.get(target.phase)
    if phase is None:
        return "not run (`--phases`)", "—"
    skipped = phase.get("skipped") or phase.get("skipped_ratios", {}).get(target.key)
    if skipped:
        return f"skipped: {skipped}", "—"
    entry = phase["ratios"].get(target.key)
    failed = phase["failed_rounds"]
    note = f"; round {', '.join(map(str, failed))} FAILED (counts)" if failed else ""
    if not entry or entry["median"] is None:
        if len(failed) == len(phase["rounds"]):
            return "**every round FAILED (counts)**: no ratio", "—"
        return f"no ratio: {target.no_figure}{note}", "—"
    text = _spread(entry) + (_figure(entry, target.limit) if target.limit else "") + note
    return text, "met" if target.meets(entry["median"]) else "not met"


def targets_table(results: dict[str, Any]) -> list[str]:
    """The table the generated part opens with, and how its figures were taken."""
    phases = results["phases"]
    sizes = results["config"]["targets"]
    rounds, rates = sizes["rounds"], sizes["pace_rates"]
    return [
        "### Issue 19's targets, from this run",
        "",
        f"| target | what the issue asks | this run: median ratio (min{_DASH}max, rounds) | |",
        "|---|---|---|---|",
        *(f"| {t.key} | {t.asks} | {' | '.join(_cells(t, phases))} |" for t in TARGETS),
        "",
        f"Each target in {rounds} round{'s' if rounds != 1 else ''} (`--target-rounds`) of its "
        "phase, the two sides of a ratio in an order that alternates from round to round; a "
        "round whose counts did not match gives no ratio. Targets 4 and 5a were taken at "
        f"{', '.join(f'{rate:,}' for rate in rates)} events/s. Every round's figures, load "
        'average and steal are listed under "Issue 19\'s targets, round by round".',
    ]


def target_rounds_table(phases: dict[str, Any]) -> list[str]:
    """Every round of every target phase that ran."""
    ran = [name for name in TARGET_PHASES if "rounds" in phases.get(name, {})]
    if not ran:
        return []
    lines = [
        "",
        "### Issue 19's targets, round by round",
        "",
        "| phase | round | order | load average (before → after) | steal | counts "
        "| figures | ratios |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ran:
        for r in phases[name]["rounds"]:
            counts = "**FAILED**: " + "; ".join(r["failed"]) if r["failed"] else "match"
            steal = "—" if r["steal_percent"] is None else f"{r['steal_percent']:g}%"
            ratios = ", ".join(
                f"{key} {value:.2f}{_X}" for key, value in r["ratios"].items() if value is not None
            )
            lines.append(
                f"| {name} | {r['round']} | {', '.join(r['order'])} | {r['load_before']} → "
                f"{r['load_after']} | {steal} | {counts} | {r['text']} | {ratios or '—'} |"
            )
    return lines
