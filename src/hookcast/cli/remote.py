"""What the commands that talk to a running server share: options, the SDK client, errors.

`trigger`, `simulate` and `webhooks ...` go through the HTTP API with the SDK `Client`, so
they see exactly what any other API user sees, and `--json` prints the API's own answer.
Errors become one line on stderr and exit 1, in one place: `connected`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any, NoReturn
from urllib.parse import urlsplit

import typer

from hookcast.cli.tables import printable, printable_json
from hookcast.sdk.errors import (
    NOT_HOOKCAST,
    HookcastAPIError,
    HookcastConnectionError,
    UnexpectedResponseError,
)

if TYPE_CHECKING:  # httpx is imported by the commands that talk to a server, not by --help
    from hookcast.cli.recording import RecordingClient
    from hookcast.sdk.client import Client

UrlOption = Annotated[
    str,
    typer.Option(
        "--server",
        envvar="HOOKCAST_URL",
        help="The HookCast server URL.",
        show_default=True,
        metavar="URL",
    ),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option("--api-key", envvar="HOOKCAST_API_KEY", help="An API key.", metavar="KEY"),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the API's own JSON answer (for scripts).")
]
DEFAULT_URL = "http://127.0.0.1:8000"


def fail(message: str) -> NoReturn:
    """One line on stderr, exit status 1. Its controls are printed as escapes: the line
    may quote what a server answered (its error's message, a tenant's name in it)."""
    typer.echo(f"error: {printable(message)}", err=True)
    raise typer.Exit(code=1)


def os_error_words(exc: OSError) -> str:
    """An OSError as a one-line error says it: its errno's words in lower case ("address
    already in use"), else its own text."""
    return os.strerror(exc.errno).lower() if exc.errno else str(exc)


@contextmanager
def connected(
    url: str, api_key: str | None, options: Mapping[str, str] | None = None
) -> Iterator[RecordingClient]:
    """A Client for the command's duration. Every error talking to the server (refused,
    TLS, something other than HookCast at `url`, HookCast's own error answers) becomes one
    line here, for every remote command: see `explain`. `options` maps the API's field
    names to the command's options, which the error then says instead."""
    if not api_key:
        # Where a key comes from, as the wrong key's line says: a new user reaches this first.
        fail(
            "no API key: set HOOKCAST_API_KEY or pass --api-key; `hookcast serve` prints the "
            "first admin key on a new database, and `hookcast keys create --role admin` makes "
            "more"
        )
    if not (api_key.isascii() and api_key.isprintable()):
        # A header carries nothing else: httpx failed with a traceback (UnicodeEncodeError),
        # or a line break read as the server being down.
        fail("HOOKCAST_API_KEY (or --api-key) must be printable ASCII, as keys (hck_...) are")
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        # "localhost:8000" would otherwise be refused as the protocol 'localhost://', with
        # the hint that serve may be down.
        fail(
            f"HOOKCAST_URL (or --server) {url!r} must start with http:// or https://, "
            f"e.g. {DEFAULT_URL}"
        )
    import httpx  # here, not at import: --help stays fast

    from hookcast.cli.recording import RecordingClient

    try:
        with RecordingClient(base_url=url, api_key=api_key) as client:
            yield client
    except (HookcastAPIError, HookcastConnectionError, httpx.InvalidURL) as exc:
        fail(explain(exc, url, options))


def explain(exc: Exception, url: str, options: Mapping[str, str] | None = None) -> str:
    """The one line a remote command prints for `exc`, with what to check next."""
    server = url.rstrip("/")
    if isinstance(exc, UnexpectedResponseError):
        return f"{server} answered {exc}: {_NOT_HOOKCAST_HINT}"
    if isinstance(exc, HookcastConnectionError):
        reason = _one_line(str(exc))
        return f"{reason} ({_TLS_HINT if 'SSL' in reason else _DOWN_HINT})"
    if not isinstance(exc, HookcastAPIError):  # an unusable URL
        return f"HOOKCAST_URL (or --server) {url!r} is not a usable URL: {exc}"
    if exc.code == NOT_HOOKCAST:
        hint = _PROXY_HINT if exc.status in _GATEWAY_STATUSES else _NOT_HOOKCAST_HINT
        return f"{server} answered HTTP {_status(exc.status)}, not HookCast's JSON: {hint}"
    said = in_options(exc.description, options) if options else exc.description
    line = f"{_one_line(said)} (HTTP {exc.status}, {exc.code})"
    if exc.status == 404 and urlsplit(server).path:
        line += f"; HOOKCAST_URL is the server's root, e.g. {DEFAULT_URL}, without a path"
    if exc.status == 401:  # it said what is wrong, not where the key comes from
        line += f": {_KEY_HINT}"
    if exc.status == 403:  # it said what the role may not do, not how to get a stronger one
        line += f": {_role_hint(exc.description)}"
    for status, start, hint in _WHERE_IDS_ARE:  # it said which id is unknown, not where
        if exc.status == status and exc.description.startswith(start):
            line += f": {hint}"
    return line


