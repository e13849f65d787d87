"""pick feedback: a member's 👍 / 👎 on an artist or track /recommend showed them

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 19:10:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pick_feedback',
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('verdict', sa.String(length=4), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.CheckConstraint("verdict IN ('up', 'down')", name='ck_pick_feedback_verdict'),
        sa.CheckConstraint("kind IN ('artist', 'track')", name='ck_pick_feedback_kind'),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('member_id', 'kind', 'item_id'),
    )
    op.create_index('ix_pick_feedback_kind_verdict', 'pick_feedback', ['kind', 'verdict'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_pick_feedback_kind_verdict', table_name='pick_feedback')
    op.drop_table('pick_feedback')
