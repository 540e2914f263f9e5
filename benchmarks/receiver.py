"""The fast loopback receiver every contestant delivers to: a raw asyncio protocol on uvloop
with httptools' C parser, in a process of its own.

It answers every POST with 204, notes the arrival time (time.time()) and the body's
`event_id` (every contestant sends the same JSON shape), and checks the hex HMAC-SHA256
`X-Hookcast-Signature` of every `verify_every`-th body (against the reset's `secrets`, any
of them: each webhook of a drain has its own, or its one `secret`).
Control paths (GET /_stats, POST /_reset, POST /_dump) let the harness read the counts and
the arrival log. Its own ceiling is measured with wrk beside nginx's (see suite.py).

Run: python -m benchmarks.receiver --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import time
from typing import Any

import httptools

_NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


class _State:
    def __init__(self) -> None:
        self.reset({})

    def reset(self, options: dict[str, Any]) -> None:
        # A body is signed right if it is with any of these: each webhook has its own secret.
        given = options.get("secrets") or [options.get("secret", "")]
        self.secrets: list[bytes] = [str(secret).encode() for secret in given]
        self.verify_every: int = int(options.get("verify_every", 16))
        self.record: bool = bool(options.get("record", True))
        self.count = 0
        self.seen: set[bytes] = set()
        self.arrivals: list[tuple[float, bytes]] = []
        self.verified = 0
        self.bad_signatures = 0
        self.unsigned = 0
        self.first = 0.0
        self.last = 0.0

    def stats(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "unique": len(self.seen),  # distinct (path, event_id) pairs
            "verified": self.verified,
            "bad_signatures": self.bad_signatures,
            "unsigned": self.unsigned,
            "first": self.first,
            "last": self.last,
        }


STATE = _State()


_EVENT_ID = b'"event_id":"'


def _event_id(body: bytes) -> bytes:
    """The body's event_id (the bodies are compact JSON; ids hold no quotes)."""
    start = body.find(_EVENT_ID)
    if start < 0:
        return b""
    start += len(_EVENT_ID)
    return body[start : body.find(b'"', start)]


class ReceiverProtocol(asyncio.Protocol):
    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._begin()

    def _begin(self) -> None:
        self._url = b""
        self._webhook_id = b""
        self._signature = b""
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            assert self._transport is not None
            self._transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._begin()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"webhook-id":
            self._webhook_id = value
        elif lowered == b"x-hookcast-signature":
            self._signature = value

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        assert self._transport is not None
        if self._url.startswith(b"/_"):
            self._transport.write(self._control())
        else:
            self._note()
            self._transport.write(_NO_CONTENT)
        if not self._parser.should_keep_alive():
            self._transport.close()

    def _note(self) -> None:
        now = time.time()
        state = STATE
        state.count += 1
        if state.count == 1:
            state.first = now
        state.last = now
        body = b"".join(self._body)
        event_id = _event_id(body) or self._webhook_id
        # One delivery = one (webhook path, event): a second arrival of the pair is a duplicate.
        state.seen.add(self._url + b" " + event_id)
        if state.record:
            state.arrivals.append((now, event_id))
        if state.count % state.verify_every == 0:
            if not self._signature:
                state.unsigned += 1
                return
            signed = (
                hmac.new(secret, body, hashlib.sha256).hexdigest() for secret in state.secrets
            )
            if any(hmac.compare_digest(expected.encode(), self._signature) for expected in signed):
                state.verified += 1
            else:
                state.bad_signatures += 1

    def _control(self) -> bytes:
        body = b"".join(self._body)
        if self._url.startswith(b"/_reset"):
            STATE.reset(json.loads(body or b"{}"))
            answer: Any = {"ok": True}
        elif self._url.startswith(b"/_dump"):
            path = json.loads(body)["path"]
            with open(path, "w", encoding="ascii") as out:
                for at, event_id in STATE.arrivals:
                    out.write(f"{at:.6f} {event_id.decode('ascii', 'replace')}\n")
            answer = {"ok": True, "lines": len(STATE.arrivals)}
        else:
            answer = STATE.stats()
        payload = json.dumps(answer).encode()
        return (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(payload)).encode()
            + b"\r\n\r\n"
            + payload
        )


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(ReceiverProtocol, host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
