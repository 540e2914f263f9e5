"""The signature test vectors of docs/test-vectors/v1.json, computed by HookCast's own code:
each case's headers are what the format's `headers` (the worker's signing step) makes.

Regenerate the file after a deliberate change (existing cases must not change within v1):

    PYTHONPATH=tests .venv/bin/python -m support.signing_vectors docs/test-vectors/v1.json
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from hookcast.domain import ed25519
from hookcast.domain.formats import FORMATS

VERSION: Final = 1
PATH: Final = Path(__file__).parents[2] / "docs" / "test-vectors" / f"v{VERSION}.json"
TOLERANCE_SECONDS: Final = 300
TIMESTAMP: Final = 1724717745  # 2024-08-27T00:15:45Z
MSG_ID: Final = "dlv_Vq3dNwK8sYb2rT7mFhL0Xe"
WEBHOOK_ID: Final = "2yW4KmiG"
STANDARD_HEADERS: Final = ("webhook-id", "webhook-timestamp", "webhook-signature")

# One body per format, in its shape (the signatures cover the bytes, whatever they say).
BODIES: Final = {
    "jwplayer": (
        '{"event":"media_available","event_id":"evt_8fJd2kQm9TzX4aWc7LpN3v",'
        '"media_id":"MNYaMSQl","webhook_id":"2yW4KmiG","site_id":"9KboGBFu",'
        '"event_time":"2024-08-27T00:15:45+00:00","data":{"tags":["sports"],"title":"Café"}}'
    ),
    "standard": (
        '{"type":"media.available","timestamp":"2024-08-27T00:15:45+00:00","data":'
        '{"media_id":"MNYaMSQl","tags":["sports"],"title":"Café","site_id":"9KboGBFu"}}'
    ),
    # api.video's own example (its webhook guide), with the secret below.
    "apivideo": (
        '{"type":"video.encoding.quality.completed","emittedAt":"2021-01-29T15:46:25.217Z",'
        '"videoId":"vi0000000000000000000000","liveStreamId":"li0000000000000000000000",'
        '"encoding":"hls","quality":"720p"}'
    ),
    "flowplayer": (
        '{"event_type":"VIDEO_READY","event_id":"evt_8fJd2kQm9TzX4aWc7LpN3v",'
        '"created_at":"2024-08-27T00:15:45+00:00","payload":{"id":"MNYaMSQl","tags":["sports"]}}'
    ),
    "mediamanager": (
        '{"event":"media.published","event_id":"evt_8fJd2kQm9TzX4aWc7LpN3v",'
        '"event_time":"2024-08-27T00:15:45+00:00","data":{"token":"MNYaMSQl"}}'
    ),
}
# api.video's guide: this secret and its example body give this signature.
APIVIDEO_GUIDE_SECRET: Final = "sig_sec_0000000000000000000000"
APIVIDEO_GUIDE_SIGNATURE: Final = "27a77d3a7fc626854886b5dbfae4e32c8b0170c1ea1b714c91ba77f1e7774e8c"


def _material(label: str) -> bytes:
    # Fixed, public key material: anyone can see how each test key was made.
    return hashlib.sha256(f"hookcast test vectors v{VERSION}: {label}".encode()).digest()


def _whsec(label: str) -> str:
    return "whsec_" + base64.b64encode(_material(label)).decode()


HMAC_SECRET: Final = _whsec("hmac secret")
OTHER_HMAC_SECRET: Final = _whsec("other hmac secret")
APIVIDEO_SECRET: Final = "sig_sec_" + _material("api.video").hex()[:22]
OTHER_APIVIDEO_SECRET: Final = "sig_sec_" + _material("other api.video").hex()[:22]
FLOWPLAYER_SECRET: Final = "fp-organization-" + _material("flowplayer").hex()[:24]
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
        "Lowercase hex HMAC-SHA256 of the body in the case's one header, the key is the "
        "secret string as UTF-8 (whole, prefix included). No timestamp."
    ),
}


@dataclass(frozen=True)
class Wire:
    """One signature scheme as one format sends it: which headers carry it, which key
    signs it (`signer`) and which one a receiver checks it with (`key`)."""

    format: str
    scheme: str
    headers: tuple[str, ...]
    signer: str
    key: str
    other_signer: str

    @property
    def body(self) -> str:
        return BODIES[self.format]

    def signed(self, *signers: str, body: str | None = None) -> dict[str, str]:
        """The scheme's headers as the format's signing code makes them for `signers`."""
        made = FORMATS[self.format].headers(
            (self.body if body is None else body).encode(),
            msg_id=MSG_ID,
            timestamp=TIMESTAMP,
            webhook_id=WEBHOOK_ID,
            secrets=signers or (self.signer,),
        )
        return {name: made[name] for name in self.headers}

    def case(self, what: str, *, error: str | None = None, **fields: Any) -> dict[str, Any]:
        label = f"hex {self.headers[0]}" if self.scheme == "hex" else self.scheme
        return {
            "name": f"{self.format} {label}: {what}",
            "format": self.format,
            "scheme": self.scheme,
            "valid": error is None,
            "error": error,
            "key": fields.pop("key", self.key),
            "now": fields.pop("now", TIMESTAMP),
            "headers": fields.pop("headers", None) or self.signed(),
            "body": fields.pop("body", self.body),
        }


def _hex(format: str, header: str, secret: str, other: str = OTHER_HMAC_SECRET) -> Wire:
    return Wire(format, "hex", (header,), secret, secret, other)


JWT: Final = Wire(
    "jwplayer", "jwt", ("Authorization",), HMAC_SECRET, HMAC_SECRET, OTHER_HMAC_SECRET
)
WIRES: Final = (
    JWT,
    Wire("jwplayer", "v1", STANDARD_HEADERS, HMAC_SECRET, HMAC_SECRET, OTHER_HMAC_SECRET),
    _hex("jwplayer", "X-Hookcast-Signature", HMAC_SECRET),
    Wire("jwplayer", "v1a", STANDARD_HEADERS, SIGNING_KEY, PUBLIC_KEY, OTHER_SIGNING_KEY),
    Wire("standard", "v1", STANDARD_HEADERS, HMAC_SECRET, HMAC_SECRET, OTHER_HMAC_SECRET),
    Wire("standard", "v1a", STANDARD_HEADERS, SIGNING_KEY, PUBLIC_KEY, OTHER_SIGNING_KEY),
    _hex("apivideo", "X-Api-Video-Signature", APIVIDEO_SECRET, OTHER_APIVIDEO_SECRET),
    _hex("flowplayer", "X-FP-Webhook-Signature-Hmac-Sha-256", FLOWPLAYER_SECRET),
    _hex("mediamanager", "Signature", HMAC_SECRET),
)


def _tampered(body: str) -> str:
    # One character changed after signing: "a" becomes "A" in the last "a" of the body.
    at = body.rindex("a")
    return body[:at] + "A" + body[at + 1 :]


def _common(wire: Wire) -> list[dict[str, Any]]:
    """Every scheme's valid case, wrong key and changed body."""
    return [
        wire.case("valid"),
        wire.case(
            "signed with another key",
            headers=wire.signed(wire.other_signer),
            error="invalid_signature",
        ),
        wire.case(
            "body changed after signing", body=_tampered(wire.body), error="invalid_signature"
        ),
    ]


