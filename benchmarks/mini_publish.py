"""python -m benchmarks.mini_publish --port P [--postgres URL]: the smallest durable publish
server this machine's stack allows, the peer `benchmarks.lowrate_floor` measures HookCast's
target 5a against. uvloop and httptools' C parser, keep-alive HTTP/1.1, and per request
either nothing (a 204: what any Python server pays to be woken for a request) or, with
`--postgres`, one INSERT of the body committed on its own (asyncpg's pool, statements
prepared once per connection: what storing an event durably costs at the least) before a 202.
Not HookCast: no authentication, no validation, no fan-out, no delivery."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import httptools
import uvloop

_NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
_ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
_FAILED = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
_INSERT = "INSERT INTO published (body) VALUES ($1)"


class _Request(asyncio.Protocol):
    def __init__(self, store: Any) -> None:
        self._store = store
        self._parser = httptools.HttpRequestParser(self)
        self._body: list[bytes] = []
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def on_body(self, body: bytes) -> None:  # httptools' callback
        self._body.append(body)

    def on_message_complete(self) -> None:  # httptools' callback
        body, self._body = b"".join(self._body), []
        assert self._transport is not None
        if self._store is None:
            self._transport.write(_NO_CONTENT)
            return
        asyncio.get_running_loop().create_task(self._stored(body))

    async def _stored(self, body: bytes) -> None:
        try:
            await self._store.execute(_INSERT, body)
            answer = _ACCEPTED
        except Exception:  # counted as failed by the sender, not hidden
            answer = _FAILED
        assert self._transport is not None
        self._transport.write(answer)


async def _serve(port: int, postgres: str | None) -> None:
    store = None
    if postgres is not None:
        import asyncpg  # type: ignore[import-untyped]

        # Connections as requests overlap (at 2,000/s a few are under way at once).
        store = await asyncpg.create_pool(postgres, min_size=1, max_size=8)
        await store.execute(
            "CREATE TABLE IF NOT EXISTS published (id bigserial PRIMARY KEY, body bytea)"
        )
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Request(store), "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    uvloop.run(_serve(args.port, args.postgres))


if __name__ == "__main__":
    main()
