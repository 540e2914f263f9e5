"""What the operational endpoints (/readyz, /metrics) and the request limits need from the
composition root; kept on `app.state.operations`."""

from __future__ import annotations

from dataclasses import dataclass, field

from hookcast.heartbeat import Heartbeat
from hookcast.metrics import Metrics

__all__ = ["Operations"]


@dataclass(frozen=True, slots=True)
class Operations:
    metrics: Metrics = field(default_factory=Metrics)
    # The heartbeat of the delivery worker running in this process, if one does: /readyz
    # then also requires it to be fresh.
    heartbeat: Heartbeat | None = None
    # When set, /metrics requires `Authorization: Bearer <token>`; by default it is open,
    # for scrapers on a private network (docs/operations.md).
    metrics_token: str | None = field(default=None, repr=False)
    rate_limit_per_second: float = 0.0  # per API key; 0 disables rate limiting
    rate_limit_burst: int = 0
    account_rate_limit_per_second: float = 0.0  # per account, all its keys; 0 disables
    account_rate_limit_burst: int = 0
