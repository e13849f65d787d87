"""public communities: their plays are visible to every community (storage.visibility)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 06:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('communities', sa.Column('public', sa.Boolean(), server_default='0', nullable=False))


def downgrade() -> None:
    # Not a batch (copy-and-recreate) operation: on SQLite, dropping the old communities table would
    # cascade-delete every member and play. SQLite 3.35+ and Postgres drop a column in place.
    op.execute('ALTER TABLE communities DROP COLUMN public')
