"""Issue 19's targets in `make bench`: each measured in rounds whose sides alternate, a round
whose counts do not match is shown as FAILED and gives no ratio, and the report opens with
one table of every target's median ratio, its spread and whether it is met."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pytest
from benchmarks.config import PHASES, TARGET_PHASES, BenchFailure, Config
from benchmarks.phases.target_rounds import Part, Parts, Plan, target_rounds
from benchmarks.phases.targets import TARGET_RUNS, pg_work_scaled, single_scaled
from benchmarks.report_targets import TARGETS, target_rounds_table, targets_table
from benchmarks.stats import summary

X, D = "\N{MULTIPLICATION SIGN}", "\N{EN DASH}"


def _plan(rates: dict[tuple[int, str], float], failing: set[tuple[int, str]]) -> Plan:
    """Parts "raw" and "embedded" whose rate in round n is rates[n, name]; those in `failing`
    count other than what was sent."""

    def measure(number: int, name: str) -> dict[str, Any]:
        if (number, name) in failing:
            raise BenchFailure("990 distinct deliveries arrived, expected 1,000")
        return {"rate": rates[number, name]}

    def parts(number: int) -> list[Part]:
        return [
            Part(name, lambda name=name: measure(number, name))  # type: ignore[misc]
            for name in ("raw", "embedded")
        ]

    def ratios(found: Parts) -> dict[str, float | None]:
        return {"3": found["embedded"]["rate"] / found["raw"]["rate"]}

    return Plan(parts=parts, ratios=ratios, describe=lambda found: ", ".join(found))


RATES = {
    (0, "raw"): 1000.0,
    (0, "embedded"): 800.0,
    (1, "raw"): 1000.0,
    (1, "embedded"): 5000.0,
    (2, "raw"): 500.0,
    (2, "embedded"): 600.0,
}


def _measured(failing: set[tuple[int, str]]) -> tuple[dict[str, Any], list[str]]:
    logged: list[str] = []
    found = target_rounds(_plan(RATES, failing), rounds=3, phase="target3_pairs", log=logged.append)
    return found, logged


def test_a_round_whose_counts_do_not_match_is_failed_and_gives_no_ratio() -> None:
    found, logged = _measured({(1, "embedded")})

    failed = found["rounds"][1]
    assert failed["failed"] == ["embedded: 990 distinct deliveries arrived, expected 1,000"]
    assert failed["ratios"] == {}  # its 5,000/s is divided by nothing
    assert found["failed_rounds"] == [1]
    assert found["ratios"]["3"]["runs"] == pytest.approx([0.8, 1.2])
    assert found["ratios"]["3"]["median"] == pytest.approx(1.0)
    assert "FAILED" in logged[1]


def test_the_sides_alternate_and_each_round_has_its_load_and_steal() -> None:
    found, _ = _measured(set())

    assert [r["order"] for r in found["rounds"]] == [
        ["raw", "embedded"],
        ["embedded", "raw"],
        ["raw", "embedded"],
    ]
    for measured in found["rounds"]:
        assert measured["load_before"] >= 0
        assert measured["load_after"] >= 0
        assert measured["steal_percent"] is None or 0 <= measured["steal_percent"] <= 100


def _results(phases: dict[str, Any]) -> dict[str, Any]:
    return {"phases": phases, "config": asdict(Config())}


def _row(lines: list[str], key: str) -> str:
    (row,) = [line for line in lines if line.startswith(f"| {key} |")]
    return row


def test_the_table_shows_each_targets_median_spread_and_verdict() -> None:
    pairs, _ = _measured({(1, "embedded")})
    pg_work = {"rounds": [], "failed_rounds": [], "ratios": {"2": summary([2.68, 2.4, 3.0])}}
    lines = targets_table(_results({"target3_pairs": pairs, "target2_pg_work": pg_work}))

    assert _row(lines, "3").endswith(
        f"| 1.00{X} (0.80{D}1.20, n=2); round 1 FAILED (counts) | met |"
    )
    # A target stated as a limit shows its figure beside the ratio to it: 2.68 x 25 µs.
    assert _row(lines, "2").endswith(f"| 2.68{X} (2.40{D}3.00, n=3); 67.0 µs | not met |")
    assert _row(lines, "1 batches").endswith("| not run (`--phases`) | — |")


def test_a_target_whose_every_round_failed_or_that_was_skipped_has_no_verdict() -> None:
    every = {(n, "raw") for n in range(3)}
    pairs, _ = _measured(every)
    skipped = {"skipped": "PostgreSQL binaries not found"}
    # Without PostgreSQL the pace phase measures embedded alone.
    pace = {
        "rounds": [],
        "failed_rounds": [],
        "ratios": {"4 embedded": summary([0.5])},
        "skipped_ratios": {"4 scaled": "PostgreSQL binaries not found"},
    }
    lines = targets_table(
        _results({"target3_pairs": pairs, "target1_publish": skipped, "target4_5a_pace": pace})
    )

    assert _row(lines, "3").endswith("| **every round FAILED (counts)**: no ratio | — |")
    assert _row(lines, "1 single").endswith("| skipped: PostgreSQL binaries not found | — |")
    assert _row(lines, "4 scaled").endswith("| skipped: PostgreSQL binaries not found | — |")
    assert _row(lines, "4 embedded").endswith("; 10.0 ms | met |")


def test_the_rounds_table_shows_a_failed_round_with_why_and_no_ratio() -> None:
    pairs, _ = _measured({(1, "embedded")})
    lines = target_rounds_table({"target3_pairs": pairs})

    (failed,) = [line for line in lines if "FAILED" in line]
    assert failed.startswith("| target3_pairs | 1 | embedded, raw |")
    assert "990 distinct deliveries arrived, expected 1,000" in failed
    assert failed.endswith("| — |")
    (first,) = [line for line in lines if line.startswith("| target3_pairs | 0 |")]
    assert first.endswith(f"| 3 0.80{X} |")


def test_every_target_phase_runs_and_is_listed_by_help() -> None:
    assert list(TARGET_RUNS) == list(TARGET_PHASES)
    assert set(TARGET_PHASES) <= set(PHASES)
    assert {t.phase for t in TARGETS} == set(TARGET_PHASES)


def test_the_absolute_limits_scale_by_the_raw_client_measured_in_the_same_round() -> None:
    # The machine: raw aiohttp at 13,650/s and 74 µs of CPU per delivery.
    as_fast = {"rate": 13_650.0, "cpu_us": 74.0}
    half_as_fast = {"rate": 6_825.0, "cpu_us": 148.0}

    assert single_scaled(1_500.0, as_fast) == pytest.approx(0.5)
    assert single_scaled(1_500.0, half_as_fast) == pytest.approx(1.0)
    assert pg_work_scaled(50.0, as_fast) == pytest.approx(2.0)
    assert pg_work_scaled(50.0, half_as_fast) == pytest.approx(1.0)
