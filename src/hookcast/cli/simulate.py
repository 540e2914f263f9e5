"""`hookcast simulate`: play realistic media and live-channel lifecycles through the API."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from hookcast.cli.lifecycles import Event, simulation
from hookcast.cli.remote import DEFAULT_URL, ApiKeyOption, UrlOption, connected, fail, first_site

if TYPE_CHECKING:
    from hookcast.sdk.client import Client

MAX_UPLOADS = 10_000
MAX_CHANNELS = 1_000
MAX_RATE = 1_000.0
MAX_BATCH = 500  # well under the server's 1,000-event batch limit


def simulate(
    site: Annotated[
        str | None, typer.Option("--site", help="Property id (default: your first one).")
    ] = None,
    uploads: Annotated[int, typer.Option(help=f"Media uploads (0-{MAX_UPLOADS}).")] = 5,
    channels: Annotated[int, typer.Option(help=f"Live channels (0-{MAX_CHANNELS}).")] = 1,
    rate: Annotated[float, typer.Option(help="Events per second (at most 1000).")] = 20.0,
    seed: Annotated[
        int | None, typer.Option(help="Replay the same simulation (default: random).")
    ] = None,
    url: UrlOption = DEFAULT_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Publish realistic media and live-channel lifecycles through the API.

    Uploads: thumbnail, HLS renditions up to the source quality, one MP4, and more.

    After upload: updates, publishing, captions, reuploads, deletes and restores.

    Live channels: broadcasts (active, idle) and their recordings.

    Events go out in batches at --rate events per second; each batch commits on its own.

    Example: hookcast simulate --site 1A23bCD4 --uploads 20 --channels 2 --rate 50
    """
    _check_bounds(uploads, channels, rate)
    chosen_seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    with connected(url, api_key) as client:
        # Checked before the progress bar is drawn: an unknown --site is one line, not a
        # "publishing 0/15" bar followed by the error of the first batch.
        site_id = client.get_site(site).id if site else first_site(client)
        events = simulation(seed=chosen_seed, site_id=site_id, uploads=uploads, channels=channels)
        started = time.monotonic()
        _publish_paced(client, events, rate)
    elapsed = time.monotonic() - started
    typer.echo(
        f"published {_count(len(events), 'event')} ({_count(uploads, 'upload')}, "
        f"{_count(channels, 'channel')}, seed {chosen_seed}) in {elapsed:.1f}s",
        err=True,
    )


def _count(n: int, noun: str) -> str:
    """'1 channel', '3 uploads' (the README's `simulate --channels 1` said '1 channels')."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _check_bounds(uploads: int, channels: int, rate: float) -> None:
    if not 0 <= uploads <= MAX_UPLOADS:
        fail(f"--uploads must be between 0 and {MAX_UPLOADS} (got {uploads})")
    if not 0 <= channels <= MAX_CHANNELS:
        fail(f"--channels must be between 0 and {MAX_CHANNELS} (got {channels})")
    if uploads + channels == 0:
        fail("nothing to simulate: give --uploads or --channels more than 0")
    if not 0 < rate <= MAX_RATE:
        fail(f"--rate must be more than 0 and at most {MAX_RATE:.0f} events per second")


def batches(events: Sequence[Event], rate: float) -> list[Sequence[Event]]:
    """About one batch per second (smaller at low rates, capped at MAX_BATCH)."""
    size = max(1, min(MAX_BATCH, math.ceil(rate)))
    return [events[start : start + size] for start in range(0, len(events), size)]


def _publish_paced(client: Client, events: Sequence[Event], rate: float) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns: Sequence[Any] = (
        TextColumn("[bold]publishing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    started, sent = time.monotonic(), 0
    with Progress(*columns, console=Console(stderr=True)) as progress:
        task = progress.add_task("events", total=len(events))
        for batch in batches(events, rate):
            client.publish_many(batch)
            sent += len(batch)
            progress.update(task, completed=sent)
            # Pace on the schedule, not per batch, so slow requests are caught up on.
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0 and sent < len(events):
                time.sleep(ahead)
