"""campaign launch marker and offer de-duplication

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('campaign') as batch:
        batch.add_column(
            sa.Column('launch_done_at', storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column('already_reached', sa.Integer(), nullable=False, server_default='0')
        )
    # Launches that finished before this revision: they wrote ``targeted`` at the end.
    op.execute(
        "UPDATE campaign SET launch_done_at = launched_at "
        "WHERE launched_at IS NOT NULL AND status <> 'launching' AND targeted > 0"
    )


def downgrade() -> None:
    with op.batch_alter_table('campaign') as batch:
        batch.drop_column('already_reached')
        batch.drop_column('launch_done_at')
