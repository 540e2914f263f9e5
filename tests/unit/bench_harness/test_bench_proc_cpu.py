"""CPU accounting from /proc/<pid>/stat samples: whose time counts for a process family, and
how the time between two arrivals is read off the samples."""

from __future__ import annotations

import os

import pytest
from benchmarks.proc_cpu import (
    CpuSampler,
    ProcStat,
    family_ticks,
    parse_stat,
    spent,
    steal_share,
    value_at,
)


def _stat(pid: int, name: str, *, ppid: int, pgrp: int, times: tuple[int, int, int, int]) -> str:
    utime, stime, cutime, cstime = times
    middle = f"S {ppid} {pgrp} {pgrp} 0 -1 4194560 100 0 0 0"
    return f"{pid} ({name}) {middle} {utime} {stime} {cutime} {cstime} 20 0 1 0 100 0\n"


def test_a_stat_line_is_read_past_a_command_name_with_spaces_and_parentheses() -> None:
    stat = parse_stat(_stat(42, "postgres: a (b) c", ppid=7, pgrp=7, times=(120, 30, 5, 2)))

    assert stat == ProcStat(pid=42, ppid=7, pgrp=7, ticks=150, reaped_ticks=7)


def _family(*stats: ProcStat) -> dict[int, ProcStat]:
    return {stat.pid: stat for stat in stats}


def test_a_family_is_its_root_its_children_its_group_and_what_the_root_reaped() -> None:
    stats = _family(
        ProcStat(pid=10, ppid=1, pgrp=10, ticks=100, reaped_ticks=40),
        ProcStat(pid=11, ppid=10, pgrp=99, ticks=20, reaped_ticks=0),  # a backend
        ProcStat(pid=12, ppid=11, pgrp=10, ticks=5, reaped_ticks=0),  # a forked pool process
        ProcStat(pid=13, ppid=1, pgrp=13, ticks=1000, reaped_ticks=0),  # someone else
    )

    assert family_ticks(stats, 10) == 100 + 40 + 20 + 5
    assert family_ticks(stats, 99) is None  # no such root: not guessed as zero


def test_a_child_that_exits_and_is_reaped_keeps_its_time_in_the_family() -> None:
    running = _family(
        ProcStat(pid=10, ppid=1, pgrp=10, ticks=100, reaped_ticks=0),
        ProcStat(pid=11, ppid=10, pgrp=10, ticks=30, reaped_ticks=0),
    )
    reaped = _family(ProcStat(pid=10, ppid=1, pgrp=10, ticks=100, reaped_ticks=30))

    assert family_ticks(running, 10) == family_ticks(reaped, 10) == 130


def test_the_time_between_two_instants_is_interpolated_between_samples() -> None:
    series = [(0.0, 0.0), (1.0, 10.0), (2.0, 30.0)]

    assert value_at(series, 0.5) == pytest.approx(5.0)
    assert spent(series, start=0.5, end=1.5) == pytest.approx(15.0)
    # A window the samples do not cover on both sides is not extrapolated.
    assert spent(series, start=-0.1, end=1.0) is None
    assert spent(series, start=1.0, end=2.5) is None


def test_steal_is_the_share_of_the_machines_ticks_in_the_window() -> None:
    total = [(0.0, 0.0), (10.0, 2000.0)]
    steal = [(0.0, 0.0), (10.0, 100.0)]

    assert steal_share(total, steal, start=0.0, end=10.0) == 5.0


def test_cpu_per_delivery_counts_each_process_over_first_to_last_arrival_only() -> None:
    sampler = CpuSampler(lambda: {})
    # serve burns 1 s starting up, then 0.5 ms per delivery from t=2 on (1,000 deliveries
    # between the first arrival at t=2 and the last at t=4), then 1 s shutting down.
    sampler.series["serve"] = [(0.0, 0.0), (2.0, 1.0), (4.0, 1.5), (5.0, 2.5)]
    sampler.series["nginx"] = [(0.0, 0.0), (5.0, 0.05)]

    per_delivery = sampler.us_per_delivery(start=2.0, end=4.0, deliveries=1000)

    assert per_delivery == {"serve": 500.0, "nginx": 20.0}


def test_a_process_not_watched_over_the_whole_window_has_no_figure() -> None:
    sampler = CpuSampler(lambda: {})
    sampler.series["worker"] = [(3.0, 1.0), (6.0, 2.0)]

    assert sampler.us_per_delivery(start=2.0, end=4.0, deliveries=1000) == {"worker": None}


def test_the_sampler_reads_this_process_family_from_proc() -> None:
    with CpuSampler(lambda: {"me": os.getpid()}, interval=0.01) as sampler:
        sum(range(200_000))  # some CPU time to see

    times = [at for at, _ in sampler.series["me"]]
    seconds = [value for _, value in sampler.series["me"]]
    assert len(times) >= 2
    assert times == sorted(times)
    assert seconds == sorted(seconds)
    assert seconds[-1] > 0


def test_nothing_is_sampled_while_no_process_is_named() -> None:
    # The harness seeds a contestant's database in its own process meanwhile: reading every
    # process's stat would only slow that down.
    sampler = CpuSampler(lambda: {})
    sampler.sample()

    assert (sampler.series, sampler.total, sampler.steal) == ({}, [], [])
