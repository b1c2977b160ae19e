"""action runs: the engine and machine that launched them; sessions: when pruned

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 15:45:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('action_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('engine_id', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('node', sa.String(length=255), nullable=True))
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pruned_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('pruned_at')
    with op.batch_alter_table('action_runs', schema=None) as batch_op:
        batch_op.drop_column('node')
        batch_op.drop_column('engine_id')
