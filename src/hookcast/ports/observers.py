"""What metrics and logs are told about publishes and attempts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from hookcast.domain.frozen import quick_init
from hookcast.domain.models import DeliveryStatus, Event


@quick_init
@dataclass(frozen=True, slots=True)
class AttemptReport:
    """One recorded attempt, as metrics and logs see it: ids and numbers, never a secret,
    a signature or a URL."""

    delivery_id: str
    event_id: str
    webhook_id: str
    account_id: str  # the webhook's: /metrics bounds its per-webhook series per account
    attempt: int  # 1 for the first attempt
    status_code: int | None  # None when no response came back (see `error`)
    latency_ms: float
    outcome: DeliveryStatus  # SUCCEEDED, PENDING (a retry is scheduled) or FAILED
    error: str | None = None

    @property
    def outcome_name(self) -> str:
        """What happened to the delivery: "succeeded", "retrying" or "failed"."""
        return outcome_name(self.outcome)

    @property
    def status_class(self) -> str:
        """The response's class, "2xx" to "5xx", or "error" when none came back."""
        return status_class(self.status_code)


def outcome_name(outcome: DeliveryStatus) -> str:
    """An attempt's `AttemptReport.outcome_name` from its outcome."""
    return "retrying" if outcome is DeliveryStatus.PENDING else str(outcome)


def status_class(status_code: int | None) -> str:
    """An attempt's `AttemptReport.status_class` from its status."""
    code = status_code
    return f"{code // 100}xx" if code is not None and 100 <= code <= 599 else "error"


class DeliveryObserver(Protocol):
    """Told about attempts once they are recorded (metrics); must not block or raise."""

    def on_attempts(self, reports: Sequence[AttemptReport]) -> None:
        """The attempts one write just recorded."""


class PublishObserver(Protocol):
    """Told about the events a publish newly stored (metrics); must not block or raise."""

    def on_published(self, events: Sequence[Event]) -> None:
        """The events one publish stored (those it had already are left out)."""

    def on_conditions_over_budget(self, count: int) -> None:
        """`count` (event, webhook) pairs of one publish were not delivered because the
        webhook's condition visited more elements than its budget allows."""


class NoObserver:
    """The default DeliveryObserver and PublishObserver: ignores everything."""

    def on_attempts(self, reports: Sequence[AttemptReport]) -> None:
        return None

    def on_published(self, events: Sequence[Event]) -> None:
        return None

    def on_conditions_over_budget(self, count: int) -> None:
        return None
