"""Ceilings: what the receiver takes from wrk, what nginx answering 204 takes from wrk, and
what a raw aiohttp client with no persistence delivers: the limits the contestants are
measured against."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks.config import PYTHON, RAW, REPO, BenchFailure
from benchmarks.procs import HOST, Child, free_port, wait_for_port
from benchmarks.receiving import receipt_rate
from benchmarks.run import Run
from benchmarks.stats import summary
from benchmarks.wrk import line_count, nginx_config, wrk

_Nginx = tuple[Child, int, Path]  # the process, its port, its access log


def ceilings(run: Run) -> dict[str, Any]:
    runs: dict[str, list[float]] = {"wrk->receiver": [], "wrk->nginx": [], RAW: []}
    have_wrk = shutil.which("wrk") is not None
    have_nginx = shutil.which("nginx") is not None or Path("/usr/sbin/nginx").exists()
    if not have_wrk:
        run.skip("wrk", "wrk is not installed")
    if not (have_wrk and have_nginx):
        run.skip("nginx", "nginx or wrk is not installed")
    nginx = _start_nginx(run) if have_wrk and have_nginx else None
    try:
        for number in range(run.config.ceiling_runs):
            _one_round(run, number, runs, have_wrk=have_wrk, nginx=nginx)
    finally:
        if nginx is not None:
            run.children.stop(nginx[0])
    return {name: summary(values) for name, values in runs.items() if values}


def _one_round(
    run: Run, number: int, runs: dict[str, list[float]], *, have_wrk: bool, nginx: _Nginx | None
) -> None:
    if have_wrk:
        runs["wrk->receiver"].append(_wrk_receiver(run))
    if nginx is not None:
        runs["wrk->nginx"].append(_wrk_nginx(run, *nginx))
    if RAW in run.config.contestants:
        with run.steal(f"{RAW} run {number}"):
            runs[RAW].append(_raw_run(run, number))
    run.log(f"   run {number}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in runs.items() if v))


def _wrk_receiver(run: Run) -> float:
    run.receiver.reset(verify_every=1 << 30)
    measured = wrk(f"{run.receiver.url}/hook", run.work, run.config.wrk_seconds)
    counted = run.receiver.stats()["count"]
    if not measured["requests"] <= counted <= measured["requests"] + 64:
        raise BenchFailure(f"receiver counted {counted}, wrk {measured}")
    return measured["rate"]


def _start_nginx(run: Run) -> _Nginx:
    port = free_port()
    conf = nginx_config(run.work, port)
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    child = run.children.start(
        "nginx", [binary, "-c", str(conf), "-p", str(conf.parent), "-g", "daemon off;"]
    )
    wait_for_port(port, timeout=20, process=child.process, name="nginx")
    run.rss.watch("nginx", child.pid)
    return child, port, conf.parent / "logs" / "access.log"


def _wrk_nginx(run: Run, _child: Child, port: int, access_log: Path) -> float:
    before = line_count(access_log)
    measured = wrk(f"http://{HOST}:{port}/hook", run.work, run.config.wrk_seconds)
    deadline = time.monotonic() + 10  # the log is flushed every second
    logged = line_count(access_log) - before
    while logged < measured["requests"] and time.monotonic() < deadline:
        time.sleep(0.2)
        logged = line_count(access_log) - before
    if not measured["requests"] <= logged <= measured["requests"] + 64:
        raise BenchFailure(f"nginx logged {logged} requests, wrk counted {measured}")
    return measured["rate"]


def _raw_run(run: Run, number: int) -> float:
    count = run.config.deliveries
    secret = "whsec_raw-client-secret"
    run.receiver.reset(secret=secret, record=False)
    child = run.children.start(
        f"raw-{number}",
        [
            PYTHON,
            "-m",
            "benchmarks.rawclient",
            "--url",
            f"{run.receiver.url}/hook",
            "--count",
            str(count),
            "--concurrency",
            str(run.config.raw_concurrency),
            "--secret",
            secret,
            "--phase",
            f"raw{number}",
        ],
        cwd=REPO,
    )
    run.rss.watch(RAW, child.pid)
    stats = run.receiver.wait_for(count, timeout=60 + count / 500, children=run.children)
    child.process.wait(timeout=30)
    run.children.stop(child)
    run.rss.unwatch(RAW)
    return receipt_rate(stats)
