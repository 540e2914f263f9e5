"""The outbound HTTP seam: pooled keep-alive POSTs (delivery.http1), no redirects, the SSRF
guard on every address actually connected to, and every outcome returned as data."""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address
from urllib.parse import quote, urlsplit

from hookcast.delivery.http1 import (
    BodyTimeout,
    ConnectionClosed,
    Origin,
    Pool,
    ProtocolError,
    Request,
    Response,
    encode_head,
    encode_request,
)
from hookcast.delivery.lookups import HostLookups, LookupTimedOut
from hookcast.delivery.proxy import Proxy, ProxyError
from hookcast.delivery.tls import TlsContexts, client_key
from hookcast.domain.addresses import check_webhook_url, forbidden_reason, parse_ip_literal
from hookcast.domain.models import ClientCertificate
from hookcast.hostnames import InvalidHostname, ascii_host
from hookcast.ports import LARGE_BODY, OutboundRequest, Resolver, SendOutcome
from hookcast.resolver import SystemResolver

__all__ = ["RESPONSE_BODY_LIMIT", "BlockedAddress", "HttpSender", "KeptHosts"]

Network = IPv4Network | IPv6Network
RESPONSE_BODY_LIMIT = 4096
DNS_TTL_SECONDS = 30.0
DNS_FAILURE_TTL_SECONDS = 5.0  # a name that failed is not asked again sooner
# Characters a request target may carry as they are; anything else (spaces cannot occur:
# webhook URLs are validated) is percent-encoded, as browsers do with non-ASCII paths.
_TARGET_SAFE = "/?=&;:@!$'()*+,-._~%"


_VERDICTS_KEPT = 4096
_UNKNOWN = "?"  # no verdict kept for an address yet (a verdict is None or a reason)


class BlockedAddress(OSError):
    """A name resolved to an address the SSRF guard refuses."""


@dataclass(frozen=True, slots=True)
class KeptHosts:
    names: int  # DNS answers and failures kept (at most HostLookups' max_hosts)
    origins: int  # origins with requests under way or idle connections


@dataclass(frozen=True, slots=True)
class _Target:
    origin: Origin
    host_header: str
    request_target: str  # path and query, as sent on the request line
    literal: str | None  # the address, when the URL's host is an IP literal


@functools.lru_cache(maxsize=4096)
def _parse_target(url: str) -> _Target:
    """Webhook URLs were validated when stored; this reads them the same way."""
    parsed = check_webhook_url(url)  # scheme and host in lower case, the default port
    scheme, host, port = parsed.scheme, parsed.host, parsed.port
    parts = urlsplit(url)
    host = ascii_host(host)  # IDNA 2008 (UTS 46), as checked when the URL was accepted
    literal = parse_ip_literal(host)
    shown = f"[{host}]" if ":" in host else host
    default = (scheme == "https" and port == 443) or (scheme == "http" and port == 80)
    target = quote(parts.path or "/", safe=_TARGET_SAFE)
    if parts.query:
        target += "?" + quote(parts.query, safe=_TARGET_SAFE)
    return _Target(
        origin=Origin(scheme, host, port),
        host_header=shown if default else f"{shown}:{port}",
        request_target=target,
        literal=None if literal is None else str(literal),
    )


