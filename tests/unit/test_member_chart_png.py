"""The /top chart picture (``bot.chart.member_chart_png``): a real PNG of the right size, one bar
per entry with its rank, name and play count, names in any script without a missing-glyph warning
(the suite turns warnings into errors), long names cut, ``None`` when there is nothing to draw."""

from __future__ import annotations

import pytest

from bot.chart import (
    LABEL_LIMIT,
    WIDTH_PX,
    member_chart_figure,
    member_chart_height,
    member_chart_png,
)
from bot.service import ChartEntry, MemberChart
from tests.scheduler.test_digest import png_size


def chart(*entries: tuple[str, int], member: str = "Ada", is_you: bool = True) -> MemberChart:
    rows = [ChartEntry(n, name, plays) for n, (name, plays) in enumerate(entries, 1)]
    return MemberChart(member, "artist", "30d", rows, is_you)


def test_three_entries_make_three_labelled_bars() -> None:
    c = chart(("Radiohead", 12), ("Björk", 5), ("Mogwai", 1))
    fig = member_chart_figure(c)
    assert fig is not None
    [ax] = fig.axes
    assert [round(bar.get_width()) for bar in ax.patches] == [12, 5, 1]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1. Radiohead", "2. Björk", "3. Mogwai"]
    assert ax.yaxis_inverted()  # rank 1 on top
    assert [t.get_text() for t in ax.texts] == ["12", "5", "1"]  # the counts at the bars' ends
    assert ax.get_title() == "Your top artists — the last 30 days"
    assert ax.get_xlabel() == "plays"

    png = member_chart_png(c)
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    assert member_chart_height(3) == 250
    assert png_size(png) == (WIDTH_PX, 250)
    assert member_chart_png(c) == png  # deterministic


def test_shared_names_the_member_and_height_follows_the_entries() -> None:
    c = chart(*((f"Artist {n}", 20 - n) for n in range(10)), member="Bob", is_you=True)
    fig = member_chart_figure(c, shared=True)
    assert fig is not None
    assert fig.axes[0].get_title() == "Bob's top artists — the last 30 days"
    assert len(fig.axes[0].patches) == 10
    png = member_chart_png(c, shared=True)
    assert png is not None and png_size(png) == (1000, 600)
    one = member_chart_png(chart(("Radiohead", 1)))
    assert one is not None and png_size(one) == (1000, 150)


def test_nothing_to_draw_is_none() -> None:
    assert member_chart_figure(chart()) is None
    assert member_chart_png(chart()) is None


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("x" * LABEL_LIMIT, "x" * LABEL_LIMIT),  # fits exactly
        ("Sigur Rós – Ágætis byrjun (a very long title indeed)", "Sigur Rós – Ágætis byrjun (a very long…"),
        (
            "坂本龍一 – 戦場のメリークリスマス Merry Christmas",
            "坂本龍一 – 戦場のメリークリスマス Merry…",
        ),  # wide: 2 columns each
        ("Forty   Spaces" + " " * 30 + "end", "Forty   Spaces…"),  # no trailing blanks before the …
        ("$uicideboy$ – A$AP", r"\$uicideboy\$ – A\$AP"),  # drawn as typed, not as mathtext
        ("Line\nbreak\u200b\x07", "Line break"),  # one line; format and control characters out
    ],
)
def test_labels_are_one_line_cut_to_the_limit(name: str, label: str) -> None:
    fig = member_chart_figure(chart((name, 3)))
    assert fig is not None
    assert fig.axes[0].get_yticklabels()[0].get_text() == f"1. {label}"


def test_any_script_renders_without_a_missing_glyph_warning() -> None:
    c = chart(
        ("坂本龍一", 9),
        ("אביב גפן", 8),
        ("فيروز", 7),
        ("Кино – Группа крови", 6),
        ("🎸 Emoji Band", 5),
        ("$uicideboy$", 4),
        member="사용자",
    )
    png = member_chart_png(c, shared=True)
    assert png is not None and png_size(png) == (1000, 400)
