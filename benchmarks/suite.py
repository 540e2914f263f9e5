"""The benchmark run: every server and contestant started, measured side by side, stopped.

Phases, in order (contestants interleaved run by run, so machine load hits them alike):
  ceilings     wrk against the Python receiver and against nginx
  throughput   rounds: N pending deliveries drained by each contestant in turn (the raw
               aiohttp client included) into nginx; rate from first to last arrival, CPU per
               delivery of every process involved, counts checked (a round that does not
               match is reported as failed, no ratio taken from it)
  publish      HTTP API publish throughput: single events, batches of 100 and 1,000
  latency      offered rates, publish-call return to receipt; then a ladder up to p99 ≥ 100 ms
  fan-out      one event to 1,000 webhooks: publish return to the last receipt
  backlog      1,000,000 pending deliveries drained; RSS of every process sampled throughout
  target*      issue 19's six targets, each in interleaved rounds by the tool that measures
               it alone (benchmarks/phases/targets.py; config.TARGET_PHASES)
Every count is checked at the receiver (and HookCast's attempts in its database, Celery's
results in Redis): outside the throughput rounds, a mismatch fails the run. Each phase is
a module of benchmarks/phases.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.config import CELERY, SCALED, Config
from benchmarks.pg_meter import METER_SETTINGS
from benchmarks.phases.backlog import backlog
from benchmarks.phases.ceilings import ceilings
from benchmarks.phases.live import live
from benchmarks.phases.targets import TARGET_RUNS
from benchmarks.phases.throughput import throughput
from benchmarks.procs import Children, RssSampler
from benchmarks.receiving import Receiver
from benchmarks.run import Run
from benchmarks.servers import postgres_server, redis_server


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


class Suite:
    def __init__(self, config: Config, work: Path, log: Callable[[str], None] = print) -> None:
        self.config = config
        self.work = work
        self.log = log
        self.children = Children(work)
        self.rss = RssSampler()
        self.results: dict[str, Any] = {
            "config": asdict(config),
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
            "load_before": _load(),
            "skipped": {},
            "phases": {},
            # The share of the machine's time the hypervisor gave to other guests during each
            # phase and throughput run: on a shared VM it explains much of the spread.
            "steal_percent": {},
            "phase_seconds": {},
        }

    def run(self) -> dict[str, Any]:
        """Every phase in order; the results (also kept in `results` if a phase fails)."""
        started = time.monotonic()
        try:
            with contextlib.ExitStack() as stack:
                stack.enter_context(self.rss)
                stack.callback(self.children.stop_all)
                receiver = Receiver(self.children)
                self.rss.watch("receiver", receiver.child.pid)
                run = Run(
                    config=self.config,
                    work=self.work,
                    log=self.log,
                    children=self.children,
                    rss=self.rss,
                    results=self.results,
                    receiver=receiver,
                    redis_url=stack.enter_context(redis_server(self.children, self.work)),
                    # pg_stat_statements: the statements per delivery of target 2.
                    postgres=stack.enter_context(postgres_server(METER_SETTINGS)),
                )
                self._phases(run)
        finally:
            self.results["rss_peak_mib"] = {
                name: round(value, 1) for name, value in sorted(self.rss.peaks_mib.items())
            }
            self.results["load_after"] = _load()
            self.results["seconds"] = round(time.monotonic() - started, 1)
            self.results["finished"] = time.strftime("%Y-%m-%d %H:%M")
        return self.results

    def _phases(self, run: Run) -> None:
        contestants = _available(run)
        self.results["contestants"] = contestants
        self._phase(run, "ceilings", lambda: ceilings(run))
        self._phase(run, "throughput", lambda: throughput(run, contestants))
        self._phase(run, "latency_publish_fanout", lambda: live(run, contestants))
        self._phase(run, "backlog", lambda: backlog(run, contestants))
        for name, target in TARGET_RUNS.items():
            self._phase(run, name, functools.partial(target, run))

    def _phase(self, run: Run, name: str, action: Callable[[], Any]) -> None:
        if name not in self.config.phases:
            return
        self.log(f"== {name} (load {_load()})")
        begun = time.monotonic()
        self.results["failed_phase"] = name  # cleared below; kept if the phase raises
        with run.steal(name):
            result = action()
        del self.results["failed_phase"]
        if result is not None:
            self.results["phases"][name] = result
        # Each phase's duration: what an estimate of a full run's length is made from.
        self.results["phase_seconds"][name] = round(time.monotonic() - begun, 1)
        self.log(f"   {name} took {self.results['phase_seconds'][name]:.0f} s")


def _available(run: Run) -> list[str]:
    """The configured contestants this machine can run; the others recorded as skipped."""
    wanted = list(run.config.contestants)
    if CELERY in wanted and (run.redis_url is None or not _importable("celery")):
        run.skip(CELERY, "redis-server or celery is not installed")
        wanted.remove(CELERY)
    if SCALED in wanted and run.postgres is None:
        run.skip(SCALED, "PostgreSQL binaries not found")
        wanted.remove(SCALED)
    return wanted


def _importable(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
