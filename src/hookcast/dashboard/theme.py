"""The portal's accent colour as CSS custom properties (the platform's brand)."""

from __future__ import annotations

import re

__all__ = ["accent_css"]

_HEX = re.compile(r"[0-9a-f]{6}")


def accent_css(colour: str) -> str | None:
    """`:root` overrides for the accent `colour` (six lower-case hex digits), with a darker
    shade for hover, a pale one for backgrounds and the text colour that reads on it; None
    for anything else."""
    if not _HEX.fullmatch(colour):
        return None
    rgb = tuple(int(colour[i : i + 2], 16) for i in (0, 2, 4))
    dark = _mix(rgb, (0, 0, 0), 0.25)
    soft = _mix(rgb, (255, 255, 255), 0.88)
    on_accent = "#1c2430" if _luminance(rgb) > 0.2 else "#ffffff"
    return (
        f":root {{ --accent: #{colour}; --accent-dark: {dark}; --accent-soft: {soft}; "
        f"--on-accent: {on_accent}; --focus: 0 0 0 3px #ffffff, 0 0 0 6px #{colour}; }}\n"
    )


def _mix(rgb: tuple[int, ...], other: tuple[int, int, int], share: float) -> str:
    mixed = (round(c * (1 - share) + o * share) for c, o in zip(rgb, other, strict=True))
    return "#" + "".join(f"{c:02x}" for c in mixed)


def _luminance(rgb: tuple[int, ...]) -> float:
    """WCAG relative luminance."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
