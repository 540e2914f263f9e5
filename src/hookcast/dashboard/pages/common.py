"""Small helpers the page modules share."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request

from hookcast.dashboard.web import Dashboard, Visit
from hookcast.domain.models import Permission, Site
from hookcast.ports import PageRequest

ALL_SITES = PageRequest(page=1, page_length=1000)


def page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return max(1, min(int(raw), 1_000_000)) if raw.isdigit() else 1


def query_text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "").strip()
    return value or None


async def all_sites(dash: Dashboard, visit: Visit) -> Sequence[Site]:
    return (await dash.services.sites.list(visit.caller, ALL_SITES)).items


def require_write(visit: Visit) -> None:
    """For pages that only show a form: refuse them before a viewer fills anything in."""
    visit.caller.require(Permission.WRITE)


def pages(total: int, length: int) -> int:
    return max(1, -(-total // length))
