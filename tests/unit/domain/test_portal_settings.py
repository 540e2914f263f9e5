"""The portal's settings are validated once, for links, the account's defaults and the API."""

from __future__ import annotations

import base64
import re

import pytest

from hookcast.dashboard.theme import accent_css, portal_theme
from hookcast.domain.errors import ValidationFailed
from hookcast.domain.portal import (
    MAX_FRAME_ANCESTORS,
    accent_colour,
    frame_ancestors,
    logo,
    logo_origin,
    platform_name,
)


def test_origins_are_normalized_and_deduplicated() -> None:
    assert frame_ancestors(
        ["https://App.example.com/", "https://app.example.com", "http://127.0.0.1:8080"]
    ) == ("https://app.example.com", "http://127.0.0.1:8080")
    assert frame_ancestors(["http://localhost:3000", "http://[::1]:3000"]) == (
        "http://localhost:3000",
        "http://[::1]:3000",
    )
    assert frame_ancestors(None) == ()


@pytest.mark.parametrize(
    "origins",
    [
        ["http://app.example.com"],  # plain HTTP off loopback
        ["http://10.0.0.5"],
        ["https://app.example.com/portal"],
        ["https://app.example.com?x=1"],
        ["https://user@app.example.com"],
        ["https://app.example.com; script-src *"],  # would inject into the CSP header
        ["https://*.example.com"],
        ["javascript:alert(1)"],
        ["'self'"],
        [""],
        [42],
        "https://app.example.com",
        [f"https://a{i}.example.com" for i in range(MAX_FRAME_ANCESTORS + 1)],
    ],
)
def test_anything_but_a_list_of_safe_origins_is_refused(origins: object) -> None:
    with pytest.raises(ValidationFailed):
        frame_ancestors(origins)


def test_brand_values() -> None:
    assert platform_name("  Acme Video ") == "Acme Video"
    assert platform_name("") is None
    assert accent_colour("#0F766E") == "#0f766e"
    assert accent_colour(" ") is None
    for bad in ("red", "#fff", "#0f766e; x", 7):
        with pytest.raises(ValidationFailed):
            accent_colour(bad)
    with pytest.raises(ValidationFailed):
        platform_name("x" * 61)


def test_logos_are_https_or_small_raster_data() -> None:
    png = "data:image/png;base64," + base64.b64encode(b"\x89PNG" + b"\0" * 100).decode()
    assert logo(png) == png
    assert logo("https://cdn.example.com/a.png") == "https://cdn.example.com/a.png"
    assert logo_origin("https://cdn.example.com:8443/a.png") == "https://cdn.example.com:8443"
    assert logo_origin(png) is None
    big = "data:image/png;base64," + base64.b64encode(b"\0" * (33 * 1024)).decode()
    for bad in (
        "http://cdn.example.com/a.png",
        "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=",
        "data:image/png;base64,not base64!",
        "https://cdn.example.com/a b.png",
        big,
    ):
        with pytest.raises(ValidationFailed):
            logo(bad)


@pytest.mark.parametrize("port", ["abc", "99999", "-1"])
def test_a_logo_whose_port_is_no_port_is_refused_when_saved(port: str) -> None:
    # attack17: saved, every portal page of the account answered 500 (the page's img-src
    # reads the logo's origin, and its port raised ValueError there).
    with pytest.raises(ValidationFailed):
        logo(f"https://cdn.example.com:{port}/a.png")
    # One saved before that: its pages are served, with no origin for it in img-src.
    assert logo_origin(f"https://cdn.example.com:{port}/a.png") is None


def test_the_accent_sheet_only_takes_six_hex_digits_and_keeps_text_readable() -> None:
    assert accent_css("0f766e") is not None
    assert "--on-accent: light-dark(#ffffff, " in (accent_css("0f766e") or "")
    # dark text on yellow
    assert "--on-accent: light-dark(#1c2430, #0b1220)" in (accent_css("ffd400") or "")
    for bad in ("0F766E", "0f766", "0f766e}", "red"):
        assert accent_css(bad) is None


@pytest.mark.parametrize("colour", ["0f766e", "000000", "2451c7", "ffd400", "7a1a12"])
def test_the_accent_in_the_dark_scheme_reads_on_the_dark_surface(colour: str) -> None:
    css = accent_css(colour) or ""
    light, dark = re.search(r"--accent: light-dark\((#\w{6}), (#\w{6})\)", css).groups()  # type: ignore[union-attr]
    assert light == f"#{colour}"
    assert _contrast(dark, "#181e27") >= 4.5, dark  # app.css's dark --surface


def test_a_portal_link_fixes_light_or_dark_and_nothing_else() -> None:
    assert (portal_theme("light"), portal_theme("dark")) == ("light", "dark")
    for other in (None, "", "auto", "DARK", "dark;x"):
        assert portal_theme(other) == ""


def _contrast(first: str, second: str) -> float:
    def luminance(colour: str) -> float:
        def channel(value: int) -> float:
            c = value / 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b = (channel(int(colour[i : i + 2], 16)) for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)
