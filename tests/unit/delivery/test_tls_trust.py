"""The trust of mutual-TLS contexts: the cheap hashed directory only where it holds every
authority of the system bundle, and the same verification settings as the default context."""

from __future__ import annotations

import ssl
from pathlib import Path

from hookcast.delivery.tls_trust import decide_client_trust


def _system_authorities() -> list[bytes]:
    return ssl.create_default_context().get_ca_certs(binary_form=True)


def _hashed_folder(folder: Path, certificates: list[bytes]) -> str:
    folder.mkdir()
    for n, der in enumerate(certificates):
        (folder / f"{n:08x}.0").write_text(ssl.DER_cert_to_PEM_cert(der), encoding="ascii")
    (folder / "not-hashed.pem").write_text("ignored", encoding="ascii")
    return str(folder)


def test_a_folder_holding_every_system_authority_is_used(tmp_path: Path) -> None:
    folder = _hashed_folder(tmp_path / "certs", _system_authorities())

    trust = decide_client_trust(ca_file=None, capath=folder)

    assert trust.capath == folder


def test_a_folder_missing_one_system_authority_falls_back_to_the_full_load(
    tmp_path: Path,
) -> None:
    folder = _hashed_folder(tmp_path / "certs", _system_authorities()[1:])

    trust = decide_client_trust(ca_file=None, capath=folder)

    assert trust.capath is None
    assert len(trust.new_context().get_ca_certs()) == len(_system_authorities())


def test_a_cheap_context_verifies_servers_as_the_default_context_does(tmp_path: Path) -> None:
    folder = _hashed_folder(tmp_path / "certs", _system_authorities())
    reference = ssl.create_default_context()

    made = decide_client_trust(ca_file=None, capath=folder).new_context()

    assert made.check_hostname
    assert made.verify_mode == ssl.CERT_REQUIRED
    assert made.verify_flags == reference.verify_flags
    assert made.options == reference.options
    assert (made.minimum_version, made.maximum_version) == (
        reference.minimum_version,
        reference.maximum_version,
    )
    assert made.hostname_checks_common_name == reference.hostname_checks_common_name
    assert made.get_ciphers() == reference.get_ciphers()
    assert made.get_ca_certs() == []  # nothing parsed up front: looked up at handshake
