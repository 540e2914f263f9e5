"""The raw aiohttp client as a contestant: benchmarks/rawclient.py POSTing N signed
deliveries, nothing stored: what any Python deliverer pays for HTTP alone."""

from __future__ import annotations

from benchmarks.config import PYTHON, RAW, REPO
from benchmarks.contestants.base import Contestant
from benchmarks.procs import Child
from benchmarks.run import Run

# Past its last delivery the client idles this long (stopped before then): its CPU time can
# still be read after the last arrival, so the stretch measured ends where it should.
_LINGER_SECONDS = 120


class RawContestant(Contestant):
    name = RAW
    secret = "whsec_raw-client-secret"

    def __init__(self, run: Run, *, count: int, phase: str, target: str) -> None:
        self.run = run
        self.count = count
        self.phase = phase
        self.url = f"{target}/hook"
        self.child: Child | None = None

    def start(self) -> None:
        self.run.receiver.reset(secret=self.secret, record=True)
        self.child = self.run.children.start(
            f"raw-{self.phase}",
            [
                PYTHON,
                "-m",
                "benchmarks.rawclient",
                "--url",
                self.url,
                "--count",
                str(self.count),
                "--concurrency",
                str(self.run.config.raw_concurrency),
                "--secret",
                self.secret,
                "--phase",
                self.phase,
                "--linger",
                str(_LINGER_SECONDS),
            ],
            cwd=REPO,
        )
        self.run.rss.watch(f"{RAW}@{self.phase}", self.child.pid)

    def stop(self) -> None:
        if self.child is not None:
            self.run.rss.sample()
            self.run.rss.unwatch(f"{RAW}@{self.phase}")
            self.run.children.stop(self.child)

    def processes(self) -> dict[str, int]:
        return {} if self.child is None else {RAW: self.child.pid}

    def configuration(self) -> str:
        return (
            f"one uvloop process, aiohttp, {self.run.config.raw_concurrency} POSTs in flight, "
            "a hex HMAC per request, nothing stored"
        )
