"""A webhook's state as `hookcast webhooks get` and `list` print it: its last error is named
as one, not read as why the webhook was disabled."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hookcast.cli.webhooks import _state
from hookcast.sdk.types import LastError, Webhook

_AT = datetime(2026, 12, 8, 0, 4, 42, tzinfo=UTC)


def _webhook(*, state: str, disabled_reason: str | None = None) -> Webhook:
    refused = LastError(
        at=_AT, status_code=None, error="connection refused by 127.0.0.1:9421", body=""
    )
    return Webhook(
        id="OibtM0DS",
        name="Every event",
        description=None,
        webhook_url="http://127.0.0.1:9421/",
        events=("*",),
        site_ids=("1A23bCD4",),
        enabled=state != "disabled",
        disabled_reason=disabled_reason,
        conditions=None,
        retry_policy="standard",
        timeout_seconds=10,
        last_success=None,
        failing_since=_AT if state == "failing" else None,
        created=_AT,
        last_modified=_AT,
        state=state,
        last_error=refused,
    )


@pytest.mark.parametrize(
    ("state", "reason", "first"),
    [
        ("disabled", None, "disabled by a user"),
        ("disabled", "410 Gone", "disabled: 410 Gone"),
        ("failing", None, "failing since 2026-12-08 00:04 UTC"),
    ],
)
def test_the_last_error_is_named_under_the_state(
    state: str, reason: str | None, first: str
) -> None:
    lines = _state(_webhook(state=state, disabled_reason=reason)).plain.splitlines()
    assert lines[:2] == [first, "last error: connection refused by 127.0.0.1:9421"]
