"""Charts for every script: the font stack draws 坂本龍一, 방탄소년단, Fairuz/فيروز and an emoji
name with real glyphs, never matplotlib's Last Resort box and never a missing-glyph warning.

The check is made on what the Agg renderer really draws: ``RendererAgg.draw_text`` is wrapped to
lay out each string exactly as it does (the same font stack, the same libraqm layout) and to record,
for every glyph, the font file it comes from and its glyph index, while the chart is rendered to a
PNG. The fonts are Debian packages that ``make install`` installs (``.ci/system-deps``); without
them these tests are skipped, and say so."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from matplotlib import font_manager
from matplotlib.backends.backend_agg import RendererAgg, get_hinting_flag
from matplotlib.ft2font import FT2Font

from bot.chart import (
    FSI,
    LAST_RESORT_FONT,
    PDI,
    chart_png,
    families,
    member_chart_png,
)
from bot.service import ChartEntry, Digest, MemberChart
from tests.scheduler.test_digest import png_size

# Debian package → a family it installs, as fontconfig names it.
PACKAGES = {
    "fonts-noto-core": "Noto Sans Arabic",
    "fonts-noto-cjk": "Noto Sans CJK JP",
    "fonts-symbola": "Symbola",
}
NAMES = ("坂本龍一", "방탄소년단", "Fairuz/فيروز", "🎸 Guitar Club")
CJK = "NotoSansCJK-Regular.ttc"
ARABIC = "NotoSansArabic-Regular.ttf"
LATIN = "NotoSans-Regular.ttf"
EMOJI = "Symbola_hint.ttf"
LAST_RESORT = "LastResortHE-Regular.ttf"


def _missing_packages() -> list[str]:
    if shutil.which("fc-list") is None:
        return list(PACKAGES)
    have = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True).stdout
    return [package for package, family in PACKAGES.items() if family not in have]


MISSING = _missing_packages()
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"chart fonts not installed ({', '.join(MISSING)}): run `make install`, "
    "whose .ci/system-deps installs them",
)


@dataclass(frozen=True)
class Glyph:
    char: str  # the character (or cluster) it draws
    font: str  # the font file's name
    index: int  # the glyph in that font (0 = the font's own "missing" glyph)
    x: float  # where it goes, left to right


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[Glyph]]]:
    """Every plain string the Agg renderer draws, with its glyphs, recorded as it draws them."""
    seen: dict[str, list[Glyph]] = {}
    original = RendererAgg.draw_text

    def draw_text(
        self: RendererAgg, gc: Any, x: float, y: float, s: str, prop: Any, *args: Any, **kw: Any
    ) -> None:
        ismath = kw.get("ismath", args[1] if len(args) > 1 else False)
        mtext = kw.get("mtext", args[2] if len(args) > 2 else None)
        if not ismath:
            font = self._prepare_font(prop)
            items = font._layout(
                s,
                flags=get_hinting_flag(),
                features=mtext.get_fontfeatures() if mtext is not None else None,
                language=mtext.get_language() if mtext is not None else None,
            )
            seen[s] = [Glyph(i.char, Path(i.ft_object.fname).name, i.glyph_index, i.x) for i in items]
        original(self, gc, x, y, s, prop, *args, **kw)

    monkeypatch.setattr(RendererAgg, "draw_text", draw_text)
    yield seen


def _quiet(render: Any) -> bytes:
    """``render()``'s PNG, failing on any warning (a missing glyph warns)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render()
    assert [str(w.message) for w in caught] == []
    assert isinstance(png, bytes)
    return png


def _glyphs_of(drawn: dict[str, list[Glyph]], name: str) -> list[Glyph]:
    """The glyphs of ``name`` in the one drawn string that contains it (no isolate marks)."""
    [text] = [s for s in drawn if name in s]
    return [g for g in drawn[text] if g.char in name and g.char not in (FSI, PDI)]


def _fonts(glyphs: list[Glyph], chars: str) -> set[str]:
    return {g.font for g in glyphs if g.char in chars}


def _assert_real_glyphs(drawn: dict[str, list[Glyph]]) -> None:
    for text, glyphs in drawn.items():
        assert glyphs, text
        boxes = [(g.char, g.font, g.index) for g in glyphs if g.font == LAST_RESORT or g.index == 0]
        assert boxes == [], f"{text!r} falls back to the empty box"


def test_the_stack_has_every_script_in_fallback_order() -> None:
    # A stale matplotlib font list (made before the fonts were installed) would leave them out:
    # .ci/system-deps drops it so matplotlib lists the fonts again.
    assert families() == [
        "Noto Sans",
        "Noto Sans Arabic",
        "Noto Sans Hebrew",
        "Noto Sans Devanagari",
        "Noto Sans Thai",
        "DejaVu Sans",
        "Noto Sans CJK JP",
        "Noto Sans CJK SC",
        "Symbola",
        LAST_RESORT_FONT,
    ]


