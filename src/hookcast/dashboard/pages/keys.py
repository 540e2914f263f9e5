"""API keys (admins only): create one with a role and see its secret once, or revoke one;
and the account's contact address, e-mailed before a webhook is disabled."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from hookcast.dashboard.deps import CsrfFormDep, DashDep, VisitDep
from hookcast.dashboard.web import Dashboard, Visit, redirect
from hookcast.domain.errors import ValidationFailed
from hookcast.domain.models import Role
from hookcast.services import NewApiKey


async def list_keys(request: Request, dash: DashDep, visit: VisitDep) -> Response:
    return await _page(request, dash, visit)


async def create_key(
    request: Request, dash: DashDep, visit: VisitDep, form: CsrfFormDep
) -> Response:
    try:
        created = await dash.services.accounts.create_key(
            visit.caller, role=form.get("role"), name=form.get("name", "")
        )
    except ValidationFailed as exc:
        return await _page(request, dash, visit, error=exc.description, status=400)
    return await _page(request, dash, visit, created=created)


async def revoke_key(key_id: str, dash: DashDep, visit: VisitDep, _: CsrfFormDep) -> Response:
    await dash.services.accounts.revoke_key(visit.caller, key_id)
    return redirect("/keys?notice=key_revoked")


async def set_contact(
    request: Request, dash: DashDep, visit: VisitDep, form: CsrfFormDep
) -> Response:
    try:
        await dash.services.accounts.set_contact_email(visit.caller, form.get("email", ""))
    except ValidationFailed as exc:
        return await _page(request, dash, visit, contact_error=exc.description, status=400)
    return redirect("/keys?notice=contact_saved")


async def _page(
    request: Request,
    dash: Dashboard,
    visit: Visit,
    *,
    created: NewApiKey | None = None,
    error: str | None = None,
    contact_error: str | None = None,
    status: int = 200,
) -> Response:
    keys = await dash.services.accounts.list_keys(visit.caller)
    contact = await dash.services.accounts.contact_email(visit.caller)
    return dash.render(
        request,
        "keys.html",
        visit,
        status=status,
        keys=sorted(keys, key=lambda key: key.created, reverse=True),
        roles=[role.value for role in Role],
        created=created,
        error=error,
        contact_email=contact,
        contact_error=contact_error,
    )
