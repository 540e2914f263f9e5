"""Host names as they go on the wire: IDNA 2008 with UTS 46 mapping, as browsers do.

Python's "idna" codec implements IDNA 2003, which maps "faß.de" to "fass.de", another
domain with another owner. The `idna` package implements IDNA 2008 and UTS 46
(non-transitional), which gives "xn--fa-hia.de". The same conversion runs when a webhook
URL is accepted and when it is sent, so a host that cannot be encoded is a 400 at creation,
never a delivery that cannot be built.
"""

from __future__ import annotations

import idna

__all__ = ["InvalidHostname", "ascii_host"]

_MAX_LABEL = 63
_MAX_NAME = 253


class InvalidHostname(ValueError):
    """A host name that no DNS query can carry."""


def ascii_host(host: str) -> str:
    """`host` in ASCII: A-labels for international names (UTS 46 mapping, so full-width
    digits and ideographic full stops become ASCII too); ASCII names as they are.
    Raises InvalidHostname for a name that cannot be encoded or is too long."""
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        except idna.IDNAError as exc:
            raise InvalidHostname(f"{host!r} is not a valid international name: {exc}") from None
    _check_lengths(host)
    return host


def _check_lengths(host: str) -> None:
    if ":" in host:  # an IPv6 literal: no labels
        return
    name = host.removesuffix(".")
    if len(name) > _MAX_NAME:
        raise InvalidHostname(f"host name is longer than {_MAX_NAME} characters")
    for label in name.split("."):
        if not label:
            raise InvalidHostname(f"host name {host!r} has an empty label")
        if len(label) > _MAX_LABEL:
            raise InvalidHostname(f"host name has a label longer than {_MAX_LABEL} characters")
