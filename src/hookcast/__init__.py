"""HookCast: durable, signed webhooks for video platforms.

    from hookcast import Client, verify           # publish over HTTP; check deliveries
    from hookcast import Hub                      # publish in-process, in your transaction

Only `verify` and the error classes load eagerly (standard library only): a receiver that
just verifies signatures does not import httpx, FastAPI or SQLAlchemy. `Client`,
`AsyncClient` and `Hub` load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from hookcast.sdk import verify
from hookcast.sdk.errors import (
    AuthenticationError,
    ConflictError,
    HookcastAPIError,
    HookcastConnectionError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
    ValidationError,
)
from hookcast.sdk.verify import SignatureError

if TYPE_CHECKING:
    from hookcast.hub import Hub
    from hookcast.sdk.async_client import AsyncClient
    from hookcast.sdk.client import Client

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "ConflictError",
    "HookcastAPIError",
    "HookcastConnectionError",
    "Hub",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ServerError",
    "SignatureError",
    "UnexpectedResponseError",
    "ValidationError",
    "__version__",
    "verify",
]

_LAZY = {
    "AsyncClient": "hookcast.sdk.async_client",
    "Client": "hookcast.sdk.client",
    "Hub": "hookcast.hub",
}


def __getattr__(name: str) -> Any:
    # PEP 562: the heavy parts load on first access, then live in the module's namespace.
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hookcast' has no attribute {name!r}")


def __dir__() -> list[str]:
    # The public API and the module's dunders only: not the helpers imported here, nor the
    # subpackages (hookcast.sdk, hookcast.store...) that importing them sets as attributes.
    dunders = {name for name in globals() if name.startswith("__") and name.endswith("__")}
    return sorted(dunders | set(__all__))
