"""The outbound side: the request a worker sends, what came back, and the name lookups the
SSRF guard makes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from hookcast.domain.frozen import quick_init
from hookcast.domain.models import ClientCertificate

# A body above this is a large one, whatever holds it: signed when its request is written
# (OutboundRequest.sign, delivery/attempt.py), its request made only when a connection is
# ready (delivery/sender.py), counted in the worker's byte budget (delivery/scheduler.py) and
# copied out of orjson's oversized allocation. The usual event's is well under 1 KB; an
# event's `data` may take 256 KB.
LARGE_BODY = 16 * 1024


@quick_init
@dataclass(frozen=True, slots=True)
class OutboundRequest:
    url: str
    body: bytes
    headers: Mapping[str, str]
    timeout_seconds: float
    # Presented in the TLS handshake of an https URL (mutual TLS); None: no client cert.
    client_certificate: ClientCertificate | None = None
    # Whose webhook it is: per-account state kept for it (TLS contexts) is bounded per
    # account, so one tenant cannot crowd out the others'.
    account_id: str = ""
    # For a large body (delivery/attempt.py): the signed headers, made when the request is
    # written rather than held while it waits (JW Player's JWT carries the body again,
    # base64: 339 KB for 254 KB). Each call also fills `headers`, empty until then, with
    # what the attempt's log keeps: the signatures redacted. None: `headers` is the lot.
    sign: Callable[[], Mapping[str, str]] | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What came back: a status (any HTTP status) or an error, never an exception."""

    status_code: int | None
    latency_ms: float
    response_body: str = ""
    error: str | None = None
    retry_after: str | None = None  # the raw Retry-After header, if any
    headers: Mapping[str, str] = field(default_factory=dict)


class Sender(Protocol):
    """Sends webhook requests over HTTP."""

    async def send(self, request: OutboundRequest) -> SendOutcome:
        """POSTs `request` and tells what came back: a response of any status, or an
        `error` when none did (refused, timed out, blocked by the SSRF guard)."""

    async def close(self) -> None:
        """Closes pooled connections; no send is made afterwards."""


class LookupTimeout(Exception):
    """A name lookup got no answer in time: the name may well resolve, so this is a
    temporary failure, told apart from a name that does not resolve."""


class Resolver(Protocol):
    """Name lookups, for the SSRF guard."""

    async def resolve(self, host: str) -> Sequence[str]:
        """IP addresses for `host`; an empty sequence when it does not resolve.
        Raises LookupTimeout when no answer came in time."""
