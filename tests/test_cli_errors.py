"""Operational failures on the command line: one clear line on stderr, a non-zero exit, no traceback,
and no secret."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from bot import logs
from bot.errors import explain

ROOT = Path(__file__).resolve().parents[1]


def _cli(
    *args: str, stdin: str = "", cwd: Path | None = None, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m bot.cli`` in ``cwd`` (its log file is the default one, :func:`bot.logs.log_file`
    under the test's per-user folders); ``env`` values of None remove a variable."""
    full_env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT)}
    for key, value in {"TASTEMAKER_LOG_FILE": None, **(env or {})}.items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        env=full_env,
    )


def _chat(db: str, script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return _cli("chat", "--db", db, "--community", "c", "--member", "m", stdin=script, cwd=cwd)


def test_database_password_is_never_printed(tmp_path: Path) -> None:
    r = _cli("jobs", "--db", "postgresql+psycopg://tm:SECRET@127.0.0.1:1/tm", cwd=tmp_path)
    assert r.returncode != 0
    assert "SECRET" not in r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot open database postgresql+psycopg://tm:***@")
    assert "Traceback" not in r.stderr


def _one_error_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr + r.stdout
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, r.stderr
    return errors[0]


def _count_plays(db_file: Path) -> int:
    with sqlite3.connect(db_file) as conn:
        return int(conn.execute("SELECT count(*) FROM plays").fetchone()[0])


def test_read_only_database_is_one_line_and_read_only_commands_still_work(tmp_path: Path) -> None:
    db_file = tmp_path / "x.db"
    ok = _chat(f"sqlite:///{db_file}", "/played Radiohead - Creep\n", tmp_path)
    assert ok.returncode == 0, ok.stderr
    ro = f"sqlite:///file:{db_file}?mode=ro&uri=true"
    r = _chat(ro, "/played Radiohead - Airbag\n/trending all\n", tmp_path)
    assert "read-only" in _one_error_line(r)
    assert "Radiohead" in r.stdout  # the session went on and answered the next command
    assert _count_plays(db_file) == 1
    for args in (["jobs"], ["digest", "preview", "--community", "c"]):
        r = _cli(*args, "--db", ro, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
    r = _cli("export", "recommendations", "--out", str(tmp_path / "e.tsv"), "--db", ro, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # The traceback is in the log file, not on the terminal.
    assert "Traceback" in logs.default_log_file().read_text(encoding="utf-8")


def test_database_from_a_newer_tastemaker_is_one_line(tmp_path: Path) -> None:
    db_file = tmp_path / "x.db"
    assert _chat(f"sqlite:///{db_file}", "/played Radiohead - Creep\n", tmp_path).returncode == 0
    with sqlite3.connect(db_file) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    r = _cli("jobs", "--db", f"sqlite:///{db_file}", cwd=tmp_path)
    assert "newer tastemaker" in _one_error_line(r)
    assert _count_plays(db_file) == 1


def test_missing_java_is_one_line_and_the_run_is_recorded_failed(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    assert _chat(db, "/played Radiohead - Creep\n", tmp_path).returncode == 0
    env: dict[str, str | None] = {
        "JAVA_HOME": str(tmp_path / "no-java"),
        "PATH": "/nonexistent",
        "SPARK_HOME": None,
    }
    r = _cli("batch", "--db", db, cwd=tmp_path, env=env)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr + r.stdout
    assert "Java could not start" in _one_error_line(r)
    assert r.stdout == ""
    with sqlite3.connect(tmp_path / "x.db") as conn:
        status, detail = conn.execute("SELECT status, detail FROM job_runs").fetchone()
    assert status == "failed" and "Java" in detail


def test_disk_full_is_explained() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("PRAGMA max_page_count = 2")
    conn.execute("CREATE TABLE t (x TEXT)")
    try:
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 4000,)] * 50)
    except sqlite3.OperationalError as exc:
        assert explain(exc).startswith("the disk is full")
    else:
        raise AssertionError("SQLite did not fill up")
    assert explain(OSError(errno.ENOSPC, "No space left on device")).startswith("the disk is full")


def _wait_for_child(parent: subprocess.Popen[str], match: str, timeout: float = 120.0) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert parent.poll() is None, "the command ended before the child appeared"
        for child in psutil.Process(parent.pid).children(recursive=True):
            try:
                if match in " ".join(child.cmdline()):
                    return child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.05)
    raise AssertionError(f"no child process matching {match!r}")


