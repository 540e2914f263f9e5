"""python -m benchmarks.pure_steps: a delivery's pure steps alone, in process.

The work of the delivery thread that touches nothing outside (docs/benchmarks/embedded-delivery.md,
"Compiled hot paths, priced"), each step timed on the thread's CPU clock, the least of `--runs` runs
of `--calls` calls, in a child process of its own:

- `prepare`: the JW body, its three signatures, the headers and the request;
- `signatures`: the three signatures alone (`delivery_signer(...).headers`);
- `conclude_204` and `conclude_500`: the attempt, the result, health and report of a success,
  and of a failure (the retry decision and the disable reckoning too);
- `scheduler`: the scheduler, gate and throttle per delivery (20 times 1,024 enqueued as a
  claim does, `ready` per turn, 32 in flight to one endpoint, each slot learned and closed).

`--src DIR` times another `src` too (another checkout's, or a compiled copy of one: the
children alternate between the two, `--src` first in odd pairs), so both are timed under the
same load; the least of each side is what is compared. No network; each child bounded.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.config import PYTHON, REPO, TESTS
from benchmarks.procs import measured_child

STEPS = ("prepare", "signatures", "conclude_204", "conclude_500", "scheduler")


def _least(step: Callable[[], object], calls: int, runs: int) -> float:
    """The least thread CPU µs per call over `runs` runs of `calls` calls."""
    best = float("inf")
    for _ in range(runs):
        started = time.thread_time()
        for _ in range(calls):
            step()
        best = min(best, (time.thread_time() - started) / calls)
    return round(best * 1e6, 3)


def _measure(calls: int, runs: int) -> dict[str, Any]:
    """Every step timed in this process (the child's side), on whichever `hookcast` the
    path finds first."""
    sys.path.insert(0, str(TESTS))
    from datetime import UTC, datetime

    import hookcast.delivery.attempt as attempt
    from hookcast.delivery.options import WorkerOptions
    from hookcast.delivery.scheduler import EndpointScheduler
    from hookcast.domain.ids import new_webhook_secret
    from hookcast.domain.retry import OutcomeKind
    from hookcast.domain.signing import delivery_signer
    from hookcast.ports import ClaimedDelivery, SendOutcome
    from support.factories import (  # type: ignore[import-not-found,unused-ignore]
        delivery,
        event,
        webhook,
    )

    hook = webhook("acc1", webhook_url="http://127.0.0.1:8080/hook", secret=new_webhook_secret())
    data = {"title": "Benchmark clip 12345", "duration": 123.4, "tags": ["bench"]}
    made = event("acc1", data=data)
    claimed = ClaimedDelivery.of(delivery(made, hook.id), "t", made, hook)
    now = datetime.now(UTC)
    options = WorkerOptions()
    request = attempt.prepare(claimed, now)
    secrets = hook.secrets_at(now)

    def conclude(outcome: SendOutcome) -> Callable[[], object]:
        return lambda: attempt.conclude(
            claimed,
            request=request,
            outcome=outcome,
            started_at=now,
            now=now,
            jitter_sample=0.5,
            disable_after=options.disable_after,
            warn_before=options.disable_warning,
        )

    batch = [ClaimedDelivery.of(delivery(made, hook.id), "t", made, hook) for _ in range(1024)]

    def scheduled() -> float:
        """20 claims' worth through one scheduler, the first while its endpoint is still
        unmeasured (as a drain's start): thread CPU µs per delivery."""
        scheduler = EndpointScheduler(options)
        started = time.thread_time()
        done = 0
        for _ in range(20):
            scheduler.enqueue(batch, now=0.0, lease_ends=1000.0)
            in_flight: list[Any] = []
            while True:
                room = options.concurrency - len(in_flight)
                starts, _ = scheduler.ready(now=1.0, at_most=room)
                in_flight.extend(starts)
                if not in_flight:
                    break
                answered, in_flight = in_flight[:8], in_flight[8:]  # a turn's answers
                for _, slot, _ in answered:
                    slot.learn(OutcomeKind.SUCCESS, now=now, seconds=0.002)
                    slot.close()
                    done += 1
        return (time.thread_time() - started) / done * 1e6

    timed = {
        "prepare": _least(lambda: attempt.prepare(claimed, now), calls, runs),
        "signatures": _least(
            lambda: delivery_signer(secrets).headers(request.body, "id", 1), calls, runs
        ),
        "conclude_204": _least(conclude(SendOutcome(status_code=204, latency_ms=2.0)), calls, runs),
        "conclude_500": _least(
            conclude(SendOutcome(status_code=500, latency_ms=2.0, response_body="oops")),
            calls,
            runs,
        ),
        "scheduler": round(min(scheduled() for _ in range(max(runs, 1))), 3),
    }
    compiled = Path(attempt.__file__ or "").suffix != ".py"
    return {"compiled": compiled, **timed}


def _run(src: str | None, calls: int, runs: int) -> dict[str, Any]:
    """One child: every step timed on `src` (else this checkout's code)."""
    args = ["--child", "--calls", str(calls), "--runs", str(runs)]
    return measured_child(PYTHON, REPO, "benchmarks.pure_steps", args, src=src)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pure_steps", description=__doc__)
    parser.add_argument("--calls", type=int, default=50_000, help="calls per timed run")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per step (least kept)")
    parser.add_argument("--pairs", type=int, default=3, help="children per side")
    parser.add_argument("--src", help="the src directory of the code to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args.calls, args.runs)))
        return
    sides: dict[str, str | None] = {"this": None} | ({"src": args.src} if args.src else {})
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for number in range(args.pairs):
        order = list(sides) if number % 2 else list(reversed(sides))
        for name in order:
            result = _run(sides[name], args.calls, args.runs) | {"side": name}
            print(json.dumps(result), flush=True)
            found[name].append(result)
    least = {
        name: {step: min(row[step] for row in rows) for step in STEPS}
        for name, rows in found.items()
    }
    for name, figures in least.items():
        print(json.dumps({"side": name, "least": figures}))
    if args.src:
        ratios = {step: round(least["src"][step] / least["this"][step], 3) for step in STEPS}
        print(json.dumps({"src/this": ratios}))


if __name__ == "__main__":
    main()
