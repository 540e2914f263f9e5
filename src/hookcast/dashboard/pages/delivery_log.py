"""A webhook's delivery log as its page shows it: the search a person typed, the page of
deliveries it finds, the request each one sends, and the small JSON answer the page polls
so a delivery in progress updates without a reload (static/app.js)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hookcast.dashboard.deps import DashDep, VisitDep
from hookcast.dashboard.pages.common import page_number, pages, query_text
from hookcast.dashboard.web import Dashboard, Visit
from hookcast.domain.errors import ValidationFailed
from hookcast.domain.formats import format_of
from hookcast.domain.models import DeliveryStatus, Event, Webhook
from hookcast.ports import DeliveryRecord, PageRequest
from hookcast.services import DeliveryFilter

__all__ = ["LOG_LENGTH", "DeliveryLog", "LogSearch", "log_state", "minute", "request_body"]

LOG_LENGTH = 20
MINUTE_FORMAT = "%Y-%m-%d %H:%M"  # the page's 24-hour UTC times, as inputs take them too
_STATUSES = [status.value for status in DeliveryStatus]


def minute(value: datetime) -> str:
    return value.strftime(MINUTE_FORMAT)


def request_body(event: Event, webhook: Webhook, delivery_id: str) -> str | None:
    """The body every attempt of the delivery sends, in the webhook's format, indented for
    reading (signatures are headers, recorded redacted with each attempt); None for an
    event its format does not deliver."""
    try:
        body = format_of(webhook).body(event, webhook_id=webhook.id, delivery_id=delivery_id)
    except ValueError:
        return None
    return json.dumps(body, indent=2, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class LogSearch:
    """What the log's search form asks for, as typed; empty fields ask for nothing."""

    status: str | None = None
    event_id: str | None = None
    resource_id: str | None = None
    since: str | None = None
    until: str | None = None

    @classmethod
    def from_request(cls, request: Request) -> LogSearch:
        status = query_text(request, "status")
        return cls(
            status=status if status in _STATUSES else None,
            event_id=query_text(request, "event_id"),
            resource_id=query_text(request, "resource_id"),
            since=query_text(request, "since"),
            until=query_text(request, "until"),
        )

    @property
    def active(self) -> bool:
        return any((self.status, self.event_id, self.resource_id, self.since, self.until))

    def query(self) -> str:
        """The search as a query string ending in "&" (or empty), for page links."""
        fields = {
            "status": self.status,
            "event_id": self.event_id,
            "resource_id": self.resource_id,
            "since": self.since,
            "until": self.until,
        }
        present = {name: value for name, value in fields.items() if value}
        return urlencode(present) + "&" if present else ""

    def find(self) -> DeliveryFilter:
        return DeliveryFilter(
            event_id=self.event_id, resource_id=self.resource_id, since=self.since, until=self.until
        )


@dataclass(frozen=True, slots=True)
class DeliveryLog:
    """One page of the log, or why the search could not run."""

    search: LogSearch
    records: list[DeliveryRecord]
    page: int
    pages: int
    total: int
    error: str | None = None

    @classmethod
    async def read(
        cls, dash: Dashboard, visit: Visit, *, request: Request, webhook_id: str
    ) -> DeliveryLog:
        search = LogSearch.from_request(request)
        number = page_number(request)
        try:
            found = await dash.services.deliveries.list(
                visit.caller,
                webhook_id,
                page=PageRequest(number, LOG_LENGTH),
                status=search.status,
                find=search.find(),
            )
        except ValidationFailed as exc:
            message = f"Enter {exc.field} as a UTC time such as 2026-12-05 08:55."
            return cls(search, [], number, 1, 0, error=message)
        return cls(search, list(found.items), number, pages(found.total, LOG_LENGTH), found.total)


async def log_state(request: Request, webhook_id: str, dash: DashDep, visit: VisitDep) -> Response:
    """The page's deliveries as the page would list them now: their ids, statuses and
    attempt counts; the page reloads its log when they differ from what it shows."""
    log = await DeliveryLog.read(dash, visit, request=request, webhook_id=webhook_id)
    rows = [
        {
            "id": record.delivery.id,
            "status": record.delivery.status.value,
            "attempts": record.delivery.attempts,
        }
        for record in log.records
    ]
    return JSONResponse({"deliveries": rows, "total": log.total})
