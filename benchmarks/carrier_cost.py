"""python -m benchmarks.carrier_cost: what the per-delivery carriers cost to make, and what
rows made in their place would.

Issue 19's target 3 (docs/benchmarks/embedded-delivery.md, "Eighth pass"): a recording port that
takes rows made at concluding, and claims loaded straight into what `prepare` reads, would not make
the objects a delivery is carried in today (Delivery, Event and ClaimedDelivery from a
claim's rows; Attempt, DeliveryResult, HealthSignal, AttemptReport and Concluded at
concluding). This times each as the delivery path makes it (the same keyword calls, on
the same kinds of values) and, beside them, what a row port would make instead: a tuple
per claimed delivery and per result (the fields each of them carries). CPU time of this
thread per object, the minimum of `--repeat` runs of `--count` objects each.

The difference is the most a row port could save per delivery; the health signal and the
attempt's report stay (summarize and the observers read them), so they are not counted as
saved.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from hookcast.delivery.attempt import Concluded
from hookcast.domain.health import HealthSignal
from hookcast.domain.models import Attempt, DeliveryStatus, Webhook
from hookcast.domain.retry import OutcomeKind
from hookcast.ports import AttemptReport, ClaimedDelivery, DeliveryResult
from hookcast.store.deliveries import _claimed_delivery
from hookcast.store.events import _loaded_event

_NOW = datetime.now(UTC)
# A claim's delivery row (`_SQLITE_CLAIMED`'s columns) and its event's (`_LOADED`'s).
_DELIVERY_ROW = ("d1", "acc", "ev1", "wh1", 0, _NOW, 1, None, None, None, None, None, 0)
_EVENT_ROW = ("acc", "ev1", "site", "media_available", ["r1"], _NOW, {"a": 1}, None, None, _NOW)
_HEADERS = {"content-type": "application/json", "webhook-id": "d1"}


def _timed(make: Callable[[], object], *, count: int, repeat: int) -> float:
    """µs of this thread's CPU per call of `make`, the least of `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        for _ in range(count):
            make()
        best = min(best, (time.thread_time() - start) / count * 1e6)
    return round(best, 3)


def _makers() -> dict[str, tuple[str, Callable[[], object]]]:
    """Each carrier (kept: made whatever the port), and each row that would replace one."""
    delivery = _claimed_delivery(_DELIVERY_ROW, _NOW)
    event = _loaded_event(_EVENT_ROW)

    # Each maker is the keyword call the delivery path makes; one of each is kept for the
    # carriers that hold it.
    def make_attempt() -> Attempt:
        return Attempt(
            delivery_id="d1",
            number=1,
            started_at=_NOW,
            request_headers=_HEADERS,
            status_code=204,
            latency_ms=1.0,
            response_body="",
            error=None,
        )

    attempt = make_attempt()

    def make_result() -> DeliveryResult:
        return DeliveryResult(
            delivery_id="d1",
            lease_token="t",
            attempt=attempt,
            status=DeliveryStatus.SUCCEEDED,
            next_attempt_at=None,
            completed_at=_NOW,
            created=_NOW,
        )

    def make_health() -> HealthSignal:
        return HealthSignal(webhook_id="wh1", at=_NOW, succeeded=True)

    def make_report() -> AttemptReport:
        return AttemptReport(
            delivery_id="d1",
            event_id="ev1",
            webhook_id="wh1",
            account_id="acc",
            attempt=1,
            status_code=204,
            latency_ms=1.0,
            outcome=DeliveryStatus.SUCCEEDED,
            error=None,
        )

    result, health, report = make_result(), make_health(), make_report()
    webhook = cast(Webhook, object())  # stored, never read: its fields cost nothing here
    row = _DELIVERY_ROW
    e = _EVENT_ROW
    return {
        "Delivery (claim)": ("removed", lambda: _claimed_delivery(_DELIVERY_ROW, _NOW)),
        "Event (claim)": ("removed", lambda: _loaded_event(_EVENT_ROW)),
        "ClaimedDelivery (claim)": (
            "removed",
            lambda: ClaimedDelivery.of(delivery, "t", event, webhook),
        ),
        "Attempt (conclude)": ("removed", make_attempt),
        "DeliveryResult (conclude)": ("removed", make_result),
        "Concluded (conclude)": (
            "removed",
            lambda: Concluded(
                result=result, health=health, kind=OutcomeKind.SUCCESS, report=report
            ),
        ),
        "HealthSignal (conclude)": ("kept", make_health),
        "AttemptReport (conclude)": ("kept", make_report),
        # What a row port makes instead: one flat tuple per claimed delivery (its row, its
        # event's, the lease and the webhook) and one per result (the outcome and attempt).
        "claim row (tuple of 24)": (
            "added",
            lambda: (*row, *e, "t", webhook),
        ),
        "result row (tuple of 14)": (
            "added",
            lambda: (
                "d1",
                "t",
                DeliveryStatus.SUCCEEDED,
                None,
                _NOW,
                _NOW,
                1,
                _NOW,
                _HEADERS,
                204,
                1.0,
                "",
                None,
                OutcomeKind.SUCCESS,
            ),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.carrier_cost", description=__doc__)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    totals: dict[str, float] = {"removed": 0.0, "kept": 0.0, "added": 0.0}
    for name, (fate, make) in _makers().items():
        us = _timed(make, count=args.count, repeat=args.repeat)
        totals[fate] += us
        print(json.dumps({"object": name, "fate": fate, "us": us}))
    summary: dict[str, Any] = {k: round(v, 3) for k, v in totals.items()}
    summary["saved_at_most"] = round(totals["removed"] - totals["added"], 3)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
