"""HookCast's own errors. Faces (API, CLI, dashboard) translate them to their own format."""

from __future__ import annotations

from typing import ClassVar


class HookcastError(Exception):
    """Base class. `code` is stable and machine-readable; the message is for people."""

    code: ClassVar[str] = "error"

    def __init__(self, description: str, *, field: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.field = field


class ValidationFailed(HookcastError):
    """The input is malformed or violates a rule; nothing was changed."""

    code: ClassVar[str] = "invalid_body"


class LimitExceeded(ValidationFailed):
    """The request would pass a configured limit (webhooks per account, deliveries per
    publish); nothing was changed. A 400 whose code tells it from malformed input."""

    code: ClassVar[str] = "limit_exceeded"


class NotFound(HookcastError):
    code: ClassVar[str] = "not_found"


class Conflict(HookcastError):
    code: ClassVar[str] = "conflict"


class Unauthorized(HookcastError):
    code: ClassVar[str] = "unauthorized"


class Forbidden(HookcastError):
    code: ClassVar[str] = "forbidden"


class Unavailable(HookcastError):
    """A dependency (the database) cannot serve the request now; nothing was changed.

    The API answers 503 with Retry-After: the caller should try again, not fix its input.
    """

    code: ClassVar[str] = "unavailable"


class Unreachable(Unavailable):
    """The database cannot be reached or cannot serve at all: the connection refused, lost
    or timed out, the server shutting down or out of connections, its disk failing, a SQLite
    file locked or unopenable. An outage, said in one line while it lasts
    (delivery/outage.py); any other Unavailable from the store is a statement the database
    refused (a broken query, a column a bad migration lost): a bug, said in full."""

    def __init__(self, description: str, *, reason: str | None = None) -> None:
        """`reason`: what the operator's log says beside `description` (e.g. SQLite's
        "SQLITE_FULL: database or disk is full"); never in an API answer."""
        super().__init__(description)
        self.reason = reason


class UnsafeUrl(ValidationFailed):
    """A webhook URL that points at an address HookCast refuses to call (SSRF guard)."""

    code: ClassVar[str] = "unsafe_url"