# An unknown id's error, by its status and how the API's words start, and the command that
# lists the ids. The status too: "webhook 'X' is disabled" (409) names a webhook that exists.
_WHERE_IDS_ARE = (
    (404, "webhook '", "`hookcast webhooks list` shows your webhooks' ids"),
    (404, "delivery '", "`hookcast webhooks deliveries WEBHOOK_ID` lists a webhook's deliveries"),
    (400, "unknown site id", "`hookcast sites list` shows your properties' ids"),
    (400, "site_id: unknown site", "`hookcast sites list` shows your properties' ids"),
    (404, "site '", "`hookcast sites list` shows your properties' ids"),
    (404, "API key '", "`hookcast keys list` shows your keys' ids"),
)


_NOT_HOOKCAST_HINT = (
    "is HOOKCAST_URL (or --server) a HookCast server? `hookcast serve` listens on "
    f"{DEFAULT_URL} unless told otherwise"
)
_KEY_HINT = (
    "check HOOKCAST_API_KEY (or --api-key); `hookcast serve` prints the first admin key on "
    "a new database, and `hookcast keys create` makes more"
)
# The weakest role that may do what the API's 403 says the key's may not ("the viewer role
# may not publish events"): "--role editor" was offered for every refusal, and an editor may
# not list keys or reveal a secret either.
_ROLES_FOR = (
    ("manage API keys", "`hookcast keys create --role admin` makes one"),
    ("publish events", "`hookcast keys create --role publisher` (or editor, admin) makes one"),
    ("", "`hookcast keys create --role editor` (or admin) makes one"),
)


def _role_hint(refused: str) -> str:
    makes = next(hint for words, hint in _ROLES_FOR if words in refused)
    return (
        'use a key whose role allows it (README, "The API at a glance", names each '
        f"route's); {makes}"
    )


_PROXY_HINT = "a proxy answered: is HookCast up behind it, and is HOOKCAST_URL right?"
_DOWN_HINT = "is `hookcast serve` running there? if it is elsewhere, set HOOKCAST_URL (or --server)"
_TLS_HINT = (
    "TLS failed: `hookcast serve` speaks plain http:// unless a TLS proxy is in front, "
    "so check the scheme and port of HOOKCAST_URL"
)
_GATEWAY_STATUSES = frozenset({502, 503, 504})


# An API error about one field starts with its name, as the API's body spells it
# ("webhook_url must start with http://", "max_age_seconds.media_available must be",
# "retry_policy[0] must be", "metadata.rate_limit_burst: Input should be",
# "query.page_length: Input should be").
_FIELD_FIRST = re.compile(r"^(?:metadata\.|query\.)?([a-z_]+)(?:\[(\d+)\]|\.(?=\w))?")


def in_options(description: str, options: Mapping[str, str]) -> str:
    """An API error as a command's user reads it: the field it starts with named by the
    option they typed (`--url`, not `webhook_url`); other errors unchanged."""
    found = _FIELD_FIRST.match(description)
    if found is None or found.group(1) not in options:
        return description
    option, index = options[found.group(1)], found.group(2)
    if index is not None:  # the only listed field: retry delays, counted from 1 for people
        option += f"'s delay {int(index) + 1}"
    elif found.group(0).endswith("."):
        option += " "
    return option + description[found.end() :]


def _status(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def print_answer(client: RecordingClient) -> None:
    """`--json`: the API's last answer as the API shaped it, indented."""
    typer.echo(printable_json(client.last_answer()))


def to_json(value: Any) -> str:
    """SDK values (dataclasses, pages, lists) as indented JSON, times in ISO 8601."""
    return printable_json(_plain(value))


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
        # NaN, Infinity and numbers past a float's range are Python's, not JSON's: read as
        # floats, they failed later as a traceback when the request was written.
        value = json.loads(text, parse_constant=_not_json, parse_float=_finite)
    except ValueError as exc:
        fail(f"{option} is not valid JSON: {exc}")
    if not isinstance(value, dict):
        fail(f'{option} must be a JSON object, e.g. \'{{"tags": ["sports"]}}\'')
    return value


def _not_json(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _finite(digits: str) -> float:
    number = float(digits)
    if not math.isfinite(number):
        raise ValueError(f"{digits} is out of a number's range")
    return number


def first_site(client: Client) -> str:
    """The default property of `trigger` and `simulate`: the account's first one."""
    sites = client.list_sites(page_length=1)
    if not sites.items:
        fail('no property yet: create one (hookcast sites create "Main") or pass --site')
    return sites.items[0].id


ALL_SITES_SAID = (
    "no --site given: subscribed to every property, including ones created later "
    "(--site ID, repeatable, for only some)"
)
# Said as the properties' default is: `create --url X` alone subscribed to every event in
# silence, beside a line about the properties.
ALL_EVENTS_SAID = (
    "no --event given: subscribed to every event, including ones added later "
    "(--event NAME, repeatable, for only some)"
)
