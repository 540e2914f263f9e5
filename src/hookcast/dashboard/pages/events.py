"""Recent events with where they went, and the event catalog with example bodies."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from hookcast.dashboard.pages.common import all_sites, page_number, pages, query_text
from hookcast.dashboard.web import Dashboard
from hookcast.domain.catalog import EVENT_TYPES
from hookcast.ports import PageRequest

PAGE_LENGTH = 25


def add_routes(router: APIRouter, dash: Dashboard) -> None:
    @router.get("/events")
    async def list_events(request: Request) -> Response:
        visit = await dash.visit(request)
        number = page_number(request)
        filters = {
            "type": query_text(request, "type"),
            "site_id": query_text(request, "site_id"),
            "resource_id": query_text(request, "resource_id"),
        }
        found = await dash.services.events.list(
            visit.caller, page=PageRequest(number, PAGE_LENGTH), **filters
        )
        return dash.render(
            request,
            "events.html",
            visit,
            events=found.items,
            filters=filters,
            filtered=any(filters.values()),
            sites=await all_sites(dash, visit),
            event_names=list(EVENT_TYPES),
            page=number,
            pages=pages(found.total, PAGE_LENGTH),
            total=found.total,
        )

    @router.get("/event-types")
    async def event_types(request: Request) -> Response:
        visit = await dash.visit(request)
        return dash.render(request, "event_types.html", visit)