def test_member_chart_draws_every_script_with_real_glyphs(drawn: dict[str, list[Glyph]]) -> None:
    c = MemberChart(
        "사용자", "artist", "30d", [ChartEntry(n, name, 10 - n) for n, name in enumerate(NAMES, 1)], False
    )
    png = _quiet(lambda: member_chart_png(c, shared=True))
    assert png_size(png) == (1000, 300)

    assert "1. 坂本龍一" in drawn and "2. 방탄소년단" in drawn and "4. 🎸 Guitar Club" in drawn
    assert f"3. {FSI}Fairuz/فيروز{PDI}" in drawn  # Arabic letters: isolated from the "3. "
    _assert_real_glyphs(drawn)
    assert _fonts(_glyphs_of(drawn, "坂本龍一"), "坂本龍一") == {CJK}
    assert _fonts(_glyphs_of(drawn, "방탄소년단"), "방탄소년단") == {CJK}
    assert _fonts(_glyphs_of(drawn, "Fairuz/فيروز"), "فيروز") == {ARABIC}
    assert _fonts(_glyphs_of(drawn, "Fairuz/فيروز"), "Fairuz/") == {LATIN}
    assert _fonts(_glyphs_of(drawn, "🎸 Guitar Club"), "🎸") == {EMOJI}
    assert _fonts(_glyphs_of(drawn, "🎸 Guitar Club"), "Guitar Club") == {LATIN}
    assert _fonts(drawn["사용자's top artists — the last 30 days"], "사용자") == {CJK}


def test_digest_chart_draws_every_script_with_real_glyphs(drawn: dict[str, list[Glyph]]) -> None:
    day = dt.date(2026, 11, 20)
    week = [day - dt.timedelta(days=6 - n) for n in range(7)]
    series = {name: [(d, n + i) for i, d in enumerate(week)] for n, name in enumerate(NAMES)}
    digest = Digest("音楽 クラブ", day, [], [], None, [], series)
    png = _quiet(lambda: chart_png(digest))
    assert png_size(png) == (1000, 500)

    _assert_real_glyphs(drawn)
    legend = [name for name in NAMES if any(name in s for s in drawn)]
    assert legend == list(NAMES)
    assert _fonts(_glyphs_of(drawn, "坂本龍一"), "坂本龍一") == {CJK}
    assert _fonts(_glyphs_of(drawn, "방탄소년단"), "방탄소년단") == {CJK}
    assert _fonts(_glyphs_of(drawn, "Fairuz/فيروز"), "فيروز") == {ARABIC}
    assert _fonts(_glyphs_of(drawn, "🎸 Guitar Club"), "🎸") == {EMOJI}
    assert _fonts(drawn["Top tracks in 音楽 クラブ — week to 2026-11-20 (UTC)"], "音楽クラブ") == {CJK}


def test_arabic_is_joined_and_read_right_to_left(drawn: dict[str, list[Glyph]]) -> None:
    c = MemberChart("Ada", "artist", "30d", [ChartEntry(1, "فيروز", 3)], True)
    _quiet(lambda: member_chart_png(c))
    glyphs = _glyphs_of(drawn, "فيروز")
    # Drawn left to right: the last letter first (ز), the first letter last (ف) …
    assert [g.char for g in sorted(glyphs, key=lambda g: g.x)] == list(reversed("فيروز"))
    # … in joined forms: ف initial, ي medial, ر final are not the font's isolated letters; و does
    # not join to the left, so و and ز stand alone.
    arabic = FT2Font(next(f.fname for f in font_manager.fontManager.ttflist if Path(f.fname).name == ARABIC))
    contextual = {g.char: g.index != arabic.get_char_index(ord(g.char)) for g in glyphs}
    assert contextual == {"ف": True, "ي": True, "ر": True, "و": False, "ز": False}
    # … and the rank stays on the left of the name.
    [label] = [s for s in drawn if "فيروز" in s]
    assert label == f"1. {FSI}فيروز{PDI}"
    one = next(g for g in drawn[label] if g.char == "1")
    assert one.x < min(g.x for g in glyphs)


def test_a_character_beyond_the_stack_is_a_box_without_a_warning(drawn: dict[str, list[Glyph]]) -> None:
    # U+1FAE0 MELTING FACE is Unicode 14; Symbola stops at Unicode 9.
    c = MemberChart("Ada", "artist", "30d", [ChartEntry(1, "Melting \U0001fae0", 3)], True)
    _quiet(lambda: member_chart_png(c))
    assert [(g.char, g.font) for g in drawn["1. Melting \U0001fae0"] if g.char == "\U0001fae0"] == [
        ("\U0001fae0", LAST_RESORT)
    ]
