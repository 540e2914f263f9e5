"""From Settings to a wired core (store and services), with no web framework involved.

Shared by the CLI's composition root (`cli/runtime.py`, which adds the API and the worker)
and the in-process `Hub`, so both derive the secret key and the policy the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hookcast.config import Settings, fernet_key_from_passphrase, legacy_fernet_keys
from hookcast.domain.addresses import parse_networks
from hookcast.domain.errors import ValidationFailed
from hookcast.services import Policy
from hookcast.store import SqlStore, load_or_create_key, open_store

__all__ = ["open_settings_store", "policy", "previous_secret_keys", "secret_key", "utc_now"]


# The clock of every service and worker: now, aware, in UTC. A partial (made in C) rather
# than a function of ours around the same call: the worker reads it twice per delivery.
utc_now: Callable[[], datetime] = functools.partial(datetime.now, UTC)


def secret_key(settings: Settings) -> bytes:
    """HOOKCAST_SECRET_KEY, or a key file beside a SQLite database (made on first use)."""
    if settings.secret_key:
        return fernet_key_from_passphrase(settings.secret_key)
    path = settings.sqlite_path()
    if path is None:
        raise ValidationFailed(
            "HOOKCAST_SECRET_KEY is required with PostgreSQL: every server and worker must "
            "share it to read webhook secrets"
        )
    return load_or_create_key(Path(f"{path}.key"))


def previous_secret_keys(settings: Settings) -> tuple[bytes, ...]:
    """Keys earlier versions derived from HOOKCAST_SECRET_KEY: still read, never written."""
    return legacy_fernet_keys(settings.secret_key) if settings.secret_key else ()


def policy(settings: Settings) -> Policy:
    return Policy(
        allowed_networks=parse_networks(settings.allowed_networks),
        rotation_grace=timedelta(hours=settings.secret_rotation_grace_hours),
        max_batch_events=settings.max_batch_events,
        max_webhooks_per_account=settings.max_webhooks_per_account,
        max_deliveries_per_publish=settings.max_deliveries_per_publish,
        max_containers_per_publish=settings.max_containers_per_publish,
        max_containers_per_event=settings.max_containers_per_event,
        min_retry_delay=settings.min_retry_delay_seconds,
    )


async def open_settings_store(settings: Settings, *, secrets: bool = True) -> SqlStore:
    """The store on `settings.database_url`, with its secret key. Without `secrets` (a
    command that reads and writes no webhook secret) PostgreSQL needs no
    HOOKCAST_SECRET_KEY: the store is opened without one if it is not set."""
    keyless = not secrets and not settings.secret_key and settings.sqlite_path() is None
    return await open_store(
        settings.database_url,
        secret_key=None if keyless else secret_key(settings),
        previous_keys=previous_secret_keys(settings),
        connect_timeout=settings.database_connect_timeout_seconds,
    )
