from __future__ import annotations

import pytest
from pydantic import ValidationError

from hookcast.config import Settings


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
