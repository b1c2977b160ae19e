"""sessions.max_hosts_per_zone: how many of a session's hosts one zone may have out at once

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 07:30:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sessions') as batch_op:
        batch_op.add_column(sa.Column('max_hosts_per_zone', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sessions') as batch_op:
        batch_op.drop_column('max_hosts_per_zone')
