"""The digest chart: daily plays of the day's top tracks over the week, as a PNG.

Drawn with matplotlib's object API on an Agg canvas (``matplotlib.figure.Figure``, never
``pyplot``), so there is no global figure state and it is safe from the scheduler's threads.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.service import Digest

WIDTH_PX = 1000
HEIGHT_PX = 500
DPI = 100
LABEL_LIMIT = 40
PALETTE = ("#8B5CF6", "#F97316", "#10B981", "#3B82F6", "#EF4444", "#EAB308", "#14B8A6", "#EC4899")


def _label(name: str) -> str:
    return name if len(name) <= LABEL_LIMIT else name[: LABEL_LIMIT - 1] + "…"


def chart_png(digest: Digest) -> bytes | None:
    """The chart for ``digest`` (``WIDTH_PX`` × ``HEIGHT_PX``), or ``None`` when there is nothing
    to draw (an empty day)."""
    if not digest.series:
        return None
    fig = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
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
    ax.set_title(f"Top tracks in {_label(digest.community)} — week to {digest.day.isoformat()} (UTC)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize="small", framealpha=0.85)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
