"""docs/test-vectors/v1.json: what HookCast's signing code computes, and what its verifiers
and independent ones (PyJWT, hmac, cryptography) decide for each case."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hookcast.domain.formats import FORMATS, Format
from hookcast.domain.signing import SignatureError, verify_hex, verify_jwt, verify_standard
from support import signing_vectors

VECTORS: dict[str, Any] = json.loads(signing_vectors.PATH.read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = VECTORS["cases"]


def test_the_file_is_what_the_signing_code_computes() -> None:
    # A failure here after a deliberate change: regenerate (see tests/support/signing_vectors.py)
    assert signing_vectors.PATH.read_text(encoding="utf-8") == signing_vectors.render()


def _verify(case: dict[str, Any]) -> None:
    body = case["body"].encode()
    keys = [case["key"]]
    if case["scheme"] == "jwt":
        verify_jwt(case["headers"]["Authorization"], body, keys)
    elif case["scheme"] == "hex":
        (signature,) = case["headers"].values()
        verify_hex(signature, body, keys)
    else:
        verify_standard(
            headers=case["headers"],
            body=body,
            secrets=keys,
            now=datetime.fromtimestamp(case["now"], UTC),
            tolerance=timedelta(seconds=VECTORS["tolerance_seconds"]),
        )


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_hookcasts_verifier_agrees_with_each_case(case: dict[str, Any]) -> None:
    if case["valid"]:
        _verify(case)
    else:
        with pytest.raises(SignatureError) as caught:
            _verify(case)
        assert caught.value.code == case["error"]


def _independently_valid(case: dict[str, Any]) -> bool:
    body, headers, key = case["body"].encode(), case["headers"], case["key"]
    if case["scheme"] == "jwt":
        token = headers["Authorization"].removeprefix("Bearer ")
        try:
            return bool(jwt.decode(token, key, algorithms=["HS256"]) == json.loads(body))
        except jwt.InvalidTokenError:
            return False
    if case["scheme"] == "hex":
        (signature,) = headers.values()
        return hmac.compare_digest(signature, hmac.new(key.encode(), body, "sha256").hexdigest())
    if abs(case["now"] - int(headers["webhook-timestamp"])) > VECTORS["tolerance_seconds"]:
        return False
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    items = [item.split(",", 1) for item in headers["webhook-signature"].split()]
    return any(_standard_item_valid(version, value, key, content) for version, value in items)


def _standard_item_valid(version: str, value: str, key: str, content: bytes) -> bool:
    if version == "v1" and key.startswith("whsec_"):
        secret = base64.b64decode(key.removeprefix("whsec_"))
        expected = base64.b64encode(hmac.new(secret, content, hashlib.sha256).digest())
        return hmac.compare_digest(value.encode(), expected)
    if version == "v1a" and key.startswith("whpk_"):
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key.removeprefix("whpk_")))
        try:
            public.verify(base64.b64decode(value), content)
        except InvalidSignature:
            return False
        return True
    return False


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_an_independent_verifier_agrees_with_each_case(case: dict[str, Any]) -> None:
    assert _independently_valid(case) is case["valid"]


def _schemes_sent(format: Format, signing: str) -> set[str]:
    """The signature schemes in the headers `format` sends with a `signing` secret."""
    headers = format.headers(
        b"{}", msg_id="dlv_1", timestamp=1, webhook_id="w", secrets=[format.new_secret(signing)]
    )
    schemes = {"jwt"} if "Authorization" in headers else set()
    schemes |= {item.split(",")[0] for item in headers.get("webhook-signature", "").split()}
    hexes = [value for value in headers.values() if re.fullmatch("[0-9a-f]{64}", value)]
    return schemes | ({"hex"} if hexes else set())


SENT = sorted(
    (name, scheme)
    for name, format in FORMATS.items()
    for signing in format.signings
    for scheme in _schemes_sent(format, signing)
)


def test_every_scheme_every_format_sends_has_vectors_and_no_other() -> None:
    assert {(case["format"], case["scheme"]) for case in CASES} == set(SENT)


@pytest.mark.parametrize(("format", "scheme"), SENT)
def test_each_has_a_valid_case_a_wrong_key_and_a_changed_body(format: str, scheme: str) -> None:
    names = [case["name"] for case in CASES if (case["format"], case["scheme"]) == (format, scheme)]
    assert any(name.endswith(": valid") for name in names)
    assert any(name.endswith(": signed with another key") for name in names)
    assert any(name.endswith(": body changed after signing") for name in names)


@pytest.mark.parametrize("scheme", ["v1", "v1a"])
def test_the_timestamped_schemes_have_stale_cases(scheme: str) -> None:
    errors = [case["error"] for case in CASES if case["scheme"] == scheme]
    assert errors.count("stale_timestamp") == 4  # old and ahead, jwplayer and standard


def test_the_api_video_guide_example_is_its_published_signature() -> None:
    (case,) = [case for case in CASES if case["name"].endswith("api.video's guide example")]
    assert case["key"] == "sig_sec_0000000000000000000000"
    assert case["headers"] == {
        "X-Api-Video-Signature": (
            "27a77d3a7fc626854886b5dbfae4e32c8b0170c1ea1b714c91ba77f1e7774e8c"
        )
    }
