"""A throwaway PKI for mutual-TLS tests: a CA, a server certificate for localhost and
127.0.0.1, and client certificates (valid, expired, from another CA), made with
`cryptography` in the test, never stored in the repo."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["ClientPem", "Pki", "make_pki"]

_DAY = datetime.timedelta(days=1)
_Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class ClientPem:
    certificate: str
    private_key: str

    def as_metadata(self) -> dict[str, str]:
        """`metadata.client_certificate` as the API takes it."""
        return {"certificate": self.certificate, "private_key": self.private_key}


@dataclass(frozen=True)
class Pki:
    ca_file: Path  # the CA's certificate: what the delivery client must trust
    server_certfile: Path
    server_keyfile: Path
    ca_pem: str
    _ca: x509.Certificate
    _ca_key: ec.EllipticCurvePrivateKey

    def server_context(self, *, require_client: bool) -> ssl.SSLContext:
        """A server context for localhost; with `require_client`, it refuses a handshake
        without a client certificate issued by this CA."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_certfile, self.server_keyfile)
        if require_client:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cadata=self.ca_pem)
        return context

    def client(
        self, name: str = "hookcast-client", *, expired: bool = False, rsa_bits: int = 0
    ) -> ClientPem:
        """A client certificate signed by this CA (one that expired yesterday if asked), with
        an EC key, or an RSA key of `rsa_bits` (seconds to make at 4,096 bits)."""
        key: _Key = (
            rsa.generate_private_key(65537, rsa_bits)
            if rsa_bits
            else ec.generate_private_key(ec.SECP256R1())
        )
        now = datetime.datetime.now(datetime.UTC)
        window = (now - 3 * _DAY, now - _DAY) if expired else (now - _DAY, now + _DAY)
        usage = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
        certificate = _issue(
            _name(name), key, self._ca, self._ca_key, window=window, extensions=[(usage, False)]
        )
        return ClientPem(_pem(certificate), _key_pem(key))


def make_pki(directory: Path) -> Pki:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    ca = _self_signed(ca_key, now)
    server_key = ec.generate_private_key(ec.SECP256R1())
    names = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    server = _issue(
        _name("localhost"),
        server_key,
        ca,
        ca_key,
        window=(now - _DAY, now + _DAY),
        extensions=[(names, False)],
    )
    ca_file, certfile, keyfile = (directory / n for n in ("ca.pem", "server.pem", "server.key"))
    ca_file.write_text(_pem(ca))
    certfile.write_text(_pem(server))
    keyfile.write_text(_key_pem(server_key))
    return Pki(ca_file, certfile, keyfile, _pem(ca), ca, ca_key)


def _self_signed(key: ec.EllipticCurvePrivateKey, now: datetime.datetime) -> x509.Certificate:
    name = _name("HookCast mTLS test CA")
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _DAY)
        .not_valid_after(now + _DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )


def _issue(
    subject: x509.Name,
    key: _Key,
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    window: tuple[datetime.datetime, datetime.datetime],
    extensions: list[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(window[0])
        .not_valid_after(window[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical)
    return builder.sign(ca_key, hashes.SHA256())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _key_pem(key: _Key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
