"""How a publish hands its deliveries straight to a worker in the same process."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from hookcast.domain.fanout import Lease
from hookcast.ports.queue import ClaimedDelivery


class Handoff(Protocol):
    """A worker in the publishing process, taking deliveries straight from the publish that
    created them, leased to it in the publishing transaction: sent without a claim."""

    def lease(self) -> Lease | None:
        """A lease for the deliveries of one publish, or None (not running, or no room)."""

    def take(self, leased: Sequence[ClaimedDelivery], until: datetime) -> None:
        """The committed deliveries created under a lease from `lease()`, until `until`."""
