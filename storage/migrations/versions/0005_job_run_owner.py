"""job runs record the process that ran them, so a dead run is not shown as running forever

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 06:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('job_runs', sa.Column('host', sa.String(length=255), nullable=True))
    op.add_column('job_runs', sa.Column('pid', sa.Integer(), nullable=True))
    op.add_column('job_runs', sa.Column('process_started', sa.Float(), nullable=True))


def downgrade() -> None:
    # In place (SQLite 3.35+ and Postgres): a batch copy would be needless for a leaf table.
    op.execute('ALTER TABLE job_runs DROP COLUMN process_started')
    op.execute('ALTER TABLE job_runs DROP COLUMN pid')
    op.execute('ALTER TABLE job_runs DROP COLUMN host')
