"""campaign control, frequency cap, digests and matching preferences

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import storage.types

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('alumnus', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('offer_frequency', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('interests', sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                'kind',
                sqlmodel.sql.sqltypes.AutoString(length=8),
                nullable=False,
                server_default='manual',
            )
        )
        batch_op.add_column(
            sa.Column('launched_at', storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('campaign_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            'fk_outbox_campaign_id_campaign', 'campaign', ['campaign_id'], ['id'],
            ondelete='SET NULL',
        )
        batch_op.create_index('ix_outbox_campaign_status', ['campaign_id', 'status'], unique=False)
        batch_op.create_index('ix_outbox_alumnus_updated', ['alumnus_id', 'updated_at'], unique=False)
        batch_op.create_index('ix_outbox_chat_status', ['chat_id', 'status'], unique=False)
    # Rows queued before this revision carry the campaign only in their key.
    op.execute(
        "UPDATE outbox SET campaign_id = CAST(SUBSTR(dedupe_key, 10, "
        "INSTR(SUBSTR(dedupe_key, 10), ':') - 1) AS INTEGER) "
        "WHERE dedupe_key LIKE 'campaign:%'"
        if op.get_bind().dialect.name == 'sqlite'
        else "UPDATE outbox SET campaign_id = CAST(SPLIT_PART(dedupe_key, ':', 2) AS INTEGER) "
        "WHERE dedupe_key LIKE 'campaign:%'"
    )
    op.create_table('digest_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alumnus_id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('offer_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('due_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('digest_key', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('created_at', storage.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alumnus_id'], ['alumnus.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['offer_id'], ['offer.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alumnus_id', 'campaign_id')
    )
    with op.batch_alter_table('digest_item', schema=None) as batch_op:
        batch_op.create_index('ix_digest_item_due', ['digest_key', 'due_at'], unique=False)
    op.create_table('rate_budget',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('next_free', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('rate_budget')
    with op.batch_alter_table('digest_item', schema=None) as batch_op:
        batch_op.drop_index('ix_digest_item_due')
    op.drop_table('digest_item')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_chat_status')
        batch_op.drop_index('ix_outbox_alumnus_updated')
        batch_op.drop_index('ix_outbox_campaign_status')
        batch_op.drop_constraint('fk_outbox_campaign_id_campaign', type_='foreignkey')
        batch_op.drop_column('campaign_id')
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_column('launched_at')
        batch_op.drop_column('kind')
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.drop_column('interests')
    with op.batch_alter_table('alumnus', schema=None) as batch_op:
        batch_op.drop_column('offer_frequency')
