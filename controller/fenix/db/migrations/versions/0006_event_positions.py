"""event positions: each session's events numbered in commit order

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 08:00:00.000000
"""

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('position', sa.Integer(), nullable=True))
        batch_op.create_index('ix_events_session_position', ['session_id', 'position'], unique=False)
    with op.batch_alter_table('session_change_seq', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event_count', sa.Integer(), server_default='0', nullable=False))
    # The events there are were committed long ago: their ids' order is their order.
    op.execute(
        'UPDATE events SET position = numbered.n FROM ('
        ' SELECT id, ROW_NUMBER() OVER (PARTITION BY session_id ORDER BY id) AS n'
        ' FROM events WHERE session_id IS NOT NULL) AS numbered'
        ' WHERE events.id = numbered.id'
    )
    op.execute(
        'UPDATE session_change_seq SET event_count = COALESCE(('
        ' SELECT MAX(position) FROM events WHERE events.session_id = session_change_seq.session_id'
        '), 0)'
    )


def downgrade() -> None:
    with op.batch_alter_table('session_change_seq', schema=None) as batch_op:
        batch_op.drop_column('event_count')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_session_position')
        batch_op.drop_column('position')
