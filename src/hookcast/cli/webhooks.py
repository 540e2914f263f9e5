"""`hookcast webhooks ...`: manage webhooks over the API (SDK Client), tables or --json."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table

from hookcast.cli.remote import (
    DEFAULT_URL,
    ApiKeyOption,
    JsonOption,
    UrlOption,
    connected,
    parse_json_object,
    to_json,
)
from hookcast.sdk.types import Delivery, Webhook, WebhookChanges, WebhookFields

webhooks_app = typer.Typer(
    help="Manage webhooks through the API (HOOKCAST_URL, HOOKCAST_API_KEY).\n\n"
    "Example: hookcast webhooks create --url https://example.com/hooks "
    "--event media_available --site 1A23bCD4\n\n"
    "Events are named in the webhook's format (--format apivideo: api.video's names).",
    no_args_is_help=True,
)

IdArgument = Annotated[str, typer.Argument(help="The webhook id.")]
EventsOption = Annotated[
    list[str] | None,
    typer.Option("--event", help="An event to subscribe to (repeatable; * for all)."),
]
SitesOption = Annotated[
    list[str] | None, typer.Option("--site", help="A property id (repeatable).")
]
ConditionsOption = Annotated[
    str | None,
    typer.Option(help='Payload conditions as JSON, e.g. \'{"data.tags": {"$contains": "x"}}\'.'),
]
RetryOption = Annotated[
    str | None, typer.Option(help='"standard", "quick" or delays in seconds: "5,60,600".')
]


def _out() -> Console:
    return Console(highlight=False)


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _retry_policy(value: str) -> str | list[float]:
    if value in ("standard", "quick"):
        return value
    try:
        return [float(part) for part in value.split(",")]
    except ValueError:
        return value  # the server's answer explains what is accepted


def _webhook_table(hooks: Iterable[Webhook], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("id", "name", "format", "url", "events", "sites", "enabled", "last success"):
        table.add_column(column, overflow="fold", no_wrap=column == "id")
    for hook in hooks:
        table.add_row(
            hook.id,
            hook.name,
            hook.format,
            hook.webhook_url,
            ", ".join(hook.events),
            ", ".join(hook.site_ids),
            "yes" if hook.enabled else f"no ({hook.disabled_reason or 'disabled'})",
            _time(hook.last_success),
        )
    return table


def _show_webhook(hook: Webhook) -> None:
    table = Table(show_header=False, title=f"webhook {hook.id}", title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    rows: Sequence[tuple[str, Any]] = (
        ("name", hook.name),
        ("description", hook.description or "-"),
        ("format", hook.format),
        ("url", hook.webhook_url),
        ("events", ", ".join(hook.events)),
        ("sites", ", ".join(hook.site_ids)),
        ("enabled", "yes" if hook.enabled else f"no ({hook.disabled_reason or 'disabled'})"),
        ("conditions", to_json(hook.conditions) if hook.conditions else "-"),
        ("retry policy", str(hook.retry_policy)),
        ("timeout", f"{hook.timeout_seconds}s"),
        ("last success", _time(hook.last_success)),
        ("failing since", _time(hook.failing_since)),
        ("held deliveries", hook.held_deliveries),
        ("created", _time(hook.created)),
    )
    for name, value in rows:
        table.add_row(name, str(value))
    _out().print(table)


@webhooks_app.command("list")
def list_webhooks(
    page: Annotated[int, typer.Option(help="Page number.")] = 1,
    page_length: Annotated[int, typer.Option(help="Webhooks per page (at most 1000).")] = 50,
    event: Annotated[str | None, typer.Option(help="Only those subscribed to it.")] = None,
    site: Annotated[str | None, typer.Option(help="Only those for this property.")] = None,
    wire_format: Annotated[
        str | None, typer.Option("--format", help="Only those of this format, e.g. apivideo.")
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """List webhooks, newest first.

    Example: hookcast webhooks list --event media_available --json
    """
    with connected(url, api_key) as client:
        found = client.list_webhooks(
            page=page, page_length=page_length, events=event, site_id=site, format=wire_format
        )
    if as_json:
        typer.echo(to_json(found))
        return
    shown = f"webhooks (page {found.page}, {len(found)} of {found.total})"
    _out().print(_webhook_table(found.items, shown))


@webhooks_app.command("create")
def create_webhook(
    webhook_url: Annotated[str, typer.Option("--url", help="Where deliveries are POSTed.")],
    events: EventsOption = None,
    sites: SitesOption = None,
    name: Annotated[str, typer.Option(help="A name for people.")] = "",
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
    conditions: ConditionsOption = None,
    retry_policy: RetryOption = None,
    timeout: Annotated[int | None, typer.Option(help="Seconds to wait (1-30).")] = None,
    wire_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="jwplayer (default), apivideo, flowplayer, mediamanager or standard: the "
            "body, headers and event names; fixed once created.",
        ),
    ] = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Create a webhook and print it with its secret (shown this once).

    Without --event it gets every event ("*"); without --site, every property. Events are
    named in the format's names.

    Example: hookcast webhooks create --url http://127.0.0.1:9000/ --format apivideo
    --event video.encoding.quality.completed --site 1A23bCD4
    """
    fields: WebhookFields = {
        "name": name or webhook_url,
        "webhook_url": webhook_url,
        "events": list(events or ["*"]),
        "site_ids": list(sites or []),
    }
    if description is not None:
        fields["description"] = description
    if conditions is not None:
        fields["conditions"] = parse_json_object(conditions, "--conditions")
    if retry_policy is not None:
        fields["retry_policy"] = _retry_policy(retry_policy)
    if timeout is not None:
        fields["timeout_seconds"] = timeout
    if wire_format is not None:
        fields["format"] = wire_format
    with connected(url, api_key) as client:
        if not fields["site_ids"]:
            fields["site_ids"] = [site.id for site in client.list_sites(page_length=1000)]
        hook = client.create_webhook(**fields)
    if as_json:
        typer.echo(to_json(hook))
        return
    _show_webhook(hook)
    typer.echo(f"secret: {hook.secret}  (shown once: keep it to verify deliveries)")


