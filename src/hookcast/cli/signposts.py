"""What `hookcast serve` tells a person once it is listening: where the dashboard and the API
docs are (full URLs on the address it bound) and whether it may deliver to this machine and
private networks (HOOKCAST_ALLOWED_NETWORKS), the setting a local receiver needs."""

from __future__ import annotations

import ipaddress

__all__ = ["delivery_policy", "server_url", "signposts"]

# Listening on every address: the URL a person on this machine can open.
_EVERY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104


def server_url(host: str, port: int) -> str:
    """http://host:port for a bound address, IPv6 in brackets, 0.0.0.0 and :: as loopback."""
    shown = _EVERY_ADDRESS.get(host, host)
    try:
        is_v6 = ipaddress.ip_address(shown).version == 6
    except ValueError:  # a host name
        is_v6 = False
    return f"http://[{shown}]:{port}" if is_v6 else f"http://{shown}:{port}"


def signposts(
    *, url: str, allowed_networks: str, with_worker: bool, key_printed: bool
) -> list[str]:
    """The lines serve prints once it is listening on `url`."""
    lines = [
        f"HookCast is serving on {url}",
        f"  dashboard: {url}/",
        f"  API docs:  {url}/docs (also /redoc and /openapi.json)",
        *_delivery(allowed_networks, with_worker=with_worker),
    ]
    if not key_printed:
        lines.append(
            "  admin API key: printed when this database was created "
            "(`hookcast keys create --role admin` makes another)"
        )
    return lines


def _delivery(allowed_networks: str, *, with_worker: bool) -> list[str]:
    if not with_worker:
        return [
            "  delivery: not in this process (--no-worker; run `hookcast worker`, with the",
            "    HOOKCAST_ALLOWED_NETWORKS its receivers need: it checks every address again)",
        ]
    networks = [part.strip() for part in allowed_networks.split(",") if part.strip()]
    if networks:
        return [
            f"  delivery to {', '.join(networks)}: allowed (HOOKCAST_ALLOWED_NETWORKS);",
            "    to other loopback and private addresses: refused",
        ]
    return [
        "  delivery to loopback and private addresses: refused (HOOKCAST_ALLOWED_NETWORKS is",
        "    empty; HOOKCAST_ALLOWED_NETWORKS=127.0.0.0/8 allows receivers on this machine)",
    ]


def delivery_policy(allowed_networks: str) -> str:
    """What a worker may deliver to, for its start line: it checks every address itself, so
    an API server allowing 127.0.0.0/8 says nothing of a worker started without it."""
    networks = [part.strip() for part in allowed_networks.split(",") if part.strip()]
    if networks:
        return (
            f"delivery to {', '.join(networks)} allowed (HOOKCAST_ALLOWED_NETWORKS), to other "
            "loopback and private addresses refused"
        )
    return "delivery to loopback and private addresses refused (HOOKCAST_ALLOWED_NETWORKS is empty)"
