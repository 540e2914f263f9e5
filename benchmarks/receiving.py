"""The receiver (benchmarks/receiver.py) as a child process, driven over its control
endpoints: reset, count, dump arrival times, wait for an expected count; and the delivery
rates computed from what it saw."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.config import PYTHON, REPO, BenchFailure
from benchmarks.procs import HOST, Children, free_port, http_json, wait_for_port
from benchmarks.stats import read_times


class Receiver:
    def __init__(self, children: Children) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.child = children.start(
            "receiver", [PYTHON, "-m", "benchmarks.receiver", "--port", str(self.port)], cwd=REPO
        )
        wait_for_port(self.port, timeout=20, process=self.child.process, name="receiver")

    def reset(
        self,
        *,
        secret: str = "",
        record: bool = True,
        verify_every: int = 16,
        secrets: Sequence[str] = (),
    ) -> None:
        """Counts afresh; a body verifies with `secret`, or with any of `secrets` if given
        (several webhooks, each with its own)."""
        http_json(
            f"{self.url}/_reset",
            {
                "secret": secret,
                "secrets": list(secrets),
                "record": record,
                "verify_every": verify_every,
            },
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
    """Deliveries/s from the first receipt to the last."""
    span: float = stats["last"] - stats["first"]
    return (stats["count"] - 1) / span if span > 0 else float("nan")
