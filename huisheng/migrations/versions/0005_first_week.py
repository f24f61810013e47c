"""A real district's first week: monitoring start per account, historical
flags, incomplete thread reads with their own retry, cohorts by the
comment's own time (flag_rollups rebuilt with a historical key).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: as huisheng.storage.models.ROLLUP_BUCKETS when this revision was written
BUCKETS = 48


def _rollups(with_historical: bool) -> None:
    hist = []
    for kind in ("c", "w"):
        hist += [sa.Column(f"{kind}n{i}", sa.Integer(), nullable=False) for i in range(BUCKETS)]
        hist += [sa.Column(f"{kind}s{i}", sa.Float(), nullable=False) for i in range(BUCKETS)]
    key = ['dim', 'month', 'ref_id', 'category'] + (['historical'] if with_historical else [])
    op.create_table('flag_rollups',
    sa.Column('dim', sa.String(length=8), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('ref_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    *([sa.Column('historical', sa.Boolean(), nullable=False)] if with_historical else []),
    sa.Column('flags', sa.Integer(), nullable=False),
    sa.Column('replied', sa.Integer(), nullable=False),
    sa.Column('on_time', sa.Integer(), nullable=False),
    sa.Column('offline', sa.Integer(), nullable=False),
    sa.Column('dismissed', sa.Integer(), nullable=False),
    *hist,
    sa.PrimaryKeyConstraint(*key, name=op.f('pk_flag_rollups'))
    )


def upgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_success_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('monitoring_start', sa.DateTime(), nullable=True))
    # Accounts already polled: their first success is unknown; their last one
    # is the best lower bound there is.
    op.execute("UPDATE accounts SET first_success_at = last_success_at")
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('comments_incomplete_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('comments_incomplete_since', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('comments_retry_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('comments_retry_attempts', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.create_index('ix_posts_comments_retry', ['account_id', 'comments_retry_at'], unique=False,
                              sqlite_where=sa.text('comments_incomplete_reason IS NOT NULL'),
                              postgresql_where=sa.text('comments_incomplete_reason IS NOT NULL'))
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('replies_incomplete_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('replies_incomplete_since', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('replies_retry_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('replies_retry_attempts', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.create_index('ix_comments_replies_retry', ['replies_retry_at'], unique=False,
                              sqlite_where=sa.text('replies_incomplete_reason IS NOT NULL'),
                              postgresql_where=sa.text('replies_incomplete_reason IS NOT NULL'))
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.add_column(sa.Column('historical', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.drop_index('ix_flags_open_due')
        batch_op.drop_index('ix_flags_created')
        batch_op.create_index('ix_flags_started', ['started_at'], unique=False)
        batch_op.create_index('ix_flags_open_due', ['status', 'due_at', 'started_at', 'unit_id', 'account_id',
                                                    'category', 'historical'], unique=False)
    # The rollup is derived data: rebuilt from the flags by the next refresh.
    op.drop_table('flag_rollups')
    _rollups(with_historical=True)
    op.execute("DELETE FROM flag_rollup_state")


def downgrade() -> None:
    op.drop_table('flag_rollups')
    _rollups(with_historical=False)
    op.execute("DELETE FROM flag_rollup_state")
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index('ix_flags_open_due')
        batch_op.drop_index('ix_flags_started')
        batch_op.create_index('ix_flags_created', ['created_at'], unique=False)
        batch_op.create_index('ix_flags_open_due', ['status', 'due_at', 'created_at', 'unit_id', 'account_id',
                                                    'category'], unique=False)
        batch_op.drop_column('historical')
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_replies_retry')
        for name in ('replies_retry_attempts', 'replies_retry_at', 'replies_incomplete_since',
                     'replies_incomplete_reason'):
            batch_op.drop_column(name)
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index('ix_posts_comments_retry')
        for name in ('comments_retry_attempts', 'comments_retry_at', 'comments_incomplete_since',
                     'comments_incomplete_reason'):
            batch_op.drop_column(name)
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('monitoring_start')
        batch_op.drop_column('first_success_at')
