"""Throughput: rounds in which every contestant in turn (the order rotating from round to
round) drains N pending deliveries into nginx (the Python receiver where nginx is not
installed). For each stretch: the distinct deliveries, duplicates and unsigned requests
nginx logged, the deliveries the contestant recorded, the rate from the first arrival to the
last, the CPU µs per delivery of every process involved over that same span (the
contestant's, PostgreSQL's, Redis', the receiver's) and the machine's steal meanwhile. A
stretch whose counts do not match is reported as failed with its counts, and no rate or
ratio is taken from it."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from benchmarks.arrivals import Tally, problems
from benchmarks.contestants import Contestant, create
from benchmarks.nginx import Nginx, nginx_binary, nginx_version
from benchmarks.proc_cpu import CpuSampler, steal_share
from benchmarks.receiving import window_rates
from benchmarks.rounds import summarize
from benchmarks.run import Run

_STALL_SECONDS = 30.0  # no new arrival for this long: the stretch is over, short or not


def throughput(run: Run, contestants: list[str]) -> dict[str, Any]:
    nginx = Nginx(run.children, run.work) if nginx_binary() else None
    if nginx is None:
        run.skip("nginx receiver", "nginx is not installed: throughput measured at the receiver")
    else:
        run.rss.watch("nginx", nginx.pid)
    configuration: dict[str, str] = {}
    rounds: list[dict[str, Any]] = []
    try:
        for number in range(run.config.runs):
            shift = number % max(1, len(contestants))
            by_name: dict[str, Any] = {}
            for name in [*contestants[shift:], *contestants[:shift]]:
                with run.steal(f"{name} run {number}"):
                    by_name[name] = _stretch(
                        run, name, number=number, nginx=nginx, configuration=configuration
                    )
                run.log(_line(number, by_name[name]))
            rounds.append(by_name)
    finally:
        if nginx is not None:
            run.rss.unwatch("nginx")
            nginx.stop()
    return {
        "receiver": "nginx" if nginx else "python receiver",
        "receiver_version": nginx_version() if nginx else None,
        "configuration": configuration,
        "rounds": rounds,
        **summarize(rounds),
    }


def _line(number: int, outcome: dict[str, Any]) -> str:
    name = outcome["contestant"]
    if not outcome["ok"]:
        return f"   run {number}: {name} FAILED: {'; '.join(outcome['problems'])}"
    cpu = ", ".join(f"{k} {v}" for k, v in outcome["cpu_us"].items() if v is not None)
    return (
        f"   run {number}: {name} {outcome['rate']:.0f} deliveries/s, CPU µs per delivery: "
        f"{cpu} (steal {outcome['steal_percent']}%)"
    )


def _stretch(
    run: Run, name: str, *, number: int, nginx: Nginx | None, configuration: dict[str, str]
) -> dict[str, Any]:
    """One contestant's stretch in round `number`: its outcome (see the module's doc)."""
    expected = run.config.deliveries_for(name)
    url = nginx.url if nginx else run.receiver.url
    contestant = create(run, name, backlog=expected, phase=f"t{number}", target=url)
    receiver = {"nginx": nginx.pid} if nginx else {"receiver": run.receiver.child.pid}
    # Sampled from the moment the contestant has a process (not while this process seeds
    # its database: the sampling would slow that down).
    sampler = CpuSampler(lambda: {**p, **receiver} if (p := contestant.processes()) else {})
    seen = nginx.seen_so_far if nginx else lambda: int(run.receiver.stats()["unique"])
    with _arrivals(run, nginx, f"{name}-t{number}") as arrived, sampler:
        problem, durable = _drain(run, contestant, seen=seen, configuration=configuration)
    outcome = _outcome(
        name, number=number, expected=expected, arrived=arrived[0], durable=durable, cpu=sampler
    )
    # The contestant's processes in the order it names them, the receiver last.
    order = [*contestant.processes(), *receiver]
    outcome["cpu_us"] = {k: outcome["cpu_us"][k] for k in order if k in outcome["cpu_us"]}
    outcome["prepare_seconds"] = round(contestant.prepare_seconds, 1)
    if problem:
        outcome["problems"].append(problem)
        outcome["ok"] = False
    return outcome


def _drain(
    run: Run,
    contestant: Contestant,
    *,
    seen: Callable[[], int],
    configuration: dict[str, str],
) -> tuple[str | None, int | None]:
    """Starts the contestant, waits for its deliveries, counts what it recorded, stops it:
    why the wait stopped short (or None), and the deliveries it recorded."""
    expected = run.config.deliveries_for(contestant.name)
    try:
        contestant.start()
        if contestant.name not in configuration:
            configuration[contestant.name] = contestant.configuration()
        problem = _wait(run, seen, expected)
        return problem, contestant.durable_count(expected)
    finally:
        contestant.stop()


@contextlib.contextmanager
def _arrivals(run: Run, nginx: Nginx | None, label: str) -> Iterator[list[Tally]]:
    """What arrived during the block, counted exactly once it is over."""
    if nginx is not None:
        with nginx.stretch(label) as out:
            yield out
        return
    tallies: list[Tally] = []
    yield tallies
    stats = run.receiver.stats()
    times = run.receiver.dump(run.work / f"{label}.arrived")
    unsigned = int(stats["unsigned"]) + int(stats["bad_signatures"])
    tallies.append(
        Tally(int(stats["count"]), int(stats["unique"]), unsigned, sorted(times.values()))
    )


def _wait(run: Run, seen: Callable[[], int], expected: int) -> str | None:
    """Until `expected` deliveries are seen, none arrive for a while, or a process died
    (bounded); why it stopped short, or None."""
    deadline = time.monotonic() + 120 + expected / 50
    count, changed = -1, time.monotonic()
    while True:
        now = seen()
        if now >= expected:
            return None
        if now != count:
            count, changed = now, time.monotonic()
        if time.monotonic() - changed > _STALL_SECONDS or time.monotonic() > deadline:
            return f"stopped waiting at {count:,} arrivals"
        try:
            run.children.check_alive()
        except RuntimeError as exc:
            return str(exc)[:500]
        time.sleep(0.2)


def _outcome(
    name: str,
    *,
    number: int,
    expected: int,
    arrived: Tally,
    durable: int | None,
    cpu: CpuSampler,
) -> dict[str, Any]:
    """The stretch's counts, checks, rate, CPU and steal over first to last arrival."""
    first, last = arrived.first, arrived.last
    per_process: dict[str, float | None] = {}
    steal = None
    if first is not None and last is not None:
        per_process = cpu.us_per_delivery(start=first, end=last, deliveries=arrived.distinct - 1)
        steal = steal_share(cpu.total, cpu.steal, start=first, end=last)
    measured = [value for value in per_process.values() if value is not None]
    found = problems(expected=expected, arrived=arrived, durable=durable)
    rate = arrived.rate()
    return {
        "contestant": name,
        "round": number,
        "expected": expected,
        "requests": arrived.requests,
        "distinct": arrived.distinct,
        "duplicates": arrived.duplicates,
        "unsigned": arrived.unsigned,
        "durable": durable,
        "rate": None if rate is None else round(rate, 1),
        "windows": [round(w, 1) for w in window_rates(arrived.times, 5)],
        "cpu_us": per_process,
        # The sum only where every process was measured: a partial sum would flatter.
        "cpu_us_total": (
            round(sum(measured), 1) if per_process and len(measured) == len(per_process) else None
        ),
        "steal_percent": steal,
        "load": [round(value, 2) for value in os.getloadavg()],
        "problems": found,
        "ok": not found,
    }
