"""An index of a session's instances by host: emptying one host reads that host's rows

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 12:20:00.000000
"""

from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'ix_session_instances_session_host', 'session_instances', ['session_id', 'host']
    )


def downgrade() -> None:
    op.drop_index('ix_session_instances_session_host', table_name='session_instances')
