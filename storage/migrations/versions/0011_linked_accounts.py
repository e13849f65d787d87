"""linked ListenBrainz and Last.fm accounts: the sync job's cursor, back-off and notices per account

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'linked_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('community_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('account', sa.String(length=100), nullable=False),
        sa.Column('account_key', sa.String(length=100), nullable=False),
        sa.Column('active', sa.Boolean(), server_default='1', nullable=False),
        sa.Column('linked_at', sa.DateTime(), nullable=False),
        sa.Column('tag', sa.String(length=16), nullable=False),
        sa.Column('version', sa.Integer(), server_default='0', nullable=False),
        sa.Column('floor', sa.BigInteger(), nullable=True),
        sa.Column('pass_top', sa.BigInteger(), nullable=True),
        sa.Column('pass_before', sa.BigInteger(), nullable=True),
        sa.Column('pass_page', sa.Integer(), server_default='0', nullable=False),
        sa.Column('backfilled', sa.Boolean(), server_default='0', nullable=False),
        sa.Column('synced', sa.Integer(), server_default='0', nullable=False),
        sa.Column('last_sync_at', sa.DateTime(), nullable=True),
        sa.Column('status', sa.String(length=20), server_default='ok', nullable=False),
        sa.Column('failures', sa.Integer(), server_default='0', nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), server_default='', nullable=False),
        sa.Column('notice', sa.Text(), nullable=True),
        sa.CheckConstraint("source IN ('listenbrainz', 'lastfm')", name='ck_linked_accounts_source'),
        sa.ForeignKeyConstraint(['community_id'], ['communities.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['member_id'], ['members.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('member_id', 'source', 'account_key'),
    )
    op.create_index(
        'ix_linked_accounts_community_source_account',
        'linked_accounts',
        ['community_id', 'source', 'account_key'],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index('ix_linked_accounts_community_source_account', table_name='linked_accounts')
    op.drop_table('linked_accounts')
