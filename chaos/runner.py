"""Runs scenarios (each `repeat` times, seeded), prints a table, writes
chaos/results/<timestamp>.json, and fails when any accepted event went missing."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import tempfile
import time
import traceback
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaos.postgres import Postgres, postgres
from chaos.scenarios import FULL, SCENARIOS, SHORT, Context, Profile, Scenario, Skipped

RESULTS = Path(__file__).parent / "results"


async def run_scenario(
    scenario: Scenario,
    *,
    profile: Profile,
    seed: int,
    repeat: int,
    pg: Postgres | None,
    keep: bool = False,
) -> dict[str, Any]:
    """One run of one scenario; everything it started is stopped before it returns."""
    workdir = Path(tempfile.mkdtemp(prefix=f"hookcast-chaos-{scenario.name}-"))
    ctx = Context(
        name=scenario.name,
        profile=profile,
        rng=random.Random(f"{seed}:{scenario.name}:{repeat}"),
        workdir=workdir,
        postgres=pg,
    )
    started = time.monotonic()
    result: dict[str, Any] = {"scenario": scenario.name, "repeat": repeat, "seed": seed}
    try:
        async with ctx.stack:
            limit = 120.0 if profile is SHORT else 1500.0
            await asyncio.wait_for(scenario.run(ctx), limit)
        result.update(ctx.ledger.summary(), status="pass")
    except Skipped as exc:
        result.update(status="skipped", reason=str(exc))
    except Exception as exc:  # a broken run is a failed run, with what broke
        result.update(ctx.ledger.summary(), status="error", error=f"{type(exc).__name__}: {exc}")
        result["traceback"] = traceback.format_exc()
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if result["status"] == "pass" and (result["missing_pairs"] or result["violations"]):
        result["status"] = "fail"
    result.update(ctx.details, seconds=round(time.monotonic() - started, 1))
    return result


async def run_all(
    scenarios: Sequence[Scenario], *, profile: Profile, seed: int, repeats: int, keep: bool
) -> list[dict[str, Any]]:
    results = []
    with ExitStack() as stack:
        pg = stack.enter_context(postgres()) if any(s.needs_postgres for s in scenarios) else None
        if pg is None:
            pg = _rolling_postgres(stack, scenarios)
        for scenario in scenarios:
            for repeat in range(repeats):
                result = await run_scenario(
                    scenario, profile=profile, seed=seed, repeat=repeat, pg=pg, keep=keep
                )
                print(_row(result), flush=True)
                results.append(result)
    return results


def _rolling_postgres(stack: ExitStack, scenarios: Sequence[Scenario]) -> Postgres | None:
    # rolling-restart uses PostgreSQL when it can (several API servers and workers).
    if any(s.name == "rolling-restart" for s in scenarios):
        return stack.enter_context(postgres())
    return None


_COLUMNS = (
    ("scenario", 18),
    ("rep", 3),
    ("status", 7),
    ("published", 9),
    ("accepted", 8),
    ("refused", 7),
    ("unknown", 7),
    ("pairs", 6),
    ("delivered", 9),
    ("missing", 7),
    ("dups", 5),
    ("faults", 6),
    ("recov med", 9),
    ("recov max", 9),
    ("settle", 6),
    ("secs", 6),
)


# The noisy-neighbour figures, printed under the row: each tenant's accepted, delivered,
# failed and undelivered; then the phases' (each a list: without A, with A).
_NEIGHBOUR_NOTES = (
    "tenant_a",
    "tenant_b",
    "a_settle_s",
    "b_without_a",
    "b_with_a",
    "a_events_accepted",
    "a_attempts_total",
    "loadavg",
    "loop_cpu_s_per_s",
    "loop_wait_s_per_s",
    "process_cpu_s_per_s",
    "process_wait_s_per_s",
)


def _header() -> str:
    return "  ".join(name.rjust(width) for name, width in _COLUMNS)


def _row(r: dict[str, Any]) -> str:
    if r["status"] == "skipped":
        return f"{r['scenario']:>18}  {r['repeat']:>3}  skipped: {r['reason']}"
    values = (
        r["scenario"],
        r["repeat"],
        r["status"],
        r.get("published"),
        r.get("accepted"),
        sum(r.get("refused", {}).values()),
        r.get("unknown"),
        r.get("expected_pairs"),
        r.get("delivered_pairs"),
        r.get("missing_pairs"),
        r.get("duplicates"),
        r.get("faults"),
        r.get("recovery_s_median"),
        r.get("recovery_s_max"),
        r.get("settle_s"),
        r.get("seconds"),
    )
    line = "  ".join(str(v).rjust(w) for v, (_, w) in zip(values, _COLUMNS, strict=True))
    notes = [*r.get("violations", [])[:3]]
    if "error" in r:
        notes.append(r["error"])
    for name, figures in r.get("per_receiver", {}).items():
        notes.append(f"{name}: {figures}")
    for key in _NEIGHBOUR_NOTES:
        if key in r:
            notes.append(f"{key}: {r[key]}")
    return "\n".join([line, *(f"{'':>20}{note}" for note in notes)])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--short", action="store_true", help="small counts, seconds (CI)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per scenario")
    parser.add_argument("--seed", type=int, default=7, help="seeds every random choice")
    parser.add_argument("--scenario", action="append", help="only these (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep work dirs and logs")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args(argv)
    profile = SHORT if args.short else FULL
    repeats = args.repeat or (1 if args.short else 3)
    chosen = [s for s in SCENARIOS if not args.scenario or s.name in args.scenario]
    print(f"chaos: profile {profile.name}, {repeats} repeat(s), seed {args.seed}")
    print(_header(), flush=True)
    results = asyncio.run(
        run_all(chosen, profile=profile, seed=args.seed, repeats=repeats, keep=args.keep)
    )
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.results / f"{stamp}.json"
    document = {"profile": profile.name, "seed": args.seed, "repeats": repeats, "runs": results}
    path.write_text(json.dumps(document, indent=2, default=str))
    failed = [r for r in results if r["status"] in ("fail", "error")]
    print(f"results: {path}; {len(failed)} failed run(s)")
    return 1 if failed else 0
