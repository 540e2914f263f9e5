"""Throughput rounds summed up and reported: a round whose counts do not match is shown as
failed with its counts, and no rate, median or ratio is taken from it."""

from __future__ import annotations

from typing import Any

import pytest
from benchmarks.config import CELERY, EMBEDDED, RAW
from benchmarks.report_throughput import deliveries
from benchmarks.rounds import paired_ratios, summarize


def _outcome(name: str, number: int, rate: float, *, ok: bool = True) -> dict[str, Any]:
    distinct = 1000 if ok else 990
    return {
        "contestant": name,
        "round": number,
        "expected": 1000,
        "requests": distinct + 1,
        "distinct": distinct,
        "duplicates": 1,
        "unsigned": 0,
        "durable": distinct,
        "rate": rate,
        "windows": [],
        "cpu_us": {"serve": 100.0 + number, "postgres": 20.0 + number, "nginx": 5.0},
        "cpu_us_total": 125.0 + 2 * number,
        "steal_percent": 0.1,
        "load": [1.0, 1.0, 1.0],
        "problems": [] if ok else [f"{distinct} distinct deliveries arrived, expected 1,000"],
        "ok": ok,
    }


X, D = "\N{MULTIPLICATION SIGN}", "\N{EN DASH}"


def _row(lines: list[str], start: str) -> str:
    (row,) = [line for line in lines if line.startswith(start)]
    return row


ROUNDS = [
    {RAW: _outcome(RAW, 0, 1000.0), EMBEDDED: _outcome(EMBEDDED, 0, 800.0)},
    # Round 1's embedded stretch lost deliveries: its 5,000/s must not be divided by anything.
    {RAW: _outcome(RAW, 1, 1000.0), EMBEDDED: _outcome(EMBEDDED, 1, 5000.0, ok=False)},
    {RAW: _outcome(RAW, 2, 500.0), EMBEDDED: _outcome(EMBEDDED, 2, 600.0)},
]


def test_ratios_are_taken_only_from_rounds_where_both_sides_matched() -> None:
    assert paired_ratios(ROUNDS, EMBEDDED, RAW) == pytest.approx([0.8, 1.2])
    assert paired_ratios(ROUNDS, EMBEDDED, CELERY) == []


def test_medians_leave_the_failed_round_out_and_list_it() -> None:
    summed = summarize(ROUNDS)

    assert summed["deliveries_per_second"][EMBEDDED]["runs"] == [800.0, 600.0]
    assert summed["deliveries_per_second"][RAW]["median"] == 1000.0
    assert summed["cpu_us_per_delivery"][EMBEDDED]["postgres"]["runs"] == [20.0, 22.0]
    assert summed["ratios"][f"{EMBEDDED} / {RAW}"]["median"] == pytest.approx(1.0)
    assert [(o["contestant"], o["round"]) for o in summed["failed"]] == [(EMBEDDED, 1)]


def _phases(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    throughput = {
        "receiver": "nginx",
        "configuration": {RAW: "raw", EMBEDDED: "serve on SQLite"},
        "rounds": rounds,
        **summarize(rounds),
    }
    return {"throughput": throughput}


def test_the_report_shows_a_failed_round_with_its_counts_and_no_rate() -> None:
    text = "\n".join(deliveries(_phases(ROUNDS)))

    (failed,) = [line for line in text.splitlines() if "FAILED" in line]
    assert "| 1 | hookcast-embedded | 1,000 | 990 |" in failed
    assert "990 distinct deliveries arrived, expected 1,000" in failed
    assert "5,000" not in failed
    assert "— (refused)" in failed


def test_a_ratio_with_no_matching_round_is_not_printed() -> None:
    rounds = [{RAW: _outcome(RAW, 0, 1000.0), EMBEDDED: _outcome(EMBEDDED, 0, 900.0, ok=False)}]
    lines = deliveries(_phases(rounds))

    # The summary table's row (the configuration table below it names the contestant too).
    row = next(line for line in lines if line.startswith(f"| {EMBEDDED} |"))
    assert row.split(" | ")[1:4] == ["—", "—", "—"]  # rate, vs raw, vs Celery
