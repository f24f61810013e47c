"""The matrix's revision: bumped by every ``matrix sync`` that changes units or
accounts, so the decide step of a running daemon knows to rebuild its directory.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table('matrix_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_matrix_revision'))
    )
    # the one row, there before the first sync (two first syncs at once then only update it)
    op.bulk_insert(table, [{'id': 1, 'revision': 0}])


def downgrade() -> None:
    op.drop_table('matrix_revision')
