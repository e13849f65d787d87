"""members can be private (/privacy): left out of what other members are shown about each other

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 13:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place, never a batch copy (a recreated members table would cascade deletes into plays).
    op.add_column('members', sa.Column('private', sa.Boolean(), server_default='0', nullable=False))


def downgrade() -> None:
    op.execute('ALTER TABLE members DROP COLUMN private')
