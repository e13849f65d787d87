"""Shared helpers for the benchmark scripts: machine description, timing, markdown tables, and a
fast vectorised synthetic play generator (power-law artists and tracks, timestamps over 30 days)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from ingest.importers import Row  # noqa: E402


@dataclass
class Section:
    title: str
    command: str
    headers: Sequence[str]
    rows: list[Sequence[object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        out = [f"## {self.title}", "", f"Produced by: `{self.command}`", ""]
        out.append("| " + " | ".join(self.headers) + " |")
        out.append("|" + "|".join("---" for _ in self.headers) + "|")
        for r in self.rows:
            out.append("| " + " | ".join(_fmt(v) for v in r) + " |")
        if self.notes:
            out.append("")
            out += [f"- {n}" for n in self.notes]
        return "\n".join(out) + "\n"


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()
    versions = ", ".join(
        f"{p} {_version(p)}"
        for p in ("pyspark", "SQLAlchemy", "numpy", "slack_bolt", "discord.py", "implicit")
    )
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gib:.0f} GiB RAM, Python {platform.python_version()}, "
        f"{java[0] if java else 'java ?'}; {versions}"
    )


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def percentile(values: Sequence[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def synthetic_rows(
    n: int,
    *,
    seed: int,
    members: int = 2000,
    artists: int = 5000,
    tracks_per_artist: int = 10,
    days: int = 30,
    now: dt.datetime,
    line_offset: int = 0,
) -> Iterator[Row]:
    """``n`` single plays with Zipf-like artist and track popularity, spread over ``days`` days."""
    rng = np.random.default_rng(seed)
    ranks = np.arange(1, artists + 1, dtype=np.float64)
    p = ranks**-1.05
    p /= p.sum()
    a = rng.choice(artists, size=n, p=p)
    tr = np.minimum(rng.zipf(1.6, size=n) - 1, tracks_per_artist - 1)
    m = rng.integers(members, size=n)
    off = rng.integers(days * 86400, size=n)
    for k in range(n):
        yield Row(
            line_offset + k + 1,
            f"u{m[k]}",
            f"Artist {a[k]}",
            f"Track {a[k]}-{tr[k]}",
            now - dt.timedelta(seconds=int(off[k])),
        )
