"""members can remove plays (/undo, /plays): plays.removed, the play_removals log, and the newest
removal each recommendation generation already left out

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 12:10:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column in place, never a batch copy (a recreated plays table would cascade deletes).
    op.add_column('plays', sa.Column('removed', sa.Boolean(), server_default='0', nullable=False))
    op.add_column(
        'rec_generations', sa.Column('last_removal_id', sa.Integer(), server_default='0', nullable=False)
    )
    op.create_table(
        'play_removals',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('play_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('removed_at', sa.DateTime(), nullable=False),
        sa.Column('folded', sa.Boolean(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['play_id'], ['plays.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('play_id'),
        sqlite_autoincrement=True,
    )
    op.create_index('ix_play_removals_member_id', 'play_removals', ['member_id'], unique=False)
    op.create_index('ix_play_removals_folded', 'play_removals', ['folded'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_play_removals_folded', table_name='play_removals')
    op.drop_index('ix_play_removals_member_id', table_name='play_removals')
    op.drop_table('play_removals')
    op.execute('ALTER TABLE rec_generations DROP COLUMN last_removal_id')
    op.execute('ALTER TABLE plays DROP COLUMN removed')
