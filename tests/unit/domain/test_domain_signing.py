from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks import Webhook

from hookcast.domain import ed25519
from hookcast.domain.ids import new_webhook_secret
from hookcast.domain.signing import (
    InvalidSignature,
    MalformedSignature,
    MissingSignature,
    SignatureError,
    StaleTimestamp,
    delivery_headers,
    delivery_signer,
    redact_headers,
    sign_hex,
    sign_jwt,
    sign_standard,
    verify_hex,
    verify_jwt,
    verify_standard,
)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_" + base64.b64encode(b"o" * 32).decode()
BODY = (
    b'{"event":"media_available","event_id":"evt_1","media_id":"MNYaMSQl",'
    b'"webhook_id":"2yW4KmiG","site_id":"9KboGBFu","event_time":"2024-08-27T00:15:45+00:00",'
    b'"data":{"tags":["sports"],"title":"Caf\xc3\xa9"}}'
)
NOW = datetime(2024, 8, 27, 0, 15, 45, tzinfo=UTC)
TIMESTAMP = int(NOW.timestamp())
_json_bodies = st.dictionaries(
    st.text(max_size=8),
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    max_size=5,
).map(lambda value: json.dumps(value).encode())


def _headers(secrets: list[str], body: bytes = BODY) -> dict[str, str]:
    return delivery_headers(body=body, msg_id="evt_1", timestamp=TIMESTAMP, secrets=secrets)


# --- JWT: JW Player's documented receiver must accept it unmodified ---------------------------


def test_jw_players_receiver_accepts_the_jwt() -> None:
    token = sign_jwt(BODY, SECRET)
    assert jwt.decode(token, SECRET, algorithms=["HS256"]) == json.loads(BODY)
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}


@given(body=_json_bodies)
def test_any_json_object_body_round_trips_through_pyjwt(body: bytes) -> None:
    token = sign_jwt(body, SECRET)
    assert jwt.decode(token, SECRET, algorithms=["HS256"]) == json.loads(body)
    verify_jwt(token, body, [SECRET])


def test_the_payload_segment_is_the_body_bytes_unpadded() -> None:
    payload = sign_jwt(BODY, SECRET).split(".")[1]
    assert "=" not in payload
    assert base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)) == BODY


@pytest.mark.parametrize("value", ["{token}", "Bearer {token}", "bearer  {token} "])
def test_verify_jwt_accepts_a_token_or_authorization_header(value: str) -> None:
    verify_jwt(value.format(token=sign_jwt(BODY, SECRET)), BODY, [OLD_SECRET, SECRET])


def _forge(header: dict[str, str], body: bytes, key: bytes = b"") -> str:
    def segment(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = segment(json.dumps(header).encode()) + "." + segment(body)
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest() if key else b""
    return signing_input + "." + segment(signature)


@pytest.mark.parametrize(
    ("token", "body", "error", "message"),
    [
        ("", BODY, MissingSignature, "no JWT"),
        ("Bearer ", BODY, MissingSignature, "no JWT"),
        ("abc.def", BODY, MalformedSignature, "three base64url segments"),
        ("a+b.c.d", BODY, MalformedSignature, "three base64url segments"),
        ("!!!.e30.x", BODY, MalformedSignature, "three base64url segments"),
        ("bm90anNvbg.e30.x", BODY, MalformedSignature, "JWT header is not JSON"),
        (sign_jwt(BODY, OLD_SECRET), BODY, InvalidSignature, "does not match any of the secrets"),
        (sign_jwt(b'{"a":1}', SECRET), BODY, InvalidSignature, "claims do not match the body"),
        (sign_jwt(b'{"a":1}', SECRET), b"not json", InvalidSignature, "body is not JSON"),
        (_forge({"alg": "none"}, BODY), BODY, InvalidSignature, "must be HS256, not 'none'"),
        (
            _forge({"alg": "HS512"}, BODY, SECRET.encode()),
            BODY,
            InvalidSignature,
            "must be HS256, not 'HS512'",
        ),
    ],
)
def test_verify_jwt_refuses(
    token: str, body: bytes, error: type[SignatureError], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        verify_jwt(token, body, [SECRET])
    assert SECRET not in str(caught.value)


def test_verify_jwt_compares_claims_as_json_not_bytes() -> None:
    # a framework may hand the receiver re-serialised JSON; the claims are still the body
    reformatted = json.dumps(json.loads(BODY), indent=2).encode()
    verify_jwt(sign_jwt(BODY, SECRET), reformatted, [SECRET])


# --- Standard Webhooks: the reference library must accept every signature --------------------


def _fresh_headers(secrets: list[str], body: bytes = BODY) -> dict[str, str]:
    # the reference library checks the timestamp against the wall clock
    timestamp = int(time.time())
    return delivery_headers(body=body, msg_id="evt_1", timestamp=timestamp, secrets=secrets)


def test_standard_webhooks_library_verifies_each_secret_during_rotation() -> None:
    headers = _fresh_headers([SECRET, OLD_SECRET])
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (SECRET, OLD_SECRET):
        assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_sign_standard_matches_the_spec() -> None:
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    content = f"evt_1.{TIMESTAMP}.".encode() + BODY
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    signature = sign_standard(msg_id="evt_1", timestamp=TIMESTAMP, body=BODY, secrets=[SECRET])
    assert signature == f"v1,{expected}"


@given(body=_json_bodies)
def test_generated_secrets_work_with_the_standard_webhooks_library(body: bytes) -> None:
    secret = new_webhook_secret()
    headers = _fresh_headers([secret], body)
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    now = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
    verify_standard(headers=headers, body=body, secrets=[secret], now=now)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda h: {k.upper(): v for k, v in h.items()},
        lambda h: {**h, "webhook-signature": "v1a,ignored " + h["webhook-signature"]},
        lambda h: {**h, "webhook-timestamp": str(TIMESTAMP)},
    ],
)
def test_verify_standard_accepts(mutate: Callable[[dict[str, str]], dict[str, str]]) -> None:
    headers = mutate(_headers([SECRET]))
    verify_standard(headers=headers, body=BODY, secrets=[OLD_SECRET, SECRET], now=NOW)


