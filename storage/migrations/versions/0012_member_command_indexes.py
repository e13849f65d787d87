"""covering indexes on plays for the member commands (/whoknows, /top, /recent, /profile, /taste,
/neighbours): each reads one member's or one item's plays from an index alone

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 20:00:00
"""
from __future__ import annotations

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

INDEXES = {
    # A member's plays per artist / per track (charts, totals, shared artists); ``played_at`` lets a
    # period chart filter inside the index.
    'ix_plays_member_artist': ['member_id', 'removed', 'artist_id', 'played_at', 'count'],
    'ix_plays_member_track': ['member_id', 'removed', 'track_id', 'played_at', 'count'],
    # A member's plays in time order (recent plays, first/last play, the days of the streaks).
    'ix_plays_member_played': ['member_id', 'removed', 'played_at', 'id'],
    # An item's listeners in one community (/whoknows).
    'ix_plays_community_artist': ['community_id', 'artist_id', 'removed', 'member_id', 'count', 'played_at'],
    'ix_plays_community_track': ['community_id', 'track_id', 'removed', 'member_id', 'count', 'played_at'],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, 'plays', columns, unique=False)


def downgrade() -> None:
    for name in reversed(INDEXES):
        op.drop_index(name, table_name='plays')
