"""Settings: one typed object, built once by a composition root (CLI) and passed down."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///hookcast.db"


class Settings(BaseSettings):
    """Everything configurable, from `HOOKCAST_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="HOOKCAST_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str | None = Field(default=None, repr=False)
    allowed_networks: str = ""
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_batch_events: int = Field(default=1000, ge=1)
    secret_rotation_grace_hours: float = Field(default=24.0, ge=0)
    disable_after_days: float = Field(default=5.0, gt=0)
    worker_concurrency: int = Field(default=128, ge=1, le=4096)
    endpoint_concurrency: int = Field(default=32, ge=1, le=1024)
    # How long a worker holds a claimed delivery before another worker may send it again
    # (at-least-once after a crash). Must outlive the longest timeout (30 s) plus recording.
    lease_seconds: float = Field(default=60.0, ge=1)
    # HTTPS ended at a proxy in front (docs/operations.md): the proxies whose
    # X-Forwarded-Proto and X-Forwarded-For are believed (uvicorn's forwarded_allow_ips,
    # comma-separated addresses or "*"), and whether the session cookie is always Secure.
    forwarded_allow_ips: str = "127.0.0.1"
    cookie_secure: bool = False
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    # Operations (docs/operations.md).
    retention_days: float = Field(default=30.0, ge=0)  # 0 keeps everything forever
    rate_limit_per_second: float = Field(default=100.0, ge=0)  # per API key; 0 disables
    rate_limit_burst: int = Field(default=200, ge=1)
    metrics_token: str | None = Field(default=None, repr=False)  # unset: /metrics is open

    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The database file of a `sqlite:///path` URL (None for PostgreSQL or memory)."""
        if not self.is_sqlite():
            return None
        path = self.database_url.split("///", 1)[-1].split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)


def fernet_key_from_passphrase(value: str) -> bytes:
    """A Fernet key from HOOKCAST_SECRET_KEY: a Fernet key as-is, or any passphrase hashed."""
    raw = value.strip().encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return raw
    except ValueError:
        pass
    return base64.urlsafe_b64encode(hashlib.sha256(raw).digest())
