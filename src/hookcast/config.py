"""Settings: one typed object, built once by a composition root (CLI) and passed down."""

from __future__ import annotations

import base64
import functools
import hashlib
import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from hookcast.delivery.options import MIN_LEASE_SECONDS
from hookcast.delivery.proxy import Proxy
from hookcast.delivery.smtp import SmtpServer
from hookcast.domain.addresses import parse_networks
from hookcast.domain.errors import ValidationFailed

DEFAULT_DATABASE_URL = "sqlite:///hookcast.db"
_LOG_LEVELS = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})
# The schemes store/database.py's to_async_url takes (checked here without loading the store).
_DATABASE_SCHEMES = frozenset(
    {"sqlite", "sqlite+aiosqlite", "postgresql", "postgres", "postgresql+asyncpg"}
)


def _port_in_range(database_url: str) -> bool:
    """Whether the store (store/database.py, through SQLAlchemy) reads a port from 0 to
    65535 in `database_url`, or none."""
    # Imported here: see the caller.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        port = make_url(database_url).port
    except (ArgumentError, ValueError):
        return False
    return port is None or 0 <= port <= 65535


class Settings(BaseSettings):
    """Everything configurable, from `HOOKCAST_*` environment variables."""

    # hide_input_in_errors: a refused value may hold a password (a proxy's, a database's).
    model_config = SettingsConfigDict(
        env_prefix="HOOKCAST_", extra="ignore", hide_input_in_errors=True
    )

    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str | None = Field(default=None, repr=False)
    allowed_networks: str = ""
    max_body_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    max_batch_events: int = Field(default=1000, ge=1)
    # Fan-out runs on the event loop that serves the API (README, "Configuration"): these
    # bound the deliveries one event (webhooks per account) and one publish can create.
    max_webhooks_per_account: int = Field(default=100, ge=1)
    max_deliveries_per_publish: int = Field(default=10_000, ge=1)
    # The arrays and objects a publish request's body and one event's `data` may hold,
    # counted in the JSON text before it is parsed (docs/operations.md, "Limits"): a
    # Python list or dict is made of each, and held with each queued delivery of the event.
    max_containers_per_publish: int = Field(default=100_000, ge=1)
    max_containers_per_event: int = Field(default=10_000, ge=1)
    # The shortest wait a custom retry_policy may ask for (docs/delivery.md); lower it only
    # to test receivers locally.
    min_retry_delay_seconds: float = Field(default=1.0, ge=0)
    secret_rotation_grace_hours: float = Field(default=24.0, ge=0)
    disable_after_days: float = Field(default=5.0, gt=0)
    # How long before that the webhook_disable_warning event (and e-mail) goes out.
    disable_warning_hours: float = Field(default=24.0, ge=0)
    worker_concurrency: int = Field(default=128, ge=1, le=4096)
    # The client connections `serve` holds open at once (idle keep-alive ones included),
    # never more than half of `ulimit -n` (cli/serving.py says why); over it, 503.
    max_connections: int = Field(default=1000, ge=1)
    endpoint_concurrency: int = Field(default=32, ge=1, le=1024)
    # The bodies of large deliveries (over 16 KB) a worker has under way at once, in bytes
    # (docs/operations.md, "Limits"): past it, they wait their turn instead of starting.
    worker_bytes_in_flight: int = Field(default=32 * 1024 * 1024, ge=1024 * 1024)
    # Fair share (docs/delivery.md): an endpoint whose requests take longer than this gets
    # fewer of a worker's slots, in proportion, so that it cannot hold the worker.
    slow_endpoint_seconds: float = Field(default=1.0, gt=0)
    # How long a worker holds a claimed delivery before another worker may send it again
    # (at-least-once after a crash). Outlives the longest timeout (30 s) plus recording.
    lease_seconds: float = Field(default=60.0, ge=MIN_LEASE_SECONDS)
    # How long a connection to PostgreSQL may take to be answered (asyncpg waited 60 s by
    # default: a server that accepts and never answers held every command that long).
    database_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    # An HTTP CONNECT proxy every delivery goes through (http://[user:password@]host:port),
    # e.g. smokescreen, so receivers can allow-list its addresses (docs/delivery.md).
    egress_proxy: str = Field(default="", repr=False)
    # E-mail to accounts' contact addresses (delivery/smtp.py); empty: no e-mail is sent.
    smtp_url: str = Field(default="", repr=False)
    mail_from: str = "HookCast <hookcast@localhost>"
    # The DNS servers deliveries and the webhook URL check ask (docs/operations.md), instead
    # of /etc/resolv.conf's: comma-separated "ip", "ip:port" or "[ipv6]:port".
    dns_servers: str = ""
    # A PEM file of certificate authorities deliveries trust besides the system's (receivers
    # with a private CA, often the ones that ask for a client certificate: docs/operations.md).
    ca_bundle: str = ""
    # HTTPS ended at a proxy in front (docs/operations.md): the proxies whose
    # X-Forwarded-Proto and X-Forwarded-For are believed (uvicorn's forwarded_allow_ips,
    # comma-separated addresses or "*"), and whether the session cookie is always Secure.
    forwarded_allow_ips: str = "127.0.0.1"
    # OpenTelemetry traces over OTLP/HTTP (docs/operations.md, "Traces"): a collector's base
    # URL, /v1/traces appended. Empty: the standard OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT
    # decide (hookcast/tracing); none set: no tracing, and OpenTelemetry is never imported.
    otel_exporter_otlp_endpoint: str = ""
    # Whether a publisher's traceparent is continued and its sampled flag followed; off, each
    # publish starts a trace of HookCast's own, linked to it, the operator's sampler deciding.
    otel_trust_traceparent: bool = False
    cookie_secure: bool = False
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    # Operations (docs/operations.md).
    retention_days: float = Field(default=30.0, ge=0)  # 0 keeps everything forever
    rate_limit_per_second: float = Field(default=100.0, ge=0)  # per API key; 0 disables
    rate_limit_burst: int = Field(default=200, ge=1)
    # Per account, over all its keys and sessions (api/ratelimit.py); 0 disables. Five keys'
    # worth: one key never meets it, an account spreading its requests over many does.
    account_rate_limit_per_second: float = Field(default=500.0, ge=0)
    account_rate_limit_burst: int = Field(default=1000, ge=1)
    metrics_token: str | None = Field(default=None, repr=False)  # unset: /metrics is open

    @model_validator(mode="after")
    def _one_event_always_fits(self) -> Settings:
        # Otherwise an account with many webhooks could not publish even a single event.
        if self.max_deliveries_per_publish < self.max_webhooks_per_account:
            raise ValueError(
                "HOOKCAST_MAX_DELIVERIES_PER_PUBLISH must be at least "
                "HOOKCAST_MAX_WEBHOOKS_PER_ACCOUNT, so that one event can always be published"
            )
        # An event's envelope is one object more than its `data`.
        if self.max_containers_per_publish <= self.max_containers_per_event:
            raise ValueError(
                "HOOKCAST_MAX_CONTAINERS_PER_PUBLISH must be more than "
                "HOOKCAST_MAX_CONTAINERS_PER_EVENT, so that any event one may publish fits in "
                "a request"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # Refused at start-up in one line naming it, not as a traceback of 130 to 650 lines
        # from the first migration or connection; no message repeats the URL (its password).
        scheme, separator, rest = value.partition("://")
        # As written: the store takes these in lower case only ("POSTGRESQL://" was a
        # traceback at start).
        if not separator or scheme not in _DATABASE_SCHEMES:
            raise ValueError(
                "must be sqlite:///path/to/hookcast.db or "
                "postgresql://user:password@host:port/database"
            )
        if scheme.startswith("sqlite") and rest.split("?", 1)[0] in ("", "/", "/:memory:"):
            raise ValueError("in-memory SQLite is not supported: give a file path")
        try:
            urlsplit(value).port  # noqa: B018 (parsing is the check; `migrate` reads it too)
        except ValueError:
            # urlsplit ends the host at a "/", "?" or "#" even in the password, which the
            # store's parser (SQLAlchemy's) reads up to its "@": "b64/pass=" is a password,
            # not a port. Asked only then (importing it takes ~0.5 s).
            if not _port_in_range(value):
                raise ValueError("its port must be a number from 0 to 65535") from None
        return value

    # Each checked at start, so a wrong one is one line naming it (cli/__init__.py), not a
    # traceback (networks: 128 lines, the level: 57) or, for the collector, an error logged
    # at every export of spans (1,030 lines in 12 s).
    @field_validator("allowed_networks")
    @classmethod
    def _allowed_networks(cls, value: str) -> str:
        try:
            parse_networks(value)
        except ValidationFailed as exc:
            raise ValueError(exc.description) from None
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        # Those both logging and uvicorn (serving.py) know: "WARN" or "NOTSET" is not uvicorn's.
        if value.upper() not in _LOG_LEVELS:
            raise ValueError(f"{value!r} is not a level: DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value

    @field_validator("otel_exporter_otlp_endpoint")
    @classmethod
    def _otel_endpoint(cls, value: str) -> str:
        if value.strip():  # blank: as unset (hookcast/tracing)
            parts = urlsplit(value.strip())
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must be the collector's http:// or https:// base URL")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str) -> str:
        if value:
            SmtpServer.from_url(value)  # raises ValueError naming what is wrong
        return value

    @field_validator("egress_proxy")
    @classmethod
    def _proxy_url(cls, value: str) -> str:
        if value:
            Proxy.from_url(value)  # refused at start-up, not at the first delivery
        return value

    @field_validator("dns_servers")
    @classmethod
    def _dns_servers(cls, value: str) -> str:
        for server in _split(value):
            _check_dns_server(server)  # refused at start-up, not at the first lookup
        return value

    def dns_nameservers(self) -> list[str] | None:
        """HOOKCAST_DNS_SERVERS as a list, or None for the system's configuration."""
        return _split(self.dns_servers) or None

    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The database file of a `sqlite:///path` URL (None for PostgreSQL or memory)."""
        if not self.is_sqlite():
            return None
        path = self.database_url.split("///", 1)[-1].split("?", 1)[0]
        return None if path in ("", ":memory:") else Path(path)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _check_dns_server(server: str) -> None:
    """`server` is "ip", "ip:port" or "[ipv6]:port" (what c-ares takes), else ValueError."""
    host, port = server, ""
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        port = rest.removeprefix(":")
    elif server.count(":") == 1:
        host, port = server.split(":")
    try:
        ipaddress.ip_address(host)
        if port and not 0 < int(port) < 65536:
            raise ValueError(port)
    except ValueError:
        raise ValueError(
            f"HOOKCAST_DNS_SERVERS: {server!r} is not an IP address with an optional port"
        ) from None


# scrypt's cost (n=2**15, r=8: 32 MiB and ~0.1 s a guess) is what slows guessing a passphrase
# from a copy of the database or from a signed dashboard cookie. The salt is HookCast's own,
# so no table computed for plain SHA-256, or for another product, applies; it cannot differ
# per deployment, as every process must derive the same key from the variable alone. A
# generated Fernet key (random, 256 bits) needs none of this and is used as it is.
_KDF_SALT = b"hookcast/HOOKCAST_SECRET_KEY/scrypt/1"


def fernet_key_from_passphrase(value: str) -> bytes:
    """A Fernet key from HOOKCAST_SECRET_KEY: a Fernet key as-is, or a passphrase through
    scrypt (derived once per process: each derivation costs ~0.1 s)."""
    raw = value.strip().encode()
    return raw if _is_fernet_key(raw) else _scrypt(raw)


def legacy_fernet_keys(value: str) -> tuple[bytes, ...]:
    """Keys earlier versions derived from HOOKCAST_SECRET_KEY (one SHA-256 of a
    passphrase): what they encrypted or signed is still read, nothing new is written."""
    raw = value.strip().encode()
    if _is_fernet_key(raw):
        return ()
    return (base64.urlsafe_b64encode(hashlib.sha256(raw).digest()),)


def _is_fernet_key(raw: bytes) -> bool:
    try:
        return len(base64.urlsafe_b64decode(raw)) == 32
    except ValueError:
        return False


@functools.lru_cache(maxsize=4)
def _scrypt(passphrase: bytes) -> bytes:
    kdf = Scrypt(salt=_KDF_SALT, length=32, n=2**15, r=8, p=1)
    return base64.urlsafe_b64encode(kdf.derive(passphrase))
