from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hookcast.domain.addresses import (
    ParsedUrl,
    check_webhook_url,
    forbidden_reason,
    parse_ip_literal,
    parse_networks,
)
from hookcast.domain.errors import ValidationFailed

# --- URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/hooks", ParsedUrl("https", "example.com", 443)),
        ("http://example.com", ParsedUrl("http", "example.com", 80)),
        ("HTTPS://Example.COM:8443/a?b=c#d", ParsedUrl("https", "example.com", 8443)),
        ("http://127.0.0.1:8000/", ParsedUrl("http", "127.0.0.1", 8000)),
        ("http://[::1]/", ParsedUrl("http", "::1", 80)),
        ("http://[fe80::1%25eth0]:81/", ParsedUrl("http", "fe80::1%25eth0", 81)),
        ("https://bücher.example/", ParsedUrl("https", "bücher.example", 443)),
    ],
)
def test_check_webhook_url_accepts(url: str, expected: ParsedUrl) -> None:
    assert check_webhook_url(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "must start with http:// or https://"),
        ("javascript:alert(1)", "must start with http:// or https://"),
        ("example.com/hooks", "(got 'example.com/hooks'; did you mean https://example.com/hooks?)"),
        ("ftp://example.com/", "must start with http:// or https:// (got 'ftp://example.com/')"),
        ("", "must start with http:// or https://"),
        ("http://", "needs a host name"),
        ("http:///path", "needs a host name"),
        ("http://:80/", "needs a host name"),
        ("https://user:pass@example.com/", "must not contain a user name or password"),
        ("https://token@example.com/", "credentials in URLs end up in logs"),
        ("https://example.com\\@127.0.0.1/", "backslashes"),
        ("https://exa mple.com/", "spaces or control characters"),
        ("https://example.com/\n", "spaces or control characters"),
        ("https://example.com/\x00", "spaces or control characters"),
        ("https://example.com\u200b/", "spaces or control characters"),
        ("https://example.com/" + "a" * 2048, "longer than 2048 characters"),
        ("https://example.com:99999/", "invalid port"),
        ("https://example.com:0/", "invalid port"),
        ("https://example.com:http/", "invalid port"),
        ("http://[not-ipv6]/", "not a valid URL"),
    ],
)
def test_check_webhook_url_refuses(url: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_webhook_url(url)
    assert message in caught.value.description
    assert caught.value.field == "webhook_url"


def test_the_length_limit_is_inclusive() -> None:
    url = "https://example.com/"
    check_webhook_url(url + "a" * (2048 - len(url)))


# --- IP literals in every notation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0177.0000.0000.0001", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("0X7F.0x0.0x0.0x1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("10.1.1", "10.1.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.0x1.1", "127.1.0.1"),
        ("169.254.43518", "169.254.169.254"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("127.0.0.1.", "127.0.0.1"),
        ("4294967295", "255.255.255.255"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[0:0:0:0:0:ffff:7f00:1]", "::ffff:7f00:1"),
        ("fe80::1%eth0", "fe80::1"),
        ("[fe80::1%25eth0]", "fe80::1"),
        ("example.com", None),
        ("localhost", None),
        ("127.0.0.1.example.com", None),
        ("1.2.3.4.5", None),
        ("4294967296", None),
        ("256.0.0.1", None),
        ("1.256.1", None),
        ("1.2.65536", None),
        ("1.16777216", None),
        ("08.0.0.1", None),
        ("0xg.0.0.1", None),
        ("1..1", None),
        ("", None),
        ("+1.2.3.4", None),
        ("1_0.0.0.1", None),
        ("\u0661.1.1.1", None),  # Arabic-Indic digit one
        ("[not-an-address]", None),
        ("::g", None),
    ],
)
def test_parse_ip_literal(host: str, expected: str | None) -> None:
    parsed = parse_ip_literal(host)
    assert parsed == (None if expected is None else ip_address(expected))


# --- forbidden addresses ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address"),
        ("127.255.1.2", "a loopback address"),
        ("::1", "::1 is a loopback address"),
        ("10.1.2.3", "a private address (RFC 1918)"),
        ("172.16.0.1", "a private address (RFC 1918)"),
        ("172.31.255.255", "a private address (RFC 1918)"),
        ("192.168.1.1", "a private address (RFC 1918)"),
        ("fd12:3456::1", "a private address (unique local)"),
        ("fc00::1", "a private address (unique local)"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("239.255.255.250", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "0.0.0.0 is the unspecified address"),
        ("0.1.2.3", "this network"),
        ("::", ":: is the unspecified address"),
        ("255.255.255.255", "the broadcast address"),
        ("240.0.0.1", "a reserved address"),
        ("192.0.2.1", "a reserved address (documentation)"),
        ("2001:db8::1", "a reserved address (documentation)"),
        ("198.18.0.1", "a reserved address (benchmarking)"),
        ("100.64.0.1", "a shared address (carrier-grade NAT"),
        ("100.127.255.255", "carrier-grade NAT"),
        ("169.254.169.254", "169.254.169.254 is a cloud metadata address"),
        ("169.254.170.2", "a cloud metadata address"),
        ("100.100.100.200", "a cloud metadata address"),
        ("fd00:ec2::254", "a cloud metadata address"),
        ("168.63.129.16", "a cloud metadata address"),
        ("192.0.0.192", "a cloud metadata address"),
        # IPv6 forms embedding an IPv4 address are judged by the IPv4 address
        ("::ffff:127.0.0.1", "::ffff:7f00:1 embeds 127.0.0.1, which is a loopback address"),
        ("::ffff:169.254.169.254", "embeds 169.254.169.254, which is a cloud metadata address"),
        ("::127.0.0.1", "embeds 127.0.0.1, which is a loopback address"),
        # SIIT's IPv4-translated form (::ffff:0:0:0/96)
        ("::ffff:0:7f00:1", "::ffff:0:7f00:1 embeds 127.0.0.1, which is a loopback address"),
        ("::ffff:0:127.0.0.1", "embeds 127.0.0.1, which is a loopback address"),
        ("::ffff:0:a9fe:a9fe", "embeds 169.254.169.254, which is a cloud metadata address"),
        ("::ffff:0:a00:1", "embeds 10.0.0.1, which is a private address"),
        ("::10.0.0.1", "embeds 10.0.0.1, which is a private address"),
        ("2002:7f00:1::", "embeds 127.0.0.1"),
        ("2002:a9fe:a9fe::1", "embeds 169.254.169.254"),
        ("64:ff9b::7f00:1", "embeds 127.0.0.1"),
        ("64:ff9b::a00:1", "embeds 10.0.0.1"),
        ("64:ff9b:1::1", "local-use NAT64"),
        # Teredo client 127.0.0.1, obfuscated (XOR 0xffffffff) in the last 32 bits
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "embeds 127.0.0.1"),
        ("2001:2::1", "a reserved address"),
        ("100::1", "discard-only"),
    ],
)
def test_forbidden_reason(address: str, reason: str) -> None:
    found = forbidden_reason(ip_address(address), ())
    assert found is not None
    assert reason in found


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "172.32.0.1",
        "100.128.0.1",
        "169.253.255.255",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "::ffff:0:808:808",
        "2002:808:808::1",
        "64:ff9b::808:808",
    ],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert forbidden_reason(ip_address(address), ()) is None


