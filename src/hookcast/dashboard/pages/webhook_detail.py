"""One webhook: its settings, health chart, delivery log, and the actions on it (enable,
deliver or discard what was held while disabled, reveal or rotate the secret, send a test,
retry one delivery, resend failed ones)."""

from __future__ import annotations

from datetime import timedelta

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from hookcast.dashboard import health
from hookcast.dashboard.chart import hourly_chart_svg
from hookcast.dashboard.deps import CsrfFormDep, DashDep, VisitDep
from hookcast.dashboard.gave_up import gave_up
from hookcast.dashboard.pages.common import all_sites
from hookcast.dashboard.pages.delivery_log import DeliveryLog, minute, request_body
from hookcast.dashboard.web import Dashboard, Visit, redirect
from hookcast.domain.errors import ValidationFailed
from hookcast.domain.models import DeliveryStatus, Webhook
from hookcast.ports import PageRequest

_HOUR = timedelta(hours=1)


async def show_webhook(
    request: Request, webhook_id: str, dash: DashDep, visit: VisitDep
) -> Response:
    webhook = await dash.services.webhooks.get(visit.caller, webhook_id)
    return await _detail(request, dash, visit, webhook)


async def toggle(
    request: Request, webhook_id: str, dash: DashDep, visit: VisitDep, form: CsrfFormDep
) -> Response:
    enabled = form.get("enabled") == "true"
    await dash.services.webhooks.update(
        visit.caller, webhook_id=webhook_id, changes={"enabled": enabled}
    )
    notice = "enabled" if enabled else "disabled"
    if enabled:
        held = await _settle_held(dash, visit, webhook_id=webhook_id, action=form.get("held"))
        notice = held or notice
    from_list = request.query_params.get("from") == "list"
    back = "/webhooks" if from_list else f"/webhooks/{webhook_id}"
    return redirect(f"{back}?notice={notice}")


async def reveal_secret(
    request: Request, webhook_id: str, dash: DashDep, visit: VisitDep, _: CsrfFormDep
) -> Response:
    # A POST, not a link: the secret never lands in history, logs or a prefetch.
    webhook = await dash.services.webhooks.reveal_secret(visit.caller, webhook_id)
    return dash.render(request, "webhook_secret.html", visit, webhook=webhook, rotated=False)


async def rotate_secret(
    request: Request, webhook_id: str, dash: DashDep, visit: VisitDep, _: CsrfFormDep
) -> Response:
    webhook = await dash.services.webhooks.rotate_secret(visit.caller, webhook_id)
    return dash.render(request, "webhook_secret.html", visit, webhook=webhook, rotated=True)


async def send_test(webhook_id: str, dash: DashDep, visit: VisitDep, _: CsrfFormDep) -> Response:
    sent = await dash.services.deliveries.send_test(visit.caller, webhook_id)
    # The notice is shown in the log, beside the new delivery, where the page opens.
    return redirect(f"/webhooks/{webhook_id}?notice=test_sent&delivery={sent.delivery_id}#log")


async def recover(
    request: Request, webhook_id: str, dash: DashDep, visit: VisitDep, form: CsrfFormDep
) -> Response:
    webhook = await dash.services.webhooks.get(visit.caller, webhook_id)
    try:
        count = await dash.services.deliveries.recover(
            visit.caller, webhook_id=webhook_id, since=form.get("since")
        )
    except ValidationFailed:
        return await _detail(
            request,
            dash,
            visit,
            webhook,
            recover_error="Enter a date and time in UTC, e.g. 2026-12-05 08:55.",
            status=400,
        )
    return await _detail(request, dash, visit, webhook, recovered=count)


async def retry(delivery_id: str, dash: DashDep, visit: VisitDep, _: CsrfFormDep) -> Response:
    record = await dash.services.deliveries.retry(visit.caller, delivery_id)
    # Back to the row whose Retry was pressed: the notice is shown there.
    back = f"/webhooks/{record.delivery.webhook_id}"
    return redirect(f"{back}?notice=retried&delivery={delivery_id}#d-{delivery_id}")


