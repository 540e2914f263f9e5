"""What a benchmark run measures (its counts and rates, full or smoke), the contestants'
names, where the programs it starts live, and the error that invalidates a run."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
HOOKCAST = str(Path(PYTHON).parent / "hookcast")
TESTS = REPO / "tests"

# Issue 19's targets, each measured in interleaved rounds by the tool that measures it alone
# (benchmarks/phases/targets.py): what each phase runs, for `--help`.
TARGET_PHASES = {
    "target1_publish": "1: PostgreSQL publishing against embedded (benchmarks.publish_rounds), "
    "and the raw aiohttp client into nginx that scales the 3,000/s by this machine's speed",
    "target2_pg_work": "2: PostgreSQL's work per delivery (benchmarks.pg_cost drain), and the "
    "raw aiohttp client into nginx that scales the 25 µs by this machine's speed",
    "target3_pairs": "3: embedded drain against the raw aiohttp ceiling, into nginx "
    "(benchmarks.embedded_pairs)",
    "target4_5a_pace": "4 and 5a: p99 from send at the top rate, embedded (benchmarks.latency) "
    "and scaled out, whose CPU per event at each rate it also gives (benchmarks.pg_cost pace)",
    "target5b_balance": "5b: delivery while the embedded API is saturated (benchmarks.balance)",
    "target6_ordering": "6: ordered drains against unordered (benchmarks.drain, as "
    "benchmarks.ordering)",
}
PHASES = ("ceilings", "throughput", "latency_publish_fanout", "backlog", *TARGET_PHASES)

EMBEDDED = "hookcast-embedded"
SCALED = "hookcast-scaled"
CELERY = "celery"
RAW = "raw-aiohttp"


class BenchFailure(RuntimeError):
    """A count did not match, or a server did not come up: the run is not valid."""


@dataclass
class TargetSizes:
    """The counts of issue 19's target phases (TARGET_PHASES): each runs `rounds` rounds."""

    rounds: int = 3
    publish_events: dict[int, int] = field(default_factory=lambda: {1: 10_000, 100: 50_000})
    # Target 2's drain: 50,000, as the issue's own run measured (a 20,000 drain also carries
    # ~5-7 µs per delivery of start-up: docs/benchmarks/postgres-delivery.md, branch pgwork).
    drain_deliveries: int = 50_000
    pair_deliveries: int = 20_000
    # Target 5a's low rates, then the top rate (target 4's and 5a's reference), and how long
    # each (and the idle stretch before them) lasts.
    pace_rates: list[int] = field(default_factory=lambda: [50, 250, 2000])
    pace_seconds: float = 10.0
    balance_events: int = 60_000
    balance_concurrency: int = 16
    ordering_deliveries: int = 10_000

    @classmethod
    def smoke(cls) -> TargetSizes:
        return cls(
            rounds=1,
            publish_events={1: 50, 100: 500},
            drain_deliveries=500,
            pair_deliveries=500,
            pace_rates=[20, 40],
            pace_seconds=1.0,
            balance_events=1000,
            balance_concurrency=4,
            ordering_deliveries=300,
        )


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
    phases: list[str] = field(default_factory=lambda: list(PHASES))
    targets: TargetSizes = field(default_factory=TargetSizes)

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
            targets=TargetSizes.smoke(),
        )

    def deliveries_for(self, contestant: str) -> int:
        """A throughput run's count: Celery's is set apart (it is much slower)."""
        return self.celery_deliveries if contestant == CELERY else self.deliveries
