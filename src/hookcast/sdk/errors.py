"""The SDK's exceptions: HookCast's `{"errors": [{"code", "description"}]}` answers, raised.

Every answer with a status of 400 or more becomes a `HookcastAPIError` (a subclass chosen by
status), carrying the server's machine-readable `code` and its human `description`; an error
answer without HookCast's error JSON (a proxy's page) gets the code `NOT_HOOKCAST`. A server
that cannot be reached at all is a `HookcastConnectionError`, and one that answers a success
in a shape HookCast never sends (an HTML page, other JSON) an `UnexpectedResponseError`.
Standard library only: receivers that import `hookcast` just to verify signatures pay
nothing for the client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "NOT_HOOKCAST",
    "AuthenticationError",
    "ConflictError",
    "HookcastAPIError",
    "HookcastConnectionError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "UnexpectedResponseError",
    "ValidationError",
    "describe_body",
    "error_from_response",
]


class HookcastAPIError(Exception):
    """HookCast answered with an error.

    `status` is the HTTP status, `code` the first error's stable code (e.g. "not_found",
    "unsafe_url"), `description` its message; `errors` holds every error the server listed.
    """

    def __init__(
        self, status: int, code: str, description: str, errors: Sequence[Mapping[str, str]] = ()
    ) -> None:
        super().__init__(f"{description} ({status} {code})")
        self.status = status
        self.code = code
        self.description = description
        self.errors: tuple[Mapping[str, str], ...] = tuple(errors) or (
            {"code": code, "description": description},
        )


class ValidationError(HookcastAPIError):
    """400: the request was malformed or broke a rule; nothing changed."""


class AuthenticationError(HookcastAPIError):
    """401: the API key is missing or wrong."""


class PermissionDeniedError(HookcastAPIError):
    """403: the key's role may not do this."""


class NotFoundError(HookcastAPIError):
    """404: no such resource in this key's account."""


class ConflictError(HookcastAPIError):
    """409: e.g. a site id that is already taken."""


class PayloadTooLargeError(HookcastAPIError):
    """413: the request body is over the server's limit."""


class RateLimitError(HookcastAPIError):
    """429: too many requests."""


class ServerError(HookcastAPIError):
    """5xx: the server failed; it logged the reason."""


class HookcastConnectionError(Exception):
    """The server could not be reached, or did not answer in time."""


class UnexpectedResponseError(HookcastConnectionError):
    """Something answered, but not as HookCast does: the URL likely points elsewhere.

    `status` is the HTTP status and `body` the start of what came back (at most 200
    characters), for a message that says what was there instead.
    """

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body[:200].decode("utf-8", "replace")
        super().__init__(f"HTTP {status} with {describe_body(body)}, not HookCast's JSON")


# The `code` of an error answer that carried no HookCast error JSON (a proxy's 502 page,
# another server's 404): the description is then the start of that body.
NOT_HOOKCAST = "http_error"


def describe_body(body: bytes) -> str:
    """What an answer's body looks like, in a few words: "an HTML page", "an empty body"."""
    text = body.lstrip()[:64].lower()
    if not text:
        return "an empty body"
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page"
    if text.startswith(b"<"):
        return "an XML or HTML document"
    if text.startswith((b"{", b"[")):
        return "JSON of another shape"
    return "plain text"


_BY_STATUS: Mapping[int, type[HookcastAPIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: ValidationError,
    422: ValidationError,
    429: RateLimitError,
}


def error_from_response(status: int, body: bytes) -> HookcastAPIError:
    """The exception for an error answer (any body: HookCast's shape, or a proxy's page)."""
    errors = _errors(body)
    first = errors[0] if errors else {"code": NOT_HOOKCAST, "description": _fallback(body)}
    kind = _BY_STATUS.get(status, ServerError if status >= 500 else HookcastAPIError)
    return kind(status, first["code"], first["description"], errors)


def _errors(body: bytes) -> list[dict[str, str]]:
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        return []
    listed = parsed.get("errors") if isinstance(parsed, dict) else None
    if not isinstance(listed, list):
        return []
    return [
        {"code": str(item.get("code", "error")), "description": str(item.get("description", ""))}
        for item in listed
        if isinstance(item, dict)
    ]


def _fallback(body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    return text[:200] or "the server answered with an error and no description"
