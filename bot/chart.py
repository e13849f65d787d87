"""The charts as PNGs: the digest's (daily plays of the day's top tracks over the week) and a
member's ``/top`` (their play counts as horizontal bars).

Drawn with matplotlib's object API on an Agg canvas (``matplotlib.figure.Figure``, never
``pyplot``), so there is no global figure state and it is safe from the scheduler's threads.

Names may be in any script. Every text on a chart is drawn with one font stack (:func:`families`),
glyph by glyph from the first font that has it: those of ``SCRIPT_FONTS`` the host has (Noto Sans
for Latin, Greek and Cyrillic, then Arabic, Hebrew, Devanagari, Thai), DejaVu Sans (matplotlib's
own, always there), Noto Sans CJK (Han, kana, Hangul), Symbola (emoji as outlines; matplotlib cannot
draw colour-bitmap emoji fonts), and last matplotlib's Last Resort font, which draws a placeholder
box for a character no other font has instead of a missing-glyph warning and a gap. The Debian
packages are installed by ``make install`` (``.ci/system-deps``). matplotlib ≥ 3.11 lays text out
with libraqm, so Arabic is joined and right-to-left text is ordered as it is read; a word is joined
only within one font, which is why each script's font comes before DejaVu Sans's partial cover.
"""

from __future__ import annotations

import datetime as dt
import io
import unicodedata

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot import render
from bot.service import Digest, MemberChart

WIDTH_PX = 1000
HEIGHT_PX = 500
DPI = 100
LABEL_LIMIT = 40  # columns of a name on a chart (a wide CJK character takes two)
FSI, PDI = "\u2068", "\u2069"  # isolate a right-to-left name from the text around it
RTL_CLASSES = ("R", "AL", "AN")  # Unicode bidi classes: Hebrew, Arabic letters, Arabic digits
PALETTE = ("#8B5CF6", "#F97316", "#10B981", "#3B82F6", "#EF4444", "#EAB308", "#14B8A6", "#EC4899")
# The font stack, in fallback order (see the module docstring); the Debian package in comments.
SCRIPT_FONTS = (  # fonts-noto-core
    "Noto Sans",
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Sans Devanagari",
    "Noto Sans Thai",
)
BASE_FONT = "DejaVu Sans"  # matplotlib's own default, always there
WIDE_FONTS = ("Noto Sans CJK JP", "Noto Sans CJK SC")  # fonts-noto-cjk (with Hangul)
SYMBOL_FONTS = ("Symbola",)  # fonts-symbola (emoji up to Unicode 9)
LAST_RESORT_FONT = "Last Resort High-Efficiency"  # shipped with matplotlib ≥ 3.10
# The digest chart: one colour, marker and line style per series, and series side by side within a
# day (``DODGE`` of a day apart) so that equal counts do not hide each other.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LINESTYLES = ("-", "--", "-.", ":")
DODGE = 0.07
# The member chart: a fixed frame (title, axis) plus one band per bar, in multiples of 50 px so the
# height in inches is exact and the PNG is exactly this many pixels tall.
BARS_FRAME_PX = 100
BAR_PX = 50


