"""graduate registry, invitations and match dismissals

Revision ID: 0011
Revises: 0007
Create Date: 2026-11-24 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0011'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('graduate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('student_number', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('first_name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('last_name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('email', sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
    sa.Column('crebo', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('track', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('location', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('graduation_date', sa.Date(), nullable=False),
    sa.Column('alumnus_id', sa.Integer(), nullable=True),
    sa.Column('linked_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('seen_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alumnus_id'], ['alumnus.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alumnus_id'),
    sa.UniqueConstraint('student_number')
    )
    op.create_index('ix_graduate_class', 'graduate', ['crebo', 'graduation_date'], unique=False)
    op.create_index(op.f('ix_graduate_seen_at'), 'graduate', ['seen_at'], unique=False)
    op.create_table('invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('graduate_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('used_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['graduate_id'], ['graduate.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['used_by'], ['alumnus.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_invitation_graduate_id'), 'invitation', ['graduate_id'], unique=False)
    op.create_table('match_dismissal',
    sa.Column('graduate_id', sa.Integer(), nullable=False),
    sa.Column('alumnus_id', sa.Integer(), nullable=False),
    sa.Column('at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alumnus_id'], ['alumnus.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['graduate_id'], ['graduate.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('graduate_id', 'alumnus_id')
    )


def downgrade() -> None:
    op.drop_table('match_dismissal')
    op.drop_index(op.f('ix_invitation_graduate_id'), table_name='invitation')
    op.drop_table('invitation')
    op.drop_index(op.f('ix_graduate_seen_at'), table_name='graduate')
    op.drop_index('ix_graduate_class', table_name='graduate')
    op.drop_table('graduate')
