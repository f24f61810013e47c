"""Flags (需回复) and their events; comments get the decide step's marker.

Comments stored before this revision have no marker, so the decide step
looks at them once after the upgrade.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 16:44:31.335146
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('routing', sa.String(length=16), nullable=False),
    sa.Column('routing_reason', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('author_id', sa.String(length=64), nullable=False),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('due_uncertain', sa.Boolean(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(), nullable=True),
    sa.Column('first_reply_at', sa.DateTime(), nullable=True),
    sa.Column('first_reply_comment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reply_seconds', sa.Double(), nullable=True),
    sa.Column('reply_working_seconds', sa.Double(), nullable=True),
    sa.Column('replied_offline', sa.Boolean(), nullable=False),
    sa.Column('promised_at', sa.DateTime(), nullable=True),
    sa.Column('resolved_at', sa.DateTime(), nullable=True),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('dismissed_reason', sa.Text(), nullable=True),
    sa.Column('follow_up_of', sa.Integer(), nullable=True),
    sa.Column('reminded_at', sa.DateTime(), nullable=True),
    sa.Column('escalated_at', sa.DateTime(), nullable=True),
    sa.Column('noticed_at', sa.DateTime(), nullable=True),
    sa.Column('stale_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_flags_account_id_accounts')),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_flags_comment_id_comments')),
    sa.ForeignKeyConstraint(['first_reply_comment_id'], ['comments.id'], name=op.f('fk_flags_first_reply_comment_id_comments')),
    sa.ForeignKeyConstraint(['follow_up_of'], ['flags.id'], name=op.f('fk_flags_follow_up_of_flags')),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_flags_post_id_posts')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_flags_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flags')),
    sa.UniqueConstraint('comment_id', name=op.f('uq_flags_comment_id'))
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index('ix_flags_account_created', ['account_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_flags_post_id'), ['post_id'], unique=False)
        batch_op.create_index('ix_flags_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_flags_unit_created', ['unit_id', 'created_at'], unique=False)

    op.create_table('flag_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('flag_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['flag_id'], ['flags.id'], name=op.f('fk_flag_events_flag_id_flags')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flag_events'))
    )
    with op.batch_alter_table('flag_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_flag_events_flag_id'), ['flag_id'], unique=False)

    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decided_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_comments_pending', ['created_at', 'id'], unique=False,
                              sqlite_where=sa.text('decided_at IS NULL'),
                              postgresql_where=sa.text('decided_at IS NULL'))



def downgrade() -> None:
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_pending')
        batch_op.drop_column('decided_at')

    with op.batch_alter_table('flag_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_flag_events_flag_id'))

    op.drop_table('flag_events')
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index('ix_flags_unit_created')
        batch_op.drop_index('ix_flags_status_due')
        batch_op.drop_index(batch_op.f('ix_flags_post_id'))
        batch_op.drop_index('ix_flags_account_created')

    op.drop_table('flags')
