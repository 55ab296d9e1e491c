"""temporary staff passwords (admin reset)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('staff_member') as batch:
        batch.add_column(
            sa.Column(
                'password_temporary_until',
                storage.types.UTCDateTime(timezone=True),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table('staff_member') as batch:
        batch.drop_column('password_temporary_until')
