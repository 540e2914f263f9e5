"""Portal links (admins only): a time-limited link to a scoped, key-less dashboard."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from hookcast import portal_links as portal
from hookcast.dashboard.deps import CsrfFormDep, DashDep, VisitDep
from hookcast.dashboard.web import Dashboard, Visit
from hookcast.domain.errors import ValidationFailed
from hookcast.domain.models import Permission


async def portal_form(request: Request, dash: DashDep, visit: VisitDep) -> Response:
    visit.caller.require(Permission.ADMIN)
    return await _page(request, dash, visit)


async def create_link(
    request: Request, dash: DashDep, visit: VisitDep, form: CsrfFormDep
) -> Response:
    visit.caller.require(Permission.ADMIN)
    await dash.services.portal.authorize_link(visit.caller)
    origins = lines(form.get("frame_ancestors"))
    try:
        token, expires = portal.make_link(
            dash.signing_key,
            account_id=visit.caller.account_id,
            role=form.get("role"),
            issuer_key_id=visit.session.key_id,
            duration=form.get("duration"),
            now=dash.now(),
            frame_ancestors=origins or None,
        )
    except ValidationFailed as exc:
        return await _page(request, dash, visit, error=exc.description, status=400)
    link = str(request.url_for("open_portal", token=token))
    return await _page(
        request,
        dash,
        visit,
        link=link,
        expires=expires,
        role=form.get("role"),
        framed=portal.read_link(dash.signing_key, token, now=dash.now()).frame_ancestors,
    )


async def save_settings(
    request: Request, dash: DashDep, visit: VisitDep, form: CsrfFormDep
) -> Response:
    try:
        await dash.services.portal.update(
            visit.caller,
            name=form.get("name"),
            logo=form.get("logo"),
            accent=form.get("accent"),
            frame_ancestors=lines(form.get("frame_ancestors")),
        )
    except ValidationFailed as exc:
        return await _page(request, dash, visit, settings_error=exc.description, status=400)
    return await _page(request, dash, visit, settings_saved=True)


def lines(value: object) -> list[str]:
    """A textarea's non-blank lines."""
    text = value if isinstance(value, str) else ""
    return [line.strip() for line in text.splitlines() if line.strip()]


async def _page(
    request: Request, dash: Dashboard, visit: Visit, *, status: int = 200, **context: object
) -> Response:
    context.setdefault("settings", await dash.services.portal.settings(visit.caller))
    return dash.render(
        request,
        "portal_links.html",
        visit,
        status=status,
        roles=[role.value for role in portal.PORTAL_ROLES],
        durations=list(portal.DURATIONS),
        **context,
    )
