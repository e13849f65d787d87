"""The digest chart (``bot.chart.chart_figure`` / ``chart_png``): one line per top track over the
week, the legend outside the plot where it covers no point, series with equal counts side by side
(and each with its own colour, marker and line style), a PNG of a fixed size, the same bytes for
the same digest, ``None`` for an empty day."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from bot.chart import DODGE, HEIGHT_PX, PALETTE, WIDTH_PX, chart_figure, chart_png
from bot.service import Digest
from tests.scheduler.test_digest import png_size

DAY = dt.date(2026, 11, 20)
WEEK = [DAY - dt.timedelta(days=6 - n) for n in range(7)]


def digest(**series: list[int]) -> Digest:
    return Digest(
        "Crew",
        DAY,
        [],
        [],
        None,
        [],
        {name: list(zip(WEEK, counts, strict=True)) for name, counts in series.items()},
    )


FIVE = {
    # High on the first days: where a legend inside the plot ("upper left") used to cover them.
    "Radiohead – Reckoner": [9, 9, 8, 7, 5, 4, 3],
    "Björk – Jóga": [9, 9, 8, 7, 5, 4, 3],
    "Mogwai – Auto Rock": [8, 7, 6, 6, 6, 6, 6],
    "Low – Words": [1, 2, 3, 4, 5, 6, 7],
    "Sigur Rós – Ágætis byrjun (a very long title indeed)": [0, 0, 1, 1, 2, 2, 9],
}


def test_the_week_with_its_days_title_and_one_labelled_line_per_track() -> None:
    fig = chart_figure(digest(**FIVE))
    assert fig is not None
    [ax] = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "Sat 14 Nov",
        "Sun 15 Nov",
        "Mon 16 Nov",
        "Tue 17 Nov",
        "Wed 18 Nov",
        "Thu 19 Nov",
        "Fri 20 Nov",
    ]
    assert ax.get_title() == "Top tracks in Crew — week to 2026-11-20 (UTC)"
    assert ax.get_ylabel() == "plays per day"
    assert [np.asarray(line.get_ydata()).tolist() for line in ax.get_lines()] == list(FIVE.values())
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [
        "Radiohead – Reckoner",
        "Björk – Jóga",
        "Mogwai – Auto Rock",
        "Low – Words",
        "Sigur Rós – Ágætis byrjun (a very long…",
    ]


def test_the_legend_is_outside_the_plot_and_covers_no_point() -> None:
    fig = chart_figure(digest(**FIVE))
    assert fig is not None
    fig.canvas.draw()
    [ax] = fig.axes
    legend = ax.get_legend()
    assert legend is not None
    box = legend.get_window_extent()
    plot = ax.get_window_extent()
    assert box.x0 > plot.x1  # right of the plot …
    assert box.x1 <= WIDTH_PX and box.y1 <= HEIGHT_PX  # … and all of it on the picture
    points = np.vstack([line.get_transform().transform(line.get_xydata()) for line in ax.get_lines()])
    assert len(points) == 35 and not box.count_contains(points)


def test_equal_series_stay_apart_with_their_own_colour_marker_and_line_style() -> None:
    fig = chart_figure(
        digest(**{"Radiohead – Reckoner": [3, 5, 5, 2, 4, 6, 7], "Björk – Jóga": [3, 5, 5, 2, 4, 6, 7]})
    )
    assert fig is not None
    first, second = fig.axes[0].get_lines()
    assert np.asarray(first.get_ydata()).tolist() == np.asarray(second.get_ydata()).tolist()
    assert np.asarray(first.get_xdata()).tolist() == pytest.approx([d - DODGE / 2 for d in range(7)])
    assert np.asarray(second.get_xdata()).tolist() == pytest.approx([d + DODGE / 2 for d in range(7)])
    assert (first.get_color(), first.get_marker(), first.get_linestyle()) == (PALETTE[0], "o", "-")
    assert (second.get_color(), second.get_marker(), second.get_linestyle()) == (PALETTE[1], "s", "--")
    assert first.get_zorder() > second.get_zorder()  # the top track is drawn on top
    fig.canvas.draw()
    apart = first.get_transform().transform(first.get_xydata()) - second.get_transform().transform(
        second.get_xydata()
    )
    assert np.all(np.abs(apart[:, 0]) >= 6) and np.all(apart[:, 1] == 0)  # pixels: side by side


def test_png_of_the_chart_size_the_same_bytes_each_time() -> None:
    d = digest(**FIVE)
    png = chart_png(d)
    assert png is not None and png_size(png) == (WIDTH_PX, HEIGHT_PX)
    assert chart_png(d) == png


def test_an_empty_day_has_no_chart() -> None:
    assert chart_figure(digest()) is None
    assert chart_png(digest()) is None
