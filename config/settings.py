"""Settings: environment (``TASTEMAKER_*``) over an optional TOML file over defaults.

Settings are an immutable value passed to whatever needs them; nothing reads the environment
behind the caller's back. Platform tokens come only from the environment under their usual names.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

import platformdirs
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def data_dir() -> Path:
    """The per-user data folder (platformdirs: ``~/.local/share/tastemaker`` on Linux, or under
    ``$XDG_DATA_HOME``); the default database and the demo's live there."""
    return Path(platformdirs.user_data_dir("tastemaker"))


def default_database_url() -> str:
    """``sqlite:///<data folder>/tastemaker.db``: the same file from any working directory."""
    return f"sqlite:///{data_dir() / 'tastemaker.db'}"


# A Slack member id: U… (W… in an Enterprise Grid), capital letters and digits.
_SLACK_MEMBER_ID = re.compile(r"[UW][A-Z0-9]{2,}")


def parse_admin_ids(value: Any) -> tuple[str, ...]:
    """``slack_admin_ids`` from a comma-separated string (``U123,U456``, spaces and empty items
    ignored), a JSON list string (``["U123","U456"]``) or a list; every id must be a Slack member
    id (``U…``/``W…``), else ``ValueError`` naming it."""
    items: Any = value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"{text!r} is not a JSON list; write the ids comma-separated: U0123ABCD,U0456EFGH"
                ) from exc
        else:
            items = text.split(",")
    if not isinstance(items, list | tuple):
        raise ValueError("give the admin ids comma-separated, e.g. U0123ABCD,U0456EFGH")
    ids = tuple(str(item).strip() for item in items if str(item).strip())
    for member in ids:
        if not _SLACK_MEMBER_ID.fullmatch(member):
            raise ValueError(
                f"{member!r} is not a Slack member id (U… or W…, capital letters and digits, e.g. U0123ABCD; "
                "in Slack: a member's profile → ⋮ → Copy member ID)"
            )
    return ids


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TASTEMAKER_", frozen=True, extra="ignore", populate_by_name=True
    )

    database_url: str = Field(default_factory=default_database_url)

    # Spark
    spark_master: str = "local[*]"
    # The Spark driver JVM's maximum heap (-Xmx), in local mode all of Spark's memory; 512m still
    # runs a HetRec-size retrain (docs/operations.md, "Spark driver memory on a small VPS").
    spark_driver_memory: str = "2g"
    # Spark runs in a worker process started for each batch that has work and stopped after it, so
    # an idle bot holds no JVM. True keeps the worker (and its JVM) between batches: faster batches,
    # ~1 GB more resident memory.
    spark_keep_warm: bool = False
    spark_shuffle_partitions: int = Field(default=4, ge=1)
    spark_ui: bool = False
    # Extra JVM options for the driver (e.g. -Ddev.ludovic.netlib.blas.allowNative=false).
    spark_java_options: str = ""
    # Checkpoint directory (ALS lineage): a path or URI the driver and every executor share (NFS,
    # hdfs://, s3a://); required with a cluster master. Default in local mode: the temp folder. Each
    # ALS fit checkpoints into its own tastemaker-ckpt-* folder under it and removes it when done.
    spark_checkpoint_dir: str = ""
    # Spark Connect server (sc://host:port; also read from Spark's own SPARK_REMOTE): when set, every
    # job runs over Connect and spark_master is not used.
    spark_remote: str = Field(
        default="", validation_alias=AliasChoices("TASTEMAKER_SPARK_REMOTE", "SPARK_REMOTE")
    )

    # Recommendations
    top_n: int = Field(default=50, ge=1, le=500)
    als_rank: int = Field(default=64, ge=2)
    als_reg: float = Field(default=0.5, gt=0)  # tuned on the HetRec validation split: docs/tuning.md
    als_alpha: float = Field(default=1.0, gt=0)
    als_iterations: int = Field(default=10, ge=1)
    als_seed: int = 42
    # Blend of ALS scores with item-item co-occurrence (0 = pure ALS); tuned on validation data.
    blend_cooc_weight: float = Field(default=0.0, ge=0)
    blend_cooc_shrink: float = Field(default=10.0, ge=0)
    blend_cooc_damp: float = Field(default=0.5, ge=0, le=1)
    # The item model (EASE^R, engine/ease.py) blended with ALS, and the model selection that picks the
    # blend weight at each full retrain from held-out recent plays (engine/select.py, docs/tuning.md).
    model_selection: bool = True
    item_weight: float = Field(default=0.0, ge=0, le=1)  # used when selection is off or skipped
    item_weight_grid: str = "0,0.1,0.2,0.35,0.5,0.75,1"
    ease_lambda: float = Field(default=100.0, gt=0)
    ease_max_items: int = Field(default=3000, ge=2, le=20_000)
    ease_keep: int = Field(default=200, ge=1)
    # At most this many track picks by one artist (0 = no cap; ListenBrainz uses 2).
    track_artist_cap: int = Field(default=2, ge=0)
    # Prefer artists the member has not played in this many days (0 = off): their picks move first.
    fresh_artist_days: int = Field(default=0, ge=0)
    retrain_every_batches: int = Field(default=12, ge=1)
    retrain_new_share: float = Field(default=0.10, gt=0, le=1)

    # Scheduler / digests
    batch_interval_minutes: int = Field(default=10, ge=1)
    # Largest slice of new plays one Spark pass folds (bounds memory after a big import) ...
    batch_max_plays: int = Field(default=200_000, ge=1)
    # ... and the largest id range one merge transaction commits (with its own watermark step), so a
    # batch never holds the database's write lock for long: ~10k plays merge in a fraction of a second.
    batch_merge_plays: int = Field(default=10_000, ge=1)
    digest_grace_hours: float = Field(default=6.0, ge=0)

    # Health and metrics (bot.health): /healthz and Prometheus /metrics on this port (None: off),
    # bound to this address (loopback by default: put a reverse proxy or scraper on the host).
    health_port: int | None = Field(default=None, ge=0, le=65535)
    health_host: str = "127.0.0.1"

    # Chat platforms (tokens only from the environment, under their usual names)
    slack_bot_token: str | None = Field(default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN"))
    slack_signing_secret: str | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET")
    )
    slack_app_token: str | None = Field(default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN"))
    slack_api_url: str | None = None
    # Members who may set up the digest besides workspace admins/owners: U123,U456 (or a JSON list).
    slack_admin_ids: Annotated[tuple[str, ...], NoDecode] = ()
    discord_token: str | None = Field(default=None, validation_alias=AliasChoices("DISCORD_TOKEN"))
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None

    # Imports from a chat upload (Discord /import, a file sent to the Slack bot in a direct message)
    upload_max_bytes: int = Field(default=100 * 1024 * 1024, ge=1)  # checked before downloading
    upload_max_unpacked: int = Field(default=1 << 30, ge=1)  # what an uploaded ZIP may unpack to
    upload_progress_seconds: float = Field(default=1.5, ge=0)  # at most one progress edit this often

    # Linked listening accounts (ingest.sync): the services' base URLs (tests point them at loopback
    # fakes), the operator's Last.fm API key (only from the environment), and the sync job's pace.
    listenbrainz_api_url: str = "https://api.listenbrainz.org"
    lastfm_api_url: str = "https://ws.audioscrobbler.com/2.0/"
    lastfm_api_key: str | None = Field(default=None, validation_alias=AliasChoices("LASTFM_API_KEY"))
    sync_interval_minutes: int = Field(default=15, ge=1)
    # Pages one run fetches per account at most (ListenBrainz: up to 1000 listens a page, Last.fm
    # 200): a long history arrives over several runs instead of holding up every other account.
    sync_pages_per_account: int = Field(default=10, ge=1)
    listenbrainz_page_size: int = Field(default=1000, ge=1, le=1000)
    lastfm_page_size: int = Field(default=200, ge=1, le=200)
    sync_timeout_seconds: float = Field(default=30.0, gt=0)
    # A failing account waits sync_backoff_minutes, doubling per failure up to sync_backoff_max_hours
    # (an account that vanished or went private is retried at the longest wait).
    sync_backoff_minutes: float = Field(default=15.0, gt=0)
    sync_backoff_max_hours: float = Field(default=24.0, gt=0)

    @field_validator("slack_admin_ids", mode="before")
    @classmethod
    def _admin_ids(cls, v: Any) -> tuple[str, ...]:
        return parse_admin_ids(v)

    @field_validator("database_url")
    @classmethod
    def _url_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("database URL is empty")
        return v.strip()


def load_settings(config_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Build settings from defaults < TOML file (``TASTEMAKER_CONFIG``) < environment < overrides.

    ``None`` overrides are ignored so CLI options that were not given do not mask the environment.
    """
    file_values: dict[str, Any] = {}
    path = config_file or os.environ.get("TASTEMAKER_CONFIG")
    if path:
        with Path(path).open("rb") as fh:
            file_values = tomllib.load(fh).get("tastemaker", {})
    env = Settings()  # environment + defaults
    env_set = env.model_fields_set
    merged: dict[str, Any] = {**file_values, **{k: getattr(env, k) for k in env_set}}
    merged.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**merged)
