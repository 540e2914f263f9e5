"""CPU time of every process a measurement involves, from /proc/<pid>/stat, sampled in a
thread so that the CPU spent between two instants (the first and the last delivery seen at
the receiver) can be read off afterwards, start-up and shut-down left out.

A family is a root process (a contestant's process, the postmaster, nginx's master, Redis)
with its children and its process group: its CPU is the user + system time of its live
members plus the children the root has already reaped (cutime + cstime), so a PostgreSQL
backend that exits mid-run moves from one term to the other without a jump."""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.periodic import Periodic

Series = list[tuple[float, float]]  # (unix time, CPU seconds or machine ticks)


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    pgrp: int
    ticks: int  # utime + stime
    reaped_ticks: int  # cutime + cstime: the children it has waited for


def parse_stat(text: str) -> ProcStat:
    """One /proc/<pid>/stat line (the command name may hold spaces and parentheses)."""
    head, _, rest = text.rpartition(")")
    fields = rest.split()
    # After the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime ...
    return ProcStat(
        pid=int(head.split(" (", 1)[0]),
        ppid=int(fields[1]),
        pgrp=int(fields[2]),
        ticks=int(fields[11]) + int(fields[12]),
        reaped_ticks=int(fields[13]) + int(fields[14]),
    )


def family_ticks(stats: Mapping[int, ProcStat], root: int) -> int | None:
    """The CPU ticks of `root`, its live children and group members, and the children it
    reaped; None once the root is gone."""
    if root not in stats:
        return None
    members = (s for s in stats.values() if root in (s.pid, s.ppid, s.pgrp))
    return sum(s.ticks for s in members) + stats[root].reaped_ticks


def read_processes() -> dict[int, ProcStat]:
    """Every process's stat line that can be read now."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = parse_stat((entry / "stat").read_text())
                stats[stat.pid] = stat
    return stats


def machine_ticks() -> tuple[int, int]:
    """(all CPU ticks, steal ticks) of the machine so far, from /proc/stat's first line."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
        return sum(values), values[7]
    return 0, 0


def value_at(series: Sequence[tuple[float, float]], at: float) -> float | None:
    """The series linearly interpolated at `at`; None unless samples lie on both sides (a
    window the samples do not cover is not guessed at)."""
    for (t0, v0), (t1, v1) in itertools.pairwise(series):
        if t0 <= at <= t1:
            return v0 if t1 == t0 else v0 + (v1 - v0) * (at - t0) / (t1 - t0)
    return None


def spent(series: Sequence[tuple[float, float]], *, start: float, end: float) -> float | None:
    """How much the series grew from `start` to `end` (None where not covered)."""
    before, after = value_at(series, start), value_at(series, end)
    return None if before is None or after is None else after - before


def steal_share(
    total: Sequence[tuple[float, float]],
    steal: Sequence[tuple[float, float]],
    *,
    start: float,
    end: float,
) -> float | None:
    """The machine's steal in % of its CPU time between `start` and `end`."""
    all_ticks = spent(total, start=start, end=end)
    stolen = spent(steal, start=start, end=end)
    if not all_ticks or stolen is None:
        return None
    return round(100 * stolen / all_ticks, 1)


@dataclass
class CpuSampler:
    """Samples the CPU seconds of the families `families()` names (re-read at every sample, so
    a process spawned meanwhile is watched from its next sample) every `interval` s; the
    machine's total and stolen ticks beside them."""

    families: Callable[[], Mapping[str, int]]
    interval: float = 0.1
    series: dict[str, Series] = field(default_factory=dict)
    total: Series = field(default_factory=list)
    steal: Series = field(default_factory=list)
    _periodic: Periodic | None = None

    def sample(self) -> None:
        """One sample of every family and of the machine's ticks (none while `families()`
        names none: reading every process's stat costs the sampling process some CPU)."""
        families = self.families()
        if not families:
            return
        tick = os.sysconf("SC_CLK_TCK")
        before = time.time()
        stats = read_processes()
        all_ticks, stolen = machine_ticks()
        at = (before + time.time()) / 2
        for name, root in families.items():
            ticks = family_ticks(stats, root)
            if ticks is not None:
                self.series.setdefault(name, []).append((at, ticks / tick))
        self.total.append((at, all_ticks))
        self.steal.append((at, stolen))

    def __enter__(self) -> CpuSampler:
        self.sample()
        self._periodic = Periodic(self.sample, interval=self.interval, name="cpu-sampler")
        self._periodic.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._periodic is not None:
            self._periodic.stop()
        self.sample()

    def us_per_delivery(
        self, *, start: float, end: float, deliveries: int
    ) -> dict[str, float | None]:
        """Each family's CPU µs per delivery over [start, end], in which `deliveries` (the
        deliveries between the first and the last arrival, the first excluded) were made."""
        out: dict[str, float | None] = {}
        for name, series in self.series.items():
            seconds = spent(series, start=start, end=end)
            if seconds is None or deliveries <= 0:
                out[name] = None
            else:
                out[name] = round(seconds / deliveries * 1e6, 1)
        return out
