"""taste neighbours, per-community similar items and member factors, per recommendation generation

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 13:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'member_factors',
        sa.Column('generation_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('vector', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['generation_id'], ['rec_generations.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('generation_id', 'member_id'),
    )
    op.create_table(
        'member_neighbours',
        sa.Column('generation_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('rank', sa.Integer(), nullable=False),
        sa.Column('neighbour_id', sa.Integer(), nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['generation_id'], ['rec_generations.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('generation_id', 'member_id', 'rank'),
    )
    op.create_table(
        'similar_items',
        sa.Column('generation_id', sa.Integer(), nullable=False),
        sa.Column('community_id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('rank', sa.Integer(), nullable=False),
        sa.Column('similar_id', sa.Integer(), nullable=False),
        sa.Column('score', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['generation_id'], ['rec_generations.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('generation_id', 'community_id', 'item_id', 'rank'),
    )


def downgrade() -> None:
    op.drop_table('similar_items')
    op.drop_table('member_neighbours')
    op.drop_table('member_factors')
