"""Prometheus metrics, on a registry of their own per process (never the global one, so one
process or test can build many apps).

`Metrics` is the DeliveryObserver the worker reports attempts to and the PublishObserver the
event service reports publishes to; the backlog gauges are read from the store when
/metrics is scraped, so they are right whichever process did the work.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import operator
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hookcast.domain.models import DeliveryStatus, Event
from hookcast.heartbeat import Heartbeat
from hookcast.ports import AttemptReport, DeliveryStats, Pruned, Store
from hookcast.ports.observers import outcome_name, status_class

if TYPE_CHECKING:
    from hookcast.delivery.outage import Outage

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_log = logging.getLogger("hookcast.metrics")

OUTCOMES = ("succeeded", "retrying", "failed")
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx", "error")
# Receivers answer in milliseconds on a LAN and up to the 30 s timeout at worst.
MAIL_RESULTS = ("sent", "retrying", "given_up")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# The APIs a refused request is counted under: publishing (POST /v2/events/), the rest of
# HookCast's own (/v2, /metrics, any other path) and api.video's (/apivideo).
APIS = ("publish", "management", "apivideo")
# The `api` of a connection `serve`'s protocol answered itself and closed, before the app
# answered (cli/serving.py): over HOOKCAST_MAX_CONNECTIONS (503 too_many_connections, no
# request read: no path, so no API, is known), or a request's head or body not arriving in
# time (408 head_timeout, body_timeout).
CONNECTION = "connection"
CONNECTION_REFUSALS = ((503, "too_many_connections"), (408, "head_timeout"), (408, "body_timeout"))
# Each error status the API answers, and why it refused. Any other status is counted as
# "4xx" or "5xx", reason "other": the labels stay a small fixed set whatever is raised.
REFUSAL_REASONS: Mapping[int, str] = {
    400: "invalid",
    413: "invalid",
    415: "invalid",
    422: "invalid",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "not_found",
    409: "conflict",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


# What on_attempts counts a report by: its account, webhook, outcome and status.
_KIND_OF_REPORT = operator.attrgetter("account_id", "webhook_id", "outcome", "status_code")


class Metrics:
    def __init__(
        self, registry: CollectorRegistry | None = None, *, webhooks_per_account: int = 100
    ) -> None:
        """`webhooks_per_account`: how many webhooks of one account keep their per-webhook
        series (HOOKCAST_MAX_WEBHOOKS_PER_ACCOUNT, so an account's live webhooks all do)."""
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._deliveries = Counter(
            "hookcast_deliveries",
            "Delivery attempts by what they led to (succeeded, retrying, failed) and by the "
            "response's status class (error: no response)",
            ["outcome", "status_class"],
            registry=self.registry,
        )
        self._attempts = Counter(
            "hookcast_delivery_attempts", "Delivery attempts recorded", registry=self.registry
        )
        self._latency = Histogram(
            "hookcast_delivery_latency_seconds",
            "Time from sending a delivery to its response (or error)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._published = Counter(
            "hookcast_events_published",
            "Events newly stored by a publish, by event type (repeats of an event_id excluded)",
            ["event"],
            registry=self.registry,
        )
        # Each event type's series, looked up once: labels() cost 2.1 µs per event, inc()
        # alone 0.6. The types are the catalog's, so the map stays small.
        self._published_by_type: dict[str, Counter] = {}
        self._over_budget = Counter(
            "hookcast_conditions_over_budget",
            "Events not delivered to a webhook because its condition visited more elements "
            "than the budget allows (one per event and webhook)",
            registry=self.registry,
        )
        self._pruned = Counter(
            "hookcast_retention_pruned",
            "Rows deleted by retention (deliveries with their attempts, events, e-mails)",
            ["kind"],
            registry=self.registry,
        )
        # Per webhook, so a failure ratio can be alerted on per endpoint: two series for each
        # webhook this process sent to, of each account's `webhooks_per_account` most recently
        # sent to (docs/operations.md, "Cardinality"). Kept for every webhook ever sent to, a
        # tenant creating, test-sending and deleting webhooks in a loop (~33 a second per API
        # key at the default rate limit) grew them without end, and every scrape renders them
        # all on the event loop: 100,000 webhooks held 77 MB and took 1.4-1.7 s a scrape
        # (17.5 MB of text; docs/operations.md).
        self._per_webhook = Counter(
            "hookcast_webhook_attempts",
            "Delivery attempts sent, by webhook and by whether the endpoint took them "
            "(succeeded) or not (failed: an error or a non-success answer, retried or not)",
            ["webhook_id", "result"],
            registry=self.registry,
        )
        # A mail server down shows nowhere else but in WARNING lines and the outbox's rows.
        self._mails = Counter(
            "hookcast_mails",
            "Tries to send a queued e-mail, by result: sent, retrying (the server did not take "
            "it; it goes again later) or given_up (its last try failed)",
            ["result"],
            registry=self.registry,
        )
        # Counted where the error answer is made (api/errors.py and its callers), so a
        # request answered 2xx does no work for it.
        self._refused = Counter(
            "hookcast_api_refused",
            "API requests answered with an error, by API (publish, management, apivideo), "
            "status and reason (rate_limited, unavailable, invalid, unauthenticated, ...)",
            ["api", "status", "reason"],
            registry=self.registry,
        )
        # Told by the OTLP exporter, on its own thread (tracing/otel.py): a collector down
        # showed only in the exporter's log lines.
        self._spans = Counter(
            "hookcast_trace_spans_exported",
            "Spans handed to the OTLP exporter (tracing on), by result: exported (the "
            "collector took them) or failed (not taken after the exporter's retries: lost)",
            ["result"],
            registry=self.registry,
        )
        # Told by HookCast's own bound on the spans waiting for the exporter (tracing/otel.py):
        # the SDK's batch processor said a full queue only in a WARNING line.
        self._spans_dropped = Counter(
            "hookcast_trace_spans_dropped",
            "Spans lost before the OTLP exporter was handed them (tracing on), by reason: "
            "queue_full (more waiting than OTEL_BSP_MAX_QUEUE_SIZE: a collector slower than "
            "the span rate, or stalled) or shutdown (ended after the tracer closed)",
            ["reason"],
            registry=self.registry,
        )
        self._webhooks_per_account = webhooks_per_account
        # Account id: its webhooks with series, least recently sent to first.
        self._webhooks_kept: dict[str, collections.OrderedDict[str, None]] = {}
        self._backlog_gauges()
        for outcome in OUTCOMES:
            for class_label in STATUS_CLASSES:
                self._deliveries.labels(outcome, class_label)
        for kind in ("deliveries", "events", "mails"):
            self._pruned.labels(kind)
        for result in MAIL_RESULTS:
            self._mails.labels(result)
        for api in APIS:  # the alerted ones exist from the start, so increase() sees the first
            for status in (429, 503):
                self._refused.labels(api, str(status), REFUSAL_REASONS[status])
        for status, reason in CONNECTION_REFUSALS:
            self._refused.labels(CONNECTION, str(status), reason)
        for result in _SPAN_RESULTS:
            self._spans.labels(result)
        for reason in _SPAN_DROPS:
            self._spans_dropped.labels(reason)

    def _backlog_gauges(self) -> None:
        # Read from the database at each scrape of an API server (`render`): absent from a
        # worker's own exporter, which never reads them, and only `hookcast_database_up 0`
        # while the database cannot be read (docs/operations.md, "Metrics").
        self._backlog = _Backlog()
        self.registry.register(self._backlog)
        self._heartbeat_age = Gauge(
            "hookcast_worker_heartbeat_age_seconds",
            "Seconds since this process's delivery worker last went round its loop "
            "(-1: no worker in this process)",
            registry=self.registry,
        )
        # Read when collected, so a worker's own exporter (`hookcast worker --metrics-port`),
        # which never calls `render`, reports it too.
        self._heartbeat_age.set_function(self._heartbeat_seconds)
        self.heartbeat: Heartbeat | None = None  # this process's worker's, while it runs
        # Whether the database takes this process's worker's writes: on SQLite with a full
        # disk, reads (and so hookcast_database_up) still work while every write fails.
        self.outage: Outage | None = None  # this process's worker's, while it runs
        self.registry.register(_Writable(self))

    # observers

    def on_attempts(self, reports: Sequence[AttemptReport]) -> None:
        # One labelled increment per kind, not per attempt: a batch is hundreds of attempts,
        # of a few kinds. They are told apart by the reports' own values, and each kind is
        # named once (naming every report took ~0.6 us of a delivery's ~140).
        counts = collections.Counter(map(_KIND_OF_REPORT, reports))  # in C: no call each
        kinds: collections.Counter[tuple[str, str]] = collections.Counter()
        sent: collections.Counter[tuple[str, str, str]] = collections.Counter()
        for (account_id, webhook_id, outcome, status_code), count in counts.items():
            kinds[outcome_name(outcome), status_class(status_code)] += count
            # An expired delivery was never sent: it says nothing about the endpoint.
            if outcome is not DeliveryStatus.EXPIRED:
                sent[account_id, webhook_id, _result(outcome)] += count
        for (outcome_label, class_label), count in kinds.items():
            self._deliveries.labels(outcome_label, class_label).inc(count)
        for report in reports:
            self._latency.observe(report.latency_ms / 1000)
        self._attempts.inc(len(reports))
        for (account_id, webhook_id, result), count in sent.items():
            self._keep_series(account_id, webhook_id)
            self._per_webhook.labels(webhook_id, result).inc(count)

    def _keep_series(self, account_id: str, webhook_id: str) -> None:
        """Notes that the webhook was sent to; past its account's bound, the series of that
        account's least recently sent-to webhook go (a deleted one's, as a rule: the bound
        is the most webhooks an account may have). Another account's are never touched."""
        kept = self._webhooks_kept.setdefault(account_id, collections.OrderedDict())
        if webhook_id in kept:
            kept.move_to_end(webhook_id)
            return
        kept[webhook_id] = None
        if len(kept) > self._webhooks_per_account:
            dropped, _ = kept.popitem(last=False)
            for result in _RESULTS:
                with contextlib.suppress(KeyError):  # a webhook with one result has one series
                    self._per_webhook.remove(dropped, result)

    def on_published(self, events: Sequence[Event]) -> None:
        by_type = self._published_by_type
        for event in events:
            series = by_type.get(event.type)
            if series is None:
                series = by_type[event.type] = self._published.labels(event.type)
            series.inc()

    def on_conditions_over_budget(self, count: int) -> None:
        self._over_budget.inc(count)

    def on_pruned(self, pruned: Pruned) -> None:
        self._pruned.labels("deliveries").inc(pruned.deliveries)
        self._pruned.labels("events").inc(pruned.events)
        self._pruned.labels("mails").inc(pruned.mails)

    def on_mailed(self, result: str) -> None:
        """One try to send a queued e-mail: "sent", "retrying" or "given_up"."""
        self._mails.labels(result).inc()

    def on_spans_exported(self, spans: int, sent: bool) -> None:
        """A batch of `spans` the OTLP exporter sent, or failed to (`sent` False)."""
        self._spans.labels(_SPAN_RESULTS[0] if sent else _SPAN_RESULTS[1]).inc(spans)

    def on_spans_dropped(self, spans: int, reason: str) -> None:
        """`spans` lost before the exporter saw them, for `reason` (one of _SPAN_DROPS)."""
        self._spans_dropped.labels(reason).inc(spans)

    def on_refused(self, api: str, status: int) -> None:
        """One request to `api` (one of APIS) answered with the error `status`."""
        reason = REFUSAL_REASONS.get(status)
        if reason is None:
            self._refused.labels(api, f"{status // 100}xx", "other").inc()
        else:
            self._refused.labels(api, str(status), reason).inc()

    def on_connection_refused(self, status: int, reason: str) -> None:
        """A connection serve's protocol answered `status` and closed, before the app
        answered: one of CONNECTION_REFUSALS (503 at the bound, 408 a head or body late)."""
        self._refused.labels(CONNECTION, str(status), reason).inc()

    # exposition

    async def render(self, store: Store, *, now: datetime, heartbeat: Heartbeat | None) -> bytes:
        """The text exposition, with the backlog read from `store` now."""
        await self._refresh_backlog(store, now)
        if heartbeat is not None:
            self.heartbeat = heartbeat
        return generate_latest(self.registry)

    def _heartbeat_seconds(self) -> float:
        age = self.heartbeat.age() if self.heartbeat is not None else None
        return -1.0 if age is None else age

    async def _refresh_backlog(self, store: Store, now: datetime) -> None:
        try:
            stats = await store.delivery_stats(now)
        except Exception as exc:  # a scrape must still answer: say the database is down
            _log.warning("metrics could not read the database: %s", type(exc).__name__)
            self._backlog.saw(None)
            return
        self._backlog.saw(stats)


class _Backlog:
    """The gauges read from the database, as the last scrape read them.

    Before any read (a worker's `--metrics-port` exporter never reads: its registry is
    served as it is) none is exported: such an exporter used to say
    `hookcast_database_up 0` and `hookcast_workers_alive 0` for ever, so the "Database down"
    rule paged for every worker scraped as the docs ask. While the database cannot be read,
    only `hookcast_database_up 0`: the others used to keep the last values read (no backlog,
    every worker alive) through an outage, looking current."""

    def __init__(self) -> None:
        self._scraped = False
        self._read: DeliveryStats | None = None

    def saw(self, stats: DeliveryStats | None) -> None:
        """What a scrape read; None: it could not read the database."""
        self._scraped = True
        self._read = stats

    def describe(self) -> Iterator[Metric]:
        return iter(self._families(DeliveryStats(0, 0.0, 0)))

    def collect(self) -> Iterator[Metric]:
        if not self._scraped:
            return iter(())
        if self._read is None:
            return iter([_gauge("hookcast_database_up", _DATABASE_UP, 0)])
        return iter(self._families(self._read))

    @staticmethod
    def _families(stats: DeliveryStats) -> list[Metric]:
        return [
            _gauge("hookcast_database_up", _DATABASE_UP, 1),
            _gauge(
                "hookcast_deliveries_pending",
                "Deliveries waiting for an attempt (due or scheduled), read from the database",
                stats.pending,
            ),
            _gauge(
                "hookcast_oldest_due_delivery_age_seconds",
                "How long the most overdue pending delivery has been due (0: none is due)",
                stats.oldest_due_age_seconds,
            ),
            _gauge("hookcast_webhooks_disabled", "Disabled webhooks", stats.disabled_webhooks),
            _gauge(
                "hookcast_deliveries_held",
                "Deliveries held for disabled webhooks until a person delivers or discards them",
                stats.held,
            ),
            _gauge(
                "hookcast_workers_alive",
                "Delivering processes (serve with a worker, hookcast worker) whose heartbeat "
                "reached the database in the last 30 s",
                stats.workers_alive,
            ),
        ]


class _Writable:
    """hookcast_database_writable, read when collected (so a worker's own exporter, which
    never calls `render`, reports it too), and only from a process whose worker runs: an
    API server without one (`serve --no-worker`) knows nothing of the worker's writes. It
    said -1 there, a value for "unknown" that every query had to leave out; its own
    refused writes show as refused publishes (503)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterator[Metric]:
        return iter([_gauge(_WRITABLE, _WRITABLE_HELP, 1)])

    def collect(self) -> Iterator[Metric]:
        outage = self._metrics.outage
        if outage is None:
            return iter(())
        return iter([_gauge(_WRITABLE, _WRITABLE_HELP, 0 if outage.down else 1)])


_WRITABLE = "hookcast_database_writable"
_WRITABLE_HELP = (
    "1 while this process's delivery worker's database calls (claims, heartbeats, outcome "
    "writes) go through; 0 from one that failed until they have gone through for 5 s "
    "(absent: no worker in this process)"
)
_DATABASE_UP = "1 if the last scrape could read the database, else 0"


def _gauge(name: str, documentation: str, value: float) -> Metric:
    return GaugeMetricFamily(name, documentation, value=value)


_RESULTS = ("succeeded", "failed")
_SPAN_RESULTS = ("exported", "failed")
_SPAN_DROPS = ("queue_full", "shutdown")


def _result(outcome: DeliveryStatus) -> str:
    return "succeeded" if outcome is DeliveryStatus.SUCCEEDED else "failed"
