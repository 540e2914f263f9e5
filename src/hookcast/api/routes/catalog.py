"""/v2/event_types/: every event HookCast delivers, with its id fields and an example."""

from __future__ import annotations

from fastapi import APIRouter

from hookcast.api.deps import CallerDep, EventTypeName
from hookcast.api.models import AUTHENTICATED, EventTypeList, EventTypeOut, error_responses
from hookcast.domain.catalog import EVENT_TYPES
from hookcast.domain.errors import NotFound

router = APIRouter(prefix="/v2/event_types", tags=["Event types"])


@router.get(
    "/",
    summary="The event catalog",
    responses=error_responses(*AUTHENTICATED),
)
async def list_event_types(_caller: CallerDep) -> EventTypeList:
    return EventTypeList.from_domain(list(EVENT_TYPES.values()))


@router.get(
    "/{name}/",
    summary="One event type",
    responses=error_responses(404, *AUTHENTICATED),
)
async def get_event_type(name: EventTypeName, _caller: CallerDep) -> EventTypeOut:
    if name not in EVENT_TYPES:
        raise NotFound(f"event type {name!r} does not exist")
    return EventTypeOut.from_domain(EVENT_TYPES[name])
