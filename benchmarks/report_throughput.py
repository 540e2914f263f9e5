"""docs/benchmarks.md's throughput tables (rates, CPU per delivery by process, ratios taken
round by round, each contestant's configuration, every round's counts) and issue 19's
targets as far as the run measures them. Rendered by report.py."""

from __future__ import annotations

from typing import Any

from benchmarks.config import CELERY, EMBEDDED, RAW, SCALED
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


def targets(results: dict[str, Any]) -> list[str]:
    """Issue 19's six targets: the figure this run measured for each, or that it did not."""
    phases = results["phases"]
    throughput = phases.get("throughput", {})
    live = phases.get("latency_publish_fanout", {})
    rows = [
        _publish_target(live.get("publish", {})),
        _postgres_target(throughput),
        _embedded_target(throughput),
        _latency_target(live.get("latency", {})),
        (
            f"5. cost follows load (CPU per event at 50 and 250/s ≤ 2{_X} that at 2,000/s)",
            "not measured by `make bench`: `python -m benchmarks.pg_cost pace`",
            "—",
        ),
        (
            "6. fairness costs nothing measurable (ordered ≥ 80% of unordered)",
            "not measured by `make bench`",
            "—",
        ),
    ]
    return [
        "",
        "### Issue 19's targets, from this run",
        "",
        "| target | this run | met |",
        "|---|---|---|",
        *(f"| {target} | {figure} | {met} |" for target, figure, met in rows),
    ]


def _met(value: float | None, ok: bool) -> str:
    return "—" if value is None else ("yes" if ok else "no")


def _publish_target(publish: dict[str, Any]) -> tuple[str, str, str]:
    target = "1. PostgreSQL publishing: batches of 100 ≥ embedded's; single events ≥ 3,000/s"

    def rate(name: str, batch: str) -> float | None:
        value = publish.get(name, {}).get(batch, {}).get("events_per_second")
        return None if value is None else float(value)

    scaled, embedded, single = rate(SCALED, "100"), rate(EMBEDDED, "100"), rate(SCALED, "1")
    if scaled is None or not embedded:
        return target, "not measured by this run", "—"
    ratio = scaled / embedded
    figure = (
        f"batches of 100: {_n(scaled)} vs {_n(embedded)} events/s = {ratio:.2f}{_X}; "
        f"single events {_n(single)}/s (one publish run each)"
    )
    return target, figure, _met(ratio, ratio >= 1.0 and (single or 0) >= 3000)


def _unmeasured(throughput: dict[str, Any], *names: str) -> str:
    """Why a throughput figure is missing: not run, or no round's counts matched."""
    ran = {name for by_name in throughput.get("rounds", []) for name in by_name}
    if set(names) <= ran:
        return "no figure: no round in which the counts matched"
    return "not measured by this run"


def _postgres_target(throughput: dict[str, Any]) -> tuple[str, str, str]:
    target = "2. PostgreSQL CPU per delivery ≤ 25 µs (scaled out)"
    entry = throughput.get("cpu_us_per_delivery", {}).get(SCALED, {}).get("postgres")
    if not entry or entry.get("median") is None:
        return target, _unmeasured(throughput, SCALED), "—"
    return target, spread(entry, 1, unit=" µs"), _met(entry["median"], entry["median"] <= 25)


def _embedded_target(throughput: dict[str, Any]) -> tuple[str, str, str]:
    target = f"3. embedded ≥ 1.0{_X} the raw aiohttp client's deliveries/s"
    entry = throughput.get("ratios", {}).get(ratio_name(EMBEDDED, RAW))
    if not entry or entry.get("median") is None:
        return target, _unmeasured(throughput, EMBEDDED, RAW), "—"
    return target, spread(entry, 2, unit=_X), _met(entry["median"], entry["median"] >= 1.0)


def _latency_target(latency: dict[str, Any]) -> tuple[str, str, str]:
    target = "4. p99 publish → receipt at 2,000/s: < 20 ms embedded, < 30 ms scaled out"
    limits = {EMBEDDED: 20.0, SCALED: 30.0}
    figures, verdicts = [], []
    for name, limit in limits.items():
        measured = latency.get(name, {}).get("2000") or {}
        # The phase's p99 is taken from the 202's return; benchmarks/latency.py's keys name
        # both clocks. The target's clock starts when the publisher sends: a figure taken
        # only from the 202 does not decide it.
        from_202 = measured.get("p99_ms_from_202", measured.get("p99"))
        from_send = measured.get("p99_ms_from_send")
        if measured.get("saturated") or from_202 is None:
            continue
        text = f"{name} p99 {_n(from_202, 1)} ms from the 202"
        if from_send is not None:
            text += f", {_n(from_send, 1)} ms from the send"
            verdicts.append(from_send < limit)
        figures.append(text)
    if not figures:
        return target, "not measured by this run", "—"
    met = "—" if len(verdicts) < len(figures) else ("yes" if all(verdicts) else "no")
    return target, "; ".join(figures), met