def _background(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(ROOT), "TASTEMAKER_ALS_RANK": "8"}
    env.pop("TASTEMAKER_LOG_FILE", None)
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


def test_import_writer_killed_is_one_line_and_a_rerun_completes(tmp_path: Path) -> None:
    rows = 240_000  # more than one 50k batch: the writer process is used
    f = tmp_path / "big.csv"
    with f.open("w", encoding="utf-8") as fh:
        fh.write("user,artist,track,played_at\n")
        for k in range(rows):
            when = f"2026-11-{1 + k % 28:02d}T{k % 24:02d}:{k % 60:02d}:00Z"
            fh.write(f"u{k % 97},Artist {k % 501},Song {k % 13},{when}\n")
    db = f"sqlite:///{tmp_path / 'x.db'}"
    proc = _background(["import", "csv", str(f), "--db", db], tmp_path)
    _wait_for_child(proc, "ingest.bulk").kill()
    out, err = proc.communicate(timeout=120)
    r = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert "writer process died" in _one_error_line(r)
    again = _cli("import", "csv", str(f), "--db", db, "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    with sqlite3.connect(tmp_path / "x.db") as conn:
        assert conn.execute("SELECT count(*) FROM plays").fetchone()[0] == rows


@pytest.mark.spark
def test_spark_jvm_killed_mid_batch_is_one_line_and_nothing_is_half_written(tmp_path: Path) -> None:
    db_file = tmp_path / "x.db"
    script = "".join(f"/played Artist {k % 7} - Song {k}\n" for k in range(40))
    assert _chat(f"sqlite:///{db_file}", script, tmp_path).returncode == 0
    proc = _background(["batch", "--retrain", "--db", f"sqlite:///{db_file}"], tmp_path)
    java = _wait_for_child(proc, "org.apache.spark.deploy.SparkSubmit")
    time.sleep(8)  # let it get going (session up, the fold or the fit under way)
    java.kill()
    out, err = proc.communicate(timeout=180)
    r = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert "Spark JVM died" in _one_error_line(r) or "Java could not start" in _one_error_line(r)
    with sqlite3.connect(db_file) as conn:
        watermark = conn.execute("SELECT coalesce(max(last_play_id), 0) FROM watermarks").fetchone()[0]
        folded = conn.execute(
            "SELECT coalesce(sum(plays), 0) FROM daily_counts WHERE scope = 1 AND kind = 'artist'"
        ).fetchone()[0]
        status = conn.execute("SELECT status FROM job_runs ORDER BY id DESC").fetchone()[0]
    assert folded == watermark  # aggregates match the watermark: all of a part or none of it
    assert status == "failed"


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a disk that fills up for real (needs root; skipped elsewhere)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root?)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_disk_that_fills_mid_import_and_mid_played_is_one_line(tiny_disk: Path, tmp_path: Path) -> None:
    db_file = tiny_disk / "x.db"
    db = f"sqlite:///{db_file}"
    assert _chat(db, "/played Radiohead - Creep\n", tmp_path).returncode == 0
    f = tmp_path / "big.csv"  # on the big disk; only the database is on the small one
    with f.open("w", encoding="utf-8") as fh:
        fh.write("user,artist,track,played_at\n")
        for k in range(60_000):
            fh.write(f"u{k % 97},Artist {k % 3001},Song {k},2026-11-{1 + k % 28:02d}T10:{k % 60:02d}:00Z\n")
    r = _cli("import", "csv", str(f), "--db", db, cwd=tmp_path)
    assert "disk is full" in _one_error_line(r)
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        before = conn.execute("SELECT count(*) FROM plays").fetchone()[0]
    # The disk is still full: /played says so in one line, the session answers the next command.
    filler = tiny_disk / "filler"
    with filler.open("wb") as fh, contextlib.suppress(OSError):
        fh.write(b"\0" * 4_000_000)
    r = _chat(db, "/played Portishead - Roads\n/trending all\n", tmp_path)
    assert "disk is full" in _one_error_line(r)
    assert "Radiohead" in r.stdout
    with sqlite3.connect(db_file) as conn:
        assert conn.execute("SELECT count(*) FROM plays").fetchone()[0] == before


