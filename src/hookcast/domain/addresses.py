"""The pure half of the SSRF guard: which webhook URLs and IP addresses HookCast refuses.

Customers choose the URLs HookCast POSTs to, so without a guard a webhook could reach the
cloud metadata service, the database, or anything else on the worker's network. The sender
resolves host names and checks every address with `forbidden_reason` right before it
connects (checking only at creation would lose to DNS rebinding); here are the rules.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Final
from urllib.parse import SplitResult, urlsplit

from hookcast.domain.errors import ValidationFailed

__all__ = [
    "MAX_URL_LENGTH",
    "ParsedUrl",
    "check_webhook_url",
    "forbidden_reason",
    "parse_ip_literal",
    "parse_networks",
]

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

MAX_URL_LENGTH: Final = 2048
_FIELD = "webhook_url"
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_HEX: Final = re.compile(r"^0[xX][0-9a-fA-F]{0,64}$")
_OCTAL: Final = re.compile(r"^0[0-7]{1,64}$")
_DECIMAL: Final = re.compile(r"^[1-9][0-9]{0,64}$|^0$")


@dataclass(frozen=True, slots=True)
class ParsedUrl:
    scheme: str  # "http" or "https"
    host: str  # lower case; an IPv6 literal without its brackets
    port: int  # explicit, or the scheme's default


# --- URLs -------------------------------------------------------------------------------------


def check_webhook_url(url: str) -> ParsedUrl:
    """Validate a webhook URL's shape; `ValidationFailed(field="webhook_url")` if it is bad.

    Only where the URL points is checked later, against the addresses its host resolves to.
    """
    _check_characters(url)
    parts = _split(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise _invalid(f"webhook_url must start with http:// or https://{_guess_scheme(url)}")
    if "@" in parts.netloc:
        raise _invalid(
            "webhook_url must not contain a user name or password: credentials in URLs end up "
            "in logs and proxies; verify deliveries with their signature headers instead"
        )
    host = parts.hostname
    if not host:
        raise _invalid("webhook_url needs a host name, e.g. https://example.com/webhooks")
    return ParsedUrl(scheme, host, _port(parts, scheme))


def _guess_scheme(url: str) -> str:
    """What a URL without http(s):// most likely meant, to follow the error: `example.com/hook`
    (typed as on a browser's address bar) is "did you mean https://example.com/hook?"; one with
    another scheme is only quoted back. Short URLs only: the error stays one line."""
    if len(url) > _QUOTED_URL_LENGTH:
        return ""
    if "://" in url or not url or url.startswith("/"):
        return f" (got {url!r})"
    return f" (got {url!r}; did you mean https://{url}?)"


_QUOTED_URL_LENGTH = 100


def _invalid(description: str) -> ValidationFailed:
    return ValidationFailed(description, field=_FIELD)


def _check_characters(url: str) -> None:
    if len(url) > MAX_URL_LENGTH:
        raise _invalid(f"webhook_url is longer than {MAX_URL_LENGTH} characters")
    if any(char.isspace() or not char.isprintable() for char in url):
        raise _invalid("webhook_url must not contain spaces or control characters")
    if "\\" in url:
        # Browsers read "\" as "/" and Python does not: parsers disagreeing on the host is
        # how SSRF filters are bypassed, so refuse the ambiguity.
        raise _invalid("webhook_url must not contain backslashes")


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError as error:  # e.g. an invalid bracketed IPv6 host
        raise _invalid(f"webhook_url is not a valid URL ({error})") from None


def _port(parts: SplitResult, scheme: str) -> int:
    try:
        port = parts.port
    except ValueError:
        raise _invalid("webhook_url has an invalid port (expected a number 1-65535)") from None
    if port == 0:
        raise _invalid("webhook_url has an invalid port (expected a number 1-65535)")
    return _DEFAULT_PORTS[scheme] if port is None else port


# --- IP literals ------------------------------------------------------------------------------


def parse_ip_literal(host: str) -> IPAddress | None:
    """The address `host` denotes if it is an IP literal in any notation a resolver or libc
    accepts (dotted, integer, octal, hex, short forms like "127.1", bracketed IPv6, IPv6
    with a zone id); None for a DNS name.

    Attackers write 127.0.0.1 as "2130706433" or "0x7f.1" precisely because naive filters
    only recognise dotted decimal, so every inet_aton form is recognised here.
    """
    if host.startswith("[") and host.endswith("]"):
        return _parse_ipv6(host[1:-1])
    if ":" in host:
        return _parse_ipv6(host)
    return _parse_ipv4(host)


def _parse_ipv6(text: str) -> IPv6Address | None:
    # The zone (fe80::1%eth0, or %25eth0 as written in URLs) picks an interface; it does not
    # change what kind of address it is.
    address, _, _zone = text.partition("%")
    try:
        return IPv6Address(address)
    except ValueError:
        return None


def _parse_ipv4(host: str) -> IPv4Address | None:
    # One trailing dot is still an address for browsers (WHATWG) and some resolvers.
    parts = host.removesuffix(".").split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers = [_inet_aton_number(part) for part in parts]
    if None in numbers:
        return None
    return _combine_ipv4([number for number in numbers if number is not None])


def _inet_aton_number(part: str) -> int | None:
    """One inet_aton component: 0x-prefixed hex, 0-prefixed octal, or decimal."""
    # Regexes, not bare int(): int() also takes "+1", " 1", "1_0" and non-ASCII digits.
    if _HEX.match(part):
        return int(part[2:] or "0", 16)
    if _OCTAL.match(part):
        return int(part, 8)
    if _DECIMAL.match(part):
        return int(part, 10)
    return None


def _combine_ipv4(numbers: list[int]) -> IPv4Address | None:
    # "a.b.c.d"; "a.b.c" puts c in the last 16 bits; "a.b" b in the last 24; "a" is 32 bits.
    *leading, last = numbers
    if any(number > 0xFF for number in leading) or last >= 1 << (8 * (5 - len(numbers))):
        return None
    value = last
    for index, number in enumerate(leading):
        value |= number << (8 * (3 - index))
    return IPv4Address(value)


# --- forbidden addresses ----------------------------------------------------------------------


def _networks(*entries: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(network), what) for network, what in entries)


_METADATA = "a cloud metadata address"
_PRIVATE = "a private address"
_RESERVED = "a reserved address"

# First match wins, so the specific entries (metadata, broadcast) come before the ranges
# that contain them.
_FORBIDDEN: Final = _networks(
    ("169.254.169.254/32", _METADATA),  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
    ("169.254.170.2/32", _METADATA),  # AWS ECS task metadata
    ("169.254.169.253/32", _METADATA),  # AWS DNS resolver
    ("100.100.100.200/32", _METADATA),  # Alibaba Cloud
    ("192.0.0.192/32", _METADATA),  # Oracle Cloud
    ("168.63.129.16/32", _METADATA),  # Azure WireServer
    ("fd00:ec2::254/128", _METADATA),  # AWS IPv6 metadata
    ("fd00:ec2::253/128", _METADATA),  # AWS IPv6 DNS resolver
    ("255.255.255.255/32", "the broadcast address"),
    ("0.0.0.0/32", "the unspecified address"),
    ("0.0.0.0/8", "a 'this network' address (0.0.0.0/8 reaches the local host)"),
    ("127.0.0.0/8", "a loopback address"),
    ("10.0.0.0/8", f"{_PRIVATE} (RFC 1918)"),
    ("172.16.0.0/12", f"{_PRIVATE} (RFC 1918)"),
    ("192.168.0.0/16", f"{_PRIVATE} (RFC 1918)"),
    ("100.64.0.0/10", "a shared address (carrier-grade NAT, RFC 6598)"),
    ("169.254.0.0/16", "a link-local address"),
    ("192.0.0.0/24", f"{_RESERVED} (IETF protocol assignments)"),
    ("192.0.2.0/24", f"{_RESERVED} (documentation)"),
    ("198.51.100.0/24", f"{_RESERVED} (documentation)"),
    ("203.0.113.0/24", f"{_RESERVED} (documentation)"),
    ("198.18.0.0/15", f"{_RESERVED} (benchmarking)"),
    ("192.88.99.0/24", f"{_RESERVED} (6to4 relay anycast)"),
    ("224.0.0.0/4", "a multicast address"),
    ("240.0.0.0/4", _RESERVED),
    ("::/128", "the unspecified address"),
    ("::1/128", "a loopback address"),
    ("fe80::/10", "a link-local address"),
    ("fec0::/10", f"{_PRIVATE} (deprecated site-local)"),
    ("fc00::/7", f"{_PRIVATE} (unique local)"),
    ("ff00::/8", "a multicast address"),
    ("100::/64", f"{_RESERVED} (discard-only)"),
    ("64:ff9b:1::/48", f"{_RESERVED} (local-use NAT64)"),
    ("2001::/23", f"{_RESERVED} (IETF protocol assignments)"),
    ("2001:db8::/32", f"{_RESERVED} (documentation)"),
    ("3fff::/20", f"{_RESERVED} (documentation)"),
)
_NAT64: Final = IPv6Network("64:ff9b::/96")
# SIIT's IPv4-translated addresses (RFC 2765, ::ffff:0:a.b.c.d): a stateless translator
# sends them on to a.b.c.d, so they are judged like IPv4-mapped ones.
_IPV4_TRANSLATED: Final = IPv6Network("::ffff:0:0:0/96")
_IPV4_COMPATIBLE: Final = IPv6Network("::/96")


def forbidden_reason(ip: IPAddress, allowed: Sequence[IPNetwork]) -> str | None:
    """Why HookCast refuses to connect to `ip`, e.g. "127.0.0.1 is a loopback address";
    None when it may, including when `ip` lies in one of the `allowed` networks.

    An IPv6 address that embeds an IPv4 address (IPv4-mapped, IPv4-compatible,
    IPv4-translated, 6to4, NAT64, Teredo) is judged by the IPv4 address, since that is where
    the packets end up.
    """
    if _is_allowed(ip, allowed):
        return None
    embedded = _embedded_ipv4(ip) if isinstance(ip, IPv6Address) else None
    if embedded is not None:
        inner = _classify(embedded)
        return f"{ip} embeds {embedded}, which is {inner}" if inner else None
    what = _classify(ip)
    return f"{ip} is {what}" if what else None


def _classify(ip: IPAddress) -> str | None:
    for network, what in _FORBIDDEN:
        if network.version == ip.version and ip in network:
            return what
    return None


def _is_allowed(ip: IPAddress, allowed: Sequence[IPNetwork]) -> bool:
    # ::ffff:127.0.0.1 is 127.0.0.1 on the wire, so it is inside an allowed 127.0.0.0/8
    # (and so is its SIIT form ::ffff:0:127.0.0.1).
    mapped = _mapped_ipv4(ip) if isinstance(ip, IPv6Address) else None
    candidates = (ip,) if mapped is None else (ip, mapped)
    return any(
        address.version == network.version and address in network
        for address in candidates
        for network in allowed
    )


def _mapped_ipv4(ip: IPv6Address) -> IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _IPV4_TRANSLATED else None


def _embedded_ipv4(ip: IPv6Address) -> IPv4Address | None:
    mapped = _mapped_ipv4(ip)
    if mapped is not None:
        return mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client address, where the traffic is relayed to
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """Parse HOOKCAST_ALLOWED_NETWORKS: comma-separated CIDRs ("" gives none)."""
    return tuple(_parse_network(part.strip()) for part in value.split(",") if part.strip())


def _parse_network(text: str) -> IPNetwork:
    try:
        # strict=False: "127.0.0.1/8" means the network 127.0.0.0/8, as people intend
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValidationFailed(
            f"{text!r} is not a network in CIDR notation (e.g. 127.0.0.0/8 or fd00::/8)",
            field="allowed_networks",
        ) from None
