"""The create-time SSRF guard's refusal of a host name says where the name led: a first
user's `http://localhost:9000/` under README's HOOKCAST_ALLOWED_NETWORKS=127.0.0.0/8 was
refused as "::1 is a loopback address", an address they never typed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from ipaddress import ip_network

import pytest

from hookcast.domain.errors import UnsafeUrl
from hookcast.services.urls import UrlGuard


class Answers:
    def __init__(self, answers: Mapping[str, Sequence[str]]) -> None:
        self._answers = answers

    async def resolve(self, host: str) -> Sequence[str]:
        return list(self._answers.get(host, ()))


LOOPBACK_V4 = [ip_network("127.0.0.0/8")]
DNS = {"localhost": ["::1", "127.0.0.1"], "internal.example": ["10.1.2.3", "10.1.2.4"]}


async def test_a_name_with_one_allowed_address_says_which_to_use() -> None:
    guard = UrlGuard(Answers(DNS), LOOPBACK_V4)
    with pytest.raises(UnsafeUrl) as refused:
        await guard.check("http://localhost:9000/")
    assert str(refused.value).startswith(
        "webhook_url 'http://localhost:9000/' is refused: ::1 is a loopback address "
        "(localhost resolves to it; its address 127.0.0.1 is allowed: use that in the URL)."
    )


async def test_a_name_with_no_allowed_address_says_where_it_led() -> None:
    with pytest.raises(UnsafeUrl) as refused:
        await UrlGuard(Answers(DNS), LOOPBACK_V4).check("https://internal.example/hook")
    said = str(refused.value)
    assert "10.1.2.3 is a private address (RFC 1918) (internal.example resolves to it)." in said
    assert "is allowed" not in said


async def test_an_address_typed_is_refused_as_it_was() -> None:
    with pytest.raises(UnsafeUrl) as refused:
        await UrlGuard(Answers(DNS), LOOPBACK_V4).check("http://[::1]:9000/")
    assert "is refused: ::1 is a loopback address. HookCast only" in str(refused.value)


async def test_every_address_allowed_passes() -> None:
    allowed = [*LOOPBACK_V4, ip_network("::1/128")]
    url = "http://localhost:9000/"
    assert await UrlGuard(Answers(DNS), allowed).check(url) == url
