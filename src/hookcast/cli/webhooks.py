"""`hookcast webhooks ...`: manage webhooks over the API (SDK Client), tables or --json."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Final, cast

import typer
from rich.table import Table
from rich.text import Text

from hookcast.cli.help import PlainGroup
from hookcast.cli.remote import (
    ALL_EVENTS_SAID,
    ALL_SITES_SAID,
    DEFAULT_URL,
    ApiKeyOption,
    JsonOption,
    UrlOption,
    connected,
    fail,
    parse_json_object,
    print_answer,
    to_json,
)
from hookcast.cli.tables import console, deliveries, kv_table, shorten, table, when, when_exact
from hookcast.cli.webhook_actions import TIME_HELP, since_time
from hookcast.cli.webhook_controls import (
    BurstOption,
    CertificateOption,
    HeaderOption,
    KeyOption,
    RateOption,
    control_choices,
    control_rows,
)
from hookcast.domain.times import timestamp

if TYPE_CHECKING:  # the SDK's types load with its client, when a command calls the API
    from hookcast.sdk.types import Delivery, Webhook, WebhookChanges, WebhookFields

webhooks_app = typer.Typer(
    cls=PlainGroup,
    help="Manage webhooks through the API (HOOKCAST_URL, HOOKCAST_API_KEY).\n\n"
    "Example: hookcast webhooks create --url https://example.com/hooks "
    "--event media_available --site 1A23bCD4\n\n"
    "Events are named in the webhook's format (--format apivideo: api.video's names).",
    no_args_is_help=True,
)

IdArgument = Annotated[str, typer.Argument(help="The webhook id.", metavar="WEBHOOK_ID")]
# The API's field names, in its errors, as `create` and `update` name them: the user typed
# --url, and "webhook_url must start with http://" named something they never wrote.
OPTIONS: Final = {
    "webhook_url": "--url",
    "name": "--name",
    "description": "--description",
    "events": "--event",
    "site_ids": "--site",
    "conditions": "--conditions",
    "retry_policy": "--retry-policy",
    "timeout_seconds": "--timeout",
    "format": "--format",
    "ordering": "--ordering",
    "signing": "--signing",
    "coalesce": "--coalesce",
    "max_age_seconds": "--max-age",
    "headers": "--header",
    "rate_limit_per_second": "--rate-limit",
    "rate_limit_burst": "--rate-burst",
    "client_certificate": "--client-cert",
}

# The list commands' query parameters, as their options name them ("query.page_length:
# Input should be less than or equal to 1000" named nothing the user typed).
LIST_OPTIONS: Final = {
    "page": "--page",
    "page_length": "--page-length",
    "events": "--event",
    "event": "--event",
    "site_id": "--site",
    "format": "--format",
    "status": "--status",
}
REPLAY_OPTIONS: Final = {
    "since": "--since",
    "until": "--until",
    "resource_id": "--resource",
    "event": "--event",
}

EventsOption = Annotated[
    list[str] | None,
    typer.Option("--event", help="An event to subscribe to (repeatable; * for all)."),
]
SitesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--site", help="A property id (repeatable), or '*' for every property, later ones too."
    ),
]
ALL_SITES = "*"
ConditionsOption = Annotated[
    str | None,
    typer.Option(help='Payload conditions as JSON, e.g. \'{"data.tags": {"$contains": "x"}}\'.'),
]
RetryOption = Annotated[
    str | None, typer.Option(help='"standard", "quick" or delays in seconds: "5,60,600".')
]
OrderingOption = Annotated[
    str | None,
    typer.Option(
        help='"resource": each media\'s or channel\'s events in publish order; "none": '
        "as soon as possible (the default)."
    ),
]
SigningOption = Annotated[
    str | None,
    typer.Option(
        help='"hmac" (a shared secret) or "ed25519" (Standard Webhooks v1a, verified with '
        "the public key shown as signing)."
    ),
]

CoalesceOption = Annotated[
    bool | None,
    typer.Option(
        "--coalesce/--no-coalesce",
        help="Latest wins: of several unsent *_updated events about one media or channel, "
        "send only the newest (the others are logged superseded).",
    ),
]
MaxAgeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--max-age",
        help='Time-to-live, EVENT=SECONDS (repeatable), e.g. "channel_active=600": an older '
        'event is not sent and is logged expired. "none" removes every limit.',
    ),
]


def _max_age(values: list[str]) -> dict[str, int] | None:
    """--max-age options as metadata.max_age_seconds (None: "none", no limits)."""
    if values == ["none"]:
        return None
    limits: dict[str, int] = {}
    for value in values:
        event, _, seconds = value.partition("=")
        digits = seconds.strip()  # ASCII: str.isdigit() is also true of "²", which int() refuses
        if not event or not (digits.isascii() and digits.isdigit() and len(digits) <= 18):
            fail(f"--max-age {value!r}: expected EVENT=SECONDS, e.g. channel_active=600")
        limits[event.strip()] = int(seconds)
    return limits


def _sending_choices(
    ordering: str | None, coalesce: bool | None, max_age: list[str] | None
) -> dict[str, Any]:
    """The ordering, latest-wins and time-to-live options that were given, as metadata."""
    chosen: dict[str, Any] = {}
    if ordering is not None:
        chosen["ordering"] = ordering
    if coalesce is not None:
        chosen["coalesce"] = coalesce
    if max_age:
        chosen["max_age_seconds"] = _max_age(max_age)  # None: "none", the limits removed
    return chosen


_out = console
_time = when_exact


def _retry_policy(value: str) -> str | list[float]:
    if value in ("standard", "quick"):
        return value
    try:
        return [float(part) for part in value.split(",")]
    except ValueError:
        return value  # the server's answer explains what is accepted


# What rich draws around the list's 3 columns (edges, padding), and the fewest characters
# a name and the state fold to, so that a URL keeps its line whole: one folded after
# "http://127.0.0.1:" is neither read nor copied in one piece.
_FRAME = 10
_FOLDED = 14


def _webhook_table(hooks: Sequence[Webhook], title: str, *, width: int) -> Table:
    """The list in `width` columns: each URL whole that fits the room the others leave (a
    longer one folds there, and takes no room from the others' words). The format, events
    and properties go under the URL: in columns of their own they left a URL 36 characters
    at 80 columns and folded "media_available" in the middle."""
    room = width - _FRAME - 2 * _FOLDED
    longest = max(len(hook.webhook_url) for hook in hooks)
    columns = ("id / name", "url / events", "state")
    # Only the URL's width is set: a name takes what a wide terminal leaves it (fixed at
    # the 8-character ids' width, a name folded every 9 characters even in 400 columns).
    shown = table(title, columns, whole={columns[1]: max(len(columns[1]), min(longest, room))})
    for hook in hooks:
        shown.add_row(
            f"{hook.id}\n{hook.name}",
            f"{hook.webhook_url}\n{hook.format}: {', '.join(hook.events)}\n{_listed_sites(hook)}",
            _state(hook),
        )
    return shown


def _listed_sites(hook: Webhook) -> str:
    if hook.every_site:
        return "on all properties"
    return "on " + (", ".join(hook.site_ids) or "no property")


_ERROR_SHOWN = 60  # characters of the last response body in the table


def _state(hook: Webhook) -> Text:
    """healthy; failing since when, with the last error and the next retry; or disabled and
    why; and how many events are held."""
    lines = [hook.state]
    if hook.state == "failing":
        lines[0] = f"failing since {when(hook.failing_since)}"
    elif hook.state == "disabled":
        # "disabled by a user" says it whole; "410 Gone" needs the word before it.
        reason = hook.disabled_reason or "disabled by a user"
        lines[0] = reason if reason.startswith("disabled") else f"disabled: {reason}"
    error = hook.last_error
    if error is not None and hook.state != "healthy":
        body = " ".join(error.body.split())[:_ERROR_SHOWN]
        # Named, as the dashboard names it: under "disabled by a user", a bare "connection
        # refused by ..." read as the reason it was disabled.
        lines.append("last error: " + error.error + (f": {body}" if body else ""))
    if hook.state == "failing" and hook.next_attempt_at is not None:
        lines.append(f"next retry {when(hook.next_attempt_at)}")
    if hook.held_deliveries:
        lines.append(f"{hook.held_deliveries} held")
    return Text("\n".join(lines))  # Text: a response's [brackets] are not markup


def _show_webhook(hook: Webhook) -> None:
    rows: Sequence[tuple[str, Any]] = (
        ("name", hook.name),
        ("description", hook.description or "-"),
        ("format", hook.format),
        ("url", hook.webhook_url),
        ("events", ", ".join(hook.events)),
        ("sites", _sites(hook)),
        ("state", _state(hook).plain),
        ("conditions", to_json(hook.conditions) if hook.conditions else "-"),
        ("retry policy", _policy(hook.retry_policy)),
        ("timeout", f"{hook.timeout_seconds}s"),
        ("ordering", hook.ordering),
        ("signing", hook.signing),
        # its own row, so the key fits 80 columns whole and copies in one piece
        *((("public key", hook.public_key),) if hook.public_key else ()),
        ("latest wins", "yes" if hook.coalesce else "no"),
        ("max age", _limits(hook.max_age_seconds)),
        *control_rows(hook),
        ("last success", _time(hook.last_success)),
        ("failing since", _time(hook.failing_since)),
        ("held deliveries", hook.held_deliveries),
        ("created", _time(hook.created)),
    )
    _out().print(kv_table(f"webhook {hook.id}", [(name, str(value)) for name, value in rows]))


def _sites(hook: Webhook) -> str:
    if hook.every_site:
        return "all properties, including future ones"
    return ", ".join(hook.site_ids) or "no property"


def _policy(policy: str | tuple[float, ...]) -> str:
    """A preset's name, or its delays as given: "5s, 60s, 600s"."""
    if isinstance(policy, str):
        return policy
    return ", ".join(f"{delay:g}s" for delay in policy)


def _limits(limits: Mapping[str, int] | None) -> str:
    if not limits:
        return "-"
    return ", ".join(f"{event} {seconds}s" for event, seconds in limits.items())


@webhooks_app.command("list")
def list_webhooks(
    page: Annotated[int, typer.Option(help="Page number.", min=1)] = 1,
    page_length: Annotated[int, typer.Option(help="Webhooks per page (at most 1000).")] = 50,
    event: Annotated[
        str | None, typer.Option(help="Only those that get it (those on every event too).")
    ] = None,
    site: Annotated[
        str | None, typer.Option(help="Only those for this property (those on every one too).")
    ] = None,
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
    with connected(url, api_key, LIST_OPTIONS) as client:
        found = client.list_webhooks(
            page=page, page_length=page_length, events=event, site_id=site, format=wire_format
        )
    if as_json:
        print_answer(client)
        return
    if not found.items:  # one line, not the columns of an empty table
        filtered = any(given is not None for given in (event, site, wire_format))
        typer.echo(_no_webhooks(page, found.total, filtered=filtered), err=True)
        return
    shown = f"webhooks (page {found.page}, {len(found)} of {found.total})"
    out = _out()
    out.print(_webhook_table(found.items, shown, width=out.width))


def _no_webhooks(page: int, total: int, *, filtered: bool) -> str:
    if total:
        return f"no webhooks on page {page}: there are {total}"
    if filtered:
        return "no webhooks match --event, --site or --format: list them all without"
    return "no webhooks yet: create one with hookcast webhooks create --url URL"


@webhooks_app.command("create")
def create_webhook(
    webhook_url: Annotated[str, typer.Option("--url", help="Where deliveries are POSTed.")],
    events: EventsOption = None,
    sites: SitesOption = None,
    name: Annotated[str, typer.Option(help="A name for people.")] = "",
    description: Annotated[str | None, typer.Option(help="What it is for.")] = None,
    conditions: ConditionsOption = None,
    retry_policy: RetryOption = None,
    timeout: Annotated[
        int | None,
        typer.Option(
            help="Seconds to wait for the receiver's answer (1-30; default 10, mediamanager 3)."
        ),
    ] = None,
    wire_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="jwplayer (default), apivideo, flowplayer, mediamanager or standard: the "
            "body, headers and event names; fixed once created.",
        ),
    ] = None,
    ordering: OrderingOption = None,
    signing: SigningOption = None,
    coalesce: CoalesceOption = None,
    max_age: MaxAgeOption = None,
    header: HeaderOption = None,
    rate_limit: RateOption = None,
    rate_burst: BurstOption = None,
    client_cert: CertificateOption = None,
    client_key: KeyOption = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Create a webhook and print it with its secret (shown this once).

    Without --event it gets every event ("*"). Without --site (or with --site '*'), every
    property, including ones created later. Events are named in the format's names.

    Example: hookcast webhooks create --url http://127.0.0.1:9000/ --format apivideo
    --event video.encoding.quality.completed --site 1A23bCD4
    """
    fields: WebhookFields = {
        "name": name or webhook_url,
        "webhook_url": webhook_url,
        "events": list(events or ["*"]),
        "site_ids": list(sites or [ALL_SITES]),
    }
    given: dict[str, Any] = {
        "description": description,
        "timeout_seconds": timeout,
        "format": wire_format,
        "signing": signing,
    }
    fields.update(cast("WebhookFields", {k: v for k, v in given.items() if v is not None}))
    if conditions is not None:
        fields["conditions"] = parse_json_object(conditions, "--conditions")
    if retry_policy is not None:
        fields["retry_policy"] = _retry_policy(retry_policy)
    fields.update(cast("WebhookFields", _sending_choices(ordering, coalesce, max_age)))
    controls = control_choices(
        headers=header, rate=rate_limit, burst=rate_burst, certificate=client_cert, key=client_key
    )
    fields.update(cast("WebhookFields", controls))
    with connected(url, api_key, OPTIONS) as client:
        hook = client.create_webhook(**fields)
    if not events:
        typer.echo(ALL_EVENTS_SAID, err=True)
    if not sites:
        typer.echo(ALL_SITES_SAID, err=True)
    if as_json:
        print_answer(client)
        return
    _show_webhook(hook)
    _echo_secret(hook)


def _echo_secret(hook: Webhook) -> None:
    if not hook.public_key:
        typer.echo(f"secret: {hook.secret}  (shown once: keep it to verify deliveries)")
        return
    # An Ed25519 key signs at HookCast only: receivers need the public key.
    typer.echo(f"secret: {hook.secret}  (shown once: HookCast signs with it)")
    typer.echo(f"public key: {hook.public_key}  (receivers verify with it; not a secret)")


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
        print_answer(client)
    else:
        _show_webhook(hook)


@webhooks_app.command("update")
def update_webhook(
    ctx: typer.Context,
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
    timeout: Annotated[
        int | None, typer.Option(help="Seconds to wait for the receiver's answer (1-30).")
    ] = None,
    ordering: OrderingOption = None,
    signing: SigningOption = None,
    coalesce: CoalesceOption = None,
    max_age: MaxAgeOption = None,
    header: HeaderOption = None,
    rate_limit: RateOption = None,
    rate_burst: BurstOption = None,
    client_cert: CertificateOption = None,
    client_key: KeyOption = None,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Change some settings of a webhook; the others keep their value.

    A new --signing is a rotation: a secret of the other kind signs at once, the old one
    beside it until the grace period ends.

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
        "signing": signing,
    }
    changes = cast(
        "WebhookChanges",
        {k: v for k, v in given.items() if v is not None}
        | _sending_choices(ordering, coalesce, max_age)
        | control_choices(
            headers=header,
            rate=rate_limit,
            burst=rate_burst,
            certificate=client_cert,
            key=client_key,
        ),
    )
    if not changes:  # it printed the webhook unchanged, as if something had been saved
        ctx.fail(
            "nothing to change: give at least one setting, e.g. --url URL or --disable "
            "(hookcast webhooks update --help lists them)"
        )
    with connected(url, api_key, OPTIONS) as client:
        hook = client.update_webhook(webhook_id, **changes)
    if as_json:
        print_answer(client)
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
    if not count:  # "0 held deliveries ... are on their way" read as something going out
        typer.echo(f"webhook {webhook_id} holds no deliveries: nothing was sent", err=True)
        return
    typer.echo(
        f"{deliveries(count, 'held')} of webhook {webhook_id} {_on_the_way(count)}", err=True
    )


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
    if not count:
        typer.echo(f"webhook {webhook_id} holds no deliveries: nothing was discarded", err=True)
        return
    typer.echo(f"discarded {deliveries(count, 'held')} of webhook {webhook_id}", err=True)


@webhooks_app.command("replay")
def replay_webhook(
    webhook_id: IdArgument,
    since: Annotated[
        str, typer.Option(help=f"{TIME_HELP}: deliveries created since then.", metavar="TIME")
    ],
    until: Annotated[
        str | None, typer.Option(help=f"{TIME_HELP}: and before then.", metavar="TIME")
    ] = None,
    resource: Annotated[
        str | None, typer.Option(help="Only events about this media or channel id.")
    ] = None,
    event: Annotated[str | None, typer.Option(help="Only this event type.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only say how many would be sent.")
    ] = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Send again every finished delivery (any outcome) created in a time range, in publish
    order; at most 10,000 at once.

    Example: hookcast webhooks replay 2yW4KmiG --since 2024-08-27T00:00Z --resource MNYaMSQl
    """
    now = datetime.now(UTC)
    start = since_time(since, now=now)
    end = None if until is None else since_time(until, now=now, option="--until")
    if end is not None and timestamp(end, field="--until") <= timestamp(start, field="--since"):
        # the API's "until must be later than since" named neither option nor either time
        fail(f"--until ({end}) must be later than --since ({start})")
    with connected(url, api_key, REPLAY_OPTIONS) as client:
        count = client.replay_webhook(
            webhook_id,
            since=start,
            until=end,
            resource_id=resource,
            event=event,
            dry_run=dry_run,
        )
    if dry_run:
        typer.echo(f"{deliveries(count)} of webhook {webhook_id} would be sent again", err=True)
    elif not count:
        typer.echo(
            f"no finished deliveries of webhook {webhook_id} match: nothing was sent again",
            err=True,
        )
    else:
        typer.echo(
            f"{deliveries(count)} of webhook {webhook_id} {_on_the_way(count)} again", err=True
        )


@webhooks_app.command("deliveries")
def list_deliveries(
    webhook_id: IdArgument,
    status: Annotated[
        str | None,
        typer.Option(
            help="pending, paused, waiting, succeeded, failed, held, discarded, superseded "
            "or expired."
        ),
    ] = None,
    event: Annotated[str | None, typer.Option(help="Only this event type.")] = None,
    page: Annotated[int, typer.Option(help="Page number.", min=1)] = 1,
    page_length: Annotated[int, typer.Option(help="Deliveries per page (at most 1000).")] = 20,
    as_json: JsonOption = False,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """A webhook's delivery log, newest first, with each one's attempts.

    Example: hookcast webhooks deliveries 2yW4KmiG --status failed
    """
    with connected(url, api_key, LIST_OPTIONS) as client:
        found = client.list_deliveries(
            webhook_id, page=page, page_length=page_length, status=status, event=event
        )
    if as_json:
        print_answer(client)
        return
    if not found.items:  # one line, not the columns of an empty table
        typer.echo(_no_deliveries(webhook_id, status, event, page, found.total), err=True)
        return
    title = f"deliveries of {webhook_id} (page {found.page}, {len(found)} of {found.total})"
    _out().print(_delivery_table(found.items, title))


def _no_deliveries(
    webhook_id: str, status: str | None, event: str | None, page: int, total: int
) -> str:
    wanted = "".join(
        (f" with status {status}" if status else "", f" of event {event}" if event else "")
    )
    if total:
        return f"no deliveries of {webhook_id}{wanted} on page {page}: there are {total}"
    return f"no deliveries of {webhook_id}{wanted}"


def _on_the_way(count: int) -> str:
    return "is on its way" if count == 1 else "are on their way"


def _delivery_table(deliveries: Iterable[Delivery], title: str) -> Table:
    columns = ("event / delivery", "status", "tries", "created", "last answer")
    shown = table(title, columns, whole={"event / delivery": len("dlv_") + 22})
    for item in deliveries:
        shown.add_row(
            f"{item.event}\n{item.id}",
            item.status,
            str(item.attempts),
            when(item.created).replace(" ", "\n", 1),
            _last_answer(item),
        )
    return shown


def _last_answer(delivery: Delivery) -> str:
    """What the endpoint said last: its status and the start of its body, or the error."""
    if not delivery.attempt_log:
        return "-"
    last = delivery.attempt_log[-1]
    if last.status_code is None:
        return shorten(last.error, 80)
    return f"HTTP {last.status_code} {shorten(last.response_body, 60)}"