def _timestamped(wire: Wire) -> list[dict[str, Any]]:
    """What only the Standard Webhooks schemes have: a signed id and timestamp, a list."""
    valid = wire.signed()
    other_label = {"v1": "v1a,", "v1a": "v1,"}[wire.scheme]
    relabelled = valid["webhook-signature"].replace(wire.scheme + ",", other_label, 1)
    late, early = TIMESTAMP + TOLERANCE_SECONDS + 1, TIMESTAMP - TOLERANCE_SECONDS - 1
    return [
        wire.case(
            "rotation, the second signature matches",
            headers=wire.signed(wire.other_signer, wire.signer),
        ),
        wire.case(
            "webhook-id changed after signing",
            headers={**valid, "webhook-id": MSG_ID + "x"},
            error="invalid_signature",
        ),
        wire.case(
            f"timestamp {TOLERANCE_SECONDS + 1} seconds old", now=late, error="stale_timestamp"
        ),
        wire.case(
            f"timestamp {TOLERANCE_SECONDS + 1} seconds in the future",
            now=early,
            error="stale_timestamp",
        ),
        wire.case(
            f'the signature labelled "{other_label}"',
            headers={**valid, "webhook-signature": relabelled},
            error="malformed_signature",
        ),
    ]


def _special(wire: Wire) -> list[dict[str, Any]]:
    """Cases of one scheme alone."""
    if wire.scheme == "jwt":
        return [
            wire.case(
                'unsigned token, header "alg": "none"',
                headers={"Authorization": "Bearer " + _unsigned_jwt(wire.body)},
                error="invalid_signature",
            )
        ]
    if wire.scheme == "v1a":
        return [
            wire.case(
                "signed with the 64-byte form of the same key (identical signature)",
                headers=wire.signed(SIGNING_KEY_64),
            ),
            wire.case(
                "moving from HMAC, a v1a and a v1 signature",
                headers=wire.signed(SIGNING_KEY, HMAC_SECRET),
            ),
        ]
    if wire.scheme == "hex":
        (header,) = wire.headers
        digest = bytes.fromhex(wire.signed()[header])
        cases = [
            wire.case(
                "the base64 digest instead of hex",
                headers={header: base64.b64encode(digest).decode()},
                error="malformed_signature",
            )
        ]
        if wire.format == "apivideo":
            cases.append(
                wire.case(
                    "api.video's guide example",
                    key=APIVIDEO_GUIDE_SECRET,
                    headers=wire.signed(APIVIDEO_GUIDE_SECRET),
                )
            )
        return cases
    return []