@pytest.mark.parametrize(
    ("address", "allowed", "expected_allowed"),
    [
        ("127.0.0.1", "127.0.0.0/8", True),
        ("::ffff:127.0.0.1", "127.0.0.0/8", True),
        ("10.0.0.5", "10.0.0.0/24", True),
        ("10.0.1.5", "10.0.0.0/24", False),
        ("::1", "127.0.0.0/8", False),
        ("::1", "::1/128", True),
        ("169.254.169.254", "127.0.0.0/8,fd00::/8", False),
        ("fd00:ec2::254", "fd00::/8", True),
    ],
)
def test_allowed_networks_exempt_addresses(
    address: str, allowed: str, expected_allowed: bool
) -> None:
    reason = forbidden_reason(ip_address(address), parse_networks(allowed))
    assert (reason is None) is expected_allowed


def _notations(address: IPv4Address) -> st.SearchStrategy[str]:
    """Ways a resolver, libc or browser would accept to write `address`."""
    value = int(address)
    octets = [int(octet) for octet in str(address).split(".")]
    a, b, c, d = octets
    return st.sampled_from(
        [
            str(address),
            str(value),
            hex(value),
            "0" + oct(value)[2:],
            ".".join(f"0{octet:o}" for octet in octets),
            ".".join(hex(octet) for octet in octets),
            f"{a}.{(b << 16) | (c << 8) | d}",
            f"{hex(a)}.{(b << 16) | (c << 8) | d}",
            f"{a}.{b}.{(c << 8) | d}",
            f"{a}.{b}.{c}.{d}.",
            f"[::ffff:{address}]",
            f"::ffff:{address}",
            f"[::ffff:{(value >> 16):x}:{(value & 0xFFFF):x}]",
            f"[::ffff:0:{address}]",
            f"[::ffff:0:{(value >> 16):x}:{(value & 0xFFFF):x}]",
        ]
    )


_loopback = st.integers(0, 2**24 - 1).map(lambda n: IPv4Address((127 << 24) | n))


@given(data=st.data(), address=_loopback)
def test_every_loopback_notation_is_refused_unless_allowed(
    data: st.DataObject, address: IPv4Address
) -> None:
    host = data.draw(_notations(address))
    literal = parse_ip_literal(host)
    assert literal is not None
    reason = forbidden_reason(literal, ())
    assert reason is not None
    assert "loopback" in reason
    assert forbidden_reason(literal, (IPv4Network("127.0.0.0/8"),)) is None


@given(st.integers(0, 2**32 - 1))
def test_decimal_integers_mean_the_same_address_as_dotted(value: int) -> None:
    assert parse_ip_literal(str(value)) == IPv4Address(value)
    assert parse_ip_literal(str(IPv4Address(value))) == IPv4Address(value)


# --- the allow-list setting -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ()),
        ("  ", ()),
        ("127.0.0.0/8", (ip_network("127.0.0.0/8"),)),
        ("127.0.0.0/8, fd00::/8,", (ip_network("127.0.0.0/8"), ip_network("fd00::/8"))),
        ("10.0.0.1/24", (IPv4Network("10.0.0.0/24"),)),
        ("::1", (IPv6Network("::1/128"),)),
    ],
)
def test_parse_networks(value: str, expected: tuple[object, ...]) -> None:
    assert parse_networks(value) == expected


@pytest.mark.parametrize("value", ["localhost", "127.0.0.0/33", "10.0.0.0/8;192.168.0.0/16"])
def test_parse_networks_refuses(value: str) -> None:
    with pytest.raises(ValidationFailed, match="not a network in CIDR notation"):
        parse_networks(value)


def test_teredo_with_a_public_client_is_judged_by_the_client() -> None:
    # 2001:0:4136:e378:8000:63bf:3fff:fdd2 is the RFC 4380 example: client 192.0.2.45
    reason = forbidden_reason(IPv6Address("2001:0:4136:e378:8000:63bf:3fff:fdd2"), ())
    assert reason is not None
    assert "embeds 192.0.2.45" in reason
