"""session pause, maintenance windows and health gates

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 07:40:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sessions') as batch:
        batch.add_column(sa.Column('paused_at', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('paused_by', sa.String(length=255), nullable=True))
        batch.add_column(sa.Column('pause_reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('windows', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('gates', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sessions') as batch:
        batch.drop_column('gates')
        batch.drop_column('windows')
        batch.drop_column('pause_reason')
        batch.drop_column('paused_by')
        batch.drop_column('paused_at')
