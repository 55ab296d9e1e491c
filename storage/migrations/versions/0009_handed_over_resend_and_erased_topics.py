"""outbox hand-over marker, campaign maybe-reached count, a conversation's earlier topics

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox') as batch:
        batch.add_column(
            sa.Column('handed_at', storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table('campaign') as batch:
        batch.add_column(
            sa.Column('maybe_reached', sa.Integer(), nullable=False, server_default='0')
        )
    with op.batch_alter_table('inbox_conversation') as batch:
        batch.add_column(
            sa.Column('earlier_topics', sa.JSON(), nullable=False, server_default='[]')
        )


def downgrade() -> None:
    with op.batch_alter_table('inbox_conversation') as batch:
        batch.drop_column('earlier_topics')
    with op.batch_alter_table('campaign') as batch:
        batch.drop_column('maybe_reached')
    with op.batch_alter_table('outbox') as batch:
        batch.drop_column('handed_at')
