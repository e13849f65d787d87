"""artists get a "same name" key (storage.names.match_key): Blink 182 = Blink-182, Sigur Ros = Sigur Rós

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:10:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.names import match_key

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column in place: never a batch copy of ``artists`` (with foreign keys on, a table
    # recreate would cascade deletes into tracks and aliases).
    op.add_column('artists', sa.Column('match_key', sa.String(length=200), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text('SELECT id, key FROM artists')).all()
    for s in range(0, len(rows), 5000):
        conn.execute(
            sa.text('UPDATE artists SET match_key = :m WHERE id = :i'),
            [{'m': match_key(k), 'i': i} for i, k in rows[s : s + 5000]],
        )
    op.create_index('ix_artists_match_key', 'artists', ['match_key'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_artists_match_key', table_name='artists')
    op.execute('ALTER TABLE artists DROP COLUMN match_key')