@webhooks_app.command("get")
def get_webhook(
    webhook_id: IdArgument,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Show one webhook (never its secret).

    Example: hookcast webhooks get 2yW4KmiG
    """
    with connected(url, api_key) as client:
        hook = client.get_webhook(webhook_id)
    if as_json:
        typer.echo(to_json(hook))
    else:
        _show_webhook(hook)


@webhooks_app.command("update")
def update_webhook(
    webhook_id: IdArgument,
    webhook_url: Annotated[str | None, typer.Option("--url", help="A new URL.")] = None,
    events: EventsOption = None,
    sites: SitesOption = None,
    name: Annotated[str | None, typer.Option(help="A new name.")] = None,
    description: Annotated[str | None, typer.Option(help="A new description.")] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Turn deliveries on or off.")
    ] = None,
    conditions: ConditionsOption = None,
    retry_policy: RetryOption = None,
    timeout: Annotated[int | None, typer.Option(help="Seconds to wait (1-30).")] = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Change some settings of a webhook; the others keep their value.

    Example: hookcast webhooks update 2yW4KmiG --event media_available --event media_deleted
    """
    given: dict[str, Any] = {
        "webhook_url": webhook_url,
        "events": list(events) if events else None,
        "site_ids": list(sites) if sites else None,
        "name": name,
        "description": description,
        "enabled": enabled,
        "conditions": parse_json_object(conditions, "--conditions") if conditions else None,
        "retry_policy": _retry_policy(retry_policy) if retry_policy else None,
        "timeout_seconds": timeout,
    }
    changes = cast(WebhookChanges, {k: v for k, v in given.items() if v is not None})
    with connected(url, api_key) as client:
        hook = client.update_webhook(webhook_id, **changes)
    if as_json:
        typer.echo(to_json(hook))
    else:
        _show_webhook(hook)


@webhooks_app.command("delete")
def delete_webhook(
    webhook_id: IdArgument,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Delete a webhook and its delivery log.

    Example: hookcast webhooks delete 2yW4KmiG
    """
    with connected(url, api_key) as client:
        client.delete_webhook(webhook_id)
    typer.echo(f"deleted webhook {webhook_id}", err=True)


@webhooks_app.command("deliver-held")
def deliver_held(
    webhook_id: IdArgument,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Send the events held while the webhook was disabled, oldest first (enable it first).

    Example: hookcast webhooks deliver-held 2yW4KmiG
    """
    with connected(url, api_key) as client:
        count = client.deliver_held_deliveries(webhook_id)
    typer.echo(f"{count} held deliveries of webhook {webhook_id} are on their way", err=True)


@webhooks_app.command("discard-held")
def discard_held(
    webhook_id: IdArgument,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Discard the events held while the webhook was disabled: they are never sent.

    Example: hookcast webhooks discard-held 2yW4KmiG
    """
    with connected(url, api_key) as client:
        count = client.discard_held_deliveries(webhook_id)
    typer.echo(f"discarded {count} held deliveries of webhook {webhook_id}", err=True)


@webhooks_app.command("deliveries")
def list_deliveries(
    webhook_id: IdArgument,
    status: Annotated[
        str | None, typer.Option(help="pending, paused, succeeded, failed, held or discarded.")
    ] = None,
    event: Annotated[str | None, typer.Option(help="Only this event type.")] = None,
    page: Annotated[int, typer.Option(help="Page number.")] = 1,
    page_length: Annotated[int, typer.Option(help="Deliveries per page (at most 1000).")] = 20,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """A webhook's delivery log, newest first, with each one's attempts.

    Example: hookcast webhooks deliveries 2yW4KmiG --status failed
    """
    with connected(url, api_key) as client:
        found = client.list_deliveries(
            webhook_id, page=page, page_length=page_length, status=status, event=event
        )
    if as_json:
        typer.echo(to_json(found))
        return
    title = f"deliveries of {webhook_id} (page {found.page}, {len(found)} of {found.total})"
    _out().print(_delivery_table(found.items, title))


def _delivery_table(deliveries: Iterable[Delivery], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("id", "event", "status", "attempts", "last status", "created", "last error"):
        table.add_column(column, overflow="fold", no_wrap=column == "id")
    for item in deliveries:
        last = item.attempt_log[-1] if item.attempt_log else None
        table.add_row(
            item.id,
            item.event,
            item.status,
            str(item.attempts),
            str(item.last_status_code or "-"),
            _time(item.created),
            (last.error or "-") if last else "-",
        )
    return table
