"""outbox questions: which question a message asks, until when, and the subscriber's answer

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 16:05:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('question', sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('http_status', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('http_status')
        batch_op.drop_column('expires_at')
        batch_op.drop_column('question')
