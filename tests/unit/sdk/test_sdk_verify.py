"""hookcast.verify on headers made by the signing code deliveries use: each scheme, secret
rotation, tampering, staleness, and which scheme `verify.any` trusts."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hookcast import verify
from hookcast.domain import ed25519
from hookcast.domain.ids import new_webhook_secret
from hookcast.domain.signing import delivery_headers
from hookcast.sdk.types import WebhookSecret

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BODY = json.dumps(
    {"event": "media_available", "event_id": "evt_1", "media_id": "MNYaMSQl"}
).encode()
SECRET, OTHER = new_webhook_secret(), new_webhook_secret()


def signed(body: bytes = BODY, secrets: tuple[str, ...] = (SECRET,)) -> dict[str, str]:
    return delivery_headers(
        body=body, msg_id="evt_1", timestamp=int(NOW.timestamp()), secrets=secrets
    )


def test_each_scheme_verifies_and_returns_the_payload() -> None:
    headers = signed()
    assert verify.jwt(BODY, headers["Authorization"], SECRET)["media_id"] == "MNYaMSQl"
    assert verify.standard(BODY, headers, SECRET, now=NOW)["event_id"] == "evt_1"
    assert verify.hex(BODY, headers["X-Hookcast-Signature"], [SECRET])["event"] == (
        "media_available"
    )
    assert verify.any(BODY, headers, SECRET, now=NOW)["event_id"] == "evt_1"


def test_any_finds_headers_in_any_case_and_accepts_a_str_body() -> None:
    headers = {name.upper(): value for name, value in signed().items()}
    assert verify.any(BODY.decode(), headers, SECRET, now=NOW)["event_id"] == "evt_1"


def test_several_secrets_allow_a_rotation() -> None:
    headers = signed(secrets=(OTHER,))
    schemes: list[Callable[[], dict[str, Any]]] = [
        lambda: verify.jwt(BODY, headers["Authorization"], [SECRET, OTHER]),
        lambda: verify.standard(BODY, headers, [SECRET, OTHER], now=NOW),
        lambda: verify.hex(BODY, headers["X-Hookcast-Signature"], [SECRET, OTHER]),
    ]
    for scheme in schemes:
        assert scheme()["event_id"] == "evt_1"


@pytest.mark.parametrize("scheme", ["jwt", "standard", "hex"])
def test_a_tampered_body_is_invalid(scheme: str) -> None:
    headers = signed()
    tampered = BODY.replace(b"MNYaMSQl", b"XXXXXXXX")
    with pytest.raises(verify.InvalidSignature):
        _only(scheme, tampered, headers)


@pytest.mark.parametrize("scheme", ["jwt", "standard", "hex"])
def test_a_wrong_secret_is_invalid(scheme: str) -> None:
    with pytest.raises(verify.InvalidSignature):
        _only(scheme, BODY, signed(secrets=(OTHER,)))


def _only(scheme: str, body: bytes, headers: dict[str, str]) -> object:
    if scheme == "jwt":
        return verify.jwt(body, headers["Authorization"], SECRET)
    if scheme == "standard":
        return verify.standard(body, headers, SECRET, now=NOW)
    return verify.hex(body, headers["X-Hookcast-Signature"], SECRET)


def test_a_stale_or_future_timestamp_is_refused_and_tolerance_is_adjustable() -> None:
    headers = signed()
    with pytest.raises(verify.StaleTimestamp, match="old"):
        verify.standard(BODY, headers, SECRET, now=NOW + timedelta(minutes=6))
    with pytest.raises(verify.StaleTimestamp, match="future"):
        verify.standard(BODY, headers, SECRET, now=NOW - timedelta(minutes=6))
    later = NOW + timedelta(minutes=6)
    assert verify.standard(BODY, headers, SECRET, now=later, tolerance=600)["event_id"]


def test_any_does_not_fall_back_to_the_jwt_when_the_timestamp_is_stale() -> None:
    # The JWT and the hex signature are still valid: a replay must not get through them.
    with pytest.raises(verify.StaleTimestamp):
        verify.any(BODY, signed(), SECRET, now=NOW + timedelta(hours=1))


@pytest.mark.parametrize("kept", ["Authorization", "X-Hookcast-Signature"])
def test_any_refuses_a_replay_stripped_of_its_timestamped_headers(kept: str) -> None:
    # A captured delivery, a month later, with only a signature that carries no timestamp.
    replayed = {kept: signed()[kept]}
    with pytest.raises(verify.MissingSignature, match="webhook-signature"):
        verify.any(BODY, replayed, SECRET, now=NOW + timedelta(days=30))


def test_any_uses_the_jwt_or_the_hex_signature_only_when_allowed() -> None:
    headers = signed()
    only_jwt = {"Authorization": headers["Authorization"]}
    only_hex = {"X-Hookcast-Signature": headers["X-Hookcast-Signature"]}
    assert verify.any(BODY, only_jwt, SECRET, allow_untimestamped=True)["event_id"] == "evt_1"
    assert verify.any(BODY, only_hex, SECRET, allow_untimestamped=True)["event_id"] == "evt_1"
    with pytest.raises(verify.InvalidSignature):
        verify.any(BODY + b" ", only_hex, SECRET, allow_untimestamped=True)
    with pytest.raises(verify.StaleTimestamp):  # allowing them is no way around a stale one
        verify.any(BODY, headers, SECRET, now=NOW + timedelta(hours=1), allow_untimestamped=True)


def test_missing_and_malformed_signatures_say_so() -> None:
    with pytest.raises(verify.MissingSignature, match="no signature"):
        verify.any(BODY, {"Content-Type": "application/json"}, SECRET)
    with pytest.raises(verify.MalformedSignature):
        verify.hex(BODY, "not-hex", SECRET)
    with pytest.raises(verify.MalformedSignature):
        verify.jwt(BODY, "Bearer abc", SECRET)
    with pytest.raises(verify.InvalidSignature, match="HS256"):
        # alg "none" is refused before anything else is looked at
        verify.jwt(BODY, "eyJhbGciOiJub25lIn0.e30.", SECRET)


@pytest.mark.parametrize("timestamp", ["\u00b2", "\u0661\u0667\u0667", "17 2"])
def test_a_timestamp_of_other_digits_is_malformed_not_a_value_error(timestamp: str) -> None:
    # A forged request's "²" (Latin-1 0xB2, as a framework decodes a header) is a digit to
    # str.isdigit() and not to int(): a ValueError, a 500 where a receiver catches
    # SignatureError (attack 10).
    headers = {**signed(), "webhook-timestamp": timestamp}
    with pytest.raises(verify.MalformedSignature, match="webhook-timestamp"):
        verify.standard(BODY, headers, SECRET, now=NOW)


def test_a_forged_jwt_nested_past_the_parser_is_malformed_not_a_recursion_error() -> None:
    # Its header is read before the signature is checked: json.loads raised RecursionError,
    # no SignatureError, so a receiver answered a forged request with a 500 (attack 10).
    deep = base64.urlsafe_b64encode(b"[" * 100_000).rstrip(b"=").decode()
    with pytest.raises(verify.MalformedSignature, match="JWT header"):
        verify.jwt(BODY, f"Bearer {deep}.e30.c2ln", SECRET)
    # A captured token's body swapped for one nested as deep: a mismatch, said so.
    token = signed()["Authorization"]
    with pytest.raises(verify.InvalidSignature, match="not JSON"):
        verify.jwt(b"[" * 100_000, token, SECRET)


def test_every_failure_is_a_signature_error_with_a_code() -> None:
    with pytest.raises(verify.SignatureError) as raised:
        verify.hex(BODY, "0" * 64, SECRET)
    assert raised.value.code == "invalid_signature"
    assert SECRET not in str(raised.value)


def test_no_secret_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="secret"):
        verify.any(BODY, signed(), [])


# --- Ed25519 (v1a): the public key alone verifies ---------------------------------------------

SIGNING_KEY, OTHER_SIGNING_KEY = ed25519.new_signing_key(), ed25519.new_signing_key()
PUBLIC_KEY = ed25519.public_key_of(SIGNING_KEY)


def test_a_public_key_verifies_an_ed25519_delivery() -> None:
    headers = signed(secrets=(SIGNING_KEY,))
    assert verify.standard(BODY, headers, PUBLIC_KEY, now=NOW)["event_id"] == "evt_1"
    assert verify.any(BODY, headers, [PUBLIC_KEY], now=NOW)["media_id"] == "MNYaMSQl"


def test_any_signature_in_the_list_may_match_the_public_key() -> None:
    # a rotation from HMAC: the new v1a signature and the old v1 one, either verifies
    headers = signed(secrets=(OTHER_SIGNING_KEY, SIGNING_KEY, SECRET))
    assert len(headers["webhook-signature"].split(" ")) == 3
    verify.standard(BODY, headers, PUBLIC_KEY, now=NOW)
    verify.standard(BODY, headers, SECRET, now=NOW)


@pytest.mark.parametrize(
    ("body", "key", "now"),
    [
        (BODY + b" ", PUBLIC_KEY, NOW),
        (BODY, ed25519.public_key_of(OTHER_SIGNING_KEY), NOW),
    ],
    # The keys are made afresh at import: ids from them would differ between pytest-xdist's
    # workers, which refuse to run collections that differ.
    ids=["tampered-body", "another-public-key"],
)
def test_a_tampered_body_or_another_public_key_is_invalid(
    body: bytes, key: str, now: datetime
) -> None:
    with pytest.raises(verify.InvalidSignature):
        verify.standard(body, signed(secrets=(SIGNING_KEY,)), key, now=now)


def test_the_v1a_timestamp_has_the_same_tolerance() -> None:
    headers = signed(secrets=(SIGNING_KEY,))
    with pytest.raises(verify.StaleTimestamp):
        verify.any(BODY, headers, PUBLIC_KEY, now=NOW + timedelta(minutes=6))
    verify.any(BODY, headers, PUBLIC_KEY, now=NOW + timedelta(minutes=6), tolerance=600)


def test_a_public_key_never_falls_back_to_a_jwt() -> None:
    hmac_headers = signed()
    del hmac_headers["webhook-signature"]
    with pytest.raises(verify.MissingSignature, match="whpk_"):
        verify.any(BODY, hmac_headers, PUBLIC_KEY, now=NOW, allow_untimestamped=True)


def test_a_revealed_secret_gives_the_public_keys_to_verify_with() -> None:
    revealed = WebhookSecret(
        webhook_id="2yW4KmiG", secret=SIGNING_KEY, previous_secret=OTHER_SIGNING_KEY
    )
    assert revealed.public_keys == (PUBLIC_KEY, ed25519.public_key_of(OTHER_SIGNING_KEY))
    headers = signed(secrets=(OTHER_SIGNING_KEY,))
    assert verify.any(BODY, headers, revealed.public_keys, now=NOW)["event_id"] == "evt_1"
    assert WebhookSecret(webhook_id="2yW4KmiG", secret=SECRET).public_keys == ()
