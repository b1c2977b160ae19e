"""session change counters: what the API's ETags come from

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-09 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('session_change_seq',
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('change_seq', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['sessions.id'], name=op.f('fk_session_change_seq_session_id_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_session_change_seq'))
    )
    # Every session there is starts counting at 1.
    op.execute('INSERT INTO session_change_seq (session_id, change_seq) SELECT id, 1 FROM sessions')


def downgrade() -> None:
    op.drop_table('session_change_seq')
