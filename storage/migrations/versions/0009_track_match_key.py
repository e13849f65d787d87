"""tracks get a "same name" key (storage.names.match_key), looked up per artist: Mr Brightside =
Mr. Brightside, Pt. 1 ≠ Pt. 2

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 13:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.names import match_key

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column in place: never a batch copy of ``tracks`` (plays reference it; with foreign keys
    # on, dropping the old table for the recreated one would fail or take references with it).
    op.add_column('tracks', sa.Column('match_key', sa.String(length=200), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text('SELECT id, key FROM tracks')).all()
    for s in range(0, len(rows), 5000):
        conn.execute(
            sa.text('UPDATE tracks SET match_key = :m WHERE id = :i'),
            [{'m': match_key(k), 'i': i} for i, k in rows[s : s + 5000]],
        )
    op.create_index('ix_tracks_artist_id_match_key', 'tracks', ['artist_id', 'match_key'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tracks_artist_id_match_key', table_name='tracks')
    op.execute('ALTER TABLE tracks DROP COLUMN match_key')
