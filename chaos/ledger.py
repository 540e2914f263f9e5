"""What was published, what was accepted, what every receiver acknowledged, and the
figures that follow: missing pairs (the run fails on any), duplicates, recovery times.

A *pair* is (event_id, webhook_id): each accepted event must reach each webhook it matches.
A pair counts as delivered when a receiver answered it with a complete 2xx status line, the
only thing HookCast can take as a success; a request a receiver saw but refused (500,
reset, hang, broken HTTP) does not count.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Pair = tuple[str, str]


@dataclass(frozen=True, slots=True)
class HookSpec:
    """A webhook as the chaos run creates it, and the rule for which events it gets."""

    name: str
    events: tuple[str, ...] = ("*",)  # event names, or "*"
    tag: str | None = None  # only events whose data.tags contain this tag

    def matches(self, event: dict[str, Any]) -> bool:
        if "*" not in self.events and event["event"] not in self.events:
            return False
        if self.tag is None:
            return True
        return self.tag in event.get("data", {}).get("tags", [])


@dataclass
class Ledger:
    hooks: dict[str, HookSpec] = field(default_factory=dict)  # webhook id -> spec
    published: set[str] = field(default_factory=set)
    accepted: dict[str, float] = field(default_factory=dict)  # event id -> time of its 202
    matching: dict[str, tuple[str, ...]] = field(default_factory=dict)  # event id -> hook ids
    refused: Counter[int] = field(default_factory=Counter)  # clean refusals by status
    unknown: int = 0  # requests with no answer (connection refused or reset, timeout)
    slowest_publish: float = 0.0  # seconds, the longest publish request that got its 202
    violations: list[str] = field(default_factory=list)
    acks: Counter[Pair] = field(default_factory=Counter)
    first_ack: dict[Pair, float] = field(default_factory=dict)
    arrivals: int = 0  # every request that reached a receiver, refused ones included
    faults: list[tuple[str, float, float]] = field(default_factory=list)  # (what, start, end)

    # --- recording ---

    def add_hook(self, webhook_id: str, spec: HookSpec) -> None:
        self.hooks[webhook_id] = spec

    def offer(self, event: dict[str, Any]) -> None:
        self.published.add(event["event_id"])
        self.matching[event["event_id"]] = tuple(
            hook_id for hook_id, spec in self.hooks.items() if spec.matches(event)
        )

    def accept(self, event_id: str, at: float) -> None:
        self.accepted.setdefault(event_id, at)

    def ack(self, pair: Pair) -> None:
        self.acks[pair] += 1
        self.first_ack.setdefault(pair, time.monotonic())

    def fault(self, what: str, start: float, end: float) -> None:
        self.faults.append((what, start, end))

    def violation(self, text: str) -> None:
        if len(self.violations) < 50:  # the first ones tell the story
            self.violations.append(text)

    # --- figures ---

    def expected(self) -> set[Pair]:
        return {(e, h) for e in self.accepted for h in self.matching.get(e, ())}

    def missing(self) -> set[Pair]:
        return {pair for pair in self.expected() if pair not in self.first_ack}

    def all_delivered(self) -> bool:
        return not self.missing()

    def duplicates(self) -> int:
        return sum(count - 1 for count in self.acks.values())

    def recovery_seconds(self) -> list[float]:
        """Per fault: from its end until every pair accepted before then was delivered
        (0 when nothing was waiting; a still-missing pair makes it infinite)."""
        expected = self.expected()
        times = []
        for _what, _start, end in self.faults:
            backlog = [
                self.first_ack.get(pair, float("inf"))
                for pair in expected
                if self.accepted[pair[0]] <= end and self.first_ack.get(pair, float("inf")) > end
            ]
            times.append(max(backlog) - end if backlog else 0.0)
        return times

    def summary(self) -> dict[str, Any]:
        expected = self.expected()
        recovery = self.recovery_seconds()
        latencies = [
            self.first_ack[p] - self.accepted[p[0]] for p in expected if p in self.first_ack
        ]
        finite = [r for r in recovery if r != float("inf")]
        return {
            "published": len(self.published),
            "accepted": len(self.accepted),
            "refused": {str(status): n for status, n in sorted(self.refused.items())},
            "unknown": self.unknown,
            "expected_pairs": len(expected),
            "delivered_pairs": len(expected) - len(self.missing()),
            "missing_pairs": len(self.missing()),
            "duplicates": self.duplicates(),
            "arrivals": self.arrivals,
            "faults": len(self.faults),
            "recovery_s_median": round(statistics.median(finite), 2) if finite else None,
            "recovery_s_max": _seconds(max(recovery)) if recovery else None,
            "slowest_publish_s": round(self.slowest_publish, 2),
            "latency_s_max": round(max(latencies), 2) if latencies else None,
            "violations": list(self.violations),
        }


def _seconds(value: float) -> float | str:
    return "never" if value == float("inf") else round(value, 2)
