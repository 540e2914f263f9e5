"""`import hookcast`: the curated public names, all importable, and nothing heavy loaded."""

from __future__ import annotations

import subprocess
import sys

import hookcast

EXPECTED = {
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
}


def test_all_is_exactly_the_public_api_and_each_name_imports() -> None:
    assert set(hookcast.__all__) == EXPECTED
    assert len(hookcast.__all__) == len(EXPECTED)
    for name in hookcast.__all__:
        assert getattr(hookcast, name) is not None, name


def test_dir_shows_only_the_public_api() -> None:
    # Importing the service's packages sets them as attributes of `hookcast`: still hidden.
    import hookcast.cli
    import hookcast.store

    assert hookcast.store is not None
    dunders = {name for name in dir(hookcast) if name.startswith("__") and name.endswith("__")}
    assert set(dir(hookcast)) - dunders == EXPECTED - {"__version__"}


def test_star_import_gives_every_name() -> None:
    namespace: dict[str, object] = {}
    exec("from hookcast import *", namespace)
    assert EXPECTED - {"__version__"} <= set(namespace)


def test_api_errors_share_a_base_and_signature_errors_are_verify_s() -> None:
    assert issubclass(hookcast.NotFoundError, hookcast.HookcastAPIError)
    assert hookcast.SignatureError is hookcast.verify.SignatureError


def test_importing_hookcast_for_verify_loads_no_web_or_database_library() -> None:
    # cryptography too: it is loaded when a whpk_ public key is first used, not before
    code = (
        "import sys, hookcast; from hookcast import verify; "
        "print(sorted(m for m in ('httpx', 'fastapi', 'sqlalchemy', 'aiohttp', 'pydantic', "
        "'cryptography') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    assert loaded == "[]"


def test_the_http_clients_load_no_server_library() -> None:
    # The SDK keeps its own types (checked against the API's by test_sdk_wire.py) so that a
    # platform publishing over HTTP installs nothing of the server's.
    code = (
        "import sys, hookcast; hookcast.Client; hookcast.AsyncClient; "
        "print(sorted(m for m in ('fastapi', 'starlette', 'sqlalchemy', 'pydantic') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    assert loaded == "[]"