def test_py4j_chatter_goes_to_the_log_file_not_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dying Spark JVM makes Py4J log "Exception while sending command." itself; the terminal must
    still get only the job runner's one explained line."""
    import logging

    monkeypatch.setenv("TASTEMAKER_LOG_FILE", str(tmp_path / "t.log"))
    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        logs.configure()
        logging.getLogger("py4j.clientserver").error("Exception while sending command.")
        logging.getLogger("bot.jobs").error("job batch failed: the Spark JVM died")
        for handler in root.handlers:
            handler.flush()
    finally:
        for handler in list(root.handlers):
            if handler not in before[0]:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(before[1])
    err = capsys.readouterr().err.splitlines()
    assert err == ["error: job batch failed: the Spark JVM died"]
    assert "Exception while sending command." in (tmp_path / "t.log").read_text(encoding="utf-8")


def test_import_exports_as_downloaded_and_the_wrong_importer_is_one_line(tmp_path: Path) -> None:
    """The ListenBrainz and Spotify ZIPs import as downloaded; a Spotify export naming no user asks for
    --member once; one format given to another importer is one line naming the right command (exit 2),
    before any row is read."""
    from tests.ingest.exports import lastfm_csv, listenbrainz_zip, plays_csv, spotify_json, spotify_zip

    db_file = tmp_path / "x.db"
    db = f"sqlite:///{db_file}"

    def imp(*args: str) -> subprocess.CompletedProcess[str]:
        return _cli("import", *args, "--db", db, "--community", "crew", cwd=tmp_path)

    r = imp("listenbrainz", str(listenbrainz_zip(tmp_path)))
    assert (r.returncode, r.stdout, r.stderr) == (0, "read 15, imported 15, duplicates 0, rejected 0\n", "")
    spotify = spotify_zip(tmp_path)
    r = imp("spotify", str(spotify))
    assert r.returncode == 2 and r.stdout == ""
    assert _one_error_line(r) == f"error: {spotify}: this export has no user name: pass --member NAME"
    r = imp("spotify", str(spotify), "--member", "ada")
    assert r.returncode == 0, r.stderr
    assert r.stdout == (
        "read 6, imported 3, duplicates 0, skipped 3 (audiobook: 1, podcast: 1, shorter than 30 s: 1), "
        "rejected 0\n"
    )
    assert _count_plays(db_file) == 18
    wrong = [
        ("lastfm", spotify_json(tmp_path / "Streaming_History_Audio_2024_0.json"), "a Spotify extended "
         "streaming history: use tastemaker import spotify"),
        ("spotify", tmp_path / "listens.jsonl", "a ListenBrainz listens export: use tastemaker import "
         "listenbrainz"),
        ("listenbrainz", lastfm_csv(tmp_path / "scrobbles.csv"), "a Last.fm scrobble export: use "
         "tastemaker import lastfm --member NAME"),
        ("lastfm", plays_csv(tmp_path / "plays.csv"), "a CSV of plays with a user column: use tastemaker "
         "import csv"),
    ]  # fmt: skip
    (tmp_path / "listens.jsonl").write_text(
        '{"listened_at": 1706000000.0, "track_metadata": {"artist_name": "A", "track_name": "B"}}\n',
        encoding="utf-8",
    )
    for fmt, path, looks in wrong:
        r = imp(fmt, str(path), "--member", "ada")
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr == f"error: {path}: this looks like {looks}\n"
    assert _count_plays(db_file) == 18