async def replay(
    request: Request, webhook_id: str, dash: DashDep, visit: VisitDep, form: CsrfFormDep
) -> Response:
    """Resend a time range's deliveries in two steps: without confirm=yes it only counts (a
    dry run), and the page shows the count with a button that sends the same choices again,
    confirmed."""
    webhook = await dash.services.webhooks.get(visit.caller, webhook_id)
    chosen = {name: _text(form.get(name)) for name in ("since", "until", "resource_id", "event")}
    confirmed = form.get("confirm") == "yes"
    try:
        count = await dash.services.deliveries.replay(
            visit.caller,
            webhook_id=webhook_id,
            since=chosen["since"] or None,
            until=chosen["until"] or None,
            resource_id=chosen["resource_id"] or None,
            event=chosen["event"] or None,
            dry_run=not confirmed,
        )
    except ValidationFailed as exc:
        return await _detail(
            request,
            dash,
            visit,
            webhook,
            replay_form=chosen,
            replay_error=exc.description,
            status=400,
        )
    if confirmed:
        return await _detail(request, dash, visit, webhook, replayed=count)
    return await _detail(request, dash, visit, webhook, replay_form=chosen, would_replay=count)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


async def deliver_held(webhook_id: str, dash: DashDep, visit: VisitDep, _: CsrfFormDep) -> Response:
    """Sends what was held while the webhook was disabled."""
    await dash.services.deliveries.deliver_held(visit.caller, webhook_id)
    return redirect(f"/webhooks/{webhook_id}?notice=held_delivered#log")


async def discard_held(webhook_id: str, dash: DashDep, visit: VisitDep, _: CsrfFormDep) -> Response:
    """Drops what was held while the webhook was disabled: it is never sent."""
    await dash.services.deliveries.discard_held(visit.caller, webhook_id)
    return redirect(f"/webhooks/{webhook_id}?notice=held_discarded#log")


async def _settle_held(
    dash: Dashboard, visit: Visit, *, webhook_id: str, action: object
) -> str | None:
    """Delivers or discards the webhook's held deliveries as the enable toggle asked
    (webhook.html): the notice to show, or None if nothing was asked."""
    if action == "deliver":
        await dash.services.deliveries.deliver_held(visit.caller, webhook_id)
        return "enabled_delivered"
    if action == "discard":
        await dash.services.deliveries.discard_held(visit.caller, webhook_id)
        return "enabled_discarded"
    return None


async def _detail(
    request: Request,
    dash: Dashboard,
    visit: Visit,
    webhook: Webhook,
    *,
    status: int = 200,
    **extra: object,
) -> Response:
    now = dash.now()
    log = await DeliveryLog.read(dash, visit, request=request, webhook_id=webhook.id)
    counts = await dash.services.deliveries.count_by_hour(
        visit.caller, [webhook.id], since=health.window_start(now)
    )
    bars = health.hourly(counts, now=now)
    return dash.render(
        request,
        "webhook.html",
        visit,
        status=400 if log.error else status,
        webhook=webhook,
        sites={site.id: site.name for site in await all_sites(dash, visit)},
        health=health.summarize(counts).get(webhook.id, health.Health()),
        chart=Markup(hourly_chart_svg(bars, chart_id="hourly")),  # noqa: S704 - escaped inside
        bars=bars,
        log=log,
        statuses=[s.value for s in DeliveryStatus],
        failed_total=await _failed_total(dash, visit, webhook.id),
        since_default=minute(now - health.WINDOW_HOURS * _HOUR),
        request_body=request_body,
        gave_up=gave_up,
        now=now,
        **extra,
    )


async def _failed_total(dash: Dashboard, visit: Visit, webhook_id: str) -> int:
    """How many deliveries "Resend failed" could send again (it is offered only then)."""
    failed = await dash.services.deliveries.list(
        visit.caller, webhook_id, page=PageRequest(1, 1), status=DeliveryStatus.FAILED.value
    )
    return failed.total