def _columns(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _label(name: str) -> str:
    """``name`` as chart text on one line: line breaks and tabs as spaces, other control and format
    characters dropped (they would draw as boxes, and the member's own bidi controls could reorder
    the text around the name), cut to ``LABEL_LIMIT`` columns with ``…``, and ``$`` escaped so it
    never starts mathtext. A name with right-to-left letters is put between FIRST STRONG ISOLATE
    and POP DIRECTIONAL ISOLATE: it reads in its own direction and leaves the chart's text around
    it (``2. …``, ``Top tracks in …``) left to right."""
    shown = "".join(
        " " if ch.isspace() else ch
        for ch in name
        if unicodedata.category(ch) not in ("Cc", "Cf") or ch.isspace()
    )
    if sum(map(_columns, shown)) > LABEL_LIMIT:
        cut, used = [], 0
        for ch in shown:
            used += _columns(ch)
            if used > LABEL_LIMIT - 1:
                break
            cut.append(ch)
        shown = "".join(cut).rstrip() + "…"
    shown = shown.replace("$", r"\$")
    if any(unicodedata.bidirectional(ch) in RTL_CLASSES for ch in shown):
        return f"{FSI}{shown}{PDI}"
    return shown


def families() -> list[str]:
    """The chart's font stack: the font families in fallback order, among those matplotlib can find
    (``BASE_FONT`` always)."""
    have = {f.name for f in font_manager.fontManager.ttflist}
    stack = (*SCRIPT_FONTS, BASE_FONT, *WIDE_FONTS, *SYMBOL_FONTS, LAST_RESORT_FONT)
    return [f for f in stack if f == BASE_FONT or f in have]


def _figure(height_px: int, fonts: list[str]) -> tuple[Figure, Axes]:
    """A figure ``WIDTH_PX`` × ``height_px`` with one axes whose tick labels are drawn in ``fonts``."""
    fig = Figure(figsize=(WIDTH_PX / DPI, height_px / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.tick_params(labelfontfamily=fonts)
    return fig, ax


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def chart_figure(digest: Digest) -> Figure | None:
    """``digest``'s series as lines over the week's days, one colour, marker and line style each and
    side by side within a day (``DODGE``), the first (top) track drawn on top; the legend right of
    the plot, outside it. ``None`` when there is nothing to draw (an empty day)."""
    if not digest.series:
        return None
    fonts = families()
    fig, ax = _figure(HEIGHT_PX, fonts)
    count = len(digest.series)
    days: list[dt.date] = []
    for n, (name, points) in enumerate(digest.series.items()):
        days = [d for d, _ in points]
        shift = (n - (count - 1) / 2) * DODGE
        ax.plot(
            [i + shift for i in range(len(points))],
            [p for _, p in points],
            marker=MARKERS[n % len(MARKERS)],
            markersize=7,
            markeredgecolor="white",
            markeredgewidth=1,
            linestyle=LINESTYLES[n % len(LINESTYLES)],
            linewidth=2.2,
            alpha=0.9,
            color=PALETTE[n % len(PALETTE)],
            zorder=2 + count - n,
            label=_label(name),
        )
    ax.set_xticks(range(len(days)), [d.strftime("%a %d %b") for d in days])
    ax.set_xlim(-0.5, len(days) - 0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.set_ylabel("plays per day", fontfamily=fonts)
    ax.set_title(
        f"Top tracks in {_label(digest.community)} — week to {digest.day.isoformat()} (UTC)",
        fontfamily=fonts,
    )
    ax.grid(True, alpha=0.3)
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0,
        frameon=False,
        prop={"family": fonts, "size": "small"},
    )
    return fig


def chart_png(digest: Digest) -> bytes | None:
    """:func:`chart_figure` as a PNG (``WIDTH_PX`` × ``HEIGHT_PX``), or ``None`` when there is
    nothing to draw (an empty day)."""
    fig = chart_figure(digest)
    return None if fig is None else _png(fig)


def member_chart_height(entries: int) -> int:
    """The member chart's height in pixels for ``entries`` bars."""
    return BARS_FRAME_PX + BAR_PX * entries


def member_chart_figure(c: MemberChart, *, shared: bool = False) -> Figure | None:
    """``c`` as horizontal bars, rank 1 on top, each labelled with its rank and name and ending in
    its play count; titled like :func:`bot.render.chart_title` (``shared``: the member named, as in
    a channel). ``None`` when there are no entries."""
    if not c.entries:
        return None
    fonts = families()
    fig, ax = _figure(member_chart_height(len(c.entries)), fonts)
    rows = range(len(c.entries))
    plays = [e.plays for e in c.entries]
    bars = ax.barh(rows, plays, height=0.7, color=PALETTE[0])
    ax.set_yticks(rows, [f"{e.rank}. {_label(e.name)}" for e in c.entries])
    ax.invert_yaxis()
    ax.bar_label(bars, labels=[str(p) for p in plays], padding=4, fontfamily=fonts)
    ax.set_xlim(0, max(plays) * 1.12)  # room for the counts at the bars' ends
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("plays", fontfamily=fonts)
    ax.set_title(render.chart_title(c, esc=_label, shared=shared), fontfamily=fonts)
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def member_chart_png(c: MemberChart, *, shared: bool = False) -> bytes | None:
    """:func:`member_chart_figure` as a PNG (``WIDTH_PX`` × :func:`member_chart_height`), or
    ``None`` when there is nothing to draw."""
    fig = member_chart_figure(c, shared=shared)
    return None if fig is None else _png(fig)
