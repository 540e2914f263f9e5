from __future__ import annotations

import pytest
from pydantic import ValidationError

from hookcast.cli import settings_errors
from hookcast.config import Settings
from hookcast.delivery.smtp import SmtpServer


def test_the_fan_out_limits_default_to_100_webhooks_and_10000_deliveries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HOOKCAST_MAX_WEBHOOKS_PER_ACCOUNT", raising=False)
    monkeypatch.delenv("HOOKCAST_MAX_DELIVERIES_PER_PUBLISH", raising=False)

    settings = Settings()

    assert (settings.max_webhooks_per_account, settings.max_deliveries_per_publish) == (
        100,
        10_000,
    )


def test_the_limits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKCAST_MAX_WEBHOOKS_PER_ACCOUNT", "5")
    monkeypatch.setenv("HOOKCAST_MAX_DELIVERIES_PER_PUBLISH", "50")

    settings = Settings()

    assert (settings.max_webhooks_per_account, settings.max_deliveries_per_publish) == (5, 50)


def test_one_event_to_every_webhook_must_fit_in_a_publish() -> None:
    with pytest.raises(ValidationError, match="one event can always be published"):
        Settings(max_webhooks_per_account=200, max_deliveries_per_publish=199)


def test_the_container_limits_default_to_100000_a_publish_and_10000_an_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("HOOKCAST_MAX_CONTAINERS_PER_PUBLISH", raising=False)
    monkeypatch.delenv("HOOKCAST_MAX_CONTAINERS_PER_EVENT", raising=False)
    assert (Settings().max_containers_per_publish, Settings().max_containers_per_event) == (
        100_000,
        10_000,
    )
    monkeypatch.setenv("HOOKCAST_MAX_CONTAINERS_PER_PUBLISH", "500")
    monkeypatch.setenv("HOOKCAST_MAX_CONTAINERS_PER_EVENT", "40")
    assert (Settings().max_containers_per_publish, Settings().max_containers_per_event) == (
        500,
        40,
    )


def test_an_event_at_its_container_limit_must_fit_in_a_publish() -> None:
    # Its envelope is one object more than its data.
    Settings(max_containers_per_publish=41, max_containers_per_event=40)
    with pytest.raises(ValidationError, match="any event one may publish fits"):
        Settings(max_containers_per_publish=40, max_containers_per_event=40)


def test_a_lease_too_short_for_the_longest_timeout_is_refused_at_start() -> None:
    # 30 s to answer and 5 s to record: with a shorter lease such a delivery never starts.
    with pytest.raises(ValidationError, match="lease_seconds"):
        Settings(lease_seconds=39)
    assert Settings(lease_seconds=40).lease_seconds == 40


def test_dns_servers_default_to_the_systems_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOOKCAST_DNS_SERVERS", raising=False)

    assert Settings().dns_nameservers() is None


def test_dns_servers_are_read_as_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOKCAST_DNS_SERVERS", "10.0.0.53, 127.0.0.1:5353,[::1]:53,2001:db8::1")

    assert Settings().dns_nameservers() == [
        "10.0.0.53",
        "127.0.0.1:5353",
        "[::1]:53",
        "2001:db8::1",
    ]


@pytest.mark.parametrize("value", ["dns.example", "127.0.0.1:0", "127.0.0.1:99999", "[::1]:x"])
def test_a_dns_server_that_is_not_an_address_is_refused_at_start(value: str) -> None:
    with pytest.raises(ValidationError, match="HOOKCAST_DNS_SERVERS"):
        Settings(dns_servers=value)


def test_an_smtp_url_is_checked_at_start_without_echoing_its_password() -> None:
    assert Settings(smtp_url="smtps://u:p%40ss@mail.example:2465").smtp_url
    with pytest.raises(ValidationError, match="smtp://") as refused:
        Settings(smtp_url="ftp://user:hunter2@mail.example")
    assert "hunter2" not in str(refused.value)
    with pytest.raises(ValidationError, match="no host"):
        Settings(smtp_url="smtp://")


def test_smtp_urls_name_the_connection_and_the_default_port() -> None:
    plain = SmtpServer.from_url("smtp://mail.example")
    required = SmtpServer.from_url("smtp+starttls://u:p%40ss@mail.example")
    tls = SmtpServer.from_url("smtps://mail.example:2465")
    assert (plain.security, plain.port, plain.username) == ("opportunistic", 25, None)
    assert (required.security, required.port) == ("starttls", 587)
    assert (required.username, required.password) == ("u", "p@ss")
    assert "p@ss" not in repr(required)
    assert (tls.security, tls.port) == ("tls", 2465)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://hook:b64/pass+word=@db:5432/hookcast",
        "postgresql+asyncpg://hook:what?ever@db/hookcast",
        "postgres://hook:no#fragment@[::1]:5433/hookcast",
        "postgresql://hook:p%2Fss@db:5432/hookcast",
        "postgresql://hook@/hookcast?host=/run/postgresql",
        "sqlite:///relative/hookcast.db",
        "sqlite:////var/lib/a dir/hookcast ü.db",
    ],
)
def test_database_urls_that_the_store_reads_are_taken(url: str) -> None:
    # Review 10: a password with a raw "/", "?" or "#" was refused as a bad port.
    assert Settings(database_url=url).database_url == url


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://hook:pw@db:99999/hookcast",
        "postgresql://hook:pw/x@db:99999/hookcast",
        "postgresql://hook:pw@db:port/hookcast",
        "postgresql://hook:pw/x@db:port/hookcast",
    ],
)
def test_a_database_url_with_a_bad_port_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(database_url=url)
    assert "its port must be a number from 0 to 65535" in str(refused.value)
    assert "pw" not in str(refused.value)


@pytest.mark.parametrize(
    "url",
    ["POSTGRESQL://hook:pw@db/hookcast", "Sqlite:///hookcast.db", "postgresql+ASYNCPG://db/h"],
)
def test_a_scheme_the_store_does_not_take_in_capitals_is_refused_at_start(url: str) -> None:
    # Review 10: the check took any case, the store only lower case (a traceback at start).
    with pytest.raises(ValidationError) as refused:
        Settings(database_url=url)
    assert "must be sqlite:///path/to/hookcast.db or postgresql://" in str(refused.value)


@pytest.mark.parametrize("value", ["hookcast.db", "/var/lib/hookcast.db", "mysql://u:pw@h/db"])
def test_a_database_url_without_a_known_scheme_is_refused_without_echoing_it(value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(database_url=value)
    assert settings_errors(refused.value) == [
        "HOOKCAST_DATABASE_URL: must be sqlite:///path/to/hookcast.db or "
        "postgresql://user:password@host:port/database"
    ]


@pytest.mark.parametrize(
    "value", ["sqlite:///hookcast.db", "postgresql://u@h/db", "postgres://u@h/db"]
)
def test_sqlite_and_postgresql_urls_are_taken(value: str) -> None:
    assert Settings(database_url=value).database_url == value
