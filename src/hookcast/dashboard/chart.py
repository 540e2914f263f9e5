"""Deliveries per hour as an inline SVG bar chart, drawn on the server.

No charting library and no script: the SVG is plain markup (so the Content-Security-Policy
can forbid inline scripts and styles), colours come from CSS classes, and the chart carries
a title and description for screen readers. The template shows the same numbers as a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from hookcast.dashboard.health import HourBar

__all__ = ["hourly_chart_svg", "tick_label", "y_ticks"]

# The chart is as wide as its card and 200 px high, whatever the screen (app.css, .chart):
# its bars are drawn in _PLOT_WIDTH units stretched to the card's width less the y-axis's
# numbers, which are beside it, in px, as are the hours under it: no label ever scales. One
# viewBox scaled whole, its height capped, filled ~75% of its card at 1280 px, and a phone
# scrolled it sideways at 540 px.
_PLOT_WIDTH, _HEIGHT = 660, 200
_TOP, _BOTTOM = 12, 28
_SVG = "http://www.w3.org/2000/svg"
# Hours between x-axis labels, on the clock: 00:00, 06:00, 12:00, 18:00, so a day's 24 bars
# carry four labels the same distance apart, wherever the window starts. Every sixth bar
# from the window's first plus the last, as before, labelled odd hours (13:00, 19:00, 01:00)
# and put the last label five bars after its neighbour, touching it at a phone's width.
_LABEL_EVERY = 6
_MAX_STEPS = 4  # y-axis steps above 0: five labels at most, readable at a phone's width


def hourly_chart_svg(bars: Sequence[HourBar], *, chart_id: str = "chart") -> str:
    """An accessible SVG of stacked bars (succeeded below, failed above), one per hour."""
    ticks = y_ticks(max((bar.succeeded + bar.failed for bar in bars), default=0))
    peak = ticks[-1]
    succeeded = sum(bar.succeeded for bar in bars)
    failed = sum(bar.failed for bar in bars)
    summary = f"{succeeded} succeeded and {failed} failed attempts over the last {len(bars)} hours"
    parts = [
        '<div class="chart">',
        f'<svg class="chart-plot" role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'xmlns="{_SVG}">',
        f'<title id="{chart_id}-title">Attempts per hour</title>',
        f'<desc id="{chart_id}-desc">{escape(summary)}</desc>',
        f'<svg width="100%" height="100%" viewBox="0 0 {_PLOT_WIDTH} {_HEIGHT}" '
        'preserveAspectRatio="none">',
        *_axes(ticks),
        *_bars(bars, peak),
        "</svg>",
        *_hour_labels(bars),
        "</svg>",
        # Beside the plot, not in it: the numbers keep their px whatever the plot's width
        # (the bars' table and the description above say them to a screen reader).
        f'<svg class="chart-numbers" aria-hidden="true" xmlns="{_SVG}">',
        *_tick_labels(ticks),
        "</svg></div>",
    ]
    return "".join(parts)


def y_ticks(peak: int) -> list[int]:
    """The y-axis's labelled values, 0 first: whole numbers (attempts come whole) a round
    step apart (1, 2 or 5 times a power of ten), at most five, the last at or above `peak`."""
    step = 1
    while -(-peak // step) > _MAX_STEPS:
        step = _next_round(step)
    top = max(1, -(-peak // step)) * step
    return list(range(0, top + 1, step))


def _next_round(step: int) -> int:
    """1 → 2 → 5 → 10 → 20 → 50 → ..."""
    lead, power = step, 1
    while lead >= 10:
        lead, power = lead // 10, power * 10
    return (2 if lead == 1 else 5 if lead == 2 else 10) * power


def _plot_height() -> int:
    return _HEIGHT - _TOP - _BOTTOM


def _y(tick: int, top: int) -> float:
    return _HEIGHT - _BOTTOM - _plot_height() * tick / top


def _axes(ticks: Sequence[int]) -> list[str]:
    """The x-axis and a grid line at each tick, in the plot's stretched units (their strokes
    stay 1 px: app.css, non-scaling)."""
    base = _HEIGHT - _BOTTOM
    out = [f'<line class="chart-axis" x1="0" y1="{base}" x2="{_PLOT_WIDTH}" y2="{base}"/>']
    out.extend(
        f'<line class="chart-grid" x1="0" y1="{_y(tick, ticks[-1]):.1f}" '
        f'x2="{_PLOT_WIDTH}" y2="{_y(tick, ticks[-1]):.1f}"/>'
        for tick in ticks
        if tick
    )
    return out


def _tick_labels(ticks: Sequence[int]) -> list[str]:
    """The y-axis's numbers, in px, on the right (beside the newest hours), aligned as
    numbers are: by their last digit, at the card's edge."""
    return [
        f'<text class="chart-label" x="100%" y="{_y(tick, ticks[-1]) + 4:.1f}" '
        f'text-anchor="end">{tick_label(tick, ticks[1])}</text>'
        for tick in ticks
    ]


def tick_label(value: int, step: int) -> str:
    """A y-axis label: thousands as "k" and millions as "M" once the step is that large, so
    every label of one axis reads alike ("5k 10k 15k", not "5000 10000 15000")."""
    for size, unit in ((1_000_000, "M"), (1_000, "k")):
        if step >= size and value:
            return f"{value / size:g}{unit}"
    return str(value)


def _bars(bars: Sequence[HourBar], peak: int) -> list[str]:
    if not bars:
        return []
    slot = _PLOT_WIDTH / len(bars)
    width = max(1.0, slot * 0.7)
    out: list[str] = []
    for index, bar in enumerate(bars):
        x = index * slot + (slot - width) / 2
        ok_height = _plot_height() * bar.succeeded / peak
        failed_height = _plot_height() * bar.failed / peak
        base = _HEIGHT - _BOTTOM
        label = f"{bar.start:%H}:00 UTC: {bar.succeeded} succeeded, {bar.failed} failed"
        out.append(f"<g><title>{escape(label)}</title>")
        if bar.succeeded:
            out.append(_rect("chart-ok", x, base - ok_height, width, ok_height))
        if bar.failed:
            out.append(
                _rect("chart-failed", x, base - ok_height - failed_height, width, failed_height)
            )
        out.append("</g>")
    return out


def _rect(css_class: str, x: float, y: float, width: float, height: float) -> str:
    return (
        f'<rect class="{css_class}" x="{x:.1f}" y="{y:.1f}" '
        f'width="{width:.1f}" height="{height:.1f}"/>'
    )


def _hour_labels(bars: Sequence[HourBar]) -> list[str]:
    """Every sixth hour's label under its bar, placed in percent of the plot's width (on a
    phone the first one reaches a little into the card's padding)."""
    return [
        f'<text class="chart-label" x="{(index + 0.5) / len(bars):.2%}" y="{_HEIGHT - 8}" '
        f'text-anchor="middle">{bar.start:%H}:00</text>'
        for index, bar in enumerate(bars)
        if bar.start.hour % _LABEL_EVERY == 0
    ]
