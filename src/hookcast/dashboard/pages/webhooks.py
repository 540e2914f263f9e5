"""The Webhooks page (list with health at a glance) and the Create / Edit / Delete flows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from hookcast.dashboard import health
from hookcast.dashboard.deps import CsrfFormDep, DashDep, VisitDep
from hookcast.dashboard.forms import FormErrors, WebhookForm
from hookcast.dashboard.pages.common import all_sites, page_number, pages, require_write
from hookcast.dashboard.web import Dashboard, Visit, redirect
from hookcast.dashboard.webhook_search import (
    SEARCHED_AT_MOST,
    WebhookSearch,
    count_states,
)
from hookcast.domain.errors import ValidationFailed
from hookcast.domain.models import Delivery, Webhook
from hookcast.ports import PageRequest

PAGE_LENGTH = 25


async def list_webhooks(request: Request, dash: DashDep, visit: VisitDep) -> Response:
    number = page_number(request)
    search = WebhookSearch.from_query(request.query_params)
    newest = await dash.services.webhooks.list(visit.caller, page=PageRequest(1, SEARCHED_AT_MOST))
    found = [webhook for webhook in newest.items if search.matches(webhook)]
    shown = found[(number - 1) * PAGE_LENGTH : number * PAGE_LENGTH]
    secret_set = await dash.services.accounts.flowplayer_secret_is_set(visit.caller)
    counts = await dash.services.deliveries.count_by_hour(
        visit.caller, [webhook.id for webhook in shown], since=health.window_start(dash.now())
    )
    return dash.render(
        request,
        "webhooks.html",
        visit,
        webhooks=shown,
        health=health.summarize(counts),
        last=await _last_deliveries(dash, visit, shown),
        newest_beside_state=health.newest_beside_state,
        sites={site.id: site.name for site in await all_sites(dash, visit)},
        page=number,
        pages=pages(len(found), PAGE_LENGTH),
        total=newest.total,
        found=len(found),
        search=search,
        states=count_states(newest.items),
        searched=len(newest.items),
        flowplayer_secret_set=secret_set,
        flowplayer_in_use=secret_set
        or any(webhook.format == "flowplayer" for webhook in newest.items),
        now=dash.now(),
    )


async def new_webhook(request: Request, dash: DashDep, visit: VisitDep) -> Response:
    require_write(visit)
    form = WebhookForm.for_format(request.query_params.get("format"))
    return await _form_page(request, dash, visit, form, {}, webhook=None)


async def create_webhook(
    request: Request, dash: DashDep, visit: VisitDep, posted: CsrfFormDep
) -> Response:
    form = WebhookForm.from_form(posted)
    metadata, errors = form.to_metadata()
    if not errors:
        try:
            created = await dash.services.webhooks.create(visit.caller, metadata)
        except ValidationFailed as exc:
            errors = {exc.field or "form": exc.description}
        else:
            return dash.render(request, "webhook_created.html", visit, webhook=created)
    return await _form_page(request, dash, visit, form, errors, webhook=None, status=400)


async def edit_webhook(
    request: Request, webhook_id: str, dash: DashDep, visit: VisitDep
) -> Response:
    require_write(visit)
    webhook = await dash.services.webhooks.get(visit.caller, webhook_id)
    form = WebhookForm.from_webhook(webhook)
    return await _form_page(request, dash, visit, form, {}, webhook=webhook)


async def update_webhook(
    request: Request, webhook_id: str, dash: DashDep, visit: VisitDep, posted: CsrfFormDep
) -> Response:
    form = WebhookForm.from_form(posted)
    webhook = await dash.services.webhooks.get(visit.caller, webhook_id)
    metadata, errors = form.to_metadata()
    if not errors:
        try:
            await dash.services.webhooks.update(
                visit.caller, webhook_id=webhook_id, changes=_changes(webhook, metadata)
            )
        except ValidationFailed as exc:
            errors = {exc.field or "form": exc.description}
        else:
            return redirect(f"/webhooks/{webhook_id}?notice=updated")
    return await _form_page(request, dash, visit, form, errors, webhook=webhook, status=400)


async def confirm_delete(
    request: Request, webhook_id: str, dash: DashDep, visit: VisitDep
) -> Response:
    require_write(visit)
    webhook = await dash.services.webhooks.get(visit.caller, webhook_id)
    return dash.render(request, "webhook_delete.html", visit, webhook=webhook)


async def delete_webhook(
    webhook_id: str, dash: DashDep, visit: VisitDep, _: CsrfFormDep
) -> Response:
    await dash.services.webhooks.delete(visit.caller, webhook_id)
    return redirect("/webhooks?notice=deleted")


async def set_flowplayer_secret(
    request: Request, dash: DashDep, visit: VisitDep, form: CsrfFormDep
) -> Response:
    """The account's one secret for its Flowplayer-format webhooks: typed, or generated when
    the field is left empty; shown once on the page that answers."""
    typed = form.get("secret")
    chosen = typed.strip() if isinstance(typed, str) and typed.strip() else None
    secret = await dash.services.accounts.set_flowplayer_secret(visit.caller, chosen)
    return dash.render(request, "flowplayer_secret.html", visit, secret=secret)


def _changes(webhook: Webhook, metadata: dict[str, Any]) -> dict[str, Any]:
    """Only what changed: an unchanged URL is not resolved again, and unchanged properties
    are kept even if some were deleted meanwhile (the service's rules for a PATCH)."""
    changes = dict(metadata)
    if changes.get("format") == webhook.format:
        del changes["format"]  # fixed: sent only if a crafted form tries to change it
    if changes["webhook_url"] == webhook.webhook_url:
        del changes["webhook_url"]
    if list(changes["site_ids"]) == list(webhook.site_ids):
        del changes["site_ids"]
    return changes


async def _form_page(
    request: Request,
    dash: Dashboard,
    visit: Visit,
    form: WebhookForm,
    errors: FormErrors,
    *,
    webhook: Webhook | None,
    status: int = 200,
) -> Response:
    return dash.render(
        request,
        "webhook_form.html",
        visit,
        status=status,
        form=form,
        errors=errors,
        webhook=webhook,
        sites=await all_sites(dash, visit),
    )


async def _last_deliveries(
    dash: Dashboard, visit: Visit, webhooks: Sequence[Webhook]
) -> dict[str, Delivery]:
    """Each webhook's newest delivery (one small query each, bounded by the page length)."""
    last: dict[str, Delivery] = {}
    for webhook in webhooks:
        newest = await dash.services.deliveries.list(
            visit.caller, webhook.id, page=PageRequest(1, 1)
        )
        if newest.items:
            last[webhook.id] = newest.items[0].delivery
    return last
