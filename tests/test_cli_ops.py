"""Operating the command line: where the files are, what a missing folder or an unknown community
says, the version, the log level and format, and the noise kept off the terminal."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot import demo, logs
from bot.cli import app
from bot.service import Service, Who
from config.settings import Settings
from tests.platforms.fake_slack import FakeSlack
from tests.platforms.slack.harness import slack_http_bot

ROOT = Path(__file__).resolve().parents[1]
UNKNOWN = "error: unknown community 'typo'\n"


def cli(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(app, list(args), input=input)


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``python -m bot.cli`` of this checkout, without any TASTEMAKER_* setting but ``env``."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("TASTEMAKER_")}
    full.update({"COLUMNS": "200", "PYTHONPATH": str(ROOT), **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=full,
    )


@pytest.fixture
def defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, Path]:
    """No database URL or log file set, the working directory an empty folder: the defaults apply.
    Returns the default database and log file (under the test's per-user folders)."""
    monkeypatch.delenv("TASTEMAKER_DATABASE_URL", raising=False)
    monkeypatch.delenv("TASTEMAKER_LOG_FILE", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    data, state = Path(os.environ["XDG_DATA_HOME"]), Path(os.environ["XDG_STATE_HOME"])
    return data / "tastemaker" / "tastemaker.db", state / "tastemaker" / "log" / "tastemaker.log"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger back as it was after a test that configures logging in-process."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


# --- predictable files -----------------------------------------------------------------------


def test_version_is_the_installed_distribution() -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.output == f"tastemaker {version('tastemaker')}\n"
    with (ROOT / "pyproject.toml").open("rb") as fh:
        assert version("tastemaker") == tomllib.load(fh)["project"]["version"]


def test_the_default_database_is_in_the_data_folder_from_any_working_directory(
    defaults: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_file, log_file = defaults
    first = cli("chat", "--community", "crew", "--member", "ada", input="/played Low - Words\n")
    assert first.exit_code == 0, first.output
    assert db_file.is_file()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    again = cli("chat", "--community", "crew", "--member", "ada", input="/plays\n")
    assert again.exit_code == 0 and "Low – Words" in again.output
    jobs = cli("jobs")
    assert jobs.exit_code == 0, jobs.output
    assert jobs.output.splitlines()[0] == f"tastemaker: database sqlite:///{db_file}; log file {log_file}"
    assert not (tmp_path / "work" / "var").exists() and not (elsewhere / "var").exists()


def test_run_prints_its_database_and_log_file_first(tmp_path: Path) -> None:
    fake = FakeSlack().start()
    bot = slack_http_bot(tmp_path, fake)
    try:
        bot.wait_for_line(r"tastemaker: serving slack")
    finally:
        code = bot.stop()
        fake.stop()
    assert code == 0, (bot.stdout, bot.stderr)
    assert bot.stdout.splitlines()[0] == (
        f"tastemaker: database sqlite:///{tmp_path / 'x.db'}; log file {logs.default_log_file()}"
    )


def test_a_missing_folder_is_an_error_unless_create(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plays = tmp_path / "plays.csv"
    plays.write_text("user,artist,track\nada,Low,Words\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'nope' / 'x.db'}"
    refused = cli("import", "csv", str(plays), "--db", url)
    assert refused.exit_code == 2
    assert (
        refused.output
        == f"error: the folder {tmp_path / 'nope'} does not exist: create it or pass --create\n"
    )
    assert not (tmp_path / "nope").exists()
    made = cli("import", "csv", str(plays), "--db", url, "--create")
    assert made.exit_code == 0, made.output
    assert (tmp_path / "nope" / "x.db").is_file()
    # A command without --create (it only reads) says there is no database there.
    gone = tmp_path / "gone" / "x.db"
    result = cli("jobs", "--db", f"sqlite:///{gone}")
    assert result.exit_code == 2
    assert result.output == f"error: no database at {gone}: the folder {gone.parent} does not exist\n"
    # A relative path is shown from the working directory it resolved against.
    monkeypatch.chdir(tmp_path)
    relative = cli("chat", "--db", "sqlite:///rel/x.db", input="/played Low - Words\n")
    assert relative.exit_code == 2
    assert (
        relative.output
        == f"error: the folder {tmp_path / 'rel'} does not exist: create it or pass --create\n"
    )
    # The same through the environment.
    monkeypatch.setenv("TASTEMAKER_DATABASE_URL", url.replace("nope", "nada"))
    result = cli("chat", input="/played Low - Words\n")
    assert result.exit_code == 2
    assert (
        result.output == f"error: the folder {tmp_path / 'nada'} does not exist: create it or pass --create\n"
    )


def test_an_old_default_database_in_the_working_directory_is_not_silently_replaced(
    defaults: tuple[Path, Path],
) -> None:
    db_file, _ = defaults
    Path("var").mkdir()
    Path("var/tastemaker.db").write_bytes(b"")
    result = cli("jobs")
    assert result.exit_code == 2
    assert result.output == (
        f"error: the default database is now {db_file}, and var/tastemaker.db (the old default) is here: "
        f"move it there (mv var/tastemaker.db {db_file}) or pass --db sqlite:///var/tastemaker.db\n"
    )
    assert not db_file.exists()
    assert cli("jobs", "--db", "sqlite:///var/tastemaker.db").exit_code == 0


# --- unknown communities ---------------------------------------------------------------------


@pytest.fixture
def crew(service: Service, settings: Settings) -> str:
    service.played(Who("local", "crew", "ada"), "Low - Words")
    service.played(Who("local", "band", "bob"), "Can - Vitamin C")
    return settings.database_url


def test_digest_preview_of_an_unknown_community_is_an_error(crew: str) -> None:
    result = cli("digest", "preview", "--community", "typo", "--db", crew)
    assert (result.exit_code, result.output) == (2, UNKNOWN)
    result = cli("digest", "preview", "--community", "slack:T0NONE", "--db", crew)
    assert (result.exit_code, result.output) == (2, "error: unknown community 'slack:T0NONE'\n")


def test_export_of_an_unknown_community_is_an_error(crew: str, tmp_path: Path) -> None:
    out = tmp_path / "recs.tsv"
    result = cli("export", "recommendations", "--out", str(out), "--community", "typo", "--db", crew)
    assert (result.exit_code, result.output) == (2, UNKNOWN)
    assert not out.exists()
    result = cli("export", "recommendations", "--out", str(out), "--community", "crew", "--db", crew)
    assert result.exit_code == 0, result.output
    members = {line.split("\t")[0] for line in out.read_text(encoding="utf-8").splitlines()}
    assert members <= {"ada"}  # only crew's member, never band's


def test_community_public_of_an_unknown_community_is_an_error(crew: str) -> None:
    result = cli("community", "public", "typo", "--db", crew)
    assert (result.exit_code, result.output) == (2, UNKNOWN)
    result = cli("community", "public", "crew", "--db", crew)
    assert (result.exit_code, result.output) == (
        0,
        "crew is now public: every community can see its plays.\n",
    )


# --- logging ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "line"),
    [
        (
            ["--log-level", "LOUD"],
            {},
            "error: --log-level: 'LOUD' is not a log level: use DEBUG, INFO, WARNING or ERROR",
        ),
        (
            [],
            {"TASTEMAKER_LOG_LEVEL": "loud"},
            "error: TASTEMAKER_LOG_LEVEL: 'loud' is not a log level: use DEBUG, INFO, WARNING or ERROR",
        ),
        (
            [],
            {"TASTEMAKER_LOG_FORMAT": "xml"},
            "error: TASTEMAKER_LOG_FORMAT: 'xml' is not a log format: use text or json",
        ),
    ],
)
def test_a_bad_log_setting_is_one_line(
    args: list[str], env: dict[str, str], line: str, crew: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = cli(*args, "jobs", "--db", crew)
    assert (result.exit_code, result.output) == (2, line + "\n")


def test_the_log_level_sets_what_reaches_the_terminal(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    env = {"TASTEMAKER_LOG_FILE": str(tmp_path / "t.log")}
    quiet = run_cli("jobs", "--db", db, cwd=tmp_path, env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr.splitlines() == [f"tastemaker: database {db}; log file {tmp_path / 't.log'}"]
    for chatty in (
        run_cli("--log-level", "info", "jobs", "--db", db, cwd=tmp_path, env=env),
        run_cli("jobs", "--db", db, cwd=tmp_path, env={**env, "TASTEMAKER_LOG_LEVEL": "INFO"}),
    ):
        assert chatty.returncode == 0, chatty.stderr
        info = [line for line in chatty.stderr.splitlines() if not line.startswith("tastemaker:")]
        assert info and all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [\w.]+: .+", x) for x in info), info
        assert any(line.endswith("alembic.runtime.migration: Context impl SQLiteImpl.") for line in info)


def test_json_logs_are_one_object_per_line_on_the_terminal_and_in_the_file(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    log = tmp_path / "t.log"
    env = {"TASTEMAKER_LOG_FILE": str(log), "TASTEMAKER_LOG_FORMAT": "json", "TASTEMAKER_LOG_LEVEL": "INFO"}
    r = run_cli("jobs", "--db", db, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    # The command's own output stays a plain line; every log record is a JSON object.
    assert [x for x in lines if not x.startswith("{")] == [f"tastemaker: database {db}; log file {log}"]
    records = [json.loads(x) for x in lines if x.startswith("{")]
    assert records and all(set(rec) == {"time", "level", "logger", "message"} for rec in records)
    assert {
        "level": "INFO",
        "logger": "alembic.runtime.migration",
        "message": "Context impl SQLiteImpl.",
    } in [{k: rec[k] for k in ("level", "logger", "message")} for rec in records]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", rec["time"]) for rec in records)
    assert [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] == records


def test_json_records_carry_the_traceback(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    monkeypatch.setenv("TASTEMAKER_LOG_FILE", str(tmp_path / "t.log"))
    logs.configure(json_lines=True)
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError:
        logging.getLogger("bot.jobs").exception("job batch failed")
    logging.getLogger("bot.jobs").info("to the file only")
    [line] = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert (record["level"], record["logger"], record["message"]) == ("ERROR", "bot.jobs", "job batch failed")
    assert record["exc_info"].startswith("Traceback (most recent call last):")
    assert record["exc_info"].endswith("ZeroDivisionError: division by zero")
    for handler in logging.getLogger().handlers:
        handler.flush()
    in_file = [json.loads(x) for x in (tmp_path / "t.log").read_text(encoding="utf-8").splitlines()]
    assert [r["message"] for r in in_file] == ["job batch failed", "to the file only"]


def test_console_level(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    restore_logging: None,
) -> None:
    monkeypatch.setenv("TASTEMAKER_LOG_FILE", str(tmp_path / "t.log"))
    logs.configure(console_level=logs.parse_level("error"))
    logging.getLogger("bot.jobs").warning("a warning")
    logging.getLogger("bot.jobs").error("an error")
    assert capsys.readouterr().err.splitlines() == ["error: an error"]
    logs.configure(console_level=logs.parse_level("Debug"))
    logging.getLogger("bot.jobs").debug("a detail")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d bot\.jobs: a detail\n", capsys.readouterr().err)


def test_discord_voice_warnings_are_kept_off(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    restore_logging: None,
) -> None:
    import discord
    from discord.voice_client import VoiceClient

    monkeypatch.setenv("TASTEMAKER_LOG_FILE", str(tmp_path / "t.log"))
    monkeypatch.setattr(VoiceClient, "warn_nacl", True)  # discord.py warns once per process
    monkeypatch.setattr(VoiceClient, "warn_dave", True)
    logs.configure(console_level=logging.INFO)
    with caplog.at_level(logging.INFO):
        discord.Client(intents=discord.Intents(guilds=True))  # as the bot builds it
    # discord.py did log them (caplog sees every record) ...
    assert [r.getMessage() for r in caplog.records if r.name == "discord.client"] == [
        "PyNaCl is not installed, voice will NOT be supported",
        "davey is not installed, voice will NOT be supported",
    ]
    # ... and neither the terminal nor the log file got them.
    assert capsys.readouterr().err == ""
    for handler in logging.getLogger().handlers:
        handler.flush()
    log = tmp_path / "t.log"
    assert "voice" not in (log.read_text(encoding="utf-8") if log.exists() else "")


@pytest.mark.spark
def test_a_batch_prints_no_spark_start_up_chatter(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'x.db'}"
    env = {"TASTEMAKER_LOG_FILE": str(tmp_path / "t.log"), "TASTEMAKER_ALS_RANK": "8"}
    script = "/played Low - Words\n/played Can - Vitamin C\n"
    r = run_cli("chat", "--db", db, "--community", "c", "--member", "m", cwd=tmp_path, env=env, stdin=script)
    assert r.returncode == 0, r.stderr
    r = run_cli("batch", "--db", db, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("folded plays 1..2 (2 rows)")
    # The JVM itself announces the incubator module Spark adds (--add-modules=jdk.incubator.vector);
    # no log4j line and no "Setting default log level" reaches the terminal.
    lines = [
        x for x in r.stderr.splitlines() if x != "WARNING: Using incubator modules: jdk.incubator.vector"
    ]
    assert lines == [f"tastemaker: database {db}; log file {tmp_path / 't.log'}"]


# --- the demo's hint -------------------------------------------------------------------------


def test_the_demo_names_a_tastemaker_command_that_works_as_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.chdir(tmp_path)
    assert demo.tastemaker_command() == f"{bin_dir / 'python'} -m bot.cli"  # no script installed
    script = bin_dir / "tastemaker"
    script.write_text("#!/bin/sh\n", encoding="utf-8")
    script.chmod(0o755)
    assert demo.tastemaker_command() == ".venv/bin/tastemaker"  # after make install, in the checkout
    monkeypatch.chdir(ROOT)
    assert demo.tastemaker_command() == str(script)  # from elsewhere
    monkeypatch.setenv("PATH", str(bin_dir))
    assert demo.tastemaker_command() == "tastemaker"  # an activated venv
    assert demo.demo_url() == f"sqlite:///{Path(os.environ['XDG_DATA_HOME']) / 'tastemaker' / 'demo.db'}"
