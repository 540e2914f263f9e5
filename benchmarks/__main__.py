"""python -m benchmarks [--smoke] [--deliveries N] ...: run the suite, write the JSON results
to benchmarks/results/<timestamp>.json and (full runs) the summary in docs/benchmarks.md with
the latency plot docs/img/latency.png."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.config import PHASES, REPO, TARGET_PHASES, BenchFailure, Config
from benchmarks.report import write_report
from benchmarks.suite import Suite


def _ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def parse_config(argv: list[str]) -> tuple[Config, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        epilog="issue 19's target phases, each in --target-rounds interleaved rounds:\n"
        + "\n".join(f"  {name:17} target {what}" for name, what in TARGET_PHASES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--smoke", action="store_true", help="tiny counts, < 1 minute")
    parser.add_argument("--runs", type=int, help="throughput runs per contestant")
    parser.add_argument("--ceiling-runs", type=int, help="wrk and raw aiohttp runs")
    parser.add_argument("--deliveries", type=int, help="per throughput run (≥ 50,000 in full)")
    parser.add_argument("--celery-deliveries", type=int)
    parser.add_argument("--rates", type=_ints, help="offered rates, e.g. 500,1000,2000")
    parser.add_argument("--ladder", type=_ints, help="further rates for the p99 < 100 ms search")
    parser.add_argument("--rate-seconds", type=float)
    parser.add_argument("--backlog", type=int)
    parser.add_argument("--fanout", type=int)
    parser.add_argument("--publish-events", type=_ints, help="single,batch100,batch1000 counts")
    parser.add_argument("--windows", type=int, help="slices per throughput run")
    parser.add_argument("--contestants", type=lambda s: s.split(","))
    parser.add_argument(
        "--target-rounds", type=int, help="rounds of each issue 19 target phase (3 in full)"
    )
    parser.add_argument("--backlog-contestants", type=lambda s: s.split(","))
    parser.add_argument(
        "--phases",
        type=lambda s: s.split(","),
        help=f"the phases to run, of {','.join(PHASES)} (all by default)",
    )
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--no-report", action="store_true", help="skip docs/benchmarks.md")
    parser.add_argument("--keep-work", action="store_true", help="keep logs and databases")
    args = parser.parse_args(argv)
    unknown = set(args.phases or ()) - set(PHASES)
    if unknown:
        parser.error(f"no such phase: {', '.join(sorted(unknown))} (phases: {', '.join(PHASES)})")
    config = Config.smoke_config() if args.smoke else Config()
    for name in (
        "runs",
        "ceiling_runs",
        "deliveries",
        "celery_deliveries",
        "rates",
        "ladder",
        "rate_seconds",
        "backlog",
        "fanout",
        "contestants",
        "backlog_contestants",
        "phases",
    ):
        value = getattr(args, name)
        if value is not None:
            setattr(config, name, value)
    if args.target_rounds is not None:
        config.targets.rounds = args.target_rounds
    if args.publish_events:
        config.publish_events = dict(zip((1, 100, 1000), args.publish_events, strict=False))
    return config, args


def main(argv: list[str] | None = None) -> int:
    config, args = parse_config(sys.argv[1:] if argv is None else argv)
    work = Path(tempfile.mkdtemp(prefix="hookcast-bench-"))
    print(f"work directory (logs): {work}", flush=True)
    failed = True
    suite = Suite(config, work, log=lambda line: print(line, flush=True))
    args.results.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    out = args.results / f"{'smoke-' if config.smoke else ''}{stamp}.json"
    try:
        results = suite.run()
        failed = False
    except BenchFailure as exc:
        print(f"BENCHMARK FAILED: {exc}", file=sys.stderr)
        suite.results["failure"] = str(exc)
        return 1
    finally:
        # Written even when a phase fails: what was measured before it stays readable.
        out.write_text(json.dumps(suite.results, indent=1, default=str), encoding="utf-8")
        print(f"results: {out}")
        if failed or args.keep_work:
            print(f"logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if not (config.smoke or args.no_report):
        write_report(
            results, REPO / "docs" / "benchmarks.md", REPO / "docs" / "img" / "latency.png"
        )
        print("summary: docs/benchmarks.md, plot: docs/img/latency.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
