"""ASGI middleware for the request rules that hold before routing: paths with or without a
trailing slash, the body size limit (413) and JSON-only bodies (415)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hookcast.api.errors import Refused, error_body

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class RequestRules:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, refused: Refused, api_prefix: str = "/v2"
    ) -> None:
        self._app = app
        self._max = max_body_bytes
        self._refused = refused
        self._prefix = api_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self._prefix):
            await self._app(scope, receive, send)
            return
        scope = _with_trailing_slash(scope)
        if scope["method"] not in _BODY_METHODS:
            await self._app(scope, receive, send)
            return
        body = await checked_body(scope, receive, send, max_bytes=self._max, refused=self._refused)
        if body is not None:
            await self._app(scope, replay(body), send)


async def checked_body(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    max_bytes: int,
    refused: Refused,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> bytes | None:
    """The request's body if it is at most `max_bytes` long and JSON (or empty); else None,
    the request answered already (413 or 415, with `headers` added, counted with
    `refused`) or its client gone before the body's end (not answered)."""
    declared, content_type = _length_and_type(scope["headers"])
    if declared.isdigit() and int(declared) > max_bytes:
        await _reject(send, refused, 413, "payload_too_large", _too_large(max_bytes), headers)
        return None
    try:
        body = await read_body(receive, max_bytes)
    except ClientGone:  # no one to answer (serve counted its 408 if it closed for it)
        return None
    if body is None:
        await _reject(send, refused, 413, "payload_too_large", _too_large(max_bytes), headers)
        return None
    if body and not _is_json(content_type):
        await _reject(
            send,
            refused,
            415,
            "unsupported_media_type",
            "send the body as JSON with 'Content-Type: application/json'",
            headers,
        )
        return None
    return body


def _too_large(max_bytes: int) -> str:
    return f"the request body is larger than {max_bytes} bytes"


def _length_and_type(headers: Iterable[tuple[bytes, bytes]]) -> tuple[bytes, bytes]:
    """The request's Content-Length (b"0" if none) and Content-Type (b"" if none); of a
    header sent twice, the last. One pass over the headers, on every request with a body."""
    length, content_type = b"0", b""
    for name, value in headers:
        if name == b"content-length":
            length = value
        elif name == b"content-type":
            content_type = value
    return length, content_type


def _with_trailing_slash(scope: Scope) -> Scope:
    # Every path answers with and without its trailing slash, without a redirect: JW's own
    # docs use both spellings, and a redirect would drop the body of a POST in some clients.
    path: str = scope["path"]
    if path.endswith("/"):
        return scope
    return {**scope, "path": path + "/", "raw_path": scope.get("raw_path", b"") + b"/"}


def _is_json(content_type: bytes) -> bool:
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or media_type.endswith(b"+json")


class ClientGone(Exception):
    """The client went away before the end of its request's body (serve closed it for a
    body too slow, or it left): what came is a prefix, never to be handled as the body."""


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it passes `limit` bytes. Raises
    ClientGone on a disconnect before its end: a prefix may be valid JSON (a publish batch
    cut after its first events), and handling it would publish what was never sent whole."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes) -> Receive:
    """A `receive` that hands the app `body`, already read, as one message."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _reject(
    send: Send,
    refused: Refused,
    status: int,
    code: str,
    description: str,
    headers: Sequence[tuple[bytes, bytes]],
) -> None:
    refused(status)
    body = error_body(code, description)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
