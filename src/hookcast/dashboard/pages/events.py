"""Recent events with where they went, and the event catalog with example bodies."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from hookcast.dashboard.deps import CsrfFormDep, DashDep, VisitDep
from hookcast.dashboard.pages.common import all_sites, page_number, pages, query_text
from hookcast.dashboard.unmatched import Unmatched
from hookcast.dashboard.web import Dashboard, Visit, redirect
from hookcast.domain.catalog import EVENT_TYPES
from hookcast.domain.errors import ValidationFailed
from hookcast.domain.models import Webhook
from hookcast.ports import PageRequest

PAGE_LENGTH = 25
MAX_WEBHOOKS = 100  # an account's limit (Policy.max_webhooks_per_account's default)


async def list_events(request: Request, dash: DashDep, visit: VisitDep) -> Response:
    number = page_number(request)
    filters = {
        "type": query_text(request, "type"),
        "site_id": query_text(request, "site_id"),
        "resource_id": query_text(request, "resource_id"),
    }
    found = await dash.services.events.list(
        visit.caller, page=PageRequest(number, PAGE_LENGTH), **filters
    )
    sites = await all_sites(dash, visit)
    unmatched = None
    if any(not any(summary.deliveries.values()) for summary in found.items):
        unmatched = Unmatched(await _webhooks(dash, visit))
    return dash.render(
        request,
        "events.html",
        visit,
        events=found.items,
        unmatched=unmatched,
        shown={status.value for s in found.items for status, n in s.deliveries.items() if n},
        filters=filters,
        filtered=any(filters.values()),
        sites=sites,
        site_names={site.id: site.name for site in sites},
        event_names=list(EVENT_TYPES),
        page=number,
        pages=pages(found.total, PAGE_LENGTH),
        total=found.total,
    )


async def _webhooks(dash: Dashboard, visit: Visit) -> list[Webhook]:
    """The account's webhooks: every one, up to the account's limit."""
    found = await dash.services.webhooks.list(visit.caller, page=PageRequest(1, MAX_WEBHOOKS))
    return list(found.items)


async def event_types(request: Request, dash: DashDep, visit: VisitDep) -> Response:
    hooks = await _webhooks(dash, visit)
    # Bodies in one webhook's format: the one chosen, else the first (or every format).
    chosen = next((h for h in hooks if h.id == request.query_params.get("webhook")), None)
    chosen = chosen or (hooks[0] if hooks else None)
    return dash.render(request, "event_types.html", visit, webhooks=hooks, chosen=chosen)


async def send_example(
    event_name: str, dash: DashDep, visit: VisitDep, form: CsrfFormDep
) -> Response:
    webhook_id = form.get("webhook_id")
    if not isinstance(webhook_id, str) or not webhook_id:
        raise ValidationFailed("choose a webhook to send the example to", field="webhook_id")
    await dash.services.deliveries.send_example(visit.caller, webhook_id, event_name)
    return redirect(f"/webhooks/{webhook_id}?notice=example_sent#log")
