"""`hookcast listen`: a local receiver that verifies and prints every delivery.

It tells each request's format by its signature headers (jwplayer, standard, apivideo,
flowplayer, mediamanager), checks every signature of that format (with `hookcast.verify`, the
receiver helpers) and answers with the status and delay you choose, so a receiver's failure
modes (errors, timeouts, flaky endpoints) can be rehearsed against a real HookCast.
"""

from __future__ import annotations

import asyncio
import errno
import json
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console, Group
from rich.highlighter import JSONHighlighter
from rich.panel import Panel
from rich.text import Text

from hookcast.cli.remote import fail, os_error_words
from hookcast.cli.tables import printable, printable_json
from hookcast.sdk import verify
from hookcast.sdk.verify import PUBLIC_KEY_PREFIX

if TYPE_CHECKING:  # aiohttp is imported when a listener starts, not for every command
    from aiohttp import web

MAX_DELAY_SECONDS = 60.0
MAX_BODY_BYTES = 5 * 1024 * 1024
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, None: 1.0}


@dataclass(frozen=True, slots=True)
class Answer:
    """How the listener answers: `status`, except a `fail_rate` share get `fail_status`."""

    status: int = 200
    fail_rate: float = 0.0
    fail_status: int = 500
    delay: float = 0.0

    def status_for(self, chance: float) -> int:
        return self.fail_status if chance < self.fail_rate else self.status

    def body_for(self, status: int) -> str:
        """What it says with `status`: a failure asked for says so, as the delivery log shows
        the start of each answer's body ("HTTP 500 ok" read as a broken receiver)."""
        if 200 <= status < 300:
            return "ok"
        option = "--fail-rate" if self.fail_rate and status == self.fail_status else "--status"
        return f"answered {status} on purpose (hookcast listen {option})"


@dataclass(frozen=True, slots=True)
class Check:
    """One scheme's verdict on a request: None if it was absent, else ok or the reason."""

    scheme: str
    error: str | None
    present: bool = True

    @property
    def ok(self) -> bool:
        return self.present and self.error is None


def parse_duration(text: str) -> float:
    """Seconds from "2s", "500ms", "1m" or "1.5", at most MAX_DELAY_SECONDS."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 2s, 500ms or 1.5")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_DELAY_SECONDS:
        raise ValueError(f"a delay of at most {MAX_DELAY_SECONDS:.0f}s, please (got {text})")
    return seconds


# Each format's signature headers, and the title the output gives it.
FORMAT_TITLES: Mapping[str, str] = {
    "jwplayer": "JW Player",
    "standard": "Standard Webhooks",
    "apivideo": "api.video",
    "flowplayer": "Flowplayer",
    "mediamanager": "Media Manager",
}


def detect_format(headers: Mapping[str, str]) -> str:
    """The format a request's signature headers say it is in ("jwplayer" if none)."""
    lowered = {name.lower() for name in headers}
    for name, header in (
        ("apivideo", verify.APIVIDEO_HEADER),
        ("flowplayer", verify.FLOWPLAYER_HEADER),
        ("mediamanager", verify.MEDIAMANAGER_HEADER),
    ):
        if header in lowered:
            return name
    if "webhook-signature" in lowered and not {"authorization", verify.HEX_HEADER} & lowered:
        return "standard"
    return "jwplayer"


