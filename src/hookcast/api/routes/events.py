"""/v2/events/: publish (202 once committed) and read recent events with delivery status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Header, Query

from hookcast.api.deps import CallerDep, PageDep, ServicesDep
from hookcast.api.json_route import OrjsonRoute
from hookcast.api.models import (
    AUTHENTICATED,
    WITH_BODY,
    EventList,
    PublishResult,
    error_responses,
)
from hookcast.api.schemas import PUBLISH_EXAMPLES, PublishedBatch, PublishedEvent

router = APIRouter(prefix="/v2/events", tags=["Events"], route_class=OrjsonRoute)

PUBLISH_DOC = (
    "One event, or a batch of up to 1,000 under `events`, holding at most 100,000 arrays and "
    "objects (by default; more is `400 limit_exceeded`). See GET /v2/event_types/ for the "
    "resource id fields each event type requires."
)
TRACEPARENT_DOC = (
    "The publisher's W3C Trace Context. When HookCast traces (OpenTelemetry, "
    "docs/operations.md), the publish continues this trace and every delivery of these "
    "events carries a `traceparent` in it; otherwise it is ignored."
)


@router.post(
    "/",
    status_code=202,
    summary="Publish one event or a batch of up to 1,000",
    responses=error_responses(*WITH_BODY, 403, 409, *AUTHENTICATED),
)
async def publish(
    services: ServicesDep,
    caller: CallerDep,
    body: Annotated[
        PublishedEvent | PublishedBatch,
        Body(description=PUBLISH_DOC, openapi_examples=PUBLISH_EXAMPLES),
    ],
    # Documented here; api/publish_endpoint.py reads it (this route never runs for it).
    traceparent: Annotated[str | None, Header(description=TRACEPARENT_DOC)] = None,
) -> PublishResult:
    # Requests are answered by api/publish_endpoint.py before they reach this route, which
    # stays for the OpenAPI document (the models above are what it documents).
    event_ids = await services.events.publish(caller, body.model_dump(exclude_none=True))
    return PublishResult(event_ids=event_ids)


@router.get(
    "/",
    summary="Recent events, newest first, with how their deliveries ended",
    # EventOut's resource ids and data are optional: only the keys from_domain set go out.
    response_model_exclude_unset=True,
    responses=error_responses(400, *AUTHENTICATED),
)
async def list_events(
    services: ServicesDep,
    caller: CallerDep,
    page: PageDep,
    event: Annotated[str | None, Query(description="Only this event type")] = None,
    site_id: Annotated[str | None, Query(description="Only this property's events")] = None,
    resource_id: Annotated[str | None, Query(description="media_id, channel_id...")] = None,
) -> EventList:
    found = await services.events.list(
        caller, page=page, type=event, site_id=site_id, resource_id=resource_id
    )
    return EventList.from_domain(found, page)
