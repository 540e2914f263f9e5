from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hookcast.domain import ed25519

# RFC 8032, section 7.1, TEST 1: the seed, its public key and the signature of no bytes.
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
    "1cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
SIGNING_KEY = "whsk_" + base64.b64encode(SEED).decode()
PUBLIC_KEY = "whpk_" + base64.b64encode(PUBLIC).decode()


def test_the_rfc_8032_vector() -> None:
    assert ed25519.public_key_of(SIGNING_KEY) == PUBLIC_KEY
    assert ed25519.sign(SIGNING_KEY, b"") == SIGNATURE
    assert ed25519.verify(PUBLIC_KEY, SIGNATURE, b"")


def test_the_64_byte_form_signs_as_its_seed() -> None:
    # libsodium and Go write the secret key as seed || public key
    long_form = "whsk_" + base64.b64encode(SEED + PUBLIC).decode()
    assert ed25519.public_key_of(long_form) == PUBLIC_KEY
    assert ed25519.sign(long_form, b"message") == ed25519.sign(SIGNING_KEY, b"message")


def test_a_64_byte_key_whose_halves_disagree_is_refused() -> None:
    other = ed25519.public_key_bytes(ed25519.public_key_of(ed25519.new_signing_key()))
    mismatched = "whsk_" + base64.b64encode(SEED + other).decode()
    with pytest.raises(ValueError, match="public half does not belong"):
        ed25519.sign(mismatched, b"message")


def test_new_signing_keys_are_32_byte_seeds_cryptography_accepts() -> None:
    key = ed25519.new_signing_key()
    seed = base64.b64decode(key.removeprefix("whsk_"), validate=True)
    assert len(seed) == 32
    assert key != ed25519.new_signing_key()
    oracle = Ed25519PrivateKey.from_private_bytes(seed)
    raw_public = oracle.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert ed25519.public_key_of(key) == "whpk_" + base64.b64encode(raw_public).decode()
    oracle.public_key().verify(ed25519.sign(key, b"body"), b"body")


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (SIGNATURE, b"x"),
        (SIGNATURE[:-1] + b"\x00", b""),
        (SIGNATURE[:63], b""),
        (b"", b""),
    ],
)
def test_verify_refuses_other_messages_and_signatures(signature: bytes, message: bytes) -> None:
    assert not ed25519.verify(PUBLIC_KEY, signature, message)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("whsec_" + base64.b64encode(SEED).decode(), "starts with whsk_"),
        ("whsk_not base64!", "not base64 after whsk_"),
        ("whsk_" + base64.b64encode(SEED[:31]).decode(), "not 31 bytes"),
    ],
)
def test_malformed_signing_keys_are_reported_without_their_value(key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        ed25519.public_key_of(key)
    assert key.removeprefix("whsk_") not in str(caught.value)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (SIGNING_KEY, "starts with whpk_"),
        ("whpk_" + base64.b64encode(PUBLIC + b"x").decode(), "32 bytes, not 33"),
    ],
)
def test_malformed_public_keys_are_refused(key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ed25519.public_key_bytes(key)
