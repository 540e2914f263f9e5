"""docs/benchmarks.md's throughput tables (rates, CPU per delivery by process, ratios taken
round by round, each contestant's configuration, every round's counts). Rendered by
report.py."""

from __future__ import annotations

from typing import Any

from benchmarks.config import CELERY, RAW
from benchmarks.rounds import ratio_name

_X = "\N{MULTIPLICATION SIGN}"
_DASH = "\N{EN DASH}"


def _n(value: Any, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def spread(entry: dict[str, Any] | None, digits: int = 0, *, unit: str = "") -> str:
    """median (min-max, n=runs), or a dash when nothing was measured."""
    if not entry or entry.get("median") is None:
        return "—"
    low, high = _n(entry["min"], digits), _n(entry["max"], digits)
    return f"{_n(entry['median'], digits)}{unit} ({low}{_DASH}{high}, n={len(entry['runs'])})"


def deliveries(phases: dict[str, Any]) -> list[str]:
    """The ceilings, then every contestant's rounds summed up, configured, and listed."""
    ceilings = phases.get("ceilings", {})
    throughput = phases.get("throughput", {})
    lines = ["", "### Deliveries per second and CPU per delivery", ""]
    if ceilings:
        lines += [
            "| ceiling | requests/s |",
            "|---|---|",
            f"| wrk → Python receiver | {spread(ceilings.get('wrk->receiver'))} |",
            f"| wrk → nginx 204 (1 worker) | {spread(ceilings.get('wrk->nginx'))} |",
            "",
        ]
    if not throughput.get("rounds"):
        return lines
    lines += [_receiver_sentence(throughput), "", *_table(throughput)]
    lines += ["", "| contestant | configuration |", "|---|---|"]
    lines += [f"| {name} | {text} |" for name, text in throughput["configuration"].items()]
    return [*lines, "", *_rounds(throughput["rounds"])]


def _receiver_sentence(throughput: dict[str, Any]) -> str:
    receiver = throughput["receiver"]
    version = throughput.get("receiver_version") or "nginx"
    where = (
        f"{version} (1 worker, `return 204`; deliveries counted from its access log)"
        if receiver == "nginx"
        else "the Python receiver (nginx is not installed)"
    )
    return (
        f"Every contestant delivered to {where}, in {_rounds_count(throughput['rounds'])}, "
        "the contestants in turn within each round (the order rotating from round to round). "
        "Rates from the first arrival to the last; CPU time of each process over that same "
        "span (`/proc/<pid>/stat`: the process, its children and what it reaped), per "
        "delivery; ratios taken round by round from rounds in which both sides' counts "
        f"matched. Medians (min{_DASH}max, rounds)."
    )


def _rounds_count(rounds: list[Any]) -> str:
    return f"{len(rounds)} round" + ("" if len(rounds) == 1 else "s")


def _table(throughput: dict[str, Any]) -> list[str]:
    rates = throughput["deliveries_per_second"]
    cpu = throughput["cpu_us_per_delivery"]
    ratios = throughput["ratios"]
    lines = [
        "| contestant | deliveries/s | vs raw aiohttp | vs Celery | CPU µs per delivery, "
        "by process | all processes |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in rates.items():
        by_process = {k: v for k, v in cpu.get(name, {}).items() if k != "all"}
        processes = ", ".join(f"{k} {spread(v)}" for k, v in by_process.items())
        lines.append(
            f"| {name} | {spread(entry)} | {spread(ratios.get(ratio_name(name, RAW)), 2, unit=_X)} "
            f"| {spread(ratios.get(ratio_name(name, CELERY)), 1, unit=_X)} | {processes or '—'} "
            f"| {spread(cpu.get(name, {}).get('all'))} |"
        )
    return lines


def _rounds(rounds: list[dict[str, Any]]) -> list[str]:
    """Every stretch's counts; a failed one says why, and shows no rate."""
    lines = [
        "| round | contestant | expected | distinct at the receiver | duplicates | unsigned "
        "| recorded by the contestant | deliveries/s | CPU µs per delivery | steal | counts |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for by_name in rounds:
        for o in by_name.values():
            status = "match" if o["ok"] else "**FAILED**: " + "; ".join(o["problems"])
            rate = _n(o["rate"]) if o["ok"] else "— (refused)"
            steal = "—" if o["steal_percent"] is None else f"{o['steal_percent']:g}%"
            cpu = ", ".join(f"{k} {_n(v)}" for k, v in o["cpu_us"].items()) or "—"
            cpu = cpu if o["ok"] else "— (refused)"
            lines.append(
                f"| {o['round']} | {o['contestant']} | {o['expected']:,} | {o['distinct']:,} "
                f"| {o['duplicates']:,} | {o['unsigned']:,} | {_n(o['durable'])} | {rate} "
                f"| {cpu} | {steal} | {status} |"
            )
    return lines
