"""A deterministic synthetic community: members in taste clusters, power-law artists and tracks,
timestamped plays over the last days, and a couple of tracks that clearly rise at the end.

Used by ``tastemaker demo`` (``make demo``). Pure: yields rows, writes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ingest.importers import Row

_ADJ = [
    "Velvet",
    "Silver",
    "Hollow",
    "Neon",
    "Paper",
    "Quiet",
    "Electric",
    "Golden",
    "Broken",
    "Wild",
    "Lunar",
    "Crimson",
    "Midnight",
    "Glass",
    "Static",
    "Honey",
    "Iron",
    "Little",
    "Northern",
    "Secret",
    "Cosmic",
    "Faded",
    "Bright",
    "Frozen",
    "Distant",
    "Wandering",
    "Burning",
    "Salt",
]
_NOUN = [
    "Foxes",
    "Harbour",
    "Engines",
    "Lanterns",
    "Orchard",
    "Ghosts",
    "Rivers",
    "Signals",
    "Tigers",
    "Comets",
    "Gardens",
    "Wolves",
    "Mirrors",
    "Satellites",
    "Pilots",
    "Sparrows",
    "Machines",
    "Canyons",
    "Hearts",
    "Tides",
    "Owls",
    "Radios",
    "Cathedrals",
    "Islands",
]
_WORDS = [
    "love",
    "night",
    "summer",
    "fire",
    "heart",
    "rain",
    "dream",
    "light",
    "road",
    "home",
    "ocean",
    "river",
    "star",
    "city",
    "shadow",
    "morning",
    "gold",
    "blue",
    "wire",
    "echo",
    "storm",
    "garden",
    "window",
    "letter",
    "silence",
    "dance",
    "winter",
    "stone",
    "ghost",
    "radio",
]
GENRES = ("indie", "metal", "jazz", "electronic", "hiphop", "folk")


@dataclass(frozen=True)
class SyntheticCommunity:
    members: list[str]
    clusters: list[int]
    artists: list[str]
    artist_cluster: list[int]
    tracks: list[tuple[int, str]]  # (artist index, title)
    rising: list[int]  # track indices that rise in the last days


def build(
    seed: int, *, members: int = 300, artists: int = 240, tracks_per_artist: int = 12
) -> SyntheticCommunity:
    rng = np.random.default_rng(seed)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < artists:
        a, n = rng.choice(_ADJ), rng.choice(_NOUN)
        style = int(rng.integers(3))
        name = f"The {a} {n}" if style == 0 else f"{a} {n}" if style == 1 else f"{a}{n.lower()}"
        if name.casefold() not in seen:
            seen.add(name.casefold())
            names.append(name)
    artist_cluster = [i % len(GENRES) for i in range(artists)]
    tracks = []
    for ai in range(artists):
        titles: set[str] = set()
        while len(titles) < tracks_per_artist:
            w = rng.choice(_WORDS, size=int(rng.integers(1, 4)), replace=False)
            titles.add(" ".join(str(x) for x in w).title())
        tracks += [(ai, t) for t in sorted(titles)]
    member_names = [f"member{m:03d}" for m in range(members)]
    clusters = [int(rng.integers(len(GENRES))) for _ in range(members)]
    # Two rising tracks from mid-popularity artists of different clusters.
    rising = [tracks_per_artist * 13 + 5, tracks_per_artist * 26 + 7]
    return SyntheticCommunity(member_names, clusters, names, artist_cluster, tracks, rising)


def plays(
    c: SyntheticCommunity,
    seed: int,
    *,
    n_plays: int = 40_000,
    days: int = 30,
    now: dt.datetime,
    tracks_per_artist: int = 12,
) -> Iterator[Row]:
    """Timestamped single plays over ``days`` days before ``now``, plus the rising tracks' surge."""
    rng = np.random.default_rng(seed + 1)
    by_cluster = [[a for a, cl in enumerate(c.artist_cluster) if cl == k] for k in range(len(GENRES))]
    # Zipf-like popularity inside each cluster and inside each artist's tracks.
    artist_w = [np.array([1.0 / (r + 1) ** 1.1 for r in range(len(lst))]) for lst in by_cluster]
    artist_w = [w / w.sum() for w in artist_w]
    track_w = np.array([1.0 / (r + 1) ** 1.3 for r in range(tracks_per_artist)])
    track_w /= track_w.sum()
    span = days * 86400
    m_idx = rng.integers(len(c.members), size=n_plays)
    own = rng.random(n_plays) < 0.85
    other_cluster = rng.integers(len(GENRES), size=n_plays)
    offsets = rng.integers(span, size=n_plays)
    line = 0
    for k in range(n_plays):
        m = int(m_idx[k])
        cl = c.clusters[m] if own[k] else int(other_cluster[k])
        a = by_cluster[cl][int(rng.choice(len(by_cluster[cl]), p=artist_w[cl]))]
        t = a * tracks_per_artist + int(rng.choice(tracks_per_artist, p=track_w))
        line += 1
        yield Row(
            line, c.members[m], c.artists[a], c.tracks[t][1], now - dt.timedelta(seconds=int(offsets[k]))
        )
    # The surge: plays of the rising tracks grow day by day over the last 3 days.
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today_seconds = max(1, int((now - midnight).total_seconds()))
    for t in c.rising:
        a = c.tracks[t][0]
        fans = [i for i, cl in enumerate(c.clusters) if cl == c.artist_cluster[a]]
        for back, count in ((2, 15), (1, 40), (0, 70)):
            day_start = midnight - dt.timedelta(days=back)
            for _ in range(count):
                m = fans[int(rng.integers(len(fans)))]
                sec = int(rng.integers(86400 if back else today_seconds))
                line += 1
                yield Row(
                    line, c.members[m], c.artists[a], c.tracks[t][1], day_start + dt.timedelta(seconds=sec)
                )