def check_signatures(
    body: bytes, headers: Mapping[str, str], secrets: Sequence[str]
) -> list[Check]:
    """Each scheme of the request's format on its own, so the output shows which ones
    verified and why not."""
    lowered = {name.lower(): value for name, value in headers.items()}
    # A whpk_ public key checks webhook-signature's v1a signatures only; the JWT and the hex
    # signatures are HMACs, checked with the other secrets alone.
    hmac = [secret for secret in secrets if not secret.startswith(PUBLIC_KEY_PREFIX)]
    schemes: dict[str, list[tuple[str, str, Callable[[], object]]]] = {
        "jwplayer": [
            ("JWT", "authorization", lambda: verify.jwt(body, lowered["authorization"], hmac)),
            ("Standard", "webhook-signature", lambda: verify.standard(body, lowered, secrets)),
            (
                "hex",
                verify.HEX_HEADER,
                lambda: verify.hex(body, lowered[verify.HEX_HEADER], hmac),
            ),
        ],
        "standard": [
            ("Standard", "webhook-signature", lambda: verify.standard(body, lowered, secrets)),
        ],
        "apivideo": [
            ("api.video", verify.APIVIDEO_HEADER, lambda: verify.apivideo(body, lowered, hmac)),
        ],
        "flowplayer": [
            (
                "Flowplayer",
                verify.FLOWPLAYER_HEADER,
                lambda: verify.flowplayer(body, lowered, hmac),
            ),
        ],
        "mediamanager": [
            (
                "Media Manager",
                verify.MEDIAMANAGER_HEADER,
                lambda: verify.mediamanager(body, lowered, hmac),
            ),
        ],
    }
    chosen = schemes[detect_format(lowered)]
    return [
        _check(scheme, header in lowered, run, checkable=bool(hmac) or scheme == "Standard")
        for scheme, header, run in chosen
    ]


def _check(scheme: str, present: bool, run: Callable[[], object], *, checkable: bool) -> Check:
    if not present:
        return Check(scheme, "absent", present=False)
    if not checkable:
        return Check(scheme, "not checked: a whpk_ public key verifies webhook-signature only")
    try:
        run()
    except verify.SignatureError as exc:
        return Check(scheme, exc.description)
    return Check(scheme, None)


def render(
    body: bytes, headers: Mapping[str, str], checks: Sequence[Check] | None, status: int
) -> Panel:
    """One delivery, readably: the event in the title, then its ids, format and
    signatures, then the body. The ids are a line of their own, not the title: a panel's
    title is cut to the terminal's width (at 80 columns a JW delivery's webhook_id was),
    a line wraps between ids."""
    payload = _json_object(body)
    title = Text(printable(_event_name(payload)), style="bold")
    ids = Text(
        printable("  ".join(f"{name}={value}" for name, value in _ids(payload))), style="cyan"
    )
    label = Text(f"format: {FORMAT_TITLES[detect_format(headers)]}", style="dim")
    lines = [label, _signature_line(checks), Text(f"answered {status}", style="dim")]
    if ids:
        lines.insert(0, ids)
    shown = _json_shown(payload) if payload else Text(printable(body.decode("utf-8", "replace")))
    return Panel(Group(*lines, shown), title=title, title_align="left")


def _json_shown(payload: Mapping[str, object]) -> Text:
    """The payload as rich's JSON shows it, its control characters escapes
    (tables.printable_json): rich's JSON parses a text it is given and dumps it again."""
    text = JSONHighlighter()(printable_json(payload))
    text.no_wrap = True
    text.overflow = None
    return text


def _event_name(payload: Mapping[str, object]) -> str:
    # jwplayer and mediamanager say "event", apivideo and standard "type", Flowplayer
    # "event_type".
    for key in ("event", "type", "event_type"):
        if isinstance(payload.get(key), str):
            return str(payload[key])
    return "(not a HookCast event)"


def _ids(payload: Mapping[str, object]) -> list[tuple[str, str]]:
    """The resource ids at the top of the body or in its envelope's object."""
    found: list[tuple[str, str]] = []
    inner = [payload.get(key) for key in ("data", "payload")]
    for level in (payload, *(item for item in inner if isinstance(item, dict))):
        for name, value in level.items():
            is_id = name.endswith(("_id", "Id")) or name in ("id", "token")
            if is_id and isinstance(value, str):
                found.append((name, value))
    return found


def _signature_line(checks: Sequence[Check] | None) -> Text:
    if checks is None:
        return Text("signatures: not checked (pass --secret whsec_...)", style="yellow")
    line = Text("signatures: ")
    for check in checks:
        if check.ok:
            line.append(f"{check.scheme} \u2713  ", style="green")
        elif check.present:
            line.append(f"{check.scheme} \u2717 ({printable(check.error or '')})  ", style="red")
        else:
            line.append(f"{check.scheme} - (absent)  ", style="dim")
    return line


