"""/v2/event_types/: every event HookCast delivers, with its id fields and an example."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from hookcast.api import presenters
from hookcast.api.deps import CallerDep
from hookcast.api.models import AUTHENTICATED, EventTypeList, EventTypeOut, error_responses
from hookcast.domain.catalog import EVENT_TYPES
from hookcast.domain.errors import NotFound

router = APIRouter(prefix="/v2/event_types", tags=["event types"])


@router.get(
    "/",
    summary="The event catalog",
    response_model=EventTypeList,
    responses=error_responses(*AUTHENTICATED),
)
async def list_event_types(_caller: CallerDep) -> dict[str, Any]:
    types = [presenters.event_type(item) for item in EVENT_TYPES.values()]
    return {"event_types": types, "total": len(types)}


@router.get(
    "/{name}/",
    summary="One event type",
    response_model=EventTypeOut,
    responses=error_responses(404, *AUTHENTICATED),
)
async def get_event_type(name: str, _caller: CallerDep) -> dict[str, Any]:
    if name not in EVENT_TYPES:
        raise NotFound(f"event type {name!r} does not exist")
    return presenters.event_type(EVENT_TYPES[name])
