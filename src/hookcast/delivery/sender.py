"""The outbound HTTP seam (aiohttp): pooled keep-alive POSTs, no redirects, the SSRF guard
on the addresses actually connected to, and every outcome returned as data."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from hookcast.domain.addresses import forbidden_reason, parse_ip_literal
from hookcast.ports import OutboundRequest, SendOutcome

Network = IPv4Network | IPv6Network
RESPONSE_BODY_LIMIT = 4096


class BlockedAddress(OSError):
    """A name resolved to an address the SSRF guard refuses."""


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver, then refuses internal addresses.

    Checking here, at connect time, closes the DNS-rebinding gap: a name that pointed at a
    public address when the webhook was created may point at 127.0.0.1 today.
    """

    def __init__(self, allowed: Sequence[Network], inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()
        self._allowed = tuple(allowed)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            reason = forbidden_reason(ip_address(result["host"]), self._allowed)
            if reason is not None:
                raise BlockedAddress(f"{host} resolves to a refused address: {reason}")
        return results

    async def close(self) -> None:
        await self._inner.close()


class AiohttpSender:
    """Implements ports.Sender. One pooled session for every endpoint."""

    def __init__(
        self,
        *,
        allowed: Sequence[Network],
        per_host_limit: int = 64,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._allowed = tuple(allowed)
        self._per_host_limit = per_host_limit
        # The DNS lookups behind the guard (aiohttp's default unless a test injects its own).
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created lazily: aiohttp sessions must be made inside the running event loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=0,
                limit_per_host=self._per_host_limit,
                ttl_dns_cache=30,
                resolver=GuardedResolver(self._allowed, self._resolver),
                enable_cleanup_closed=True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("Accept-Encoding",),
            )
        return self._session

    async def send(self, request: OutboundRequest) -> SendOutcome:
        blocked = self._blocked_literal(request.url)
        if blocked is not None:
            return SendOutcome(status_code=None, latency_ms=0.0, error=blocked)
        started = time.perf_counter()
        deadline = asyncio.get_running_loop().time() + request.timeout_seconds
        try:
            # The timeout covers the request and the response's status line and headers;
            # what remains of it bounds the reading of the body (see _outcome).
            async with asyncio.timeout_at(deadline):
                response = await self._client().post(
                    request.url,
                    data=request.body,
                    headers=dict(request.headers),
                    allow_redirects=False,
                )
        except TimeoutError:
            return _failed(started, f"timed out after {request.timeout_seconds:g} s")
        except BlockedAddress as exc:
            return _failed(started, f"refused by the SSRF guard: {exc}")
        except aiohttp.ClientConnectorError as exc:
            return _failed(started, _connect_error(exc))
        except aiohttp.ServerDisconnectedError:
            return _failed(started, "the server closed the connection without a response")
        except aiohttp.ClientResponseError as exc:
            return _failed(started, f"invalid HTTP response: {exc.message}")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return _failed(started, f"{type(exc).__name__}: {exc}")
        return await _outcome(response, started, deadline)

    def _blocked_literal(self, url: str) -> str | None:
        # aiohttp does not call the resolver for IP literals, so check them here.
        host = urlsplit(url).hostname or ""
        literal = parse_ip_literal(host)
        if literal is None:
            return None
        reason = forbidden_reason(literal, self._allowed)
        return None if reason is None else f"refused by the SSRF guard: {reason}"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _outcome(
    response: aiohttp.ClientResponse, started: float, deadline: float
) -> SendOutcome:
    """The status counts once it has arrived in time. The body is only logged: one slower
    than the rest of the timeout, or cut off, ends the reading with an error noted beside
    the status (a 2xx stays a success, see retry.classify)."""
    async with response:
        head, error = await _read_head(response.content, deadline)
        if len(head) > RESPONSE_BODY_LIMIT or not response.content.at_eof():
            # Do not read a huge or stalled body to its end: drop this connection instead.
            response.close()
        return SendOutcome(
            status_code=response.status,
            latency_ms=(time.perf_counter() - started) * 1000,
            response_body=bytes(head[:RESPONSE_BODY_LIMIT]).decode("utf-8", "replace"),
            error=error,
            retry_after=response.headers.get("Retry-After"),
        )


async def _read_head(
    content: aiohttp.StreamReader, deadline: float
) -> tuple[bytearray, str | None]:
    """Up to RESPONSE_BODY_LIMIT + 1 bytes of the body. A single read returns only what has
    arrived so far (one chunk), so read until the limit or the end of the body."""
    head = bytearray()
    try:
        async with asyncio.timeout_at(deadline):
            while len(head) <= RESPONSE_BODY_LIMIT:
                chunk = await content.read(RESPONSE_BODY_LIMIT + 1 - len(head))
                if not chunk:
                    break
                head += chunk
    except TimeoutError:
        return head, "timed out reading the response body"
    except (aiohttp.ClientError, OSError) as exc:
        return head, f"reading the response body failed: {type(exc).__name__}"
    return head, None


def _failed(started: float, error: str) -> SendOutcome:
    return SendOutcome(
        status_code=None, latency_ms=(time.perf_counter() - started) * 1000, error=error
    )


def _connect_error(exc: aiohttp.ClientConnectorError) -> str:
    cause: Any = exc.os_error
    if isinstance(cause, BlockedAddress):
        return f"refused by the SSRF guard: {cause}"
    if isinstance(cause, ConnectionRefusedError):
        return f"connection refused by {exc.host}:{exc.port}"
    return f"could not connect to {exc.host}:{exc.port}: {cause}"
