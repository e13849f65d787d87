"""Schema (SQLAlchemy 2.x declarative). Alembic revisions in ``storage/migrations`` mirror it;
``tests/storage/test_migrations.py`` fails if the two drift apart."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Day bucket for plays without a timestamp: they count for all-time figures and recommendations,
# never for a time window.
UNDATED = dt.date(1, 1, 1)
# ``scope`` of the global trend aggregates (community aggregates use the community id).
GLOBAL_SCOPE = 0


class Base(DeclarativeBase):
    pass


class Community(Base):
    __tablename__ = "communities"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    # Plays of a public community (an imported open data set, say) are visible to every community:
    # see storage.visibility.
    public: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("community_id", "external_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200))
    # /privacy private: left out of other members' /whoknows, /recent, /profile (their plays still
    # count in anonymous figures: /trending, the digest).
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class Artist(Base):
    __tablename__ = "artists"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(1000))
    # storage.names.match_key(key): spellings with equal match keys are one name (Blink 182 =
    # Blink-182). Not unique: rows stored before the rule existed may share one (the lowest id wins).
    match_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)


class ArtistAlias(Base):
    __tablename__ = "artist_aliases"
    alias_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id", ondelete="CASCADE"))


class Track(Base):
    __tablename__ = "tracks"
    __table_args__ = (
        UniqueConstraint("artist_id", "key"),
        Index("ix_tracks_artist_id_match_key", "artist_id", "match_key"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(1000))
    # storage.names.match_key(key), as for artists: one artist's titles with equal match keys are one
    # track (Mr Brightside = Mr. Brightside; Pt. 1 ≠ Pt. 2). Not unique: rows stored before the rule
    # existed may share one (the lowest id wins).
    match_key: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Play(Base):
    __tablename__ = "plays"
    # AUTOINCREMENT: a deleted row's id is never reused, so the batch watermark stays exact.
    __table_args__ = (
        CheckConstraint("count >= 1", name="ck_plays_count_positive"),
        Index("ix_plays_member_id_id", "member_id", "id"),
        Index("ix_plays_community_id_id", "community_id", "id"),
        # Covering indexes of the member commands (migration 0012): a member's plays per artist, per
        # track and in time order; an item's listeners in a community.
        Index("ix_plays_member_artist", "member_id", "removed", "artist_id", "played_at", "count"),
        Index("ix_plays_member_track", "member_id", "removed", "track_id", "played_at", "count"),
        Index("ix_plays_member_played", "member_id", "removed", "played_at", "id"),
        Index(
            "ix_plays_community_artist",
            "community_id",
            "artist_id",
            "removed",
            "member_id",
            "count",
            "played_at",
        ),
        Index(
            "ix_plays_community_track",
            "community_id",
            "track_id",
            "removed",
            "member_id",
            "count",
            "played_at",
        ),
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    artist_id: Mapped[int] = mapped_column(ForeignKey("artists.id"))
    track_id: Mapped[int | None] = mapped_column(ForeignKey("tracks.id"), nullable=True)
    played_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    count: Mapped[int] = mapped_column(Integer, default=1)
    source: Mapped[str] = mapped_column(String(40))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    # Removed by its member (/undo, /plays): the row stays, so the batch can subtract exactly what it
    # folded in (storage.removals); everything a member is shown reads only plays not removed.
    removed: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


# What the trend fold reads of a play (engine.reader.PLAY_SCHEMA has the same columns, in order):
# the new plays of a batch and the removed plays it subtracts are read in one shape.
PLAY_FOLD_COLUMNS = (
    Play.id,
    Play.community_id,
    Play.member_id,
    Play.artist_id,
    Play.track_id,
    Play.played_at,
    Play.count,
)


class PlayRemoval(Base):
    """One removed play, in removal order. ``folded``: the trend aggregates no longer count it. The
    batch sets it in the transaction that subtracts the play, so a removal is subtracted exactly once."""

    __tablename__ = "play_removals"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    play_id: Mapped[int] = mapped_column(ForeignKey("plays.id", ondelete="CASCADE"), unique=True)
    member_id: Mapped[int] = mapped_column(Integer, index=True)
    removed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    folded: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0", index=True)


# --- engine outputs -------------------------------------------------------------------------


class DailyCount(Base):
    """Trend aggregate: plays and distinct listeners per scope × UTC day × kind × item."""

    __tablename__ = "daily_counts"
    scope: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plays: Mapped[int] = mapped_column(BigInteger)
    listeners: Mapped[int] = mapped_column(Integer)


class DailyListener(Base):
    """Presence of a member for scope × day × kind × item: makes listener counts exact when a
    member's plays of one item on one day arrive in several batches, and lets multi-day windows
    count distinct listeners without touching raw plays."""

    __tablename__ = "daily_listeners"
    scope: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(Integer, primary_key=True)


class Watermark(Base):
    __tablename__ = "watermarks"
    job: Mapped[str] = mapped_column(String(60), primary_key=True)
    last_play_id: Mapped[int] = mapped_column(Integer, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)


class JobRun(Base):
    __tablename__ = "job_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(60), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    # The process that ran it (host name, pid, process start time in epoch seconds): a "running"
    # row whose process is gone is shown as abandoned (storage.jobs).
    host: Mapped[str | None] = mapped_column(String(255), nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    process_started: Mapped[float | None] = mapped_column(Float, nullable=True)


class RecGeneration(Base):
    """One ALS retrain for one kind. Exactly one generation per kind is active; switching is one
    UPDATE inside the transaction that wrote the generation."""

    __tablename__ = "rec_generations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    last_play_id: Mapped[int] = mapped_column(Integer)
    rank: Mapped[int] = mapped_column(Integer)
    reg_param: Mapped[float] = mapped_column(Float)
    alpha: Mapped[float] = mapped_column(Float)
    conf_scale: Mapped[float] = mapped_column(Float)
    yty: Mapped[bytes] = mapped_column(LargeBinary)
    # The newest play removal the training data already left out: a member with a later removal
    # gets fresh picks, not stored ones that may name the removed play.
    last_removal_id: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Which model family scores ("als", "ease", "als+ease"), the item model's weight in the blend,
    # and the model selection's validation numbers (JSON; NULL when no selection ran).
    model: Mapped[str] = mapped_column(String(20), default="als", server_default="als")
    item_weight: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    validation: Mapped[str | None] = mapped_column(Text, nullable=True)


class ItemWeight(Base):
    """The item model's kept weights of one item in a generation: ``targets`` (int64 item ids) and
    ``weights`` (float32), aligned: playing ``item_id`` adds ``weights[k]`` to ``targets[k]``."""

    __tablename__ = "item_weights"
    generation_id: Mapped[int] = mapped_column(
        ForeignKey("rec_generations.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    targets: Mapped[bytes] = mapped_column(LargeBinary)
    weights: Mapped[bytes] = mapped_column(LargeBinary)


class ItemFactor(Base):
    __tablename__ = "item_factors"
    generation_id: Mapped[int] = mapped_column(
        ForeignKey("rec_generations.id", ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    popularity: Mapped[float] = mapped_column(Float, default=0.0)


class Recommendation(Base):
    __tablename__ = "recommendations"
    generation_id: Mapped[int] = mapped_column(
        ForeignKey("rec_generations.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    reason_item_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class MemberFactor(Base):
    """A member's ALS user vector in one generation (float32 bytes, like ``item_factors``): /taste
    compares two members of a community with it."""

    __tablename__ = "member_factors"
    generation_id: Mapped[int] = mapped_column(
        ForeignKey("rec_generations.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class MemberNeighbour(Base):
    """A member's closest members in taste (cosine of user vectors), always of their own community;
    computed at the retrain (``engine.neighbours``). Privacy is applied when they are shown."""

    __tablename__ = "member_neighbours"
    generation_id: Mapped[int] = mapped_column(
        ForeignKey("rec_generations.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    neighbour_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)


class SimilarItem(Base):
    """An item's most similar items *for one community*: both are items that community played
    (``engine.neighbours.similar_items``), so a list never names what another community played."""

    __tablename__ = "similar_items"
    generation_id: Mapped[int] = mapped_column(
        ForeignKey("rec_generations.id", ondelete="CASCADE"), primary_key=True
    )
    community_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    similar_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)


# --- feedback on picks ---------------------------------------------------------------------


class PickFeedback(Base):
    """A member's 👍 (``up``) or 👎 (``down``) on one artist or track /recommend showed them: one row
    per member, kind and item, the latest verdict kept. Members belong to one community, so this is
    per member *per community*. A ``down`` hides the item from that member's picks (stored, fold-in,
    trending fallback) until they reset their hidden items; at the next retrain it is a negative
    observation in the ALS input and an ``up`` a play's worth more (``engine.feedback``)."""

    __tablename__ = "pick_feedback"
    __table_args__ = (
        CheckConstraint("verdict IN ('up', 'down')", name="ck_pick_feedback_verdict"),
        CheckConstraint("kind IN ('artist', 'track')", name="ck_pick_feedback_kind"),
        Index("ix_pick_feedback_kind_verdict", "kind", "verdict"),
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    item_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verdict: Mapped[str] = mapped_column(String(4))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


# --- daily digests --------------------------------------------------------------------------


class DigestSubscription(Base):
    """A channel that gets the daily digest at ``local_time`` (``HH:MM``) in the IANA zone ``tz``.
    Slots before ``updated_at`` are never due, so a new or changed subscription starts with its
    next slot instead of catching up on one that passed before it existed."""

    __tablename__ = "digest_subscriptions"
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(100), primary_key=True)
    local_time: Mapped[str] = mapped_column(String(5))
    tz: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class DigestLedger(Base):
    """One row per channel and local date, claimed (insert-if-absent under ``BEGIN IMMEDIATE``)
    before anything is sent: the row's existence is what makes a digest go out at most once.
    ``status``: claimed → sending → sent, or skipped / unknown (see ``bot.digest``)."""

    __tablename__ = "digest_ledger"
    community_id: Mapped[int] = mapped_column(
        ForeignKey("communities.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(100), primary_key=True)
    local_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    claimed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    message_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="claimed")
    detail: Mapped[str] = mapped_column(Text, default="")


# --- linked accounts (ListenBrainz, Last.fm) --------------------------------------------------


class LinkedAccount(Base):
    """A member's ListenBrainz or Last.fm account, whose listens the ``sync`` job copies into their
    community as plays (``ingest.sync``). One row per member, source and account: unlinking keeps
    the row (``active`` false) with its cursor, so linking the same account again continues where
    it stopped; deleting the synced plays gives the row a new ``tag`` and a fresh cursor.

    Every synced play's dedupe key starts with ``<source>~<tag>:`` (``storage.links.key_prefix``):
    that is how a sync recognises listens it already stored, and how an unlink finds the plays to
    remove. The cursor (``floor``, ``pass_*``, ``backfilled``) is committed in the transaction that
    stores a page's plays, and ``version`` grows with every write, so two syncs of one account can
    never both move it."""

    __tablename__ = "linked_accounts"
    __table_args__ = (
        UniqueConstraint("member_id", "source", "account_key"),
        Index("ix_linked_accounts_community_source_account", "community_id", "source", "account_key"),
        CheckConstraint("source IN ('listenbrainz', 'lastfm')", name="ck_linked_accounts_source"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(20))
    account: Mapped[str] = mapped_column(String(100))  # as the member typed it
    account_key: Mapped[str] = mapped_column(String(100))  # lower case: both services ignore case
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    linked_at: Mapped[dt.datetime] = mapped_column(DateTime)
    tag: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The cursor, in listen times (Unix seconds). ``floor``: every listen up to it is stored (None:
    # none yet). A pass walks from the newest listen (``pass_top``) back to ``floor``: ListenBrainz
    # by ``pass_before`` (the next page's max_ts), Last.fm by ``pass_page`` (0: no pass running).
    floor: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pass_top: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pass_before: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pass_page: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    synced: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # plays added
    last_sync_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # "ok"; "error" (retried with exponential back-off); "gone" (no such account) or "private"
    # (the account hides its listens): retried at the longest back-off, the member told once.
    status: Mapped[str] = mapped_column(String(20), default="ok", server_default="ok")
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Something to tell the member once (the account vanished or went private): taken, and
    # cleared, by ``storage.links.take_notices``.
    notice: Mapped[str | None] = mapped_column(Text, nullable=True)
