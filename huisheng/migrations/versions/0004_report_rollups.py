"""Report aggregates (flag_rollups, flag_rollup_state) and flag indexes by
creation, by last change and for open overdue counts.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 17:30:00
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: as huisheng.storage.models.ROLLUP_BUCKETS when this revision was written
BUCKETS = 48


def upgrade() -> None:
    hist = []
    for kind in ("c", "w"):
        hist += [sa.Column(f"{kind}n{i}", sa.Integer(), nullable=False) for i in range(BUCKETS)]
        hist += [sa.Column(f"{kind}s{i}", sa.Float(), nullable=False) for i in range(BUCKETS)]
    op.create_table('flag_rollups',
    sa.Column('dim', sa.String(length=8), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('ref_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('flags', sa.Integer(), nullable=False),
    sa.Column('replied', sa.Integer(), nullable=False),
    sa.Column('on_time', sa.Integer(), nullable=False),
    sa.Column('offline', sa.Integer(), nullable=False),
    sa.Column('dismissed', sa.Integer(), nullable=False),
    *hist,
    sa.PrimaryKeyConstraint('dim', 'month', 'ref_id', 'category', name=op.f('pk_flag_rollups'))
    )
    op.create_table('flag_rollup_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('watermark', sa.DateTime(), nullable=True),
    sa.Column('refreshed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_flag_rollup_state'))
    )
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.create_index('ix_flags_created', ['created_at'], unique=False)
        batch_op.create_index('ix_flags_updated', ['updated_at'], unique=False)
        batch_op.create_index('ix_flags_open_due', ['status', 'due_at', 'created_at', 'unit_id', 'account_id',
                                                    'category'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('flags', schema=None) as batch_op:
        batch_op.drop_index('ix_flags_open_due')
        batch_op.drop_index('ix_flags_updated')
        batch_op.drop_index('ix_flags_created')
    op.drop_table('flag_rollup_state')
    op.drop_table('flag_rollups')
