"""offer language, edits and withdrawal

Revision ID: 0014
Revises: 0007
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('offer') as batch:
        # Offers written so far were Dutch: the console had no other choice.
        batch.add_column(
            sa.Column('language', sa.String(length=2), nullable=False, server_default='nl')
        )
        batch.add_column(
            sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column('withdrawn_at', storage.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('offer') as batch:
        batch.drop_column('withdrawn_at')
        batch.drop_column('updated_at')
        batch.drop_column('language')
