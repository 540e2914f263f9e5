"""The benchmark run: every server and contestant started, measured side by side, stopped.

Phases, in order (contestants interleaved run by run, so machine load hits them alike):
  ceilings     wrk against the receiver and against nginx; the raw aiohttp client
  throughput   N pending deliveries drained per contestant, rate from first to last receipt
  publish      HTTP API publish throughput: single events, batches of 100 and 1,000
  latency      offered rates, publish-call return to receipt; then a ladder up to p99 ≥ 100 ms
  fan-out      one event to 1,000 webhooks: publish return to the last receipt
  backlog      1,000,000 pending deliveries drained; RSS of every process sampled throughout
Every count is checked at the receiver (and HookCast's attempts in its database, Celery's
results in Redis): a mismatch fails the run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.hookcast_setup import Prepared, Setup, settings_env
from benchmarks.payloads import delivery_body, signed_headers
from benchmarks.procs import (
    HOST,
    Child,
    Children,
    RssSampler,
    cpu_times,
    free_port,
    http_json,
    steal_percent,
    wait_for_port,
)
from benchmarks.stats import latencies_ms, read_times, summary

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOOKCAST = str(Path(PYTHON).parent / "hookcast")
TESTS = REPO / "tests"

EMBEDDED = "hookcast-embedded"
SCALED = "hookcast-scaled"
CELERY = "celery"
RAW = "raw-aiohttp"


class BenchFailure(RuntimeError):
    """A count did not match, or a server did not come up: the run is not valid."""


@dataclass
class Config:
    smoke: bool = False
    runs: int = 3
    ceiling_runs: int = 3
    deliveries: int = 50_000
    celery_deliveries: int = 50_000
    rates: list[int] = field(default_factory=lambda: [100, 250, 500, 1000, 2000])
    ladder: list[int] = field(default_factory=lambda: [3000, 4000, 5000, 6000, 8000])
    rate_seconds: float = 10.0
    publish_events: dict[int, int] = field(
        default_factory=lambda: {1: 10_000, 100: 50_000, 1000: 100_000}
    )
    publish_concurrency: int = 16
    fanout: int = 1000
    fanout_runs: int = 3
    backlog: int = 1_000_000
    backlog_webhooks: int = 10
    backlog_contestants: list[str] = field(default_factory=lambda: [EMBEDDED, SCALED])
    celery_concurrency: int = 8
    scaled_workers: int = 2
    raw_concurrency: int = 64
    windows: int = 5  # each throughput run is reported as this many consecutive slices
    wrk_seconds: float = 5.0
    contestants: list[str] = field(default_factory=lambda: [RAW, CELERY, EMBEDDED, SCALED])

    @classmethod
    def smoke_config(cls) -> Config:
        return cls(
            smoke=True,
            runs=1,
            ceiling_runs=1,
            deliveries=500,
            celery_deliveries=100,
            # Below the single-event publishes a loaded machine's API takes at 4 connections
            # (19-36/s seen before the publish path was cached), so the smoke run stays short.
            rates=[5],
            ladder=[],
            rate_seconds=1.0,
            publish_events={1: 50, 100: 500},
            publish_concurrency=4,
            fanout=20,
            fanout_runs=1,
            backlog=1000,
            backlog_webhooks=2,
            backlog_contestants=[EMBEDDED],
            celery_concurrency=2,
            wrk_seconds=1.0,
        )


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


class Receiver:
    def __init__(self, children: Children) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.child = children.start(
            "receiver", [PYTHON, "-m", "benchmarks.receiver", "--port", str(self.port)], cwd=REPO
        )
        wait_for_port(self.port, timeout=20, process=self.child.process, name="receiver")

    def reset(self, *, secret: str = "", record: bool = True, verify_every: int = 16) -> None:
        http_json(
            f"{self.url}/_reset",
            {"secret": secret, "record": record, "verify_every": verify_every},
        )

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = http_json(f"{self.url}/_stats")
        return result

    def dump(self, path: Path) -> dict[str, float]:
        http_json(f"{self.url}/_dump", {"path": str(path)})
        return read_times(path)

    def wait_for(
        self, expected: int, *, timeout: float, children: Children, unique: bool = True
    ) -> dict[str, Any]:
        """Polls until `expected` deliveries arrived (bounded), then checks the count."""
        deadline = time.monotonic() + timeout
        key = "unique" if unique else "count"
        stats = self.stats()
        while stats[key] < expected and time.monotonic() < deadline:
            children.check_alive()
            time.sleep(0.05)
            stats = self.stats()
        time.sleep(0.3)  # anything beyond `expected` (a duplicate) would show up now
        stats = self.stats()
        if stats[key] != expected or (unique and stats["count"] != expected):
            raise BenchFailure(
                f"the receiver counted {stats['count']} deliveries ({stats['unique']} distinct "
                f"webhook-event pairs), expected {expected}"
            )
        if stats["bad_signatures"] or stats["unsigned"]:
            raise BenchFailure(f"signature check failed at the receiver: {stats}")
        return stats


def window_rates(times: list[float], windows: int) -> list[float]:
    """Deliveries/s in `windows` consecutive equal-count slices of sorted arrival times."""
    size = max(2, len(times) // max(1, windows))
    rates = []
    for start in range(0, len(times) - 1, size):
        chunk = times[start : start + size + 1]  # shares its edge with the next slice
        if len(chunk) >= 2 and chunk[-1] > chunk[0]:
            rates.append((len(chunk) - 1) / (chunk[-1] - chunk[0]))
    return rates


def receipt_rate(stats: dict[str, Any]) -> float:
    span = stats["last"] - stats["first"]
    return (stats["count"] - 1) / span if span > 0 else float("nan")


# --- servers ------------------------------------------------------------------------------


@contextlib.contextmanager
def redis_server(children: Children, work: Path) -> Iterator[str | None]:
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    port = free_port()
    data = work / "redis"
    data.mkdir()
    # appendonly with fsync every second: Redis' usual durable setting for a broker.
    child = children.start(
        "redis",
        [
            binary,
            "--bind",
            HOST,
            "--port",
            str(port),
            "--dir",
            str(data),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--protected-mode",
            "yes",
        ],
    )
    try:
        wait_for_port(port, timeout=20, process=child.process, name="redis")
        yield f"redis://{HOST}:{port}/0"
    finally:
        children.stop(child)


def nginx_config(work: Path, port: int) -> Path:
    prefix = work / "nginx"
    (prefix / "logs").mkdir(parents=True)
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    log_format arrivals '$msec $http_webhook_id';
    access_log {prefix}/logs/access.log arrivals buffer=256k flush=1s;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    keepalive_requests 1000000;
    server {{
        listen {HOST}:{port};
        location / {{ return 204; }}
    }}
}}
""",
        encoding="ascii",
    )
    return conf


