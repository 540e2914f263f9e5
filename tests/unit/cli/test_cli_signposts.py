"""What `hookcast serve` says at start: URLs a person can open on the address it bound, and
which setting lets it deliver to this machine."""

from __future__ import annotations

import pytest

from hookcast.cli.signposts import delivery_policy, server_url, signposts


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
        ("0.0.0.0", 8000, "http://127.0.0.1:8000"),  # every address: loopback
        ("::", 8001, "http://[::1]:8001"),
        ("::1", 8002, "http://[::1]:8002"),
        ("hookcast.internal", 80, "http://hookcast.internal:80"),
    ],
)
def test_the_url_is_one_a_person_on_this_machine_can_open(host: str, port: int, url: str) -> None:
    assert server_url(host, port) == url


def test_without_allowed_networks_it_names_the_setting_that_lets_it_deliver_here() -> None:
    lines = signposts(
        url="http://127.0.0.1:8000", allowed_networks="", with_worker=True, key_printed=True
    )
    assert lines == [
        "HookCast is serving on http://127.0.0.1:8000",
        "  dashboard: http://127.0.0.1:8000/",
        "  API docs:  http://127.0.0.1:8000/docs (also /redoc and /openapi.json)",
        "  delivery to loopback and private addresses: refused (HOOKCAST_ALLOWED_NETWORKS is",
        "    empty; HOOKCAST_ALLOWED_NETWORKS=127.0.0.0/8 allows receivers on this machine)",
    ]


def test_allowed_networks_are_listed_as_given() -> None:
    lines = signposts(
        url="http://127.0.0.1:8000",
        allowed_networks=" 127.0.0.0/8, 10.0.0.0/8 ",
        with_worker=True,
        key_printed=True,
    )
    assert lines[3] == "  delivery to 127.0.0.0/8, 10.0.0.0/8: allowed (HOOKCAST_ALLOWED_NETWORKS);"


def test_an_api_server_without_a_worker_says_the_worker_needs_the_setting_too() -> None:
    """A receiver on this machine allowed to `serve --no-worker` was still refused by a
    worker started without HOOKCAST_ALLOWED_NETWORKS: it checks every address again."""
    lines = signposts(
        url="http://127.0.0.1:8000",
        allowed_networks="127.0.0.0/8",
        with_worker=False,
        key_printed=True,
    )
    assert lines[3:] == [
        "  delivery: not in this process (--no-worker; run `hookcast worker`, with the",
        "    HOOKCAST_ALLOWED_NETWORKS its receivers need: it checks every address again)",
    ]


@pytest.mark.parametrize(
    ("allowed", "said"),
    [
        (
            "",
            "delivery to loopback and private addresses refused (HOOKCAST_ALLOWED_NETWORKS is "
            "empty)",
        ),
        (
            "127.0.0.0/8, 10.0.0.0/8",
            "delivery to 127.0.0.0/8, 10.0.0.0/8 allowed (HOOKCAST_ALLOWED_NETWORKS), to other "
            "loopback and private addresses refused",
        ),
    ],
)
def test_a_worker_says_where_it_may_deliver(allowed: str, said: str) -> None:
    assert delivery_policy(allowed) == said
