"""Properties (JW Player's sites): create with an optional own id, rename, delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from hookcast.dashboard.deps import CsrfFormDep, DashDep, VisitDep
from hookcast.dashboard.pages.common import page_number, pages
from hookcast.dashboard.web import Dashboard, Visit, redirect
from hookcast.domain.errors import Conflict, ValidationFailed
from hookcast.ports import PageRequest

PAGE_LENGTH = 50


async def list_sites(request: Request, dash: DashDep, visit: VisitDep) -> Response:
    return await _page(request, dash, visit)


async def create_site(
    request: Request, dash: DashDep, visit: VisitDep, form: CsrfFormDep
) -> Response:
    own_id = form.get("id")
    try:
        await dash.services.sites.create(
            visit.caller, name=form.get("name", ""), site_id=own_id if own_id else None
        )
    except Conflict:
        error = {"id": "That id is already taken. Choose another, or leave it empty."}
    except ValidationFailed as exc:
        error = {exc.field or "name": _field_message(exc)}
    else:
        return redirect("/properties?notice=site_created")
    return await _page(request, dash, visit, errors=error, typed=dict(form), status=400)


async def rename_site(
    request: Request, site_id: str, dash: DashDep, visit: VisitDep, form: CsrfFormDep
) -> Response:
    try:
        await dash.services.sites.rename(visit.caller, site_id=site_id, name=form.get("name", ""))
    except ValidationFailed as exc:
        errors = {f"rename-{site_id}": _field_message(exc)}
        return await _page(request, dash, visit, errors=errors, status=400)
    return redirect("/properties?notice=site_renamed")


async def delete_site(site_id: str, dash: DashDep, visit: VisitDep, _: CsrfFormDep) -> Response:
    await dash.services.sites.delete(visit.caller, site_id)
    return redirect("/properties?notice=site_deleted")


def _field_message(exc: ValidationFailed) -> str:
    if exc.field == "id":
        return "The id must be exactly 8 letters or digits, e.g. 1A23bCD4."
    if exc.field == "name":
        return "Enter a name (up to 256 characters)."
    return exc.description


async def _page(
    request: Request,
    dash: Dashboard,
    visit: Visit,
    *,
    errors: dict[str, str] | None = None,
    typed: dict[str, object] | None = None,
    status: int = 200,
) -> Response:
    number = page_number(request)
    found = await dash.services.sites.list(visit.caller, PageRequest(number, PAGE_LENGTH))
    return dash.render(
        request,
        "properties.html",
        visit,
        status=status,
        sites=found.items,
        errors=errors or {},
        typed=typed or {},
        page=number,
        pages=pages(found.total, PAGE_LENGTH),
        total=found.total,
    )
