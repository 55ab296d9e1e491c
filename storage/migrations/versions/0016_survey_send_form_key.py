"""survey send: the console form's one-time key

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('survey_send') as batch:
        # Sends made so far came from the command line: they have no form, so no key.
        batch.add_column(sa.Column('form_key', sa.String(length=64), nullable=True))
        batch.create_index('ix_survey_send_form_key', ['form_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('survey_send') as batch:
        batch.drop_index('ix_survey_send_form_key')
        batch.drop_column('form_key')
