"""``/top … chart`` on the console: the text chart, then the PNG written to a new file in the temp
folder and its path; through :func:`handle` (two communities on one database) and through
``tastemaker chat``."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest

from bot.chart import WIDTH_PX, member_chart_height, member_chart_png
from bot.platforms.console.commands import CHART_PREFIX, handle
from bot.service import Service, Who
from tests.chat import run_chat
from tests.conftest import Clock
from tests.scheduler.test_digest import png_size

ANN = Who("local", "c1", "ann", community_name="Crew", member_name="Ann")
CAT = Who("local", "c1", "cat", member_name="Cat")
DAN = Who("local", "c1", "dan", member_name="Dan")
EVE = Who("local", "c2", "eve", community_name="Other", member_name="Eve")  # another community


def say(service: Service, who: Who, line: str) -> str:
    reply = handle(service, who, line, [], [])
    assert reply is not None
    return reply


@pytest.fixture
def charts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temp folder the pictures go to (``tempfile``'s, as ``TMPDIR`` sets it)."""
    folder = tmp_path / "charts"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def crew(service: Service, clock: Clock) -> Service:
    """Ann: Radiohead x3 (one of them Airbag), Björk - Jóga; Cat: Björk; Eve (c2): The Kills x2."""
    clock.now = dt.datetime(2026, 11, 18, 9, 0)
    for text in ("Radiohead", "Radiohead", "Radiohead - Airbag", "Björk - Jóga"):
        service.played(ANN, text)
    service.played(CAT, "Björk")
    service.played(EVE, "The Kills")
    service.played(EVE, "The Kills")
    clock.now = dt.datetime(2026, 11, 20, 12, 0)
    return service


def picture(reply: str, folder: Path) -> tuple[list[str], bytes]:
    """The reply's text lines and the picture its last line points to (the only one written)."""
    *lines, where = reply.splitlines()
    [written] = folder.iterdir()
    assert where == f"Chart picture: {written}"
    assert written.name.startswith(CHART_PREFIX) and written.suffix == ".png"
    data = written.read_bytes()
    written.unlink()
    return lines, data


def test_top_chart_prints_the_chart_and_writes_its_png(crew: Service, charts: Path) -> None:
    lines, data = picture(say(crew, ANN, "/top artists 30d chart"), charts)
    assert lines == ["Your top artists — the last 30 days", " 1. Radiohead — 3 plays", " 2. Björk — 1 play"]
    assert data == member_chart_png(crew.top(ANN, "artist", "30d"))
    assert png_size(data) == (WIDTH_PX, member_chart_height(2)) == (1000, 200)

    # `chart` anywhere, any case, beside another member's id: their chart, named.
    lines, data = picture(say(crew, CAT, "/top CHART ann tracks"), charts)
    assert lines == [
        "Ann's top tracks — all time",
        " 1. Radiohead – Airbag — 1 play",
        " 2. Björk – Jóga — 1 play",
    ]
    assert data == member_chart_png(crew.top(CAT, "track", "all", "ann"))

    # Without the word: the text alone, nothing written.
    assert (
        say(crew, ANN, "/top") == "Your top artists — all time\n 1. Radiohead — 3 plays\n 2. Björk — 1 play"
    )
    assert list(charts.iterdir()) == []


def test_nothing_to_draw_or_a_refusal_writes_nothing(crew: Service, clock: Clock, charts: Path) -> None:
    assert say(crew, DAN, "/top chart") == "You have no plays here yet: log one with /played."
    clock.now = dt.datetime(2026, 12, 10, 12, 0)
    assert say(crew, ANN, "/top 7d chart") == "You have no plays in the last 7 days."
    crew.privacy(ANN, "private")
    assert say(crew, CAT, "/top ann chart") == "Sorry — Ann keeps their listening private."
    assert list(charts.iterdir()) == []


def test_another_community_draws_only_its_own(crew: Service, charts: Path) -> None:
    assert say(crew, EVE, "/top chart ann") == "Sorry — That member has not logged any plays here yet."
    assert list(charts.iterdir()) == []
    lines, data = picture(say(crew, EVE, "/top chart"), charts)
    assert lines == ["Your top artists — all time", " 1. The Kills — 2 plays"]
    assert data == member_chart_png(crew.top(EVE, "artist", "all"))
    assert data != member_chart_png(crew.top(ANN, "artist", "all"))


def test_a_picture_that_cannot_be_written_is_one_line(
    crew: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    assert say(crew, CAT, "/top chart") == (
        "Your top artists — all time\n 1. Björk — 1 play\n"
        "The chart picture could not be written: No such file or directory."
    )


def test_through_tastemaker_chat(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "charts"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    r = run_chat(database_url, "/played Radiohead\n/played Mogwai\n/played Radiohead\n/top chart\n/help\n")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    out = r.stdout.splitlines()
    [written] = folder.iterdir()
    assert out[3:7] == [
        "Your top artists — all time",
        " 1. Radiohead — 2 plays",
        " 2. Mogwai — 1 play",
        f"Chart picture: {written}",
    ]
    assert png_size(written.read_bytes()) == (1000, 200)
    assert (
        "/top [artists|tracks] [7d|30d|year|all] [member] [chart] — a member's own chart "
        "(chart: as a picture too) (e.g. /top tracks 30d chart)"
    ) in out