class HttpSender:
    """Implements ports.Sender. One connection pool for every endpoint.

    `resolver` looks names up (ports.Resolver; by default the system's, or the DNS servers
    `nameservers` names: "ip" or "ip:port"), and its answers are
    kept for DNS_TTL_SECONDS, its failures for DNS_FAILURE_TTL_SECONDS. Every address is
    checked against the SSRF guard right before a new connection is made, so a name that
    now points inside (DNS rebinding) is refused.
    `ssl_context` replaces the system's trust store (tests use their own CA); `ca_file`
    adds certificate authorities to it (HOOKCAST_CA_BUNDLE), for receivers with a private
    CA; `proxy` sends every request through an HTTP CONNECT egress proxy (delivery.proxy).
    A request with a client certificate presents it to an https endpoint (mutual TLS), on
    connections kept for that certificate alone. `max_idle` bounds the idle keep-alive
    connections kept in all (cli/open_files.py `idle_outgoing_at_most` sets it from the
    open-file limit).
    """

    def __init__(
        self,
        *,
        allowed: Sequence[Network],
        per_host_limit: int = 64,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        proxy: Proxy | None = None,
        nameservers: Sequence[str] | None = None,
        ca_file: str | None = None,
        max_idle: int = 1024,
    ) -> None:
        self._allowed = tuple(allowed)
        # A resolver made here is closed here; one passed in belongs to the caller.
        self._own_resolver: SystemResolver | None = None
        if resolver is None:
            resolver = self._own_resolver = SystemResolver(nameservers=nameservers)
        self._lookups = HostLookups(
            resolver,
            ttl=DNS_TTL_SECONDS,
            failure_ttl=DNS_FAILURE_TTL_SECONDS,
        )
        self._verdicts: dict[str, str | None] = {}
        self._tls = TlsContexts(ca_file=ca_file, base=ssl_context)
        self._pool = Pool(
            per_origin=per_host_limit,
            body_limit=RESPONSE_BODY_LIMIT,
            # Made now only when there is an extra CA; else the pool makes the default lazily.
            ssl_context=self._tls.default() if ca_file else ssl_context,
            proxy=proxy,
            max_idle=max_idle,
        )

    async def send(self, request: OutboundRequest) -> SendOutcome:
        try:
            target = _parse_target(request.url)
        except InvalidHostname as exc:  # stored before hosts were checked at creation
            return SendOutcome(None, 0.0, error=f"invalid webhook_url: {exc}")
        origin = target.origin
        literal = target.literal
        if literal is not None:
            # An IP literal is checked here: there is no lookup whose answer to check. Its
            # verdict read where it is kept (_refusal only for a new address).
            refused = self._verdicts.get(literal, _UNKNOWN)
            if refused is _UNKNOWN:
                refused = self._refusal(literal)
            if refused is not None:
                return SendOutcome(None, 0.0, error=guard_refused(refused))
        started = time.perf_counter()
        deadline = asyncio.get_running_loop().time() + request.timeout_seconds
        data: Request
        # A large body's request is made when its connection is ready, not before it waits
        # for one (http1.Request); a small one's bytes cost less than the call that would
        # make them later.
        if request.sign is None and len(request.body) <= LARGE_BODY:
            data = encode_request(
                host_header=target.host_header,
                target=target.request_target,
                headers=request.headers,
                body=request.body,
            )
        else:  # made when written (http1.Request): nothing of it held while this waits
            data = functools.partial(_wire, target, request)
        tls = None
        if request.client_certificate is not None and origin.scheme == "https":
            origin, tls = await self._with_client_certificate(
                origin, request.client_certificate, account=request.account_id
            )
        try:
            response = await self._pool.post(
                origin,
                addresses=functools.partial(self._addresses, target),
                request=data,
                deadline=deadline,
                tls=tls,
            )
        except BodyTimeout as exc:
            return _outcome(exc.args[0], started, "timed out reading the response body")
        except (TimeoutError, OSError, ProtocolError) as exc:
            return _failed(started, _describe(exc, origin, request.timeout_seconds))
        if not response.complete:
            return _outcome(response, started, None)
        # _outcome written out for a whole response (its body within the limit): nearly
        # every request.
        return SendOutcome(
            status_code=response.status,
            latency_ms=(time.perf_counter() - started) * 1000,
            response_body=response.body.decode("utf-8", "replace"),
            retry_after=response.retry_after,
        )

    async def _with_client_certificate(
        self, origin: Origin, certificate: ClientCertificate, *, account: str
    ) -> tuple[Origin, ssl.SSLContext]:
        """The origin keyed by the client identity (its own connections) and its context."""
        key = client_key(certificate)
        context = await self._tls.for_client(account=account, key=key, certificate=certificate)
        return origin._replace(client=key), context

    def _refusal(self, address: str) -> str | None:
        """The SSRF guard's reason to refuse `address`, or None. Kept per address: the
        allowed networks are fixed for this sender's life."""
        if address in self._verdicts:
            return self._verdicts[address]
        verdict = forbidden_reason(ip_address(address.partition("%")[0]), self._allowed)
        if len(self._verdicts) < _VERDICTS_KEPT:
            self._verdicts[address] = verdict
        return verdict

    async def _addresses(self, target: _Target) -> Sequence[str]:
        """Where a new connection to `target` may go: every address checked by the guard."""
        if target.literal is not None:
            return [target.literal]
        host = target.origin.host
        addresses = await self._lookups.addresses(host)
        for address in addresses:
            reason = self._refusal(address)
            if reason is not None:
                raise BlockedAddress(f"{host} resolves to a refused address: {reason}")
        return addresses

    def kept_hosts(self) -> KeptHosts:
        """How many names and origins this sender keeps state for (both are bounded)."""
        return KeptHosts(names=len(self._lookups), origins=self._pool.origins)

    async def close(self) -> None:
        self._pool.close()
        self._tls.close()
        if self._own_resolver is not None:
            await self._own_resolver.close()


