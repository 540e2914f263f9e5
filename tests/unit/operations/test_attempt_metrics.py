"""What /metrics counts for a batch of recorded attempts of mixed kinds."""

from __future__ import annotations

from hookcast.domain.models import DeliveryStatus
from hookcast.metrics import Metrics
from hookcast.ports import AttemptReport


def report(
    webhook_id: str, outcome: DeliveryStatus, status_code: int | None, account_id: str = "acct"
) -> AttemptReport:
    return AttemptReport(
        delivery_id="d",
        event_id="e",
        webhook_id=webhook_id,
        account_id=account_id,
        attempt=1,
        status_code=status_code,
        latency_ms=30.0,
        outcome=outcome,
    )


def test_a_batch_is_counted_by_outcome_status_class_and_webhook() -> None:
    metrics = Metrics()
    metrics.on_attempts(
        [
            report("hookA", DeliveryStatus.SUCCEEDED, 200),
            report("hookA", DeliveryStatus.SUCCEEDED, 204),
            report("hookB", DeliveryStatus.SUCCEEDED, 200),
            report("hookA", DeliveryStatus.PENDING, 503),
            report("hookB", DeliveryStatus.FAILED, None),
            report("hookB", DeliveryStatus.EXPIRED, None),  # never sent: no endpoint result
        ]
    )
    value = metrics.registry.get_sample_value

    def deliveries(outcome: str, status_class: str) -> float | None:
        labels = {"outcome": outcome, "status_class": status_class}
        return value("hookcast_deliveries_total", labels)

    def per_webhook(webhook_id: str, result: str) -> float | None:
        labels = {"webhook_id": webhook_id, "result": result}
        return value("hookcast_webhook_attempts_total", labels)

    assert deliveries("succeeded", "2xx") == 3
    assert deliveries("retrying", "5xx") == 1
    assert deliveries("failed", "error") == 1
    assert deliveries("expired", "error") == 1
    assert value("hookcast_delivery_attempts_total") == 6
    assert value("hookcast_delivery_latency_seconds_count") == 6
    assert value("hookcast_delivery_latency_seconds_bucket", {"le": "0.05"}) == 6
    assert (per_webhook("hookA", "succeeded"), per_webhook("hookA", "failed")) == (2, 1)
    assert (per_webhook("hookB", "succeeded"), per_webhook("hookB", "failed")) == (1, 1)


def _webhooks_with_series(metrics: Metrics) -> set[str]:
    return {
        sample.labels["webhook_id"]
        for family in metrics.registry.collect()
        if family.name == "hookcast_webhook_attempts"
        for sample in family.samples
        if sample.name == "hookcast_webhook_attempts_total"
    }


def test_an_account_keeps_series_for_its_most_recently_sent_to_webhooks_alone() -> None:
    metrics = Metrics(webhooks_per_account=2)
    metrics.on_attempts([report("other", DeliveryStatus.FAILED, 500, account_id="B")])
    metrics.on_attempts([report("one", DeliveryStatus.SUCCEEDED, 200, account_id="A")])
    metrics.on_attempts([report("two", DeliveryStatus.FAILED, 500, account_id="A")])
    metrics.on_attempts([report("one", DeliveryStatus.FAILED, 500, account_id="A")])  # a use
    metrics.on_attempts([report("three", DeliveryStatus.SUCCEEDED, 200, account_id="A")])

    # "two" was A's least recently sent to: both its series went; B's stays.
    assert _webhooks_with_series(metrics) == {"other", "one", "three"}
    value = metrics.registry.get_sample_value
    labels = {"webhook_id": "one", "result": "failed"}
    assert value("hookcast_webhook_attempts_total", labels) == 1
    assert value("hookcast_delivery_attempts_total") == 5  # the totals count everything


def test_a_webhook_whose_series_went_starts_them_again() -> None:
    metrics = Metrics(webhooks_per_account=1)
    metrics.on_attempts([report("one", DeliveryStatus.SUCCEEDED, 200)])
    metrics.on_attempts([report("two", DeliveryStatus.SUCCEEDED, 200)])
    metrics.on_attempts([report("one", DeliveryStatus.FAILED, 500)])

    assert _webhooks_with_series(metrics) == {"one"}

    def one(result: str) -> float | None:
        labels = {"webhook_id": "one", "result": result}
        return metrics.registry.get_sample_value("hookcast_webhook_attempts_total", labels)

    # A counter reset, which Prometheus's rate() and increase() allow for.
    assert (one("failed"), one("succeeded")) == (1, None)
