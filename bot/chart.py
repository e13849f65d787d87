"""The charts as PNGs: the digest's (daily plays of the day's top tracks over the week) and a
member's ``/top`` (their play counts as horizontal bars).

Drawn with matplotlib's object API on an Agg canvas (``matplotlib.figure.Figure``, never
``pyplot``), so there is no global figure state and it is safe from the scheduler's threads.

Names may be in any script: user text is drawn in DejaVu Sans, then in whichever of
``FALLBACK_FONTS`` the host has, then in matplotlib's Last Resort font, which draws a placeholder
box for a character no other font has (instead of a missing-glyph warning and a gap).
"""

from __future__ import annotations

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
PALETTE = ("#8B5CF6", "#F97316", "#10B981", "#3B82F6", "#EF4444", "#EAB308", "#14B8A6", "#EC4899")
BASE_FONT = "DejaVu Sans"  # matplotlib's own default, always there
FALLBACK_FONTS = (
    "Noto Sans",
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Sans Devanagari",
    "Noto Sans Thai",
)
LAST_RESORT_FONT = "Last Resort High-Efficiency"  # shipped with matplotlib ≥ 3.10
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
    characters dropped (they would draw as boxes), cut to ``LABEL_LIMIT`` columns with ``…``, and
    ``$`` escaped so it never starts mathtext."""
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
    return shown.replace("$", r"\$")


def _families() -> list[str]:
    """The font families for user text, in fallback order, among those matplotlib can find."""
    have = {f.name for f in font_manager.fontManager.ttflist}
    return [BASE_FONT, *(f for f in (*FALLBACK_FONTS, LAST_RESORT_FONT) if f in have)]


def _figure(height_px: int) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(WIDTH_PX / DPI, height_px / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def chart_png(digest: Digest) -> bytes | None:
    """The chart for ``digest`` (``WIDTH_PX`` × ``HEIGHT_PX``), or ``None`` when there is nothing
    to draw (an empty day)."""
    if not digest.series:
        return None
    fig, ax = _figure(HEIGHT_PX)
    families = _families()
    days = None
    for n, (name, points) in enumerate(digest.series.items()):
        days = [d for d, _ in points]
        ax.plot(
            range(len(points)),
            [p for _, p in points],
            marker="o",
            linewidth=2.2,
            color=PALETTE[n % len(PALETTE)],
            label=_label(name),
        )
    if days:
        ax.set_xticks(range(len(days)), [d.strftime("%a %d %b") for d in days])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.set_ylabel("plays per day")
    ax.set_title(
        f"Top tracks in {_label(digest.community)} — week to {digest.day.isoformat()} (UTC)",
        fontfamily=families,
    )
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", framealpha=0.85, prop={"family": families, "size": "small"})
    return _png(fig)


def member_chart_height(entries: int) -> int:
    """The member chart's height in pixels for ``entries`` bars."""
    return BARS_FRAME_PX + BAR_PX * entries


def member_chart_figure(c: MemberChart, *, shared: bool = False) -> Figure | None:
    """``c`` as horizontal bars, rank 1 on top, each labelled with its rank and name and ending in
    its play count; titled like :func:`bot.render.chart_title` (``shared``: the member named, as in
    a channel). ``None`` when there are no entries."""
    if not c.entries:
        return None
    fig, ax = _figure(member_chart_height(len(c.entries)))
    families = _families()
    rows = range(len(c.entries))
    plays = [e.plays for e in c.entries]
    bars = ax.barh(rows, plays, height=0.7, color=PALETTE[0])
    ax.set_yticks(rows, [f"{e.rank}. {_label(e.name)}" for e in c.entries], fontfamily=families)
    ax.invert_yaxis()
    ax.bar_label(bars, labels=[str(p) for p in plays], padding=4)
    ax.set_xlim(0, max(plays) * 1.12)  # room for the counts at the bars' ends
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("plays")
    ax.set_title(render.chart_title(c, esc=_label, shared=shared), fontfamily=families)
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def member_chart_png(c: MemberChart, *, shared: bool = False) -> bytes | None:
    """:func:`member_chart_figure` as a PNG (``WIDTH_PX`` × :func:`member_chart_height`), or
    ``None`` when there is nothing to draw."""
    fig = member_chart_figure(c, shared=shared)
    return None if fig is None else _png(fig)
