"""The body POST /v2/events/ takes, built the same way by `Client`, `AsyncClient` and `Hub`.

One event is flat, JW Player style: `{"event", "site_id", <resource ids>, "event_id"?,
"event_time"?, "data"?}`; a batch is `{"events": [...]}`. Checking is the server's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

__all__ = ["batch_body", "event_body"]


def event_body(
    event: str,
    *,
    site_id: str,
    ids: Mapping[str, str],
    data: Mapping[str, Any] | None = None,
    event_id: str | None = None,
    event_time: datetime | str | None = None,
) -> dict[str, Any]:
    """One event as POST /v2/events/ (and `Hub.publish`) takes it; checking is the server's."""
    body: dict[str, Any] = {"event": event, "site_id": site_id, **ids}
    if event_id is not None:
        body["event_id"] = event_id
    if event_time is not None:
        body["event_time"] = (
            event_time.isoformat() if isinstance(event_time, datetime) else event_time
        )
    if data is not None:
        body["data"] = dict(data)
    return body


def batch_body(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {"events": [dict(event) for event in events]}
