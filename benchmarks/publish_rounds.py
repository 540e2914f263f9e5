"""python -m benchmarks.publish_rounds [--rounds 3] [--single N] [--batched N]: publish
throughput through `POST /v2/events/` alone, HookCast embedded (SQLite) against scaled out
(PostgreSQL, `serve --no-worker` and workers), in interleaved rounds on fresh, never-analyzed
databases: the ratio issue 19's first target asks for, with each round's figures (the
spread) and the machine's steal. The full suite (`python -m benchmarks`) runs the same
publish phase between its others."""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.config import EMBEDDED, REPO, SCALED, Config
from benchmarks.contestants import HookcastContestant, started
from benchmarks.pg_meter import METER_SETTINGS, PostgresMeter
from benchmarks.phases.publish import publish
from benchmarks.procs import Children, RssSampler
from benchmarks.receiving import Receiver
from benchmarks.run import Run
from benchmarks.servers import postgres_server


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.publish_rounds", description=__doc__
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--single", type=int, default=10_000, help="single-event publishes")
    parser.add_argument("--batched", type=int, default=50_000, help="events in batches of 100")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, help="the JSON results (default: none)")
    return parser.parse_args(argv)


def _summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per contestant and batch size: median and every round's events/s; the ratios."""
    out: dict[str, Any] = {}
    for name in (EMBEDDED, SCALED):
        for batch in ("1", "100"):
            rates = [r[name][batch]["events_per_second"] for r in rounds]
            out[f"{name} {batch}"] = {"median": statistics.median(rates), "rounds": rates}
    for batch in ("1", "100"):
        pg, sqlite = out[f"{SCALED} {batch}"]["median"], out[f"{EMBEDDED} {batch}"]["median"]
        out[f"postgresql/embedded {batch}"] = round(pg / sqlite, 2)
        out[f"postgresql/embedded {batch}, per round"] = [
            round(
                r[SCALED][batch]["events_per_second"] / r[EMBEDDED][batch]["events_per_second"], 2
            )
            for r in rounds
        ]
        out[f"PostgreSQL CPU µs per event {batch}, per round"] = [
            r[SCALED][batch]["postgres"]["pg_cpu_us"] for r in rounds
        ]
    return out


def publish_round(run: Run, number: int) -> dict[str, Any]:
    """One round: the publish phase (`run.config.publish_events`) against a fresh embedded
    and a fresh scaled-out deployment, which goes first alternating from round to round;
    PostgreSQL's own work per event metered (its server must load pg_stat_statements)."""
    measured: dict[str, Any] = {}
    for name in (EMBEDDED, SCALED) if number % 2 == 0 else (SCALED, EMBEDDED):
        with (
            run.steal(f"round {number} {name}"),
            started(run, name, backlog=0, phase=f"publish{number}") as contestant,
        ):
            assert isinstance(contestant, HookcastContestant)
            meter = PostgresMeter(contestant.database_url) if name == SCALED else None
            measured[name] = publish(run, contestant, meter=meter)
    return measured


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    config = Config(publish_events={1: args.single, 100: args.batched})
    config.publish_concurrency = args.concurrency
    work = Path(tempfile.mkdtemp(prefix="hookcast-publish-"))
    results: dict[str, Any] = {"rounds": [], "steal_percent": {}}
    with contextlib.ExitStack() as stack:
        children = Children(work)
        stack.callback(children.stop_all)
        rss = stack.enter_context(RssSampler())
        run = Run(
            config=config,
            work=work,
            log=lambda line: print(line, flush=True),
            children=children,
            rss=rss,
            results=results,
            receiver=Receiver(children),
            redis_url=None,
            # pg_stat_statements: the statements and transactions per event in each round.
            postgres=stack.enter_context(postgres_server(METER_SETTINGS)),
        )
        for number in range(args.rounds):
            results["rounds"].append(publish_round(run, number))
    results["summary"] = _summary(results["rounds"])
    print(json.dumps(results["summary"], indent=1))
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    raise SystemExit(main())
