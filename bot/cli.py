"""The ``tastemaker`` command line. Commands build settings, a database and a service, then call
into the service, the engine's job registry or an adapter; no logic of their own."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import typer.core
from sqlalchemy.engine import make_url

from bot import logs, platforms
from bot.errors import explain
from config.settings import Settings, default_database_url, load_settings
from storage.db import Database, display_url, open_database, redact, sqlite_path

if TYPE_CHECKING:
    from bot.jobs import JobContext


class _FlagsShown:
    """Renders a bool option as the flag it is (``--json``), not ``--json <bool>``: Typer's rich help
    prints every option's type, flags included; a flag whose metavar is empty prints none."""

    def get_params(self, ctx: Any) -> list[Any]:
        params = super().get_params(ctx)  # type: ignore[misc]
        for param in params:
            if isinstance(param, typer.core.TyperOption) and param.is_flag and param.metavar is None:
                param.metavar = ""
        return params


class _Command(_FlagsShown, typer.core.TyperCommand):
    pass


class _Group(_FlagsShown, typer.core.TyperGroup):
    pass


class _Typer(typer.Typer):
    """A Typer app whose groups and commands show flags as flags (:class:`_FlagsShown`)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cls=_Group, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        return super().command(*args, cls=_Command, **kwargs)


app = _Typer(
    add_completion=False,
    no_args_is_help=True,
    help="tastemaker: a music bot for Discord and Slack.",
    epilog="Example: tastemaker demo",
    pretty_exceptions_enable=False,
)
import_app = _Typer(
    no_args_is_help=True,
    epilog="Example: tastemaker import csv plays.csv --community crew",
    help="Import listening history.",
)
export_app = _Typer(
    no_args_is_help=True,
    epilog="Example: tastemaker export recommendations --out recs.tsv --kind tracks",
    help="Export computed data.",
)
eval_app = _Typer(
    no_args_is_help=True,
    epilog="Example: tastemaker eval hetrec hetrec2011-lastfm-2k",
    help="Evaluate recommendation quality.",
)
discord_app = _Typer(
    no_args_is_help=True,
    epilog="Example: tastemaker discord sync --guild 123456789012345678",
    help="Discord administration.",
)
digest_app = _Typer(
    no_args_is_help=True,
    epilog="Example: tastemaker digest preview --community crew --out digest.png",
    help="The daily trending digest.",
)
community_app = _Typer(
    no_args_is_help=True,
    epilog="Example: tastemaker community public hetrec",
    help="Communities and what they may see.",
)
app.add_typer(import_app, name="import")
app.add_typer(digest_app, name="digest")
app.add_typer(export_app, name="export")
app.add_typer(eval_app, name="eval")
app.add_typer(discord_app, name="discord")
member_app = _Typer(
    no_args_is_help=True,
    epilog="Example: tastemaker member delete --community discord:123456789012345678 --member 98765",
    help="Members of a community.",
)
app.add_typer(community_app, name="community")
app.add_typer(member_app, name="member")

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: $TASTEMAKER_DATABASE_URL, else tastemaker.db in the per-user "
        "data folder, ~/.local/share/tastemaker on Linux).",
    ),
]
CreateOpt = Annotated[
    bool,
    typer.Option("--create", help="Create the SQLite database's folder if it does not exist."),
]
CommunityOpt = Annotated[
    str,
    typer.Option(
        "--community",
        help=f"Community: {platforms.references()}.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print a JSON summary.")]


# Where the default database was before it moved to the per-user data folder.
LEGACY_DATABASE = Path("var/tastemaker.db")


def _settings(db: str | None, **overrides: Any) -> Settings:
    try:
        return load_settings(database_url=db, **overrides)
    except Exception as exc:  # pydantic's message names the bad setting
        raise typer.BadParameter(str(exc)) from exc


def _check_spark(settings: Settings) -> None:
    """Refuse Spark settings that cannot work (a cluster master without a shared checkpoint
    directory) before anything starts: one line saying what to set, exit status 2."""
    from engine.session import SparkSetupError, check_settings

    try:
        check_settings(settings)
    except SparkSetupError as exc:
        _fail(str(exc), exc)


def _check_folder(url: str, create: bool | None) -> None:
    """A SQLite file in a folder that does not exist is an error (exit 2) unless ``create`` (the
    command's ``--create``; ``None``: a command without one). The default database's folder is
    created. Also refuses to start a new default database while an older tastemaker's
    ``var/tastemaker.db`` sits in the working directory."""
    path = sqlite_path(url)
    if path is None:
        return
    default = url == default_database_url()
    if default and not path.exists() and LEGACY_DATABASE.is_file():
        typer.echo(
            f"error: the default database is now {path}, and {LEGACY_DATABASE} (the old default) is "
            f"here: move it there (mv {LEGACY_DATABASE} {path}) or pass --db sqlite:///{LEGACY_DATABASE}",
            err=True,
        )
        raise typer.Exit(2)
    if path.parent.is_dir():
        return
    if default or create:
        path.parent.mkdir(parents=True, exist_ok=True)
        return
    folder = path.parent.absolute()
    if create is None:
        typer.echo(f"error: no database at {path}: the folder {folder} does not exist", err=True)
    else:
        typer.echo(f"error: the folder {folder} does not exist: create it or pass --create", err=True)
    raise typer.Exit(2)


def _database(settings: Settings, *, create: bool | None = None) -> Database:
    """Open (and migrate) the database; any failure is one line and exit 2. ``create``: see
    :func:`_check_folder`."""
    url = settings.database_url
    _check_folder(url, create)
    try:
        return open_database(settings.database_url)
    except Exception as exc:
        logging.getLogger("tastemaker").info("cannot open database", exc_info=exc)
        reason = redact(explain(exc), url)
        if isinstance(exc, ModuleNotFoundError):
            reason += " (for Postgres: .venv/bin/pip install -e '.[postgres]')"
        typer.echo(f"error: cannot open database {display_url(url)}: {reason}", err=True)
        raise typer.Exit(2) from exc


def _announce(settings: Settings, out: Any = None) -> None:
    """The one line a long-running command starts with: which database (password masked) and log
    file it uses (stderr unless ``out`` is given)."""
    line = f"tastemaker: database {display_url(settings.database_url)}; log file {logs.log_file()}"
    if out is None:
        typer.echo(line, err=True)
    else:
        out(line)


def _existing_community(database: Database, spec: str) -> tuple[str, str, int]:
    """``spec`` → ``(platform, external id, community id)`` of a community the database knows;
    an unknown one is an error (one line, exit 2), never an empty answer."""
    from storage import catalog

    platform, ext = community_ref(spec)
    with database.read() as conn:
        cid = catalog.find_community(conn, platform, ext)
    if cid is None:
        typer.echo(f"error: unknown community {spec!r}", err=True)
        raise typer.Exit(2)
    return platform, ext, cid


def _existing_member(database: Database, spec: str, member: str) -> tuple[int, int]:
    """``--community spec --member member`` → ``(community id, member id)`` of a member the database
    knows in that community; an unknown community or member is an error (one line, exit 2)."""
    from storage import catalog

    platform, _, cid = _existing_community(database, spec)
    try:
        member_ext = platforms.get(platform).parse_member(member)
    except platforms.PlatformError as exc:
        raise typer.BadParameter(str(exc), param_hint="--member") from exc
    with database.read() as conn:
        mid = catalog.find_member(conn, cid, member_ext)
    if mid is None:
        _fail(f"unknown member {member!r} in {spec!r}")
    return cid, mid


def community_ref(spec: str) -> tuple[str, str]:
    """``[platform:]id`` → ``(platform, external id as the platform stores it)``: ``slack:T0123`` is
    the workspace the Slack bot stores as ``-:T0123`` (see :func:`bot.platforms.parse_community`)."""
    try:
        return platforms.parse_community(spec)
    except platforms.PlatformError as exc:
        raise typer.BadParameter(str(exc), param_hint="--community") from exc


@app.command()
def chat(
    community: CommunityOpt = platforms.DEFAULT,
    member: Annotated[str, typer.Option("--member", help="Your member id in that community.")] = "me",
    db: DbOpt = None,
    create: CreateOpt = False,
) -> None:
    """Talk to the bot on the console: /played, /recommend, /trending, /digest, /plays, /remove, /undo,
    /whoknows, /top, /recent, /profile, /neighbours, /similar, /taste, /privacy, /help (one per line).

    Example: tastemaker chat --community crew --member ada"""
    from bot.platforms.console.commands import run_chat
    from bot.service import Service, Who

    settings = _settings(db)
    database = _database(settings, create=create)
    platform, ext = community_ref(community)
    try:
        member_id = platforms.get(platform).parse_member(member)
    except platforms.PlatformError as exc:
        raise typer.BadParameter(str(exc), param_hint="--member") from exc
    name = platforms.format_community(platform, ext)
    who = Who(platform, ext, member_id, community_name=name, member_name=member)
    interactive = sys.stdin.isatty()
    if interactive:
        _announce(settings, typer.echo)
        typer.echo("tastemaker console — type /help, Ctrl-D to leave.")
    if run_chat(Service(database, settings), who, sys.stdin, typer.echo):
        raise typer.Exit(1)


@import_app.command("csv")
def import_csv_cmd(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="UTF-8 CSV file.")],
    community: CommunityOpt = "local",
    db: DbOpt = None,
    json_out: JsonOpt = False,
    create: CreateOpt = False,
) -> None:
    """Import plays from a CSV with header user,artist,track,played_at,count (the last three optional).

    Example: tastemaker import csv plays.csv --community crew"""
    _import_format("csv", file, community, None, db, json_out, create)


MemberOpt = Annotated[
    str | None,
    typer.Option(
        "--member",
        help="Member that gets every play (single-user exports: lastfm, listenbrainz, spotify; "
        "required when the export names no user, else the export's user name is used).",
    ),
]


def _import_format(
    fmt: str, path: Path, reference: str, member: str | None, db: str | None, json_out: bool, create: bool
) -> None:
    from ingest.formats import import_path
    from ingest.importers import Rejected
    from storage import catalog

    settings = _settings(db)
    database = _database(settings, create=create)
    platform, ext = community_ref(reference)
    with database.write() as conn:
        cid = catalog.community_id(conn, platform, ext, ext)
    try:
        with _progress(fmt, path) as progress:
            summary = import_path(
                database,
                cid,
                fmt,
                path,
                member=member,
                now=dt.datetime.now(dt.UTC).replace(tzinfo=None),
                progress=progress,
            )
    except Rejected as exc:
        typer.echo(f"error: {path}: {exc}", err=True)
        raise typer.Exit(2) from exc
    _report(summary, json_out)


@import_app.command("hetrec")
def import_hetrec_cmd(
    folder: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="HetRec 2011 Last.fm-2k folder.")
    ],
    community: CommunityOpt = "local",
    db: DbOpt = None,
    json_out: JsonOpt = False,
    create: CreateOpt = False,
) -> None:
    """Import user_artists.dat (+ artists.dat names): one undated play of `weight` listens per pair.

    Example: tastemaker import hetrec hetrec2011-lastfm-2k --community hetrec"""
    _import_format("hetrec", folder, community, None, db, json_out, create)


@import_app.command("audioscrobbler")
def import_audioscrobbler_cmd(
    folder: Annotated[
        Path,
        typer.Argument(
            exists=True, file_okay=False, help="Folder with user_artist_data, artist_data, artist_alias."
        ),
    ],
    community: CommunityOpt = "local",
    db: DbOpt = None,
    json_out: JsonOpt = False,
    create: CreateOpt = False,
) -> None:
    """Import Audioscrobbler play counts; artist_alias ids are applied first and stored as aliases.

    Example: tastemaker import audioscrobbler profiledata_06-May-2005 --community scrobblers"""
    _import_format("audioscrobbler", folder, community, None, db, json_out, create)


@import_app.command("lastfm")
def import_lastfm_cmd(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Scrobble CSV export (or a ZIP holding it).")
    ],
    member: MemberOpt = None,
    community: CommunityOpt = "local",
    db: DbOpt = None,
    json_out: JsonOpt = False,
    create: CreateOpt = False,
) -> None:
    """Import a Last.fm scrobble CSV (artist, album, track, date; header optional).

    Example: tastemaker import lastfm scrobbles.csv --member ada --community crew"""
    _import_format("lastfm", file, community, member, db, json_out, create)


@import_app.command("listenbrainz")
def import_listenbrainz_cmd(
    path: Annotated[
        Path,
        typer.Argument(
            exists=True, help="The export ZIP, its folder, or one listens JSON / JSON-lines file."
        ),
    ],
    member: MemberOpt = None,
    community: CommunityOpt = "local",
    db: DbOpt = None,
    json_out: JsonOpt = False,
    create: CreateOpt = False,
) -> None:
    """Import a ListenBrainz listens export (the ZIP as downloaded, JSON lines or a JSON array).

    Example: tastemaker import listenbrainz listenbrainz_ada.zip --community crew"""
    _import_format("listenbrainz", path, community, member, db, json_out, create)


@import_app.command("spotify")
def import_spotify_cmd(
    path: Annotated[
        Path,
        typer.Argument(exists=True, help="my_spotify_data.zip, its folder, or one streaming history JSON."),
    ],
    member: MemberOpt = None,
    community: CommunityOpt = "local",
    db: DbOpt = None,
    json_out: JsonOpt = False,
    create: CreateOpt = False,
) -> None:
    """Import Spotify streaming history (basic or extended); < 30 s plays and podcasts are skipped.

    Example: tastemaker import spotify my_spotify_data.zip --member ada --community crew"""
    _import_format("spotify", path, community, member, db, json_out, create)


@import_app.command("aliases")
def import_aliases_cmd(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="alias<TAB>canonical (or CSV) lines.")
    ],
    db: DbOpt = None,
    json_out: JsonOpt = False,
    create: CreateOpt = False,
) -> None:
    """Load artist aliases (chains resolved, cycles reported); they apply to later plays everywhere.

    Example: tastemaker import aliases aliases.tsv"""
    from ingest.importers import import_alias_file

    settings = _settings(db)
    _report(import_alias_file(_database(settings, create=create), file), json_out)


@contextmanager
def _progress(fmt: str, path: Path) -> Iterator[Callable[[int], None]]:
    """The progress bar of an import on stderr; yields the callback fed the rows read. It shows the
    count and rate, and percentage and ETA when :func:`_rows_in` can count the input's rows first;
    redrawn once a second (by a thread, as the reader waits while the writer catches up). Off (no
    counting, no output, no thread) unless stderr is a terminal."""
    from tqdm import tqdm

    disable = not sys.stderr.isatty()
    with tqdm(
        total=None if disable else _rows_in(fmt, path),
        unit=" rows",
        unit_scale=True,
        desc=path.name,
        mininterval=1.0,
        disable=disable,
        leave=False,
        file=sys.stderr,
    ) as bar:

        def update(rows: int) -> None:
            bar.update(rows)

        if disable:
            yield update
            return
        stop = threading.Event()

        def redraw() -> None:
            while not stop.wait(1.0):
                bar.refresh()

        thread = threading.Thread(target=redraw, name="import-progress", daemon=True)
        thread.start()
        try:
            yield update
        finally:
            stop.set()
            thread.join()


def _rows_in(fmt: str, path: Path) -> int | None:
    """The rows an import of ``path`` will read, counted as lines in one pass over the bytes before
    the import starts: the plain CSV of csv / lastfm (less csv's header), a ListenBrainz ``.jsonl``
    file, HetRec's user_artists.dat (less its header), Audioscrobbler's user_artist_data*.txt; else
    None (ZIPs, JSON, folders of several files), and the bar shows count and rate only."""
    found: Path | None = None
    skip = 0
    if path.is_file() and not zipfile.is_zipfile(path):
        if fmt in ("csv", "lastfm") or (fmt == "listenbrainz" and path.suffix == ".jsonl"):
            found, skip = path, int(fmt == "csv")
    elif path.is_dir() and fmt == "hetrec":
        found, skip = path / "user_artists.dat", 1
    elif path.is_dir() and fmt == "audioscrobbler":
        found = next(iter(sorted(path.glob("user_artist_data*.txt"))), None)
    if found is None or not found.is_file():
        return None
    lines, last = 0, b"\n"
    with found.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return max(0, lines + (last != b"\n") - skip)


def _report(summary, json_out: bool) -> None:
    if json_out:
        typer.echo(summary.to_json())
        return
    typer.echo(summary.line())
    for line, reason in summary.first_rejects:
        typer.echo(f"  line {line}: {reason}", err=True)
    if summary.rejected > len(summary.first_rejects):
        typer.echo(f"  … and {summary.rejected - len(summary.first_rejects)} more", err=True)


@community_app.command("public")
def community_public(
    community: Annotated[str, typer.Argument(help=f"Community: {platforms.references()}.")],
    off: Annotated[bool, typer.Option("--off", help="Make it private again.")] = False,
    db: DbOpt = None,
) -> None:
    """Mark a community public: every community may then be shown what was played in it (for an
    imported open data set, say). Communities are private by default.

    Example: tastemaker community public hetrec"""
    from storage import visibility

    database = _database(_settings(db))
    _, _, cid = _existing_community(database, community)
    with database.write() as conn:
        visibility.set_public(conn, cid, not off)
    typer.echo(f"{community} is now {'private' if off else 'public: every community can see its plays'}.")


@app.command()
def demo(
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL (default: demo.db in the per-user data folder)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic community.")] = 7,
    create: CreateOpt = False,
) -> None:
    """Run the whole loop on a fresh SQLite file: synthetic community → Spark batch → bot answers.

    Example: tastemaker demo --seed 7"""
    from bot.demo import demo_url, run_demo

    settings = _settings(db or demo_url())
    _check_folder(settings.database_url, create or db is None)
    run_demo(settings, seed=seed, out=typer.echo)


@app.command()
def run(
    ctx: typer.Context,
    platform: Annotated[
        list[str] | None,
        typer.Option(
            "--platform",
            help=f"Serve only this platform ({', '.join(platforms.served_names())}); repeat for several. "
            "Default: every platform whose credentials are set.",
        ),
    ] = None,
    http_port: Annotated[
        int | None,
        typer.Option(
            "--http-port",
            help="Slack HTTP mode port, 0 for any free one (else Socket Mode with SLACK_APP_TOKEN).",
        ),
    ] = None,
    http_host: Annotated[
        str,
        typer.Option("--http-host", help="Slack HTTP mode address to listen on (127.0.0.1 behind a proxy)."),
    ] = "0.0.0.0",
    db: DbOpt = None,
    create: CreateOpt = False,
) -> None:
    """Run the bot on every configured chat platform in one process (tokens come from the
    environment), with the one scheduler: the micro-batch every batch_interval_minutes and the daily
    digests. Only one process may own the scheduler's job store (the project database).

    Example: tastemaker run --platform discord"""
    from bot import runner
    from bot.jobs import worker_context
    from bot.service import Service

    settings = _settings(db)
    _check_spark(settings)
    try:
        chosen = platforms.to_serve(settings, platform)
    except platforms.PlatformError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    database = _database(settings, create=create)
    log = _log_options(ctx)
    if not log.debug:
        log.configure(default_level=logging.INFO)
    _announce(settings, typer.echo)
    # Spark jobs run in a worker process, which logs like this one (to the same log file).
    init = functools.partial(logs.configure, debug=log.debug, json_lines=log.json_lines)
    status = runner.serve(
        chosen,
        Service(database, settings),
        settings,
        lambda digest: worker_context(settings, database, digest=digest, init=init),
        http_port=http_port,
        http_host=http_host,
        err=lambda line: typer.echo(line, err=True),
    )
    if status:
        raise typer.Exit(status)


@discord_app.command("sync")
def discord_sync(
    guild: Annotated[
        str | None, typer.Option("--guild", help="Sync to one guild (instant) instead of globally.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Register the slash commands with Discord (explicitly, not on every start).

    Example: tastemaker discord sync --guild 123456789012345678"""
    from bot.platforms.discord.sync import sync_commands

    try:
        sync_commands(_settings(db), guild_id=guild)
    except platforms.PlatformError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc


slack_app = _Typer(
    no_args_is_help=True,
    epilog="Example: tastemaker slack manifest --url https://bot.example.org > manifest.yml",
    help="Slack administration.",
)
app.add_typer(slack_app, name="slack")


@slack_app.command("manifest")
def slack_manifest(
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="The bot's public HTTPS address: an HTTP-mode manifest whose request URLs are "
            "<url>/slack/events. Without it: the Socket Mode manifest.",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the manifest as JSON (Slack takes YAML or JSON).")
    ] = False,
) -> None:
    """Print the Slack app manifest (the scopes the code needs, every command) to paste at
    https://api.slack.com/apps → Create New App → From a manifest.

    Example: tastemaker slack manifest --url https://bot.example.org > manifest.yml"""
    from bot.platforms.slack.manifest import ManifestError, manifest, to_json, to_yaml

    try:
        doc = manifest(url)
    except ManifestError as exc:
        typer.echo(f"error: --url: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(to_json(doc) if json_out else to_yaml(doc, url), nl=False)


def _job_context(settings: Settings, database: Database) -> JobContext:
    """A job context whose Spark session starts on first use and lives for this (one-shot) process."""
    from bot.jobs import JobContext
    from engine.session import build_session

    return JobContext(settings, database, spark=functools.cache(lambda: build_session(settings)))


@app.command()
def jobs(db: DbOpt = None) -> None:
    """List the scheduled jobs: schedule, next run (UTC) and the last recorded result.

    Example: tastemaker jobs"""
    from bot.scheduler import job_statuses

    settings = _settings(db)
    database = _database(settings)
    _announce(settings)
    for s in job_statuses(database):
        next_run = s.next_run.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S") if s.next_run else "-"
        last = s.last_status
        if s.last_started is not None:
            last += f" at {s.last_started:%Y-%m-%d %H:%M:%S}"
        typer.echo(f"{s.id:<8} {s.trigger:<24} next {next_run:<19}  last: {last}")
        typer.echo(f"         {s.description}")
        if s.last_detail:
            typer.echo(f"         {s.last_detail[:300]}")
    _print_models(database)


def _print_models(database: Database) -> None:
    """The active generation of each kind: its model and the model selection's validation numbers."""
    from bot.jobs import model_statuses

    for m in model_statuses(database):
        head = f"model    {m.kind}: generation {m.generation} ({m.created_at})"
        typer.echo(f"{head}, {m.model}, item weight {m.item_weight:g}")
        if m.selection:
            typer.echo(f"         {m.selection}")


@digest_app.command("preview")
def digest_preview(
    community: CommunityOpt,
    out: Annotated[Path | None, typer.Option("--out", help="Write the chart PNG here.")] = None,
    day: Annotated[str | None, typer.Option("--day", help="UTC day YYYY-MM-DD (default: yesterday).")] = None,
    db: DbOpt = None,
) -> None:
    """Print the digest a community would get, and write its chart.

    Example: tastemaker digest preview --community crew --out digest.png"""
    from bot.chart import chart_png
    from bot.render import digest_text
    from bot.service import Service, Who

    settings = _settings(db)
    try:
        when = dt.date.fromisoformat(day) if day else None
    except ValueError as exc:
        raise typer.BadParameter("day must be YYYY-MM-DD", param_hint="--day") from exc
    database = _database(settings)
    platform, ext, _ = _existing_community(database, community)
    who = Who(platform, ext, "", community_name=platforms.format_community(platform, ext))
    digest = Service(database, settings).digest(who, when)
    typer.echo(digest_text(digest))
    if out is not None:
        png = chart_png(digest)
        if png is None:
            typer.echo("(no chart: nothing was played that week)", err=True)
        else:
            out.write_bytes(png)
            typer.echo(f"chart written to {out} ({len(png)} bytes)", err=True)


@app.command()
def batch(
    retrain: Annotated[bool, typer.Option("--retrain", help="Retrain the ALS models now.")] = False,
    db: DbOpt = None,
) -> None:
    """Run one micro-batch: fold new plays into the trends, retrain recommendations when due.

    Example: tastemaker batch --retrain"""
    from bot.jobs import run_job

    settings = _settings(db)
    _check_spark(settings)
    database = _database(settings)
    _announce(settings)
    outcome = run_job("retrain" if retrain else "batch", _job_context(settings, database))
    if not outcome.ok:  # the job runner has logged one line (stderr) and the traceback (log file)
        raise typer.Exit(1)
    typer.echo(outcome.detail)


@app.command()
def sync(
    community: Annotated[
        str | None, typer.Option("--community", help=f"Only this community ({platforms.references()}).")
    ] = None,
    member: Annotated[
        str | None, typer.Option("--member", help="Only this member (their id in --community).")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Copy new listens of linked ListenBrainz / Last.fm accounts now (what the scheduled `sync` job
    does, without waiting for an account's back-off). Prints one line per account and a total; a
    long history takes a few runs (sync_pages_per_account pages per account per run).

    Example: tastemaker sync --community crew --member ada"""
    from ingest.sync.runner import sync as run_sync

    if member is not None and community is None:
        raise typer.BadParameter("--member needs --community", param_hint="--member")
    settings = _settings(db)
    database = _database(settings)
    cid = mid = None
    if community is not None and member is not None:
        cid, mid = _existing_member(database, community, member)
    elif community is not None:
        cid = _existing_community(database, community)[2]
    report = run_sync(database, settings, community=cid, member=mid, due_only=False)
    for account in report.accounts:
        typer.echo(account.line())
    typer.echo(report.total())
    for error in report.errors:
        typer.echo(f"error: {error}", err=True)
    if report.errors:
        raise typer.Exit(1)


@member_app.command("delete")
def member_delete(
    community: CommunityOpt,
    member: Annotated[
        str,
        typer.Option(
            "--member",
            help="The member: their id in --community (a Discord user id, a Slack user id U…, a "
            "console member's name).",
        ),
    ],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    db: DbOpt = None,
) -> None:
    """Delete a member of one community: their plays, linked accounts, picks and taste data. What
    their plays added to /trending is subtracted by the next batch, which then erases the rows. The
    same person in another community is another member and is kept.

    Example: tastemaker member delete --community slack:T0123 --member U0456 --yes"""
    from storage import members
    from storage.clock import utcnow

    settings = _settings(db)
    database = _database(settings)
    _, mid = _existing_member(database, community, member)
    with database.read() as conn:
        data = members.stored(conn, mid)
    if data is None:
        _fail(f"unknown member {member!r} in {community!r}")
    what = f"{data.plays:,} play{'' if data.plays == 1 else 's'}"
    if data.links:
        what += f" and {data.links} linked account{'' if data.links == 1 else 's'}"
    if not yes:
        typer.confirm(f"Delete member {member} of {community} with {what}? This cannot be undone", abort=True)
    done = members.delete_member(database, mid, utcnow())
    line = f"Deleted member {member} of {community}: {done.plays:,} plays removed"
    if done.links:
        line += f", {done.links} linked account{'' if done.links == 1 else 's'}"
    if done.folded:
        line += f"; the next batch subtracts {done.folded:,} of them from the trends and erases them"
    elif done.plays:
        line += "; the next batch erases them"
    typer.echo(line + ".")


def _postgres(url: str) -> bool:
    try:
        return make_url(url).get_backend_name() == "postgresql"
    except Exception:
        return False


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="The backup file to write.")],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
    db: DbOpt = None,
) -> None:
    """Copy the SQLite database into FILE, consistent while the bot runs (SQLite's online backup
    API; never cp a database in WAL mode). For Postgres it names the pg_dump command to run.

    Example: tastemaker backup tastemaker-backup.db"""
    from storage import backup as backups

    url = _settings(db).database_url
    if _postgres(url):
        _fail(f"tastemaker backup copies SQLite only; for Postgres run {backups.pg_dump_command(url, file)}")
    try:
        copied = backups.backup(url, file, force=force)
    except backups.BackupError as exc:
        _fail(str(exc), exc)
    typer.echo(copied.line("backed up", display_url(url)))


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="A file written by tastemaker backup.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace the database if it exists (stop the bot first).")
    ] = False,
    db: DbOpt = None,
    create: CreateOpt = False,
) -> None:
    """Replace the SQLite database by a backup. FILE must be a tastemaker database of this version or
    an older one (migrated at once); a database another process has open is never replaced.

    Example: tastemaker restore tastemaker-backup.db --force"""
    from storage import backup as backups

    settings = _settings(db)
    url = settings.database_url
    if _postgres(url):
        _fail(
            "tastemaker restore replaces SQLite only; for Postgres run "
            + backups.pg_restore_command(url, file)
        )
    _check_folder(url, create)
    try:
        copied = backups.restore(file, url, force=force)
    except backups.BackupError as exc:
        _fail(str(exc), exc)
    _database(settings).dispose()  # runs the migrations from the backup's revision
    line = copied.line("restored", str(file))
    head = backups.known_revisions()[-1]
    typer.echo(line if copied.revision == head else f"{line}; migrated to schema revision {head}")


@export_app.command("recommendations")
def export_recommendations(
    out: Annotated[Path, typer.Option("--out", help="TSV file to write.")],
    kind: Annotated[
        str, typer.Option("--kind", help="artist(s) or track(s), as in the chat's /recommend.")
    ] = "artist",
    k: Annotated[int, typer.Option("--k", min=1, max=500, help="Picks per member.")] = 10,
    community: Annotated[str | None, typer.Option("--community", help="Only this community.")] = None,
    db: DbOpt = None,
) -> None:
    """Write member<TAB>rank<TAB>name<TAB>score<TAB>reason for every member (fresh picks included).

    Example: tastemaker export recommendations --out recs.tsv --kind tracks --k 20"""
    from bot.parsing import UserError, parse_kind
    from bot.service import Service

    try:
        kind = parse_kind(kind, "artist")
    except UserError as exc:
        raise typer.BadParameter(str(exc).replace("`", "'"), param_hint="--kind") from exc
    settings = _settings(db)
    database = _database(settings)
    ref = _existing_community(database, community)[:2] if community else None
    service = Service(database, settings)
    n = 0
    with out.open("w", encoding="utf-8", newline="") as fh:
        for member, rank, name, score, reason in service.all_recommendations(
            kind=kind, k=k, platform_and_id=ref
        ):
            fh.write(f"{_tsv(member)}\t{rank}\t{_tsv(name)}\t{score:.6f}\t{_tsv(reason or '')}\n")
            n += 1
    typer.echo(f"wrote {n} rows to {out}")


@eval_app.command("models")
def eval_models(db: DbOpt = None) -> None:
    """The model each kind is served by and the validation numbers its retrain chose it on.

    Example: tastemaker eval models --db var/tastemaker.db"""
    settings = _settings(db)
    database = _database(settings)
    _announce(settings)
    from bot.jobs import model_statuses

    if not model_statuses(database):
        typer.echo("No model has been trained yet: run `tastemaker batch --retrain`.")
        return
    _print_models(database)


@eval_app.command("hetrec")
def eval_hetrec(
    data_dir: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="HetRec 2011 Last.fm-2k folder.")
    ],
    db: DbOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Popularity and ALS (current als_*/blend_* settings) on HetRec Last.fm-2k, fixed protocol.

    Example: tastemaker eval hetrec hetrec2011-lastfm-2k --json"""
    import json

    from engine.als import params_from_settings
    from engine.cooc import blend_from_settings
    from engine.evaluate import DataError, hetrec_report, report_text
    from engine.session import build_session

    settings = _settings(db)
    try:
        report = hetrec_report(
            build_session(settings), data_dir, params_from_settings(settings), blend_from_settings(settings)
        )
    except DataError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(report, indent=2) if json_out else report_text(report))


def _tsv(value: str) -> str:
    return value.replace("\t", " ").replace("\n", " ").replace("\r", " ")


@dataclass(frozen=True)
class _LogOptions:
    """The root options' logging choices, for commands that set up logging again (``run``)."""

    debug: bool = False
    level: int | None = None  # --log-level / TASTEMAKER_LOG_LEVEL, when given
    json_lines: bool = False  # TASTEMAKER_LOG_FORMAT=json

    def configure(self, default_level: int = logging.WARNING) -> None:
        logs.configure(
            debug=self.debug,
            console_level=default_level if self.level is None else self.level,
            json_lines=self.json_lines,
        )


def _log_options(ctx: typer.Context) -> _LogOptions:
    return ctx.obj if isinstance(ctx.obj, _LogOptions) else _LogOptions()


def _fail(message: str, cause: BaseException | None = None) -> NoReturn:
    """``error: <message>`` on stderr, exit status 2 (bad input or setting)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2) from cause


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"tastemaker {version('tastemaker')}")
        except PackageNotFoundError:
            typer.echo("tastemaker (not installed: run make install)")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Log everything to stderr, tracebacks included.")
    ] = False,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            metavar="LEVEL",
            help="What reaches the terminal: DEBUG, INFO, WARNING or ERROR (default: "
            "$TASTEMAKER_LOG_LEVEL, else WARNING; INFO for run). TASTEMAKER_LOG_FORMAT=json logs JSON lines.",
        ),
    ] = None,
    _show_version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    level_value = log_level or os.environ.get("TASTEMAKER_LOG_LEVEL")
    try:
        level = logs.parse_level(level_value) if level_value else None
    except ValueError as exc:
        _fail(f"{'--log-level' if log_level else 'TASTEMAKER_LOG_LEVEL'}: {exc}", exc)
    try:
        json_lines = logs.parse_format(os.environ.get("TASTEMAKER_LOG_FORMAT") or "text") == "json"
    except ValueError as exc:
        _fail(f"TASTEMAKER_LOG_FORMAT: {exc}", exc)
    ctx.obj = options = _LogOptions(debug=debug, level=level, json_lines=json_lines)
    if debug or level is not None or json_lines:
        options.configure()


def main() -> None:
    """The ``tastemaker`` command: an unexpected failure is one line on stderr (what happened, what to
    do) and exit code 1; its traceback goes to the log file (``--debug``: to stderr)."""
    logs.configure()
    try:
        app()
    except Exception as exc:
        logging.getLogger("tastemaker").error("%s", explain(exc), exc_info=exc)
        if "--debug" not in sys.argv:
            typer.echo(f"(details: {logs.log_file()})", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
