"""Ceilings: what the Python receiver takes from wrk, and what nginx answering 204 (the
throughput receiver) takes from wrk: the limits the contestants are measured against.
(The raw aiohttp client, the ceiling of a Python deliverer, is a contestant of the
throughput rounds.)"""

from __future__ import annotations

import shutil
from typing import Any

from benchmarks.config import BenchFailure
from benchmarks.nginx import Nginx, nginx_binary
from benchmarks.run import Run
from benchmarks.stats import summary
from benchmarks.wrk import line_count, wrk


def ceilings(run: Run) -> dict[str, Any]:
    runs: dict[str, list[float]] = {"wrk->receiver": [], "wrk->nginx": []}
    if shutil.which("wrk") is None:
        run.skip("wrk", "wrk is not installed")
        return {}
    nginx = Nginx(run.children, run.work, name="nginx-wrk") if nginx_binary() else None
    if nginx is None:
        run.skip("nginx", "nginx is not installed")
    try:
        for number in range(run.config.ceiling_runs):
            runs["wrk->receiver"].append(_wrk_receiver(run))
            if nginx is not None:
                runs["wrk->nginx"].append(_wrk_nginx(run, nginx, number))
            run.log(
                f"   run {number}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in runs.items() if v)
            )
    finally:
        if nginx is not None:
            nginx.stop()
    return {name: summary(values) for name, values in runs.items() if values}


def _wrk_receiver(run: Run) -> float:
    run.receiver.reset(verify_every=1 << 30)
    measured = wrk(f"{run.receiver.url}/hook", run.work, run.config.wrk_seconds)
    counted = run.receiver.stats()["count"]
    if not measured["requests"] <= counted <= measured["requests"] + 64:
        raise BenchFailure(f"receiver counted {counted}, wrk {measured}")
    return measured["rate"]


def _wrk_nginx(run: Run, nginx: Nginx, number: int) -> float:
    nginx.take_log(run.work / f"wrk-{number}.before").unlink()
    measured = wrk(f"{nginx.url}/hook", run.work, run.config.wrk_seconds)
    # wrk counts the answers it read; up to its 64 connections' requests may be in flight.
    logged = line_count(nginx.take_log(run.work / f"wrk-{number}.arrivals"))
    if not measured["requests"] <= logged <= measured["requests"] + 64:
        raise BenchFailure(f"nginx logged {logged} requests, wrk counted {measured}")
    return measured["rate"]
