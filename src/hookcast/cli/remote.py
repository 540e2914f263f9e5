"""What the commands that talk to a running server share: options, the SDK client, errors.

`trigger`, `simulate` and `webhooks ...` go through the HTTP API with the SDK `Client`, so
they see exactly what any other API user sees. Errors become one line on stderr and exit 1.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from hookcast.sdk.errors import HookcastAPIError, HookcastConnectionError

if TYPE_CHECKING:  # httpx is imported by the commands that talk to a server, not by --help
    from hookcast.sdk.client import Client

UrlOption = Annotated[
    str,
    typer.Option(
        "--server", envvar="HOOKCAST_URL", help="The HookCast server URL.", show_default=True
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key", envvar="HOOKCAST_API_KEY", help="An API key (default: HOOKCAST_API_KEY)."
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (for scripts) instead of a table.")
]
DEFAULT_URL = "http://127.0.0.1:8000"


def fail(message: str) -> NoReturn:
    """One line on stderr, exit status 1."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=1)


@contextmanager
def connected(url: str, api_key: str | None) -> Iterator[Client]:
    """A Client for the command's duration; API and connection errors as one line."""
    if not api_key:
        fail("no API key: set HOOKCAST_API_KEY or pass --api-key")
    try:
        from hookcast.sdk.client import Client

        with Client(base_url=url, api_key=api_key) as client:
            yield client
    except HookcastAPIError as exc:
        fail(f"{exc.description} (HTTP {exc.status}, {exc.code})")
    except HookcastConnectionError as exc:
        fail(f"{exc} (is `hookcast serve` running? set HOOKCAST_URL)")


def to_json(value: Any) -> str:
    """SDK values (dataclasses, pages, lists) as indented JSON, times in ISO 8601."""
    return json.dumps(_plain(value), indent=2, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def parse_json_object(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        fail(f"{option} is not valid JSON: {exc}")
    if not isinstance(value, dict):
        fail(f'{option} must be a JSON object, e.g. \'{{"tags": ["sports"]}}\'')
    return value


def first_site(client: Client) -> str:
    """The default property of `trigger` and `simulate`: the account's first one."""
    sites = client.list_sites(page_length=1)
    if not sites.items:
        fail('no property yet: create one (hookcast sites create "Main") or pass --site')
    return sites.items[0].id
