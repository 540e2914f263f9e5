"""Signed tokens: what sessions and portal links rest on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from hookcast import tokens

KEY = tokens.dashboard_key(b"server secret key")
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_a_token_round_trips_until_it_expires() -> None:
    token = tokens.sign(
        KEY, purpose="portal", claims={"a": "acct1234"}, expires=NOW + timedelta(hours=1)
    )
    assert tokens.verify(KEY, purpose="portal", token=token, now=NOW)["a"] == "acct1234"
    with pytest.raises(tokens.InvalidToken) as raised:
        tokens.verify(KEY, purpose="portal", token=token, now=NOW + timedelta(hours=1))
    assert raised.value.expired


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t.replace(".", ".A", 1),
        lambda t: "A" + t,
        lambda t: t.split(".")[0],
        lambda t: "",
        lambda t: "...",
        lambda t: t + "!",
    ],
)
def test_a_changed_token_is_refused(mangle: Callable[[str], str]) -> None:
    token = tokens.sign(
        KEY, purpose="portal", claims={"a": "acct1234"}, expires=NOW + timedelta(hours=1)
    )
    with pytest.raises(tokens.InvalidToken) as raised:
        tokens.verify(KEY, purpose="portal", token=mangle(token), now=NOW)
    assert not raised.value.expired


def test_a_token_is_bound_to_its_purpose_and_its_key() -> None:
    token = tokens.sign(
        KEY, purpose="session", claims={"a": "acct1234"}, expires=NOW + timedelta(hours=1)
    )
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(KEY, purpose="portal", token=token, now=NOW)
    with pytest.raises(tokens.InvalidToken):
        tokens.verify(tokens.dashboard_key(b"other key"), purpose="session", token=token, now=NOW)


def test_the_dashboard_key_is_derived_not_the_secret_key_itself() -> None:
    assert KEY != b"server secret key"
    assert len(KEY) == 32
    assert tokens.dashboard_key(b"server secret key") == KEY
