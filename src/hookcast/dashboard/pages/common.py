"""Small helpers the page modules share."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request

from hookcast.dashboard.web import Dashboard, Visit
from hookcast.domain.models import Permission, Site
from hookcast.ports import PageRequest

ALL_SITES = PageRequest(page=1, page_length=1000)


def page_number(request: Request) -> int:
    """The ?page= asked for, from 1 to 1,000,000; anything else is the first page. ASCII
    digits only, and at most seven: str.isdigit() is also true of "²" and of 5,000 digits,
    which int() refuses: either was a 500 with a logged traceback (attack 10)."""
    raw = request.query_params.get("page", "1")
    if not (raw.isascii() and raw.isdigit()):
        return 1
    return max(1, min(int(raw), 1_000_000)) if len(raw) <= 7 else 1_000_000


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
