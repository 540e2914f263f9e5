"""python -m benchmarks.pg_cost drain|pace: what the scaled-out deployment (`serve
--no-worker` plus workers on PostgreSQL) costs, measured on a throwaway PostgreSQL that
loads pg_stat_statements.

  drain     N pending deliveries drained by the workers: PostgreSQL's CPU µs, WAL bytes,
            statements, transactions, updates of deliveries' rows (all and HOT) and bytes
            sent per delivery (benchmarks/pg_meter.py), with the workers' own CPU per
            delivery and peak memory, the rate and the wall time. `--past-days D`: D days
            of finished deliveries beside them first (benchmarks/past_days.py), as
            retention keeps. `--breakdown`: per statement, table, index, WAL record type
            and server process too (benchmarks/pg_breakdown.py). `--event-bytes B`: each
            event's `data` B bytes larger (benchmarks/payloads.py `padded`); with
            `--webhooks W`, each event is delivered W times.
  pace      events published one per request at each --rates for --seconds each (and an idle
            stretch first): CPU per event of HookCast's processes and PostgreSQL's together
            (the scheduler's count, in ns), each HookCast process's wake-ups,
            statements and transactions per event, the claims run, and publish-to-receipt
            latency from the publisher's send and from its 202 (benchmarks.latency's
            `paced`). `--serve-worker`: `serve` runs its own worker (the default
            deployment, no `--no-worker`), which publishes hand over to
            (services/events.py), beside `--workers` more (0 for `serve` alone).

Each round starts the server afresh; run the command several times (interleaved with a
baseline's, e.g. PYTHONPATH=<other worktree>/src) for the spread. One JSON line per round.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.config import HOOKCAST
from benchmarks.drain import drain
from benchmarks.hookcast_setup import Setup, settings_env
from benchmarks.latency import paced
from benchmarks.past_days import seed_past_days
from benchmarks.pg_breakdown import BREAKDOWN_SETTINGS, BrokenDownMeter
from benchmarks.pg_meter import METER_SETTINGS, PostgresMeter, wait_recorded, wait_registered
from benchmarks.procs import HOST, Children, free_port, run_seconds, wait_for_port, wakeups
from benchmarks.receiving import Receiver
from benchmarks.servers import create_database, postgres_server


def _drain(args: argparse.Namespace, server: Any, work: Path) -> dict[str, Any]:
    url = create_database(server, "drain", args.locale)
    args.postgres = url
    past = args.past_days
    seeded = (lambda seeded_url: seed_past_days(seeded_url, past)) if past else None
    meter = BrokenDownMeter(url) if args.breakdown else PostgresMeter(url)
    return drain(args, work, meter=meter, seeded=seeded, event_bytes=args.event_bytes)


class _Deployment:
    """serve --no-worker (or with its worker: `--serve-worker`) and the workers on one
    database, delivering to the receiver."""

    def __init__(self, args: argparse.Namespace, url: str, work: Path) -> None:
        self.children = Children(work)
        self.work = work
        self.url = url
        self.receiver = Receiver(self.children)
        prepared = Setup(self.url).prepare(self.receiver.url, webhooks=1, backlog=0, phase="p")
        self.key, self.secret = prepared.api_key, prepared.secret
        env = settings_env(self.url)
        self.port = free_port()
        serve = [HOOKCAST, "serve", "--host", HOST, "--port", str(self.port)]
        serve += [] if args.serve_worker else ["--no-worker"]
        commands = [serve, *([HOOKCAST, "worker"] for _ in range(args.workers))]
        self.processes = [
            self.children.start(f"hookcast{n}", command, env=env, cwd=work)
            for n, command in enumerate(commands)
        ]
        wait_for_port(self.port, timeout=60, name="hookcast serve")
        # The idle stretch must not measure the workers' start-up (seconds of imports on a
        # loaded machine, counted as "idle" before): until both have registered.
        wait_registered(self.url, args.workers + args.serve_worker, children=self.children)
        self.meter = PostgresMeter(self.url)
        self.recorded = 0

    def hookcast_cpu(self) -> list[float]:
        """CPU seconds of each HookCast process: serve first, then the workers (the
        scheduler's count, `procs.run_seconds`; PostgreSQL's stays in ticks, pg_meter.py)."""
        return [run_seconds(child.pid) for child in self.processes]

    def hookcast_wakeups(self) -> list[int]:
        """Wake-ups so far of each HookCast process (`procs.wakeups`), in hookcast_cpu's order."""
        return [wakeups(child.pid) for child in self.processes]

    def measure(self, label: str, work: Any) -> dict[str, Any]:
        """Runs `work()` (returning how many events it published) between two snapshots."""
        woken_before = self.hookcast_wakeups()
        hookcast_before = self.hookcast_cpu()
        self.meter.start()
        events = work()
        self.recorded += events
        wait_recorded(self.url, self.recorded, children=self.children)
        cost = self.meter.stop(max(events, 1))
        per_process = [
            (after - before) / max(events, 1) * 1e6
            for before, after in zip(hookcast_before, self.hookcast_cpu(), strict=True)
        ]
        woken = [
            after - before
            for before, after in zip(woken_before, self.hookcast_wakeups(), strict=True)
        ]
        hookcast = sum(per_process)
        return {
            "label": label,
            "events": events,
            "hookcast_cpu_us": round(hookcast, 1),
            # serve's, then each worker's: where a low rate's cost lies
            "process_cpu_us": [round(value, 1) for value in per_process],
            # and their wake-ups (voluntary context switches), per event (idle: in all)
            "process_wakeups": [round(count / max(events, 1), 2) for count in woken],
            "total_cpu_us": round(hookcast + cost["pg_cpu_us"], 1),
            **cost,
        }

    def spy(self, folder: str, rate: int, seconds: float) -> list[subprocess.Popen[bytes]]:
        """py-spy on every HookCast process for `seconds`: collapsed stacks in `folder`."""
        return [
            subprocess.Popen(
                [
                    "py-spy",
                    "record",
                    "--pid",
                    str(child.pid),
                    "--rate",
                    "250",
                    "--format",
                    "raw",
                    "--duration",
                    str(int(seconds)),
                    "--nonblocking",
                    "-o",
                    f"{folder}/{rate}-{n}.txt",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for n, child in enumerate(self.processes)
        ]

    def pace(self, rate: int, seconds: float) -> tuple[int, dict[str, Any]]:
        return paced(
            api=f"http://{HOST}:{self.port}",
            key=self.key,
            receiver=self.receiver,
            secret=self.secret,
            rate=rate,
            seconds=seconds,
            work=self.work,
            children=self.children,
        )


def pace(args: argparse.Namespace, url: str, work: Path) -> dict[str, Any]:
    """The `pace` mode on the empty database `url`: an idle stretch of `args.idle_seconds`,
    then each of `args.rates` for `args.seconds` (the figures described above)."""
    deployment = _Deployment(args, url, work)
    try:
        idle_seconds = args.idle_seconds
        idle = deployment.measure("idle", lambda: _sleep(idle_seconds))
        results: dict[str, Any] = {
            "idle_cpu_percent": round(
                (idle["hookcast_cpu_us"] + idle["pg_cpu_us"]) / 1e6 / idle_seconds * 100, 2
            ),
            # serve's, each worker's and PostgreSQL's share of a core while idle
            "idle_percent_each": [
                round(us / 1e6 / idle_seconds * 100, 2)
                for us in [*idle["process_cpu_us"], idle["pg_cpu_us"]]
            ],
            # serve's and each worker's wake-ups a second while idle
            "idle_wakeups_per_second": [
                round(count / idle_seconds, 1) for count in idle["process_wakeups"]
            ],
        }
        for rate in args.rates:
            latency: dict[str, Any] = {}

            def publish(rate: int = rate, latency: dict[str, Any] = latency) -> int:
                spies = deployment.spy(args.spy, rate, args.seconds) if args.spy else []
                events, measured = deployment.pace(rate, args.seconds)
                for spy in spies:
                    spy.wait(timeout=args.seconds + 30)
                latency.update(measured)
                return events

            before = deployment.meter.claims()
            calls_before = deployment.meter.statement_calls()
            measured = deployment.measure(str(rate), publish)
            claims = deployment.meter.claims() - before
            measured["claims_per_event"] = round(claims / max(measured["events"], 1), 3)
            if args.statements:
                measured["statements_per_event"] = _statements_per_event(
                    calls_before, deployment.meter.statement_calls(), measured["events"]
                )
            results[str(rate)] = {**measured, **latency}
        if args.statements:
            results["statements"] = deployment.meter.top_statements()
        return results
    finally:
        deployment.children.stop_all()


def _statements_per_event(
    before: dict[str, tuple[int, float, str]], after: dict[str, tuple[int, float, str]], events: int
) -> list[tuple[float, float, str]]:
    """Each statement's calls and execution µs per event over a stretch, most called first."""
    rows = []
    for key, (calls, ms, query) in after.items():
        calls_was, ms_was, _ = before.get(key, (0, 0.0, query))
        if calls > calls_was:
            per = max(events, 1)
            rows.append(
                (round((calls - calls_was) / per, 3), round((ms - ms_was) * 1e3 / per, 1), query)
            )
    return sorted(rows, reverse=True)[:14]


def _pace(args: argparse.Namespace, server: Any, work: Path) -> dict[str, Any]:
    return pace(args, create_database(server, "pace", args.locale), work)


def _sleep(seconds: float) -> int:
    time.sleep(seconds)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pg_cost", description=__doc__)
    parser.add_argument("mode", choices=("drain", "pace"))
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--webhooks", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--serve-worker",
        action="store_true",
        help="pace: serve runs its own worker (publishes hand over to it), beside --workers",
    )
    parser.add_argument(
        "--past-days",
        type=int,
        default=0,
        help="drain: first fill this many days before today with finished deliveries",
    )
    parser.add_argument(
        "--event-bytes",
        type=int,
        default=0,
        help="drain: this many more bytes in each event's data (at most ~250,000)",
    )
    parser.add_argument("--rates", type=lambda s: [int(r) for r in s.split(",")])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--idle-seconds", type=float, default=10.0, help="pace: idle first")
    parser.add_argument("--statements", action="store_true", help="add the top statements")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="drain: add where PostgreSQL's work went per delivery (benchmarks/pg_breakdown.py:"
        " statements with planning timed, tables, indexes, WAL records, its own processes);"
        " not for measured pairs",
    )
    parser.add_argument("--label", default="")
    parser.add_argument(
        "--locale",
        default="",
        help="the database's locale (e.g. C, en_US.UTF-8); default the server's C.UTF-8",
    )
    parser.add_argument(
        "--spy",
        default="",
        help="pace: py-spy every process into this folder (py-spy installed separately)",
    )
    args = parser.parse_args()
    if args.spy and shutil.which("py-spy") is None:
        parser.error("--spy needs py-spy on PATH (pip install py-spy); it is not a dependency")
    args.rates = args.rates or [50, 250, 2000]
    # What benchmarks.drain's own options would be.
    args.ordering = args.media = args.profile = None
    args.controls = "none"
    args.profile_seconds, args.timeout = 5, 600.0
    work = Path(tempfile.mkdtemp(prefix="hookcast-pgcost-"))
    try:
        settings = METER_SETTINGS + (BREAKDOWN_SETTINGS if args.breakdown else ())
        with postgres_server(settings=settings) as server:
            run = _drain if args.mode == "drain" else _pace
            result = run(args, server, work)
            if args.mode == "drain" and args.statements:
                result["statements"] = PostgresMeter(args.postgres).top_statements()
        print(json.dumps({"label": args.label, "mode": args.mode, **result}), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