# --- wrk ----------------------------------------------------------------------------------


def wrk(url: str, work: Path, seconds: float) -> dict[str, float]:
    body = delivery_body("wrk", 1)
    headers = signed_headers("", body, "wrk-1")
    script = work / "post.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body.decode())}"]
    lines += [f'wrk.headers["{name}"] = "{value}"' for name, value in headers.items()]
    script.write_text("\n".join(lines) + "\n", encoding="ascii")
    out = subprocess.run(
        ["wrk", "-t1", "-c64", f"-d{seconds:g}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise BenchFailure(f"wrk saw {non2xx.group(1)} non-2xx answers from {url}")
    return {"requests": requests, "rate": rate}


# --- the run ------------------------------------------------------------------------------


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
        }
        self._postgres: Any = None
        self._redis_url: str | None = None
        self._databases = 0

    # contestants available on this machine
    def _available(self) -> list[str]:
        wanted = list(self.config.contestants)
        if CELERY in wanted and (self._redis_url is None or not _importable("celery")):
            self.results["skipped"][CELERY] = "redis-server or celery is not installed"
            wanted.remove(CELERY)
        if SCALED in wanted and self._postgres is None:
            self.results["skipped"][SCALED] = "PostgreSQL binaries not found"
            wanted.remove(SCALED)
        return wanted

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        try:
            with contextlib.ExitStack() as stack:
                stack.enter_context(self.rss)
                stack.callback(self.children.stop_all)
                self.receiver = Receiver(self.children)
                self.rss.watch("receiver", self.receiver.child.pid)
                self._redis_url = stack.enter_context(redis_server(self.children, self.work))
                self._postgres = stack.enter_context(_postgres())
                contestants = self._available()
                self.results["contestants"] = contestants
                self._phase("ceilings", self._ceilings)
                self._phase("throughput", lambda: self._throughput(contestants))
                self._phase("latency_publish_fanout", lambda: self._live(contestants))
                self._phase("backlog", lambda: self._backlog(contestants))
        finally:
            self.results["rss_peak_mib"] = {
                name: round(value, 1) for name, value in sorted(self.rss.peaks_mib.items())
            }
            self.results["load_after"] = _load()
            self.results["seconds"] = round(time.monotonic() - started, 1)
            self.results["finished"] = time.strftime("%Y-%m-%d %H:%M")
        return self.results

    @contextlib.contextmanager
    def _steal(self, label: str) -> Iterator[None]:
        before = cpu_times()
        yield
        self.results["steal_percent"][label] = steal_percent(before, cpu_times())

    def _phase(self, name: str, action: Callable[[], Any]) -> None:
        self.log(f"== {name} (load {_load()})")
        begun = time.monotonic()
        self.results["failed_phase"] = name  # cleared below; kept if the phase raises
        with self._steal(name):
            result = action()
        del self.results["failed_phase"]
        if result is not None:
            self.results["phases"][name] = result
        self.log(f"   {name} took {time.monotonic() - begun:.0f} s")

    # ceilings -------------------------------------------------------------------------
    def _ceilings(self) -> dict[str, Any]:
        config = self.config
        runs: dict[str, list[float]] = {"wrk->receiver": [], "wrk->nginx": [], RAW: []}
        have_wrk = shutil.which("wrk") is not None
        have_nginx = shutil.which("nginx") is not None or Path("/usr/sbin/nginx").exists()
        if not have_wrk:
            self.results["skipped"]["wrk"] = "wrk is not installed"
        if not (have_wrk and have_nginx):
            self.results["skipped"]["nginx"] = "nginx or wrk is not installed"
        nginx = self._start_nginx() if have_wrk and have_nginx else None
        try:
            for run in range(config.ceiling_runs):
                if have_wrk:
                    self.receiver.reset(verify_every=1 << 30)
                    measured = wrk(f"{self.receiver.url}/hook", self.work, config.wrk_seconds)
                    counted = self.receiver.stats()["count"]
                    if not measured["requests"] <= counted <= measured["requests"] + 64:
                        raise BenchFailure(f"receiver counted {counted}, wrk {measured}")
                    runs["wrk->receiver"].append(measured["rate"])
                if nginx is not None:
                    runs["wrk->nginx"].append(self._wrk_nginx(*nginx))
                if RAW in config.contestants:
                    with self._steal(f"{RAW} run {run}"):
                        runs[RAW].append(self._raw_run(run))
                self.log(
                    f"   run {run}: "
                    + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in runs.items() if v)
                )
        finally:
            if nginx is not None:
                self.children.stop(nginx[0])
        return {name: summary(values) for name, values in runs.items() if values}

    def _start_nginx(self) -> tuple[Child, int, Path]:
        port = free_port()
        conf = nginx_config(self.work, port)
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        child = self.children.start(
            "nginx", [binary, "-c", str(conf), "-p", str(conf.parent), "-g", "daemon off;"]
        )
        wait_for_port(port, timeout=20, process=child.process, name="nginx")
        self.rss.watch("nginx", child.pid)
        return child, port, conf.parent / "logs" / "access.log"

    def _wrk_nginx(self, child: Child, port: int, access_log: Path) -> float:
        before = _line_count(access_log)
        measured = wrk(f"http://{HOST}:{port}/hook", self.work, self.config.wrk_seconds)
        deadline = time.monotonic() + 10  # the log is flushed every second
        logged = _line_count(access_log) - before
        while logged < measured["requests"] and time.monotonic() < deadline:
            time.sleep(0.2)
            logged = _line_count(access_log) - before
        if not measured["requests"] <= logged <= measured["requests"] + 64:
            raise BenchFailure(f"nginx logged {logged} requests, wrk counted {measured}")
        return measured["rate"]

    def _raw_run(self, run: int) -> float:
        count = self.config.deliveries
        secret = "whsec_raw-client-secret"
        self.receiver.reset(secret=secret, record=False)
        child = self.children.start(
            f"raw-{run}",
            [
                PYTHON,
                "-m",
                "benchmarks.rawclient",
                "--url",
                f"{self.receiver.url}/hook",
                "--count",
                str(count),
                "--concurrency",
                str(self.config.raw_concurrency),
                "--secret",
                secret,
                "--phase",
                f"raw{run}",
            ],
            cwd=REPO,
        )
        self.rss.watch(RAW, child.pid)
        stats = self.receiver.wait_for(count, timeout=60 + count / 500, children=self.children)
        child.process.wait(timeout=30)
        self.children.stop(child)
        self.rss.unwatch(RAW)
        return receipt_rate(stats)

    # throughput -----------------------------------------------------------------------
    def _throughput(self, contestants: list[str]) -> dict[str, Any]:
        rates: dict[str, list[float]] = {name: [] for name in contestants if name != RAW}
        extra: dict[str, Any] = {}
        for run in range(self.config.runs):
            for name in rates:
                with (
                    self._steal(f"{name} run {run}"),
                    self._contestant(name, backlog=self._count(name), phase=f"t{run}") as c,
                ):
                    expected = self._count(name)
                    stats = self.receiver.wait_for(
                        expected, timeout=120 + expected / 50, children=self.children
                    )
                    c.check_durable(expected)
                    arrived = self.receiver.dump(self.work / f"{name}-t{run}.arrived")
                    windows = window_rates(sorted(arrived.values()), self.config.windows)
                    rates[name].extend(windows)
                    details = extra.setdefault(name, {})
                    details.setdefault("whole_run", []).append(round(receipt_rate(stats), 1))
                    details.setdefault("windows", []).append([round(w, 1) for w in windows])
                    details.setdefault("prepare_seconds", []).append(round(c.prepare_seconds, 1))
                self.log(
                    f"   run {run}: {name} {details['whole_run'][-1]:.0f} deliveries/s "
                    f"(windows {details['windows'][-1]})"
                )
        return {
            # Every window of every run: a run of N deliveries is cut into `windows` equal
            # parts by arrival order, so the spread shows how steady the rate was.
            "deliveries_per_second": {name: summary(values) for name, values in rates.items()},
            "details": extra,
        }

    def _count(self, name: str) -> int:
        return self.config.celery_deliveries if name == CELERY else self.config.deliveries

    @contextlib.contextmanager
    def _contestant(
        self, name: str, *, backlog: int, phase: str, webhooks: int = 1
    ) -> Iterator[Contestant]:
        if name == CELERY:
            contestant: Contestant = CeleryContestant(self, backlog, phase)
        else:
            contestant = HookcastContestant(self, name, backlog, phase, webhooks)
        try:
            contestant.start()
            yield contestant
        finally:
            contestant.stop()

    # latency, publish throughput and fan-out, on running contestants ---------------------
    def _live(self, contestants: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "latency": {},
            "highest_rate_p99_under_100ms": {},
            "publish": {},
            "fanout_seconds": {},
        }
        capacity = self.results["phases"].get("throughput", {}).get("deliveries_per_second", {})
        for name in contestants:
            if name == RAW:
                continue
            with self._contestant(name, backlog=0, phase="live") as contestant:
                # A rate is saturated above what the contestant delivers, or (HookCast)
                # above the single-event publishes its API accepts: measured first.
                limit = (capacity.get(name, {}).get("median") or float("inf")) * 0.9
                if isinstance(contestant, HookcastContestant):
                    out["publish"][name] = self._publish(contestant)
                    single = out["publish"][name].get("1", {}).get("events_per_second")
                    if single:
                        limit = min(limit, single * 0.9)
                out["latency"][name], out["highest_rate_p99_under_100ms"][name] = self._latency(
                    contestant, limit
                )
                if isinstance(contestant, HookcastContestant):
                    out["fanout_seconds"][name] = self._fanout(contestant)
        return out

    def _latency(self, contestant: Contestant, limit: float) -> tuple[dict[str, Any], Any]:
        results: dict[str, Any] = {}
        highest: Any = None
        ladder = [
            *self.config.rates,
            *(r for r in self.config.ladder if r > max(self.config.rates)),
        ]
        for rate in ladder:
            # The rates are always measured, saturated or not (what a saturated
            # contestant's latency grows to is part of the answer); the search beyond them
            # stops at the first rate above the capacity measured first.
            if rate > limit and rate not in self.config.rates:
                results[str(rate)] = {"saturated": True, "capacity": round(limit / 0.9)}
                break
            measured = self._latency_at(contestant, rate)
            results[str(rate)] = measured
            self.log(
                f"   {contestant.name} @ {rate}/s: p50 {measured['p50']:.1f} "
                f"p99 {measured['p99']:.1f} max {measured['max']:.1f} ms "
                f"(achieved {measured['achieved_rate']:.0f}/s)"
            )
            ok = measured["p99"] < 100 and measured["achieved_rate"] >= 0.95 * rate
            if ok:
                highest = rate if highest is None else max(highest, rate)
            elif rate not in self.config.rates:
                break
        return results, highest

    def _latency_at(self, contestant: Contestant, rate: int) -> dict[str, Any]:
        phase = f"l{rate}-{contestant.name[:3]}"
        self.receiver.reset(secret=contestant.secret, record=True)
        published_file = self.work / f"{phase}.published"
        result = contestant.pace(rate, self.config.rate_seconds, phase, published_file)
        # A refused publish (503 under load) is a finding, not a harness failure: only the
        # accepted events are expected at the receiver, and the refusals are reported.
        refused = {"refused": result["errors"], "refusals": result.get("first_errors", [])}
        if result["errors"]:
            self.log(f"   {contestant.name} refused {result['errors']} publishes at {rate}/s")
        published = read_times(published_file)
        timeout = 60 + len(published) / 100
        self.receiver.wait_for(len(published), timeout=timeout, children=self.children)
        arrived = self.receiver.dump(self.work / f"{phase}.arrived")
        measured = latencies_ms(published, arrived)
        return {
            **{k: round(v, 2) for k, v in measured.items()},
            "achieved_rate": round(result["achieved_rate"], 1),
            **refused,
        }

    def _publish(self, contestant: HookcastContestant) -> dict[str, Any]:
        out = {}
        for batch, count in self.config.publish_events.items():
            self.receiver.reset(secret=contestant.secret, record=False)
            result = contestant.loadgen(
                "publish",
                "--batch",
                str(batch),
                "--count",
                str(count),
                "--concurrency",
                str(self.config.publish_concurrency),
                "--phase",
                f"p{batch}",
            )
            if result["errors"] or result["accepted"] != count:
                raise BenchFailure(f"publish batch {batch}: {result}")
            # Every published event is delivered too: counted, so nothing was lost.
            self.receiver.wait_for(count, timeout=120 + count / 200, children=self.children)
            out[str(batch)] = {k: round(v, 1) for k, v in result.items() if k != "first_errors"}
            self.log(
                f"   {contestant.name} publish batch {batch}: "
                f"{result['events_per_second']:.0f} events/s"
            )
        return out

    def _fanout(self, contestant: HookcastContestant) -> dict[str, Any]:
        count = self.config.fanout
        Setup(contestant.database_url).add_webhooks(
            contestant.api, self.receiver.url, count, contestant.api_key
        )
        durations = []
        for run in range(self.config.fanout_runs):
            # The webhooks have different secrets: only counts are checked here.
            self.receiver.reset(record=False, verify_every=1 << 30)
            body = {
                "event": "media_updated",
                "event_id": f"fan-{run}",
                "site_id": "BENCH001",
                "media_id": "FANOUT01",
            }
            http_json(
                f"{contestant.api}/v2/events/", body, headers={"Authorization": contestant.api_key}
            )
            returned = time.time()
            stats = self.receiver.wait_for(count, timeout=120, children=self.children, unique=True)
            durations.append(stats["last"] - returned)
            self.log(f"   {contestant.name} fan-out {count}: {durations[-1]:.3f} s")
        return summary(durations)

    # backlog ----------------------------------------------------------------------------
    def _backlog(self, contestants: list[str]) -> dict[str, Any]:
        out = {}
        for name in self.config.backlog_contestants:
            if name not in contestants:
                continue
            count = self.config.backlog
            self.log(f"   {name}: seeding {count} pending deliveries")
            with self._contestant(
                name, backlog=count, phase="bl", webhooks=self.config.backlog_webhooks
            ) as contestant:
                stats = self.receiver.wait_for(
                    count, timeout=300 + count / 200, children=self.children
                )
                contestant.check_durable(count)
                series = {
                    k: v
                    for k, v in self.rss.series.items()
                    if k.startswith(f"{name}:") and k.endswith("@bl")
                }
                out[name] = {
                    "deliveries": count,
                    "deliveries_per_second": round(receipt_rate(stats), 1),
                    "seed_seconds": round(contestant.prepare_seconds, 1),
                    "rss_peak_mib": {
                        k: round(v, 1)
                        for k, v in self.rss.peaks_mib.items()
                        if k.startswith(f"{name}:") and "@bl" in k
                    },
                    "rss_series": {k: v[:: max(1, len(v) // 200)] for k, v in series.items()},
                }
            self.log(f"   {name}: drained {count} at {out[name]['deliveries_per_second']:.0f}/s")
        return out

    def new_postgres_url(self) -> str:
        self._databases += 1
        name = f"bench_{self._databases}"
        from support.postgres import run_sql

        run_sql(self._postgres.url(), f"CREATE DATABASE {name}")
        url: str = self._postgres.url(name)
        return url


# --- contestants --------------------------------------------------------------------------


class Contestant:
    name: str
    secret: str
    prepare_seconds: float = 0.0

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def check_durable(self, expected: int) -> None: ...

    def pace(self, rate: int, seconds: float, phase: str, out: Path) -> dict[str, Any]:
        raise NotImplementedError


class HookcastContestant(Contestant):
    """`hookcast serve` on SQLite (embedded), or `serve --no-worker` plus workers on
    PostgreSQL (scaled out). The database is prepared, and any backlog seeded, first."""

    def __init__(self, suite: Suite, name: str, backlog: int, phase: str, webhooks: int) -> None:
        self.suite = suite
        self.name = name
        self.backlog = backlog
        self.phase = phase
        self.webhooks = webhooks
        self.children: list[Child] = []
        if name == EMBEDDED:
            directory = Path(tempfile.mkdtemp(prefix="db-", dir=suite.work))
            self.database_url = f"sqlite:///{directory}/hookcast.db"
        else:
            self.database_url = suite.new_postgres_url()
        self.port = free_port()
        self.api = f"http://{HOST}:{self.port}"

    def start(self) -> None:
        suite = self.suite
        prepared: Prepared = Setup(self.database_url).prepare(
            suite.receiver.url, webhooks=self.webhooks, backlog=self.backlog, phase=self.phase
        )
        self.api_key, self.secret = prepared.api_key, prepared.secret
        self.prepare_seconds = prepared.seed_seconds
        verify = 16 if self.webhooks == 1 else 1 << 30  # one secret per webhook
        suite.receiver.reset(secret=self.secret, record=True, verify_every=verify)
        env = settings_env(self.database_url)
        serve = [HOOKCAST, "serve", "--host", HOST, "--port", str(self.port)]
        if self.name == SCALED:
            serve.append("--no-worker")
        self._spawn(f"{self.name}:serve", serve, env)
        if self.name == SCALED:
            for number in range(suite.config.scaled_workers):
                self._spawn(f"{self.name}:worker{number}", [HOOKCAST, "worker"], env)
        wait_for_port(self.port, timeout=60, process=self.children[0].process, name=self.name)

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        child = self.suite.children.start(name, command, env=env, cwd=self.suite.work)
        self.children.append(child)
        self.suite.rss.watch(f"{name}@{self.phase}", child.pid)

    def stop(self) -> None:
        for child in reversed(self.children):
            self.suite.rss.sample()
            self.suite.rss.unwatch(f"{child.name}@{self.phase}")
            self.suite.children.stop(child)

    def check_durable(self, expected: int) -> None:
        """Every delivery succeeded and has its attempt row (the recorder flushes in
        batches a few ms behind the sends: wait for it, bounded)."""
        deadline = time.monotonic() + 30
        while True:
            attempts, succeeded = self._counts()
            if attempts >= expected and succeeded >= expected:
                break
            if time.monotonic() > deadline:
                raise BenchFailure(
                    f"{self.name}: {attempts} attempts and {succeeded} succeeded deliveries "
                    f"recorded, expected {expected}"
                )
            time.sleep(0.1)
        if attempts != expected:
            raise BenchFailure(f"{self.name}: {attempts} attempts recorded for {expected}")

    def _counts(self) -> tuple[int, int]:
        queries = (
            "SELECT count(*) FROM attempts",
            "SELECT count(*) FROM deliveries WHERE status = 'succeeded'",
        )
        if self.name == EMBEDDED:
            path = self.database_url.removeprefix("sqlite:///")
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
                a, s = (db.execute(q).fetchone()[0] for q in queries)
                return int(a), int(s)
        import asyncio

        import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

        async def fetch() -> tuple[int, int]:
            conn = await asyncpg.connect(self.database_url)
            try:
                return (int(await conn.fetchval(queries[0])), int(await conn.fetchval(queries[1])))
            finally:
                await conn.close()

        return asyncio.run(fetch())

    def loadgen(self, mode: str, *args: str) -> dict[str, Any]:
        command = [
            PYTHON,
            "-m",
            "benchmarks.loadgen",
            mode,
            "--api",
            self.api,
            "--key",
            self.api_key,
            *args,
        ]
        return _run_json(command, timeout=600)

    def pace(self, rate: int, seconds: float, phase: str, out: Path) -> dict[str, Any]:
        return self.loadgen(
            "pace-hookcast",
            "--rate",
            str(rate),
            "--seconds",
            str(seconds),
            "--phase",
            phase,
            "--out",
            str(out),
        )


class CeleryContestant(Contestant):
    name = CELERY
    secret = "whsec_celery-benchmark-secret"

    def __init__(self, suite: Suite, backlog: int, phase: str) -> None:
        self.suite = suite
        self.backlog = backlog
        self.phase = phase
        self.child: Child | None = None
        assert suite._redis_url is not None
        self.env = {"BENCH_REDIS_URL": suite._redis_url}
        self.url = f"{suite.receiver.url}/hook"

    def _redis(self) -> Any:
        import redis

        return redis.Redis.from_url(self.env["BENCH_REDIS_URL"])

    def start(self) -> None:
        self._redis().flushdb()
        self.suite.receiver.reset(secret=self.secret, record=True)
        if self.backlog:
            result = _run_json(
                [
                    PYTHON,
                    "-m",
                    "benchmarks.loadgen",
                    "enqueue-celery",
                    "--url",
                    self.url,
                    "--secret",
                    self.secret,
                    "--count",
                    str(self.backlog),
                    "--phase",
                    self.phase,
                ],
                timeout=600,
                env=self.env,
            )
            self.prepare_seconds = result["seconds"]
        self.child = self.suite.children.start(
            "celery",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "benchmarks.celery_app",
                "worker",
                "--pool",
                "prefork",
                "--concurrency",
                str(self.suite.config.celery_concurrency),
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=self.env,
            cwd=REPO,
        )
        self.suite.rss.watch(f"celery@{self.phase}", self.child.pid)

    def stop(self) -> None:
        if self.child is not None:
            self.suite.rss.sample()
            self.suite.rss.unwatch(f"celery@{self.phase}")
            self.suite.children.stop(self.child)

    def check_durable(self, expected: int) -> None:
        client = self._redis()
        deadline = time.monotonic() + 30
        while True:
            results = sum(1 for _ in client.scan_iter(match="celery-task-meta-*", count=10_000))
            if results >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if results != expected:
            raise BenchFailure(f"celery: {results} results recorded, expected {expected}")

    def pace(self, rate: int, seconds: float, phase: str, out: Path) -> dict[str, Any]:
        return _run_json(
            [
                PYTHON,
                "-m",
                "benchmarks.loadgen",
                "pace-celery",
                "--url",
                self.url,
                "--secret",
                self.secret,
                "--rate",
                str(rate),
                "--seconds",
                str(seconds),
                "--phase",
                phase,
                "--out",
                str(out),
            ],
            timeout=600,
            env=self.env,
        )


# --- helpers ------------------------------------------------------------------------------


def _run_json(
    command: list[str], *, timeout: float, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Runs a benchmark program and returns the JSON object its last line of output holds."""
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        check=False,
        start_new_session=True,
    )
    if completed.returncode != 0:
        raise BenchFailure(f"{' '.join(command[:4])} failed:\n{completed.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return report


def _line_count(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@contextlib.contextmanager
def _postgres() -> Iterator[Any]:
    """tests/support/postgres.py's throwaway server (None where PostgreSQL is missing)."""
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))
    from support.postgres import postgres_server

    with postgres_server() as server:
        yield server
