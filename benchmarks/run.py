"""What every phase and contestant of one benchmark run shares: its settings, its work
directory and log, the processes it started, the RSS sampler, the receiver, the databases,
and the results being written."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.config import Config
from benchmarks.procs import Children, RssSampler, cpu_times, steal_percent
from benchmarks.receiving import Receiver
from benchmarks.servers import create_database


@dataclass
class Run:
    config: Config
    work: Path
    log: Callable[[str], None]
    children: Children
    rss: RssSampler
    results: dict[str, Any]
    receiver: Receiver
    redis_url: str | None
    postgres: Any  # tests/support/postgres.py's PostgresServer, or None without PostgreSQL
    databases: int = 0
    locale: str = ""  # the databases' locale (servers.create_database); "" the server's

    def skip(self, name: str, reason: str) -> None:
        """Records why a contestant or tool is not measured on this machine."""
        self.results["skipped"][name] = reason

    @contextlib.contextmanager
    def steal(self, label: str) -> Iterator[None]:
        """Records the machine's steal (% of CPU time given to other guests) meanwhile: on a
        shared VM it explains much of the spread between runs."""
        before = cpu_times()
        yield
        self.results["steal_percent"][label] = steal_percent(before, cpu_times())

    def new_postgres_url(self) -> str:
        """A fresh database on the run's PostgreSQL server."""
        self.databases += 1
        return create_database(self.postgres, f"bench_{self.databases}", self.locale)
