"""Operational failures on the command line: one clear line on stderr, a non-zero exit, no traceback,
and no secret."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from bot.errors import explain

ROOT = Path(__file__).resolve().parents[1]


def _cli(
    *args: str, stdin: str = "", cwd: Path | None = None, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m bot.cli`` in ``cwd`` (its log file lands in ``cwd/var``); ``env`` values of None
    remove a variable."""
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
    assert "Traceback" in (tmp_path / "var" / "tastemaker.log").read_text(encoding="utf-8")


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
