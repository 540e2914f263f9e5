"""What `hookcast deliveries get` says each attempt got: the receiver's words, not the status
said twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hookcast.cli.webhook_actions import attempt_said
from hookcast.sdk.types import Attempt


def _attempt(status: int | None, body: str | None, error: str | None) -> Attempt:
    started = datetime(2026, 12, 7, 11, 52, tzinfo=UTC)
    return Attempt(1, started, {}, status, 64.0, body, error)


@pytest.mark.parametrize(
    ("status", "body", "error", "said"),
    [
        (500, "receiver says no", "HTTP 500", "receiver says no"),
        (200, "ok", None, "ok"),
        (
            None,
            None,
            "connection refused by 127.0.0.1:9717",
            "connection refused by 127.0.0.1:9717",
        ),
        (302, "", "redirects are not followed", "redirects are not followed"),
        (500, "", "HTTP 500", "-"),
    ],
    ids=["body-not-status-twice", "success", "no-answer", "error-beside-status", "nothing-said"],
)
def test_an_attempt_says_what_the_receiver_said(
    status: int | None, body: str | None, error: str | None, said: str
) -> None:
    answer = f"HTTP {status}" if status else "no answer"
    assert attempt_said(_attempt(status, body, error), answer) == said
