"""The signature test vectors of docs/test-vectors/v1.json, computed by HookCast's signing code.

Regenerate the file after a deliberate change (existing cases must not change within v1):

    PYTHONPATH=tests .venv/bin/python -m support.signing_vectors docs/test-vectors/v1.json
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Any, Final

from hookcast.domain import ed25519
from hookcast.domain.signing import sign_hex, sign_jwt, sign_standard

VERSION: Final = 1
PATH: Final = Path(__file__).parents[2] / "docs" / "test-vectors" / f"v{VERSION}.json"
TOLERANCE_SECONDS: Final = 300
TIMESTAMP: Final = 1724717745  # 2024-08-27T00:15:45Z
MSG_ID: Final = "dlv_Vq3dNwK8sYb2rT7mFhL0Xe"
BODY: Final = (
    '{"event":"media_available","event_id":"evt_8fJd2kQm9TzX4aWc7LpN3v","media_id":"MNYaMSQl",'
    '"webhook_id":"2yW4KmiG","site_id":"9KboGBFu","event_time":"2024-08-27T00:15:45+00:00",'
    '"data":{"tags":["sports"],"title":"Café"}}'
)
TAMPERED_BODY: Final = BODY.replace('"sports"', '"news"')


def _material(label: str) -> bytes:
    # Fixed, public key material: anyone can see how each test key was made.
    return hashlib.sha256(f"hookcast test vectors v{VERSION}: {label}".encode()).digest()


HMAC_SECRET: Final = "whsec_" + base64.b64encode(_material("hmac secret")).decode()
OTHER_HMAC_SECRET: Final = "whsec_" + base64.b64encode(_material("other hmac secret")).decode()
SIGNING_KEY: Final = "whsk_" + base64.b64encode(_material("ed25519 seed")).decode()
OTHER_SIGNING_KEY: Final = "whsk_" + base64.b64encode(_material("other ed25519 seed")).decode()
PUBLIC_KEY: Final = ed25519.public_key_of(SIGNING_KEY)
OTHER_PUBLIC_KEY: Final = ed25519.public_key_of(OTHER_SIGNING_KEY)
# The same key as libsodium and Go write it: the seed followed by the public key.
SIGNING_KEY_64: Final = (
    "whsk_"
    + base64.b64encode(_material("ed25519 seed") + ed25519.public_key_bytes(PUBLIC_KEY)).decode()
)

SCHEMES: Final = {
    "jwt": (
        "Authorization: Bearer <JWT>: HS256, the claims are exactly the JSON body, the key is "
        "the whole whsec_ secret string as UTF-8. No timestamp."
    ),
    "v1": (
        "Standard Webhooks HMAC: webhook-signature is a space-separated list of "
        "'v1,<base64 HMAC-SHA256>' of '<webhook-id>.<webhook-timestamp>.<body>', the key is "
        "the base64-decoded part of the secret after whsec_."
    ),
    "v1a": (
        "Standard Webhooks Ed25519: webhook-signature items 'v1a,<base64 Ed25519 signature>' "
        "of '<webhook-id>.<webhook-timestamp>.<body>', verified with the 32 bytes "
        "base64-encoded after whpk_."
    ),
    "hex": (
        "Lowercase hex HMAC-SHA256 of the body in the named header, the key is the secret "
        "string as UTF-8. No timestamp."
    ),
}


def _case(
    name: str,
    scheme: str,
    *,
    key: str,
    headers: dict[str, str],
    error: str | None = None,
    body: str = BODY,
    now: int = TIMESTAMP,
) -> dict[str, Any]:
    return {
        "name": name,
        "scheme": scheme,
        "valid": error is None,
        "error": error,
        "key": key,
        "now": now,
        "headers": headers,
        "body": body,
    }


def _standard(secrets: list[str]) -> dict[str, str]:
    signature = sign_standard(
        msg_id=MSG_ID, timestamp=TIMESTAMP, body=BODY.encode(), secrets=secrets
    )
    return {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(TIMESTAMP),
        "webhook-signature": signature,
    }


def _relabel(headers: dict[str, str], old: str, new: str) -> dict[str, str]:
    return {**headers, "webhook-signature": headers["webhook-signature"].replace(old, new, 1)}


def _unsigned_jwt() -> str:
    def segment(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = segment(b'{"alg":"none","typ":"JWT"}')
    return f"{header}.{segment(BODY.encode())}."


def jwt_cases() -> list[dict[str, Any]]:
    def bearer(secret: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + sign_jwt(BODY.encode(), secret)}

    return [
        _case("jwt: valid", "jwt", key=HMAC_SECRET, headers=bearer(HMAC_SECRET)),
        _case(
            "jwt: signed with another secret",
            "jwt",
            key=HMAC_SECRET,
            headers=bearer(OTHER_HMAC_SECRET),
            error="invalid_signature",
        ),
        _case(
            "jwt: body changed after signing",
            "jwt",
            key=HMAC_SECRET,
            headers=bearer(HMAC_SECRET),
            body=TAMPERED_BODY,
            error="invalid_signature",
        ),
        _case(
            'jwt: unsigned token, header "alg": "none"',
            "jwt",
            key=HMAC_SECRET,
            headers={"Authorization": "Bearer " + _unsigned_jwt()},
            error="invalid_signature",
        ),
    ]


def v1_cases() -> list[dict[str, Any]]:
    valid = _standard([HMAC_SECRET])
    return [
        _case("v1: valid", "v1", key=HMAC_SECRET, headers=valid),
        _case(
            "v1: rotation, the second signature matches",
            "v1",
            key=HMAC_SECRET,
            headers=_standard([OTHER_HMAC_SECRET, HMAC_SECRET]),
        ),
        _case(
            "v1: signed with another secret",
            "v1",
            key=HMAC_SECRET,
            headers=_standard([OTHER_HMAC_SECRET]),
            error="invalid_signature",
        ),
        *_standard_negatives("v1", key=HMAC_SECRET, valid=valid),
        _case(
            'v1: the signature labelled "v1a,"',
            "v1",
            key=HMAC_SECRET,
            headers=_relabel(valid, "v1,", "v1a,"),
            error="malformed_signature",
        ),
    ]


def v1a_cases() -> list[dict[str, Any]]:
    valid = _standard([SIGNING_KEY])
    return [
        _case("v1a: valid", "v1a", key=PUBLIC_KEY, headers=valid),
        _case(
            "v1a: signed with the 64-byte form of the same key (identical signature)",
            "v1a",
            key=PUBLIC_KEY,
            headers=_standard([SIGNING_KEY_64]),
        ),
        _case(
            "v1a: rotation, the second signature matches",
            "v1a",
            key=PUBLIC_KEY,
            headers=_standard([OTHER_SIGNING_KEY, SIGNING_KEY]),
        ),
        _case(
            "v1a: moving from HMAC, a v1 and a v1a signature",
            "v1a",
            key=PUBLIC_KEY,
            headers=_standard([SIGNING_KEY, HMAC_SECRET]),
        ),
        _case(
            "v1a: verified with another public key",
            "v1a",
            key=OTHER_PUBLIC_KEY,
            headers=valid,
            error="invalid_signature",
        ),
        *_standard_negatives("v1a", key=PUBLIC_KEY, valid=valid),
        _case(
            'v1a: the signature labelled "v1,"',
            "v1a",
            key=PUBLIC_KEY,
            headers=_relabel(valid, "v1a,", "v1,"),
            error="malformed_signature",
        ),
    ]


def _standard_negatives(scheme: str, *, key: str, valid: dict[str, str]) -> list[dict[str, Any]]:
    return [
        _case(
            f"{scheme}: body changed after signing",
            scheme,
            key=key,
            headers=valid,
            body=TAMPERED_BODY,
            error="invalid_signature",
        ),
        _case(
            f"{scheme}: webhook-id changed after signing",
            scheme,
            key=key,
            headers={**valid, "webhook-id": MSG_ID + "x"},
            error="invalid_signature",
        ),
        _case(
            f"{scheme}: timestamp {TOLERANCE_SECONDS + 1} seconds old",
            scheme,
            key=key,
            headers=valid,
            now=TIMESTAMP + TOLERANCE_SECONDS + 1,
            error="stale_timestamp",
        ),
        _case(
            f"{scheme}: timestamp {TOLERANCE_SECONDS + 1} seconds in the future",
            scheme,
            key=key,
            headers=valid,
            now=TIMESTAMP - TOLERANCE_SECONDS - 1,
            error="stale_timestamp",
        ),
    ]


def hex_cases(header: str = "X-Hookcast-Signature", secret: str = HMAC_SECRET) -> list[Any]:
    other = OTHER_HMAC_SECRET if secret == HMAC_SECRET else HMAC_SECRET
    signature = sign_hex(BODY.encode(), secret)
    return [
        _case(f"hex {header}: valid", "hex", key=secret, headers={header: signature}),
        _case(
            f"hex {header}: signed with another secret",
            "hex",
            key=secret,
            headers={header: sign_hex(BODY.encode(), other)},
            error="invalid_signature",
        ),
        _case(
            f"hex {header}: body changed after signing",
            "hex",
            key=secret,
            headers={header: signature},
            body=TAMPERED_BODY,
            error="invalid_signature",
        ),
        _case(
            f"hex {header}: the base64 digest instead of hex",
            "hex",
            key=secret,
            headers={header: base64.b64encode(bytes.fromhex(signature)).decode()},
            error="malformed_signature",
        ),
    ]


def build() -> dict[str, Any]:
    """The whole document, as the file holds it."""
    return {
        "version": VERSION,
        "description": (
            "HookCast signature test vectors: verify each case's body (the exact UTF-8 bytes "
            "of the string) and headers with its key at Unix time `now`, a "
            f"{TOLERANCE_SECONDS}-second timestamp tolerance; `valid` says whether a "
            "verifier must accept it, `error` is HookCast's reason when not. The keys are "
            "published test keys: never use them for real webhooks."
        ),
        "tolerance_seconds": TOLERANCE_SECONDS,
        "schemes": SCHEMES,
        "keys": {
            "hmac_secret": HMAC_SECRET,
            "other_hmac_secret": OTHER_HMAC_SECRET,
            "ed25519_signing_key": SIGNING_KEY,
            "ed25519_signing_key_64_bytes": SIGNING_KEY_64,
            "ed25519_public_key": PUBLIC_KEY,
            "other_ed25519_signing_key": OTHER_SIGNING_KEY,
            "other_ed25519_public_key": OTHER_PUBLIC_KEY,
        },
        "cases": [*jwt_cases(), *v1_cases(), *v1a_cases(), *hex_cases()],
    }


def render() -> str:
    """The file's text: two-space indents, non-ASCII kept, a final newline."""
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    Path(sys.argv[1] if len(sys.argv) > 1 else PATH).write_text(render(), encoding="utf-8")
