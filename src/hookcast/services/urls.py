"""The SSRF guard at create/patch time: shape of the URL, IP literals, and DNS answers."""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import NoReturn

from hookcast.domain.addresses import check_webhook_url, forbidden_reason, parse_ip_literal
from hookcast.domain.errors import UnsafeUrl, ValidationFailed
from hookcast.hostnames import InvalidHostname, ascii_host
from hookcast.ports import LookupTimeout, Resolver

Network = IPv4Network | IPv6Network


class UrlGuard:
    """Refuses webhook URLs that point at internal addresses.

    The same rule runs again at delivery time on the addresses actually connected to,
    because DNS answers can change between now and then.
    """

    def __init__(self, resolver: Resolver, allowed: Sequence[Network]) -> None:
        self._resolver = resolver
        self._allowed = tuple(allowed)

    async def check(self, url: str) -> str:
        parsed = check_webhook_url(url)
        host = _wire_host(parsed.host)  # as the sender will look it up and connect to it
        literal = parse_ip_literal(host)
        if literal is not None:
            self._refuse_if_forbidden(str(literal), url)
            return url
        # A name that does not resolve now (or whose DNS is slow) is accepted: it may
        # resolve later, and the delivery-time check refuses it then if it points
        # somewhere internal.
        try:
            addresses = await self._resolver.resolve(host)
        except LookupTimeout:
            return url
        reasons = {address: self._reason(address) for address in addresses}
        refused = [reason for reason in reasons.values() if reason is not None]
        if refused:
            # The user typed a name, not the address: say where it led. `localhost` is the
            # common case: ::1 and 127.0.0.1, where the README's 127.0.0.0/8 allows one.
            said = f"{refused[0]} ({host} resolves to it"
            allowed = [address for address, reason in reasons.items() if reason is None]
            if allowed:
                said += f"; its address {allowed[0]} is allowed: use that in the URL"
            self._refuse(said + ")", url)
        return url

    def _reason(self, address: str) -> str | None:
        return forbidden_reason(ip_address(address.split("%", 1)[0]), self._allowed)

    def _refuse_if_forbidden(self, address: str, url: str) -> None:
        reason = self._reason(address)
        if reason is not None:
            self._refuse(reason, url)

    @staticmethod
    def _refuse(reason: str, url: str) -> NoReturn:
        raise UnsafeUrl(
            f"webhook_url {url!r} is refused: {reason}. HookCast only calls public "
            "addresses unless HOOKCAST_ALLOWED_NETWORKS allows a network.",
            field="webhook_url",
        )


def _wire_host(host: str) -> str:
    try:
        return ascii_host(host)
    except InvalidHostname as exc:
        raise ValidationFailed(
            f"webhook_url has an invalid host: {exc}", field="webhook_url"
        ) from None
