"""Two communities that share some artists and keep others to themselves, for isolation tests at
every layer: B's members play the shared artists *together with* B's private ones, so a model trained
on both ties them, and only the visibility rule keeps B's names out of A's answers."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

SHARED = ["Radiohead", "Björk", "Portishead", "Massive Attack"]
ONLY_A = ["Aphex Twin", "Boards of Canada", "Autechre"]
ONLY_B = ["Private Band of B", "Secret Quartet", "Hidden Orchestra Of Bee", "Basement Tapes Collective"]


def plays(community: str) -> Iterator[tuple[str, str, str, int]]:
    """``(member, artist, track, count)`` of community ``"A"`` or ``"B"``."""
    if community == "A":
        for m in range(6):
            for k, artist in enumerate(SHARED[: 2 + m % 3]):
                yield f"a{m}", artist, f"{artist} Song {k}", 2 + m
            yield f"a{m}", ONLY_A[m % 3], f"{ONLY_A[m % 3]} Track", 3
    else:
        for m in range(8):
            for artist in SHARED:
                yield f"b{m}", artist, f"{artist} Song 0", 4
            for k, artist in enumerate(ONLY_B):
                yield f"b{m}", artist, f"{artist} Secret Song {k}", 9


def assert_clean(texts: Iterable[str], forbidden: Iterable[str] = ONLY_B) -> list[str]:
    """Every text, checked: none names a forbidden artist (case-insensitive). Returns them."""
    seen = list(texts)
    banned = [f.lower() for f in forbidden]
    for text in seen:
        for name in banned:
            assert name not in text.lower(), f"{name!r} leaked into {text!r}"
    return seen
