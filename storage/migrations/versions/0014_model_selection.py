"""model selection: the item model's kept weights and the chosen blend, per recommendation generation

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 19:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column in place: a batch copy of rec_generations would cascade deletes of its picks.
    op.add_column(
        'rec_generations', sa.Column('model', sa.String(length=20), server_default='als', nullable=False)
    )
    op.add_column(
        'rec_generations', sa.Column('item_weight', sa.Float(), server_default='0', nullable=False)
    )
    op.add_column('rec_generations', sa.Column('validation', sa.Text(), nullable=True))
    op.create_table(
        'item_weights',
        sa.Column('generation_id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), nullable=False),
        sa.Column('targets', sa.LargeBinary(), nullable=False),
        sa.Column('weights', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['generation_id'], ['rec_generations.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('generation_id', 'item_id'),
    )


def downgrade() -> None:
    op.drop_table('item_weights')
    op.execute('ALTER TABLE rec_generations DROP COLUMN validation')
    op.execute('ALTER TABLE rec_generations DROP COLUMN item_weight')
    op.execute('ALTER TABLE rec_generations DROP COLUMN model')
