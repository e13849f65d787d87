"""The command line's polish: an example in every --help that names a real command and real options,
bool options shown as flags, artist(s)/track(s) accepted as in the chat, and the import progress bar
(total, rate, ETA; only on a terminal)."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import pty
import re
import select
import shlex
import struct
import subprocess
import sys
import termios
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from typer.core import TyperArgument, TyperGroup, TyperOption
from typer.testing import CliRunner

from bot import cli as cli_module
from bot.cli import app
from bot.service import Service, Who
from config.settings import Settings
from ingest.formats import csv_rows
from ingest.importers import PROGRESS_ROWS, import_rows
from storage import catalog
from storage.db import Database

ROOT = Path(__file__).resolve().parents[1]
NOW = dt.datetime(2026, 11, 20, 12, 0, 0)


def cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def _commands() -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every group and command of the app, as (path of names, the command Typer builds), root first."""

    def walk(path: tuple[str, ...], cmd: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
        yield path, cmd
        if isinstance(cmd, TyperGroup):
            for name, sub in cmd.commands.items():
                yield from walk((*path, name), sub)

    yield from walk((), typer.main.get_command(app))


COMMANDS = dict(_commands())


# --- help: examples and flags ----------------------------------------------------------------------


def _help(path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("COLUMNS", "200")  # one example per line, never wrapped
    result = cli(*path, "--help")
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_the_app_has_the_commands_walked_here() -> None:
    leaves = sorted(" ".join(p) for p, c in COMMANDS.items() if not isinstance(c, TyperGroup))
    # member delete: a group and a command; eval models: a command
    assert len(COMMANDS) == 32 and len(leaves) == 23
    assert leaves[:3] == ["backup", "batch", "chat"] and "export recommendations" in leaves


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "tastemaker")
def test_every_help_shows_an_example_of_itself_and_flags_without_a_type(
    path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _help(path, monkeypatch)
    examples = re.findall(r"Example: (tastemaker .+?)\s*$", text, re.M)
    assert examples, text
    assert all(e.startswith(" ".join(("tastemaker", *path))) for e in examples), examples
    assert "<bool>" not in text and "BOOLEAN" not in text
    flags = [
        opt
        for p in COMMANDS[path].get_params(typer.Context(COMMANDS[path]))
        if isinstance(p, TyperOption) and p.is_flag
        for opt in p.opts
    ]
    assert "--help" in flags
    for flag in flags:  # the flag's row: its name, then straight to the help text
        assert re.search(rf"{re.escape(flag)}\s{{2,}}[A-Z]", text), (flag, text)


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda p: " ".join(p) or "tastemaker")
def test_every_example_names_real_options_and_the_arguments_its_command_takes(
    path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _help(path, monkeypatch)
    for example in re.findall(r"Example: (tastemaker .+?)\s*$", text, re.M):
        words = shlex.split(example)[1:]
        words = words[: words.index(">")] if ">" in words else words
        cmd = COMMANDS[()]
        while isinstance(cmd, TyperGroup):  # group names first, then the command's own words
            cmd = cmd.commands[words.pop(0)]
        ctx = typer.Context(cmd)
        options = {o: p for p in cmd.get_params(ctx) if isinstance(p, TyperOption) for o in p.opts}
        arguments = [p for p in cmd.params if isinstance(p, TyperArgument)]
        positional = 0
        while words:
            word = words.pop(0)
            if word.startswith("--"):
                assert word in options, (example, word)
                if not options[word].is_flag:
                    assert words and not words.pop(0).startswith("--"), (example, word)
            else:
                positional += 1
        assert positional == len(arguments), example


def test_a_flag_takes_no_value(tmp_path: Path) -> None:
    result = cli("slack", "manifest", "--json")
    assert result.exit_code == 0 and result.output.startswith("{"), result.output
    result = cli("slack", "manifest", "--json", "true")
    assert result.exit_code == 2  # "true" is an unexpected extra argument, not the flag's value


# --- kinds: artist(s) / track(s) as in the chat -----------------------------------------------------


@pytest.fixture
def two_communities(service: Service, settings: Settings) -> str:
    for who, play in [
        (Who("local", "crew", "ada"), "Low - Words"),
        (Who("local", "crew", "cy"), "Low - Words"),
        (Who("local", "crew", "cy"), "Can - Vitamin C"),
        (Who("local", "band", "bob"), "Private Band - Secret Song"),
    ]:
        service.played(who, play)
    return settings.database_url


def _export(db: str, out: Path, kind: str) -> Any:
    return cli(
        "export", "recommendations", "--out", str(out), "--kind", kind, "--community", "crew", "--db", db
    )


def test_export_takes_singular_and_plural_kinds_as_the_chat_does(
    two_communities: str, tmp_path: Path
) -> None:
    files: dict[str, str] = {}
    for kind in ("artist", "artists", "Artists", "track", "tracks"):
        out = tmp_path / f"{kind}.tsv"
        result = _export(two_communities, out, kind)
        assert result.exit_code == 0, result.output
        files[kind] = out.read_text(encoding="utf-8")
    # ada gets cy's other pick; crew's only, never band's Private Band
    assert files["artist"] == files["artists"] == files["Artists"] == "ada\t1\tCan\t1.000000\t\n"
    assert files["track"] == files["tracks"] == "ada\t1\tCan – Vitamin C\t1.000000\t\n"
    assert "Private Band" not in files["artist"] + files["track"]  # never another community's


def test_an_unknown_kind_is_one_line_naming_the_choices(two_communities: str, tmp_path: Path) -> None:
    result = _export(two_communities, tmp_path / "x.tsv", "songs")
    assert result.exit_code == 2
    assert "Invalid value for --kind: Unknown kind 'songs'. Use 'artists' or 'tracks'." in result.output
    assert not (tmp_path / "x.tsv").exists()


# --- import progress -------------------------------------------------------------------------------


def _plays_csv(path: Path, rows: int, *, newline_at_end: bool = True) -> Path:
    lines = ["user,artist,track,played_at,count"]
    lines += [
        f"u{i % 7},Artist {i % 50},Song {i},2025-01-01T00:{i // 60 % 60:02d}:{i % 60:02d},1"
        for i in range(rows)
    ]
    path.write_text("\n".join(lines) + ("\n" if newline_at_end else ""), encoding="utf-8")
    return path


def test_rows_in_counts_the_rows_of_inputs_it_can_count(tmp_path: Path) -> None:
    assert cli_module._rows_in("csv", _plays_csv(tmp_path / "a.csv", 3)) == 3
    assert cli_module._rows_in("csv", _plays_csv(tmp_path / "b.csv", 3, newline_at_end=False)) == 3
    (tmp_path / "s.csv").write_text(
        "Low,Things,Words,01 Jan 2025 10:00\nCan,Tago Mago,Halleluhwah,02 Jan 2025\n"
    )
    assert cli_module._rows_in("lastfm", tmp_path / "s.csv") == 2  # no header to take off
    (tmp_path / "l.jsonl").write_text('{"a": 1}\n{"a": 2}\n{"a": 3}\n{"a": 4}\n')
    assert cli_module._rows_in("listenbrainz", tmp_path / "l.jsonl") == 4
    hetrec = tmp_path / "hetrec"
    hetrec.mkdir()
    (hetrec / "user_artists.dat").write_text("userID\tartistID\tweight\n2\t51\t13883\n2\t52\t11690\n")
    assert cli_module._rows_in("hetrec", hetrec) == 2
    scrobbler = tmp_path / "scrobbler"
    scrobbler.mkdir()
    (scrobbler / "user_artist_data_small.txt").write_text("1 10 3\n1 11 4\n2 10 1\n2 12 9\n3 10 2\n")
    assert cli_module._rows_in("audioscrobbler", scrobbler) == 5
    with zipfile.ZipFile(tmp_path / "z.csv", "w") as z:  # a ZIP is not counted, whatever its name
        z.writestr("plays.csv", "user,artist\nada,Low\n")
    assert cli_module._rows_in("csv", tmp_path / "z.csv") is None
    (tmp_path / "StreamingHistory0.json").write_text("[]")
    assert cli_module._rows_in("spotify", tmp_path / "StreamingHistory0.json") is None
    assert cli_module._rows_in("listenbrainz", tmp_path / "a.csv") is None  # not .jsonl


def _crew(db: Database) -> int:
    with db.write() as conn:
        return catalog.community_id(conn, "local", "crew", "crew")


def test_progress_reports_rows_read_every_progress_rows_and_at_the_end(db: Database, tmp_path: Path) -> None:
    assert PROGRESS_ROWS == 4096
    calls: list[int] = []
    with _plays_csv(tmp_path / "p.csv", 10_000).open(encoding="utf-8") as fh:
        summary = import_rows(db, _crew(db), csv_rows(fh, NOW), source="csv", progress=calls.append)
    assert calls == [4096, 4096, 1808]  # one batch, written here
    assert (summary.read, summary.imported) == (10_000, 10_000)


def test_progress_across_writer_batches(db: Database, tmp_path: Path) -> None:
    calls: list[int] = []
    with _plays_csv(tmp_path / "p.csv", 10_000).open(encoding="utf-8") as fh:
        summary = import_rows(
            db, _crew(db), csv_rows(fh, NOW), source="csv", progress=calls.append, batch_rows=5000
        )
    assert calls == [4096, 904, 4096, 904]  # at 4096 pending, at each full batch of 5000
    assert (summary.read, summary.imported) == (10_000, 10_000)


def test_an_import_into_a_pipe_prints_the_summary_only(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'p.db'}"
    result = cli(
        "import", "csv", str(_plays_csv(tmp_path / "p.csv", 5000)), "--community", "crew", "--db", db
    )
    assert (result.exit_code, result.output) == (0, "read 5000, imported 5000, duplicates 0, rejected 0\n")


def test_an_import_on_a_terminal_shows_total_rate_and_eta(tmp_path: Path) -> None:
    """``tastemaker import csv`` with stderr on a pseudo-terminal 100 columns wide."""
    plays = _plays_csv(tmp_path / "plays.csv", 20_000)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASTEMAKER_")}
    env["PYTHONPATH"] = str(ROOT)
    args = ["import", "csv", str(plays), "--community", "crew", "--db", f"sqlite:///{tmp_path / 'p.db'}"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args], stdout=subprocess.PIPE, stderr=slave, env=env, cwd=tmp_path
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    stdout = proc.communicate(timeout=60)[0].decode()
    os.close(master)
    assert (proc.returncode, stdout) == (0, "read 20000, imported 20000, duplicates 0, rejected 0\n")
    bars = [b for b in seen.decode("utf-8", "replace").split("\r") if b.startswith("plays.csv:")]
    assert bars, seen
    assert all("/20.0k [" in b and " rows/s]" in b for b in bars), bars  # the total, counted first


def test_the_bar_shows_rate_and_eta_once_rows_were_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bar of :func:`bot.cli._progress` on a pseudo-terminal, fed by hand: after 5,000 of
    20,000 rows its once-a-second redraw shows the percentage, rate and time left (the import
    above may finish before its first redraw, so this waits for one rather than racing it)."""
    plays = _plays_csv(tmp_path / "plays.csv", 20_000)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    with open(slave, "w", encoding="utf-8", closefd=True) as terminal:
        monkeypatch.setattr(sys, "stderr", terminal)
        seen = ""
        with cli_module._progress("csv", plays) as update:
            update(5000)
            deadline = time.monotonic() + 60
            while "<" not in seen.rpartition("\r")[2].replace("<?", "") and time.monotonic() < deadline:
                if select.select([master], [], [], 0.5)[0]:
                    seen += os.read(master, 65536).decode("utf-8", "replace")
            update(15_000)
    os.close(master)
    bar = seen.rpartition("\r")[2]
    assert re.fullmatch(
        r"plays\.csv:\s+25%\|.*\| 5\.00k/20\.0k \[\d\d:\d\d<\d\d:\d\d, [\d.]+k? rows/s\]\s*", bar
    ), seen
