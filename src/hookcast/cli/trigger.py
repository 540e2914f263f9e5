"""`hookcast trigger EVENT`: publish one catalog event with realistic example data."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hookcast.cli.remote import (
    DEFAULT_URL,
    ApiKeyOption,
    UrlOption,
    connected,
    fail,
    first_site,
    parse_json_object,
)
from hookcast.domain.catalog import (
    EVENT_TYPES,
    PUBLISHABLE_EVENTS,
    EventType,
    guess_for,
    where_listed,
)

if TYPE_CHECKING:
    # The formats (and the domain models under them) load when `trigger` runs, not with
    # every command's start (tests/unit/cli/test_cli_imports.py).
    from hookcast.domain.formats import Format
    from hookcast.domain.models import Event
    from hookcast.sdk.client import Client

# The publish body's fields, in the API's errors, as this command's options name them
# ("site_id: unknown site 'x'" named a field the user never typed).
_OPTIONS = {
    "site_id": "--site",
    "media_id": "--media-id",
    "channel_id": "--channel-id",
    "thumbnail_id": "--thumbnail-id",
    "track_id": "--track-id",
    "data": "--data",
    "event_id": "--event-id",
}

_LOOKBACK = 20  # the newest events of this kind, site and resource: the one just published


def trigger(
    event: Annotated[
        str,
        typer.Argument(
            help="An event type, e.g. media_available (or its name in the one --format given)."
        ),
    ],
    site: Annotated[
        str | None, typer.Option("--site", help="Property id (default: your first one).")
    ] = None,
    media_id: Annotated[
        str | None, typer.Option("--media-id", help="The media id (default: the example's).")
    ] = None,
    channel_id: Annotated[
        str | None,
        typer.Option("--channel-id", help="The live channel id (default: the example's)."),
    ] = None,
    thumbnail_id: Annotated[
        str | None,
        typer.Option("--thumbnail-id", help="The thumbnail id (default: the example's)."),
    ] = None,
    track_id: Annotated[
        str | None,
        typer.Option("--track-id", help="The caption track id (default: the example's)."),
    ] = None,
    ids: Annotated[
        list[str] | None,
        typer.Option("--id", help="Any id field as field=value (repeatable)."),
    ] = None,
    data: Annotated[
        str | None, typer.Option("--data", help="The event's data as a JSON object.")
    ] = None,
    event_id: Annotated[
        str | None, typer.Option("--event-id", help="Your idempotency key.")
    ] = None,
    formats: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            help="Also print the body this format's receivers get (repeatable, or all).",
        ),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Publish one event through the API and print its event id.

    Ids and data you leave out come from the catalog's example (GET /v2/event_types/).
    With --format, the event id is followed by the body each chosen format's webhooks
    receive (their webhook ids and times are their own).

    Example: hookcast trigger media_available --site 1A23bCD4 --media-id MNYaMSQl
    --format apivideo --format flowplayer
    """
    from hookcast.domain.models import Event

    shown = _formats(formats or [])
    kind = _event_type(_catalog_name(event, shown))
    given = {"media_id": media_id, "channel_id": channel_id}
    given |= {"thumbnail_id": thumbnail_id, "track_id": track_id}
    chosen = {name: value for name, value in given.items() if value} | _pairs(ids or [])
    body_data = parse_json_object(data, "--data") if data is not None else kind.example_data
    with connected(url, api_key, _OPTIONS) as client:
        site_id = site or first_site(client)
        result = client.publish(
            kind.name,
            site_id=site_id,
            data=dict(body_data) if body_data is not None else None,
            event_id=event_id,
            **_resource_ids(kind, chosen),
        )
        matched = _webhooks_matched(client, result.event_id, kind, site_id, chosen)
    typer.echo(result.event_id)
    _say_matched(matched, kind.name, site_id)
    published = Event(
        id=result.event_id,
        account_id="",
        site_id=site_id,
        type=kind.name,
        resource_ids=_resource_ids(kind, chosen),
        event_time=datetime.now(UTC),
        data=dict(body_data) if body_data is not None else None,
        created=datetime.now(UTC),
    )
    for wire in shown:
        typer.echo(_shown_in(wire, published))


def _formats(names: list[str]) -> list[Format]:
    from hookcast.domain.formats import FORMATS

    if "all" in names:
        return list(FORMATS.values())
    unknown = [name for name in names if name not in FORMATS]
    if unknown:
        fail(f"unknown format(s) {', '.join(unknown)}; formats are: {', '.join(FORMATS)}, all")
    return [FORMATS[name] for name in dict.fromkeys(names)]


def _catalog_name(name: str, shown: list[Format]) -> str:
    """A catalog name as given, or the catalog event a single chosen format's name means."""
    if name in EVENT_TYPES or len(shown) != 1:
        return name
    meant = shown[0].catalog_events(name)
    return meant[0] if meant else name


def _shown_in(wire: Format, event: Event) -> str:
    if not wire.delivers(event.type):
        return f"{wire.name}: not delivered in this format"
    body = wire.body(event, webhook_id="(webhook id)", delivery_id="(delivery id)")
    return f"{wire.name}: {json.dumps(body, indent=2)}"


def _event_type(name: str) -> EventType:
    if name not in PUBLISHABLE_EVENTS:
        fail(
            f"{name!r} is not a known event{guess_for(name, PUBLISHABLE_EVENTS)}; "
            f"{where_listed(PUBLISHABLE_EVENTS, 'the', 'events a publisher may send')}"
        )
    return EVENT_TYPES[name]


def _pairs(items: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field or not value:
            fail(f"--id takes field=value, e.g. --id media_id=MNYaMSQl (got {item!r})")
        pairs[field.strip()] = value.strip()
    return pairs


def _resource_ids(kind: EventType, chosen: dict[str, str]) -> dict[str, Any]:
    """The event's id fields: yours, else the catalog example's. Ids the event does not take
    are passed on as given, so the server's answer names them."""
    example = kind.example()
    return {name: example[name] for name in kind.id_fields} | chosen


def _webhooks_matched(
    client: Client, event_id: str, kind: EventType, site_id: str, chosen: dict[str, str]
) -> Mapping[str, int] | None:
    """The deliveries (one per matching webhook) the event made, by status, as the event log
    counts them; None if the log does not show it among the newest of its kind."""
    ids = _resource_ids(kind, chosen).values()
    first_id = next((value for value in ids if isinstance(value, str)), None)
    found = client.list_events(
        event=kind.name, site_id=site_id, resource_id=first_id, page_length=_LOOKBACK
    )
    for record in found:
        if record.event_id == event_id:
            return record.deliveries
    return None


def _say_matched(deliveries: Mapping[str, int] | None, event: str, site_id: str) -> None:
    """On stderr, so stdout stays the event id alone for scripts."""
    if deliveries is None:
        return
    matched = sum(deliveries.values())
    held = deliveries.get("held", 0)
    if matched == 0:
        line = (
            f"matched no webhook: none wants {event} on property {site_id} "
            "(see hookcast webhooks list)"
        )
    else:
        line = f"matched {matched} webhook{'s' if matched != 1 else ''}"
    if held:  # "matched 4" of which one sends nothing until someone acts: say why
        line += (
            f" ({held} held, not sent: {'its webhook is' if held == 1 else 'their webhooks are'}"
            " disabled, or in the Flowplayer format while the account has no organization"
            " secret; hookcast webhooks deliver-held WEBHOOK_ID sends once that is fixed)"
        )
    typer.echo(line, err=True)
