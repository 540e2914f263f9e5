"""The gauges /metrics reads from the database: what a scrape shows before any read (a
worker's own exporter), after one, and while the database cannot be read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

from prometheus_client import generate_latest

from hookcast.domain.errors import Unreachable
from hookcast.metrics import Metrics
from hookcast.ports import DeliveryStats, Store

NOW = datetime(2026, 12, 7, tzinfo=UTC)
BACKLOG = (
    "hookcast_database_up",
    "hookcast_deliveries_pending",
    "hookcast_oldest_due_delivery_age_seconds",
    "hookcast_webhooks_disabled",
    "hookcast_deliveries_held",
    "hookcast_workers_alive",
)


class _Database:
    """The one call a scrape makes of the store; `up` False: the database is down."""

    def __init__(self) -> None:
        self.up = True

    async def delivery_stats(self, now: datetime) -> DeliveryStats:
        if not self.up:
            raise Unreachable("the database is unavailable: ConnectionRefusedError")
        return DeliveryStats(
            pending=300, oldest_due_age_seconds=12.5, disabled_webhooks=1, workers_alive=2
        )


def _shown(page: bytes) -> dict[str, float]:
    """The backlog gauges a page holds, by name."""
    found = {}
    for line in page.decode().splitlines():
        name, _, value = line.partition(" ")
        if name in BACKLOG:
            found[name] = float(value)
    return found


def test_an_exporter_that_never_read_the_database_shows_none_of_its_gauges() -> None:
    # A worker's --metrics-port serves its registry without reading them: it said
    # `hookcast_database_up 0` for ever, and the "Database down" rule paged for it.
    assert _shown(generate_latest(Metrics().registry)) == {}


async def test_a_scrape_shows_what_it_read_and_while_the_database_is_down_only_that() -> None:
    metrics, database = Metrics(), _Database()
    store = cast(Store, database)

    read = _shown(await metrics.render(store, now=NOW, heartbeat=None))
    database.up = False
    down = _shown(await metrics.render(store, now=NOW, heartbeat=None))
    database.up = True
    back = _shown(await metrics.render(store, now=NOW, heartbeat=None))

    assert (
        read
        == back
        == {
            "hookcast_database_up": 1,
            "hookcast_deliveries_pending": 300,
            "hookcast_oldest_due_delivery_age_seconds": 12.5,
            "hookcast_webhooks_disabled": 1,
            "hookcast_deliveries_held": 0,
            "hookcast_workers_alive": 2,
        }
    )
    # Not the last values read (300 pending, 2 workers alive) as though they were current.
    assert down == {"hookcast_database_up": 0}