@pytest.mark.parametrize(
    ("changes", "now", "error", "message"),
    [
        ({"webhook-id": None}, NOW, MissingSignature, "webhook-id header is missing"),
        ({"webhook-signature": " "}, NOW, MissingSignature, "webhook-signature header"),
        ({"webhook-timestamp": "soon"}, NOW, MalformedSignature, "not a Unix time"),
        ({"webhook-signature": "v2,abc"}, NOW, MalformedSignature, 'no "v1,<base64>"'),
        ({"webhook-id": "evt_2"}, NOW, InvalidSignature, "no webhook-signature matches"),
        ({"webhook-signature": "v1,AAAA"}, NOW, InvalidSignature, "no webhook-signature"),
        ({}, NOW + timedelta(minutes=6), StaleTimestamp, "360 seconds old"),
        ({}, NOW - timedelta(minutes=6), StaleTimestamp, "360 seconds in the future"),
    ],
)
def test_verify_standard_refuses(
    changes: dict[str, str | None], now: datetime, error: type[SignatureError], message: str
) -> None:
    headers = {**_headers([SECRET]), **changes}
    present = {name: value for name, value in headers.items() if value is not None}
    with pytest.raises(error, match=message) as caught:
        verify_standard(headers=present, body=BODY, secrets=[SECRET], now=now)
    assert SECRET not in str(caught.value)


def test_verify_standard_refuses_a_changed_body_and_a_wrong_secret() -> None:
    headers = _headers([SECRET])
    with pytest.raises(InvalidSignature):
        verify_standard(headers=headers, body=BODY + b" ", secrets=[SECRET], now=NOW)
    with pytest.raises(InvalidSignature):
        verify_standard(headers=headers, body=BODY, secrets=[OLD_SECRET], now=NOW)


def test_tolerance_is_configurable() -> None:
    later = NOW + timedelta(minutes=6)
    verify_standard(
        headers=_headers([SECRET]),
        body=BODY,
        secrets=[SECRET],
        now=later,
        tolerance=timedelta(minutes=10),
    )


# --- Standard Webhooks v1a (Ed25519): checked with cryptography, no library verifies it yet ----

SIGNING_KEY = "whsk_" + base64.b64encode(b"k" * 32).decode()
OLD_SIGNING_KEY = "whsk_" + base64.b64encode(b"p" * 32).decode()
PUBLIC_KEY = ed25519.public_key_of(SIGNING_KEY)
OLD_PUBLIC_KEY = ed25519.public_key_of(OLD_SIGNING_KEY)


def test_a_v1a_signature_is_the_ed25519_signature_of_the_spec_content() -> None:
    signature = sign_standard(msg_id="evt_1", timestamp=TIMESTAMP, body=BODY, secrets=[SIGNING_KEY])
    version, _, encoded = signature.partition(",")
    assert version == "v1a"
    raw_public = base64.b64decode(PUBLIC_KEY.removeprefix("whpk_"))
    content = f"evt_1.{TIMESTAMP}.".encode() + BODY
    Ed25519PublicKey.from_public_bytes(raw_public).verify(base64.b64decode(encoded), content)


