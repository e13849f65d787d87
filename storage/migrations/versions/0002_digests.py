"""daily digests: subscriptions and the exactly-once ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('digest_subscriptions',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=100), nullable=False),
    sa.Column('local_time', sa.String(length=5), nullable=False),
    sa.Column('tz', sa.String(length=64), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('community_id', 'channel')
    )
    op.create_table('digest_ledger',
    sa.Column('community_id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=100), nullable=False),
    sa.Column('local_date', sa.Date(), nullable=False),
    sa.Column('claimed_at', sa.DateTime(), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('message_ref', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('community_id', 'channel', 'local_date')
    )


def downgrade() -> None:
    op.drop_table('digest_ledger')
    op.drop_table('digest_subscriptions')
