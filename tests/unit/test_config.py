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