def _wire(target: _Target, request: OutboundRequest) -> tuple[bytes, bytes]:
    """A large request's head and body, as `encode_request` would join them; its headers
    signed now if they are signed when written (OutboundRequest.sign)."""
    headers = request.headers if request.sign is None else request.sign()
    head = encode_head(
        host_header=target.host_header,
        target=target.request_target,
        headers=headers,
        length=len(request.body),
    )
    return head, request.body


def _outcome(response: Response, started: float, error: str | None) -> SendOutcome:
    """The status counts once it has arrived in time. The body is only logged: one slower
    than the rest of the timeout, or cut off, is noted beside the status (a 2xx stays a
    success, see retry.classify)."""
    if error is None and not response.complete and len(response.body) <= RESPONSE_BODY_LIMIT:
        error = "the connection closed before the response body was complete"
    return SendOutcome(
        status_code=response.status,
        latency_ms=(time.perf_counter() - started) * 1000,
        response_body=response.body[:RESPONSE_BODY_LIMIT].decode("utf-8", "replace"),
        error=error,
        retry_after=response.retry_after,
    )


def guard_refused(reason: str) -> str:
    """An attempt refused by the SSRF guard, and the setting that decides it: the API
    process allowing a network at create time said nothing of the worker, which checks
    again with its own (a worker started without it refused every local receiver)."""
    return (
        f"refused by the SSRF guard: {reason}, which the delivering process's "
        "HOOKCAST_ALLOWED_NETWORKS does not allow"
    )


def _describe(exc: Exception, origin: Origin, timeout: float) -> str:
    """The attempt's error text for a request that got no response."""
    where = f"{origin.host}:{origin.port}"
    if isinstance(exc, TimeoutError):
        return f"timed out after {timeout:g} s"
    if isinstance(exc, ProxyError):
        return str(exc)  # says it was the proxy, not the endpoint
    if isinstance(exc, LookupTimedOut):
        return str(exc)  # not "does not resolve": the name may well resolve next time
    if isinstance(exc, BlockedAddress):
        return guard_refused(str(exc))
    if isinstance(exc, ConnectionClosed):
        return "the server closed the connection without a response"
    if isinstance(exc, ProtocolError):
        return f"invalid HTTP response: {exc}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate of {origin.host} refused: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {where} failed: {exc.reason}"
    return f"could not connect to {where}: {exc}"


def _failed(started: float, error: str) -> SendOutcome:
    return SendOutcome(
        status_code=None, latency_ms=(time.perf_counter() - started) * 1000, error=error
    )
