"""aftercare check-ins: due rows, answers (history), the planner's marker

Revision ID: 0012
Revises: 0007
Create Date: 2026-11-30 09:03:10.518619
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('aftercare_moment',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('month', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('moment', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('due_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('year', 'month', 'moment')
    )
    op.create_table('aftercare_plan',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('schedule_hash', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('planned_until', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('checkin',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alumnus_id', sa.Integer(), nullable=False),
    sa.Column('moment', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('due_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('asked_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', storage.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('help_conversation_id', sa.Integer(), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alumnus_id'], ['alumnus.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['help_conversation_id'], ['inbox_conversation.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alumnus_id', 'moment')
    )
    with op.batch_alter_table('checkin', schema=None) as batch_op:
        batch_op.create_index('ix_checkin_due', ['status', 'due_at'], unique=False)
    op.create_table('checkin_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('checkin_id', sa.Integer(), nullable=False),
    sa.Column('alumnus_id', sa.Integer(), nullable=False),
    sa.Column('moment', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('question', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('answered_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alumnus_id'], ['alumnus.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['checkin_id'], ['checkin.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('checkin_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_checkin_answer_alumnus_id'), ['alumnus_id'], unique=False)
        batch_op.create_index('ix_checkin_answer_checkin', ['checkin_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_checkin_answer_checkin', table_name='checkin_answer')
    op.drop_index('ix_checkin_answer_alumnus_id', table_name='checkin_answer')
    op.drop_table('checkin_answer')
    op.drop_index('ix_checkin_due', table_name='checkin')
    op.drop_table('checkin')
    op.drop_table('aftercare_plan')
    op.drop_table('aftercare_moment')
