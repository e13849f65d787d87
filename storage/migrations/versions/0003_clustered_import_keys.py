"""import dedupe keys lead with the play's time or user

Keys of imported plays were ``source:sha1``; they are now ``source:cluster:sha1`` with the same
sha1, where the cluster is the play's time (``2025-01-31T14:05:00``) or, for an undated play,
``u`` + the member's external id. Histories arrive in time or user order, so new keys land next to
each other in the unique index instead of at random: a 1M-row import no longer rewrites most of
the index's pages in every batch. The cluster is computed from the stored row, so a re-import after
this migration still finds every play imported before it. Chat plays (``platform:event id``) keep
their keys.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 17:00:00
"""
from __future__ import annotations

from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

CHAT_SOURCES = "('local', 'slack', 'discord')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLAlchemy stores SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff'.
        when = "substr(played_at, 1, 10) || 'T' || substr(played_at, 12, 8)"
        hex40 = "substr(dedupe_key, length(source) + 2) NOT GLOB '*[^0-9a-f]*'"
    else:
        when = """to_char(played_at, 'YYYY-MM-DD"T"HH24:MI:SS')"""
        hex40 = "substr(dedupe_key, length(source) + 2) ~ '^[0-9a-f]{40}$'"
    op.execute(
        f"""
        UPDATE plays SET dedupe_key = source || ':' || CASE
            WHEN played_at IS NULL THEN 'u' || (SELECT m.external_id FROM members m WHERE m.id = plays.member_id)
            ELSE {when} END || ':' || substr(dedupe_key, length(source) + 2)
        WHERE source NOT IN {CHAT_SOURCES}
          AND length(dedupe_key) = length(source) + 41
          AND substr(dedupe_key, 1, length(source) + 1) = source || ':'
          AND {hex40}
        """
    )


def downgrade() -> None:
    op.execute(
        f"""
        UPDATE plays SET dedupe_key = source || ':' || substr(dedupe_key, length(dedupe_key) - 39)
        WHERE source NOT IN {CHAT_SOURCES}
          AND substr(dedupe_key, 1, length(source) + 1) = source || ':'
          AND length(dedupe_key) > length(source) + 42
        """
    )