def _json_object(body: bytes) -> dict[str, object]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def make_app(
    *, secrets: Sequence[str], answer: Answer, console: Console, rng: random.Random
) -> web.Application:
    from aiohttp import web

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        checks = check_signatures(body, request.headers, secrets) if secrets else None
        # A real receiver refuses what does not verify; so does this one, when it can tell.
        refused = checks is not None and not any(check.ok for check in checks)
        status = 401 if refused else answer.status_for(rng.random())
        console.print(render(body, request.headers, checks, status))
        if answer.delay:
            await asyncio.sleep(answer.delay)
        said = "refused: bad signature" if refused else answer.body_for(status)
        return web.Response(status=status, text=said)

    async def ready(_request: web.Request) -> web.Response:
        return web.Response(text="hookcast listen: POST deliveries here\n")

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_get("/{tail:.*}", ready)
    app.router.add_post("/{tail:.*}", receive)
    return app


async def _serve(app: web.Application, host: str, port: int, console: Console) -> None:
    from aiohttp import web

    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        # The port bound, not the one asked for: --port 0 takes a free one, and said ":0".
        bound = runner.addresses[0][1] if runner.addresses else port
        console.print(f"Listening on http://{host}:{bound}/ (Ctrl+C to stop)", style="bold")
        await asyncio.Event().wait()  # until interrupted
    finally:
        await runner.cleanup()


def listen(
    port: Annotated[int, typer.Option(help="Port to listen on.", min=0, max=65535)] = 9000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    secret: Annotated[
        list[str] | None,
        typer.Option(
            help="The webhook's secret, or its whpk_ public key when it signs with ed25519 "
            "(repeat it to accept several, e.g. mid-rotation)."
        ),
    ] = None,
    status: Annotated[int, typer.Option(help="The HTTP status to answer with.")] = 200,
    fail_rate: Annotated[
        float, typer.Option(help="Share of requests (0-1) answered with --fail-status instead.")
    ] = 0.0,
    fail_status: Annotated[int, typer.Option(help="The status of the failed share.")] = 500,
    delay: Annotated[
        str, typer.Option(help="Wait before answering, e.g. 2s or 500ms (at most 60s).")
    ] = "0s",
) -> None:
    """Receive deliveries locally: verify each one and print it, labelled with its format.

    With --secret, every signature of the request's format is checked (jwplayer: the JWT,
    Standard Webhooks and hex signatures; Flowplayer: pass the organization secret).

    A request that verifies none of them is answered 401.

    Start HookCast with HOOKCAST_ALLOWED_NETWORKS=127.0.0.0/8 to deliver to this machine.

    Example: hookcast listen --port 9000 --secret whsec_... --fail-rate 0.3 --delay 2s
    """
    answer = _answer(status, fail_rate, fail_status, delay)
    console = Console(highlight=False)
    app = make_app(secrets=secret or [], answer=answer, console=console, rng=random.Random())  # noqa: S311 - chaos, not crypto
    try:
        asyncio.run(_serve(app, host, port, console))
    except OSError as exc:
        said = os_error_words(exc)
        if exc.errno == errno.EADDRINUSE:  # most often a listener from before, still running
            said += " (stop what is on it, or listen on another --port and point the webhook there)"
        fail(f"cannot listen on {host}:{port}: {said}")
    except KeyboardInterrupt:
        console.print("stopped")


def _answer(status: int, fail_rate: float, fail_status: int, delay: str) -> Answer:
    for name, value in (("--status", status), ("--fail-status", fail_status)):
        if not 100 <= value <= 599:
            fail(f"{name} must be an HTTP status between 100 and 599 (got {value})")
    if not 0.0 <= fail_rate <= 1.0:
        fail(f"--fail-rate must be between 0 and 1 (got {fail_rate})")
    try:
        seconds = parse_duration(delay)
    except ValueError as exc:
        fail(f"--delay: {exc}")
    return Answer(status=status, fail_rate=fail_rate, fail_status=fail_status, delay=seconds)
