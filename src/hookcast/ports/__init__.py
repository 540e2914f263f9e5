"""The narrow seams between HookCast's core and the outside world.

`services` and `delivery` depend on these Protocols only; `store/` and `delivery/sender.py`
implement them. One contract test suite (tests/contract) runs every Store implementation.

- `store`: the `Store` port, with what a publish passes it (`Fanout`, `ConfigVersion`).
- `queue`: `DeliveryQueue`, the part of the store a worker uses, and its leased deliveries.
- `queries` / `records`: what list reads ask for and what the store's reads return.
- `sending`: `Sender` and `Resolver`, the outbound side.
- `handoff`, `observers`, `clock`: a publish's direct hand-over, metrics, the time.
- `tracing`: `Tracer`, the spans of publishes and attempts (off unless configured).
"""

from hookcast.domain.fanout import Lease  # a Handoff grants it
from hookcast.domain.health import WebhookHealth  # the store applies it
from hookcast.ports.clock import Clock
from hookcast.ports.handoff import Handoff
from hookcast.ports.observers import AttemptReport, DeliveryObserver, NoObserver, PublishObserver
from hookcast.ports.queries import (
    DeliveryQuery,
    EventQuery,
    Page,
    PageRequest,
    ReplayQuery,
    WebhookQuery,
)
from hookcast.ports.queue import (
    Beat,
    ClaimedDelivery,
    DeliveryQueue,
    DeliveryResult,
    EventValues,
    StoredRow,
    event_fields,
)
from hookcast.ports.records import (
    DeliveryCount,
    DeliveryRecord,
    DeliveryStats,
    EventSummary,
    Pruned,
)
from hookcast.ports.sending import (
    LARGE_BODY,
    LookupTimeout,
    OutboundRequest,
    Resolver,
    Sender,
    SendOutcome,
)
from hookcast.ports.store import AccountFull, ConfigChanged, ConfigVersion, Fanout, Store
from hookcast.ports.tracing import AttemptTrace, FanoutTrace, PublishTrace, Tracer

__all__ = [
    "LARGE_BODY",
    "AccountFull",
    "AttemptReport",
    "AttemptTrace",
    "Beat",
    "ClaimedDelivery",
    "Clock",
    "ConfigChanged",
    "ConfigVersion",
    "DeliveryCount",
    "DeliveryObserver",
    "DeliveryQuery",
    "DeliveryQueue",
    "DeliveryRecord",
    "DeliveryResult",
    "DeliveryStats",
    "EventQuery",
    "EventSummary",
    "EventValues",
    "Fanout",
    "FanoutTrace",
    "Handoff",
    "Lease",
    "LookupTimeout",
    "NoObserver",
    "OutboundRequest",
    "Page",
    "PageRequest",
    "Pruned",
    "PublishObserver",
    "PublishTrace",
    "ReplayQuery",
    "Resolver",
    "SendOutcome",
    "Sender",
    "Store",
    "StoredRow",
    "Tracer",
    "WebhookHealth",
    "WebhookQuery",
    "event_fields",
]
