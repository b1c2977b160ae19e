"""subscription_seq: a counter of changes to the subscriptions, so controllers can keep them
in memory between changes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 11:10:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        'subscription_seq',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('seq', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.bulk_insert(table, [{'id': 1, 'seq': 1}])


def downgrade() -> None:
    op.drop_table('subscription_seq')