def test_an_ed25519_webhook_sends_the_standard_headers_only() -> None:
    headers = _headers([SIGNING_KEY])
    assert set(headers) == {
        "Content-Type",
        "User-Agent",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    verify_standard(headers=headers, body=BODY, secrets=[PUBLIC_KEY], now=NOW)


def test_during_a_rotation_either_public_key_verifies() -> None:
    headers = _headers([SIGNING_KEY, OLD_SIGNING_KEY])
    assert [item[:4] for item in headers["webhook-signature"].split(" ")] == ["v1a,"] * 2
    for key in (PUBLIC_KEY, OLD_PUBLIC_KEY):
        verify_standard(headers=headers, body=BODY, secrets=[key], now=NOW)


def test_moving_from_hmac_to_ed25519_signs_with_both_kinds_in_the_grace_period() -> None:
    headers = _headers([SIGNING_KEY, SECRET])
    assert [item[:3] for item in headers["webhook-signature"].split(" ")] == ["v1a", "v1,"]
    verify_standard(headers=headers, body=BODY, secrets=[SECRET], now=NOW)
    verify_standard(headers=headers, body=BODY, secrets=[PUBLIC_KEY], now=NOW)
    assert Webhook(SECRET).verify(BODY, _fresh_headers([SIGNING_KEY, SECRET])) == json.loads(BODY)
    # the old HMAC secret keeps making the JWT and the hex signature until the grace ends
    verify_jwt(headers["Authorization"], BODY, [SECRET])
    verify_hex(headers["X-Hookcast-Signature"], BODY, [SECRET])


def test_moving_from_ed25519_to_hmac_makes_the_jwt_and_hex_with_the_new_secret() -> None:
    headers = _headers([SECRET, SIGNING_KEY])
    assert [item[:3] for item in headers["webhook-signature"].split(" ")] == ["v1,", "v1a"]
    verify_jwt(headers["Authorization"], BODY, [SECRET])
    verify_hex(headers["X-Hookcast-Signature"], BODY, [SECRET])
    verify_standard(headers=headers, body=BODY, secrets=[PUBLIC_KEY], now=NOW)


@pytest.mark.parametrize(
    ("changes", "body", "keys", "error", "message"),
    [
        ({}, BODY + b" ", [PUBLIC_KEY], InvalidSignature, "no webhook-signature matches"),
        ({}, BODY, [OLD_PUBLIC_KEY], InvalidSignature, "no webhook-signature matches"),
        ({"webhook-id": "evt_2"}, BODY, [PUBLIC_KEY], InvalidSignature, "no webhook-signature"),
        ({"webhook-signature": "v1a,!!"}, BODY, [PUBLIC_KEY], InvalidSignature, "no webhook"),
        ({"webhook-signature": "v1,AAAA"}, BODY, [PUBLIC_KEY], MalformedSignature, '"v1a,'),
        ({}, BODY, [SECRET], MalformedSignature, 'no "v1,<base64>" signature'),
    ],
)
def test_verify_standard_refuses_v1a(
    changes: dict[str, str],
    body: bytes,
    keys: list[str],
    error: type[SignatureError],
    message: str,
) -> None:
    headers = {**_headers([SIGNING_KEY]), **changes}
    with pytest.raises(error, match=message):
        verify_standard(headers=headers, body=body, secrets=keys, now=NOW)


def test_a_v1_signature_labelled_v1a_does_not_verify() -> None:
    v1 = sign_standard(msg_id="evt_1", timestamp=TIMESTAMP, body=BODY, secrets=[SECRET])
    headers = {**_headers([SIGNING_KEY]), "webhook-signature": v1.replace("v1,", "v1a,")}
    with pytest.raises(InvalidSignature):
        verify_standard(headers=headers, body=BODY, secrets=[PUBLIC_KEY], now=NOW)


def test_a_stale_v1a_timestamp_is_refused() -> None:
    with pytest.raises(StaleTimestamp, match="360 seconds old"):
        verify_standard(
            headers=_headers([SIGNING_KEY]),
            body=BODY,
            secrets=[PUBLIC_KEY],
            now=NOW + timedelta(minutes=6),
        )


def test_receivers_verify_with_the_public_key_not_the_signing_key() -> None:
    with pytest.raises(ValueError, match="verify with the whpk_ public key") as caught:
        verify_standard(headers=_headers([SIGNING_KEY]), body=BODY, secrets=[SIGNING_KEY], now=NOW)
    assert SIGNING_KEY.removeprefix("whsk_") not in str(caught.value)


@pytest.mark.parametrize("key", [PUBLIC_KEY, SIGNING_KEY])
def test_an_ed25519_key_does_not_check_a_jwt_or_hex_signature(key: str) -> None:
    with pytest.raises(ValueError, match="only verifies webhook-signature"):
        verify_jwt(sign_jwt(BODY, SECRET), BODY, [key])
    with pytest.raises(ValueError, match="only verifies webhook-signature"):
        verify_hex(sign_hex(BODY, SECRET), BODY, [key])


# --- hex HMAC ---------------------------------------------------------------------------------


@given(secret=st.text(max_size=150), body=st.binary(max_size=300))
def test_every_hmac_signature_is_the_standard_librarys_for_any_key_length(
    secret: str, body: bytes
) -> None:
    # Keys longer than SHA-256's 64-byte block are hashed first (RFC 2104): both sides.
    key = secret.encode()
    assert sign_hex(body, secret) == hmac.new(key, body, hashlib.sha256).hexdigest()
    signed = hmac.new(key, sign_jwt(body, secret).rpartition(".")[0].encode(), "sha256")
    assert sign_jwt(body, secret).rpartition(".")[2] == (
        base64.urlsafe_b64encode(signed.digest()).rstrip(b"=").decode()
    )


def test_sign_hex_is_the_plain_hexdigest() -> None:
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign_hex(BODY, SECRET) == expected
    verify_hex(expected, BODY, [OLD_SECRET, SECRET])
    verify_hex(expected.upper(), BODY, [SECRET])


@pytest.mark.parametrize(
    ("signature", "error", "message"),
    [
        ("", MissingSignature, "empty"),
        ("abc", MalformedSignature, "64 hexadecimal digits"),
        ("g" * 64, MalformedSignature, "64 hexadecimal digits"),
        ("0" * 64, InvalidSignature, "does not match any of the secrets"),
    ],
)
def test_verify_hex_refuses(signature: str, error: type[SignatureError], message: str) -> None:
    with pytest.raises(error, match=message):
        verify_hex(signature, BODY, [SECRET])


@pytest.mark.parametrize("secrets", [[], SECRET])
def test_verifiers_need_a_sequence_of_secrets(secrets: list[str] | str) -> None:
    with pytest.raises(ValueError, match="one or more secrets"):
        verify_hex(sign_hex(BODY, SECRET), BODY, secrets)


# --- delivery headers -------------------------------------------------------------------------


def test_delivery_headers() -> None:
    headers = _headers([SECRET, OLD_SECRET])
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "HookCast/0.1 (+webhooks)"
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(TIMESTAMP)
    token = headers["Authorization"].removeprefix("Bearer ")
    assert jwt.decode(token, SECRET, algorithms=["HS256"]) == json.loads(BODY)
    assert headers["X-Hookcast-Signature"] == sign_hex(BODY, SECRET)
    verify_jwt(headers["Authorization"], BODY, [SECRET])
    verify_hex(headers["X-Hookcast-Signature"], BODY, [SECRET])


def test_delivery_headers_need_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        _headers([])


@pytest.mark.parametrize(
    "secrets",
    [
        [SECRET],
        [SECRET, new_webhook_secret()],
        [ed25519.new_signing_key(), SECRET],
        [ed25519.new_signing_key()],
    ],
    ids=["one", "rotating", "ed25519-then-hmac", "ed25519"],
)
def test_the_delivery_signer_signs_as_delivery_headers(secrets: list[str]) -> None:
    # The JW format signs through the signer directly (one call less per delivery): the
    # same headers, byte for byte, as delivery_headers for every kind of secret list.
    body = b'{"event":"media_available"}'
    signed = delivery_signer(secrets).headers(body, "evt_1", TIMESTAMP)
    assert signed == _headers(secrets, body)


def test_the_delivery_signer_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        delivery_signer([])


def test_a_malformed_secret_is_reported_without_its_value() -> None:
    with pytest.raises(ValueError, match="not a whsec_ secret") as caught:
        sign_standard(msg_id="m", timestamp=1, body=b"{}", secrets=["whsec_not base64!"])
    assert "not base64!" not in str(caught.value)


def test_redact_headers() -> None:
    headers = {**_headers([SECRET]), "authorization": "Bearer x"}
    redacted = redact_headers(headers)
    for name in ("Authorization", "authorization", "webhook-signature", "X-Hookcast-Signature"):
        assert redacted[name] == "[redacted]"
    for name in ("Content-Type", "User-Agent", "webhook-id", "webhook-timestamp"):
        assert redacted[name] == headers[name]
    assert list(redacted) == list(headers)
