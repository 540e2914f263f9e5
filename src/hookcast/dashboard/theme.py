"""The portal's look: the accent colour as CSS custom properties (the platform's brand), and
the colour scheme a portal link may fix."""

from __future__ import annotations

import re

__all__ = ["THEMES", "accent_css", "portal_theme"]

_HEX = re.compile(r"[0-9a-f]{6}")
THEMES = ("light", "dark")  # what a portal link's `?theme=` may fix; else the system decides
_DARK_SURFACE = (0x18, 0x1E, 0x27)  # app.css's dark --surface, where the accent is text
_AA = 4.5  # WCAG AA for text


def portal_theme(raw: str | None) -> str:
    """The scheme a portal link's `?theme=` asks for: "light", "dark", or "" (any other
    value, or none: the reader's system decides, as on the operator dashboard)."""
    return raw if raw in THEMES else ""


def accent_css(colour: str) -> str | None:
    """`:root` overrides for the accent `colour` (six lower-case hex digits), with a darker
    shade for hover, a pale one for backgrounds and the text colour that reads on it, each as
    a light-dark() pair: in the dark scheme the accent is lightened until it reads on the dark
    surface (a brand's #0f766e there was 2.9:1); None for anything else."""
    if not _HEX.fullmatch(colour):
        return None
    rgb = tuple(int(colour[i : i + 2], 16) for i in (0, 2, 4))
    light = _shades(rgb)
    dark = _dark_shades(rgb)
    pairs = {name: f"light-dark({light[name]}, {dark[name]})" for name in light}
    return (
        f":root {{ --accent: {pairs['accent']}; --accent-dark: {pairs['hover']}; "
        f"--accent-soft: {pairs['soft']}; --on-accent: {pairs['on']}; }}\n"
    )


def _shades(rgb: tuple[int, ...]) -> dict[str, str]:
    return {
        "accent": _hex(rgb),
        "hover": _mix(rgb, (0, 0, 0), 0.25),
        "soft": _mix(rgb, (255, 255, 255), 0.88),
        "on": "#1c2430" if _luminance(rgb) > 0.2 else "#ffffff",
    }


def _dark_shades(rgb: tuple[int, ...]) -> dict[str, str]:
    surface = _luminance(_DARK_SURFACE)
    accent = rgb
    for step in range(11):  # toward white in tenths: bounded, white itself reads at 16:1
        accent = _rgb(_mix(rgb, (255, 255, 255), step / 10))
        if _contrast(_luminance(accent), surface) >= _AA:
            break
    return {
        "accent": _hex(accent),
        "hover": _mix(accent, (255, 255, 255), 0.3),
        "soft": _mix(accent, _DARK_SURFACE, 0.8),
        "on": "#0b1220" if _luminance(accent) > 0.2 else "#ffffff",
    }


def _mix(rgb: tuple[int, ...], other: tuple[int, ...], share: float) -> str:
    mixed = (round(c * (1 - share) + o * share) for c, o in zip(rgb, other, strict=True))
    return "#" + "".join(f"{c:02x}" for c in mixed)


def _hex(rgb: tuple[int, ...]) -> str:
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _rgb(colour: str) -> tuple[int, ...]:
    return tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))


def _contrast(first: float, second: float) -> float:
    high, low = max(first, second), min(first, second)
    return (high + 0.05) / (low + 0.05)


def _luminance(rgb: tuple[int, ...]) -> float:
    """WCAG relative luminance."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
