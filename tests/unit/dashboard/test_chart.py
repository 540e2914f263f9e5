"""The hourly chart: an SVG a reviewer (or screen reader) can trust."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from hookcast.dashboard.chart import hourly_chart_svg, tick_label, y_ticks
from hookcast.dashboard.health import HourBar

START = datetime(2026, 3, 1, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


def _bars(*counts: tuple[int, int]) -> list[HourBar]:
    return [HourBar(START + timedelta(hours=i), ok, bad) for i, (ok, bad) in enumerate(counts)]


def _rects(svg: str, css_class: str) -> list[ET.Element]:
    return [r for r in ET.fromstring(svg).iter(f"{SVG}rect") if r.get("class") == css_class]


def test_one_stacked_bar_per_hour_with_heights_in_proportion() -> None:
    svg = hourly_chart_svg(_bars((10, 0), (5, 5), (0, 0)))

    ok = _rects(svg, "chart-ok")
    failed = _rects(svg, "chart-failed")
    assert len(ok) == 2
    assert len(failed) == 1
    full, half = (float(r.get("height", "0")) for r in ok)
    assert full == pytest.approx(2 * half)
    # The failed part sits right on top of the succeeded part of the same hour.
    assert float(failed[0].get("y", "0")) + float(failed[0].get("height", "0")) == pytest.approx(
        float(ok[1].get("y", "0"))
    )


def test_it_is_well_formed_accessible_and_free_of_inline_style_or_script() -> None:
    svg = hourly_chart_svg(_bars(*[(1, 1)] * 24), chart_id="c1")
    root = ET.fromstring(svg).find(f"{SVG}svg[@role='img']")
    assert root is not None
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    desc = root.find(f"{SVG}desc")
    assert desc is not None
    assert desc.text == "24 succeeded and 24 failed attempts over the last 24 hours"
    assert "style=" not in svg
    assert "<script" not in svg
    labels = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert "00:00" in labels
    assert "18:00" in labels


@pytest.mark.parametrize("first_hour", range(24))
def test_hour_labels_are_on_the_clock_and_evenly_spaced(first_hour: int) -> None:
    """Whatever hour the 24-hour window starts at: 00:00, 06:00, 12:00 and 18:00, each
    under its own bar, the same distance apart (the window's first bar and every sixth
    after it, plus the last, gave odd hours and a short last gap)."""
    start = START + timedelta(hours=first_hour)
    bars = [HourBar(start + timedelta(hours=i), 1, 0) for i in range(24)]
    root = ET.fromstring(hourly_chart_svg(bars))
    hours = [t for t in root.iter(f"{SVG}text") if ":" in (t.text or "")]
    assert sorted(t.text or "" for t in hours) == ["00:00", "06:00", "12:00", "18:00"]
    xs = sorted(float(t.get("x", "0").removesuffix("%")) for t in hours)
    gaps = [b - a for a, b in itertools.pairwise(xs)]
    assert max(gaps) - min(gaps) <= 0.02, gaps  # in percent of the width, two decimals


def test_an_empty_day_draws_axes_and_no_bars() -> None:
    svg = hourly_chart_svg(_bars(*[(0, 0)] * 24))
    assert _rects(svg, "chart-ok") == []
    assert _rects(svg, "chart-failed") == []
    assert re.search(r">1</text>", svg)  # the y axis still has a top


def test_no_hours_at_all_is_still_a_valid_svg() -> None:
    ET.fromstring(hourly_chart_svg([]))


@pytest.mark.parametrize(
    ("peak", "ticks"),
    [
        (0, [0, 1]),
        (1, [0, 1]),
        (2, [0, 1, 2]),
        (3, [0, 1, 2, 3]),
        (7, [0, 2, 4, 6, 8]),
        (11, [0, 5, 10, 15]),
        (180, [0, 50, 100, 150, 200]),
        (501, [0, 200, 400, 600]),
    ],
)
def test_the_y_axis_is_labelled_at_round_steps(peak: int, ticks: list[int]) -> None:
    assert y_ticks(peak) == ticks


def test_every_y_axis_label_is_a_whole_number_and_the_top_holds_the_peak() -> None:
    for peak in range(5_000):
        ticks = y_ticks(peak)
        steps = {b - a for a, b in itertools.pairwise(ticks)}
        assert len(steps) == 1, peak
        step = steps.pop()
        assert str(step).rstrip("0") in {"1", "2", "5"}, peak
        assert 2 <= len(ticks) <= 5, peak
        assert ticks[-1] >= peak > ticks[-1] - step or peak == 0, peak


def test_the_chart_labels_its_ticks_and_never_a_fraction() -> None:
    svg = hourly_chart_svg(_bars((2, 1), (0, 0)))
    labels = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text") if ":" not in (t.text or "")]
    assert labels == ["0", "1", "2", "3"]


@pytest.mark.parametrize(
    ("peak", "labels"),
    [
        (3, ["0", "1", "2", "3"]),
        (900, ["0", "500", "1000"]),
        (3_500, ["0", "1k", "2k", "3k", "4k"]),
        (15_000, ["0", "5k", "10k", "15k"]),
        (2_400_000, ["0", "1M", "2M", "3M"]),
    ],
)
def test_large_y_labels_read_as_thousands_alike(peak: int, labels: list[str]) -> None:
    ticks = y_ticks(peak)
    assert [tick_label(tick, ticks[1]) for tick in ticks] == labels
