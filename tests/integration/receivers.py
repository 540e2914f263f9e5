"""Real webhook receivers on 127.0.0.1 for the delivery integration tests.

A `Receiver` is an aiohttp server in the test's own event loop. It records every request
that reaches it and checks each one the three ways a customer would, with code that does not
come from HookCast: JW Player's documented PyJWT check, the `standardwebhooks` package, and a
plain `hmac.compare_digest` of the hex header. What it answers is a `Behaviour`, a small async
function of the request's number (0 for the first) and the request.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from aiohttp import web
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from support.waiting import eventually

Behaviour = Callable[[int, web.Request], Awaitable[web.StreamResponse]]

DEADLINE = 15.0  # every wait in these tests gives up after this many seconds


# --- the three independent checks -------------------------------------------------------------


def jwt_verifies(headers: dict[str, str], body: bytes, secret: str) -> bool:
    """JW Player's documented receiver, unmodified: decode the Bearer token, compare."""
    try:
        token = headers["Authorization"].split(" ")[1]
        return bool(jwt.decode(token, secret, algorithms=["HS256"]) == json.loads(body))
    except (KeyError, IndexError, jwt.PyJWTError):
        return False


def standard_verifies(headers: dict[str, str], body: bytes, secret: str) -> bool:
    try:
        StandardWebhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def hex_verifies(headers: dict[str, str], body: bytes, secret: str) -> bool:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers.get("X-Hookcast-Signature", ""), expected)


@dataclass(frozen=True)
class Received:
    """One request that reached a receiver."""

    body: bytes
    headers: dict[str, str]
    arrived: float  # time.monotonic()
    concurrent: int  # requests inside the receiver when this one arrived, itself included
    jwt_ok: bool
    standard_ok: bool
    hex_ok: bool

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value

    @property
    def event_id(self) -> str:
        return str(self.payload["event_id"])

    @property
    def verified(self) -> bool:
        return self.jwt_ok and self.standard_ok and self.hex_ok


# --- behaviours -------------------------------------------------------------------------------


def answer(
    status: int = 200,
    *,
    body: str = "ok",
    delay: float = 0.0,
    headers: Mapping[str, str] | None = None,
) -> Behaviour:
    """Every request: wait `delay`, then answer `status` with `body` and `headers`."""

    async def behave(_number: int, _request: web.Request) -> web.StreamResponse:
        if delay:
            await asyncio.sleep(delay)
        return web.Response(status=status, text=body, headers=headers)

    return behave


def first_then(first: Behaviour, then: Behaviour, *, times: int = 1) -> Behaviour:
    """`first` for the first `times` requests, `then` for the rest."""

    async def behave(number: int, request: web.Request) -> web.StreamResponse:
        return await (first if number < times else then)(number, request)

    return behave


def trickle(chunks: Sequence[bytes], *, pause: float) -> Behaviour:
    """200 at once, then the body in `chunks` with `pause` seconds between them."""

    async def behave(_number: int, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
            await asyncio.sleep(pause)
        await response.write_eof()
        return response

    return behave


# --- the server -------------------------------------------------------------------------------


async def serve_on_loopback(runner: web.AppRunner) -> int:
    """Sets `runner` up and serves it on a free port of 127.0.0.1; returns the port."""
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    return int(sock.getsockname()[1])


class Receiver:
    """A loopback HTTP endpoint; `url` is where a webhook should point."""

    def __init__(self, behaviour: Behaviour | None = None, *, secret: str | None = None) -> None:
        self.behaviour = behaviour or answer()
        self.secrets: list[str] = [secret] if secret else []
        self.received: list[Received] = []
        self.in_flight = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def secret(self) -> str:
        return self.secrets[0]

    @secret.setter
    def secret(self, value: str) -> None:
        self.secrets = [value]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        # handler_cancellation: a sleeping handler stops when the sender hangs up (timeouts)
        # max_field_size: JW Player's JWT carries the body again (133 KB for 100 KB of data);
        # aiohttp refuses a header over 8 KB by default.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, max_field_size=1 << 20
        )
        self.port = await serve_on_loopback(self._runner)
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = dict(request.headers)
        number = len(self.received)
        self.in_flight += 1
        try:
            self.received.append(self._check(body, headers))
            return await self.behaviour(number, request)
        finally:
            self.in_flight -= 1

    def _check(self, body: bytes, headers: dict[str, str]) -> Received:
        secret = self.secrets[0] if self.secrets else ""
        return Received(
            body=body,
            headers=headers,
            arrived=time.monotonic(),
            concurrent=self.in_flight,
            jwt_ok=bool(secret) and jwt_verifies(headers, body, secret),
            standard_ok=bool(secret) and standard_verifies(headers, body, secret),
            hex_ok=bool(secret) and hex_verifies(headers, body, secret),
        )

    # --- what arrived ---

    def event_ids(self) -> list[str]:
        return [item.event_id for item in self.received]

    def duplicates(self) -> int:
        """How many requests repeated an event already received."""
        return sum(count - 1 for count in Counter(self.event_ids()).values())

    def assert_all_verified(self) -> None:
        assert self.received, "nothing reached the receiver"
        for item in self.received:
            assert item.jwt_ok, f"PyJWT (JW Player's receiver) refused {item.body!r}"
            assert item.standard_ok, f"standardwebhooks refused {item.body!r}"
            assert item.hex_ok, f"the hex HMAC did not match for {item.body!r}"

    async def wait_for(self, count: int, *, timeout: float = DEADLINE) -> list[Received]:
        await eventually(
            lambda: len(self.received) >= count,
            timeout=timeout,
            message=lambda: f"{len(self.received)} of {count} requests arrived",
        )
        return self.received

    async def wait_for_events(self, event_ids: set[str], *, timeout: float = DEADLINE) -> None:
        await eventually(
            lambda: event_ids <= set(self.event_ids()),
            timeout=timeout,
            message=lambda: (
                f"missing {len(event_ids - set(self.event_ids()))} of {len(event_ids)} events"
            ),
        )

    async def stays_quiet(self, seconds: float, *, count: int) -> bool:
        """True if no more than `count` requests arrived `seconds` from now."""
        await asyncio.sleep(seconds)  # a window to watch, not a wait: nothing must arrive
        return len(self.received) <= count


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed: connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