def _unsigned_jwt(body: str) -> str:
    def segment(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = segment(b'{"alg":"none","typ":"JWT"}')
    return f"{header}.{segment(body.encode())}."


def cases(wires: Sequence[Wire] = WIRES) -> list[dict[str, Any]]:
    """Every case, scheme by scheme."""
    made: list[dict[str, Any]] = []
    for wire in wires:
        made += _common(wire)
        if wire.scheme in ("v1", "v1a"):
            made += _timestamped(wire)
        made += _special(wire)
    return made


def build() -> dict[str, Any]:
    """The whole document, as the file holds it."""
    return {
        "version": VERSION,
        "description": (
            "HookCast signature test vectors: verify each case's body (the exact UTF-8 bytes "
            "of the string) and headers with its key at Unix time `now`, a "
            f"{TOLERANCE_SECONDS}-second timestamp tolerance; `valid` says whether a "
            "verifier must accept it, `error` is HookCast's reason when not; `format` is the "
            "delivery format that sends these headers. The keys are published test keys: "
            "never use them for real webhooks."
        ),
        "tolerance_seconds": TOLERANCE_SECONDS,
        "schemes": SCHEMES,
        "keys": {
            "hmac_secret": HMAC_SECRET,
            "other_hmac_secret": OTHER_HMAC_SECRET,
            "apivideo_secret": APIVIDEO_SECRET,
            "flowplayer_organization_secret": FLOWPLAYER_SECRET,
            "ed25519_signing_key": SIGNING_KEY,
            "ed25519_signing_key_64_bytes": SIGNING_KEY_64,
            "ed25519_public_key": PUBLIC_KEY,
            "other_ed25519_signing_key": OTHER_SIGNING_KEY,
            "other_ed25519_public_key": OTHER_PUBLIC_KEY,
        },
        "cases": cases(),
    }


def render() -> str:
    """The file's text: two-space indents, non-ASCII kept, a final newline."""
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    Path(sys.argv[1] if len(sys.argv) > 1 else PATH).write_text(render(), encoding="utf-8")
