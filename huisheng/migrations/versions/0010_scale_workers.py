"""Several machines: worker heartbeats and the pace per egress address.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 10:00:00
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('scale_workers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('egress', sa.String(length=100), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(), nullable=False),
    sa.Column('stopped_at', sa.DateTime(), nullable=True),
    sa.Column('in_flight', sa.Integer(), nullable=False),
    sa.Column('polls', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scale_workers'))
    )
    op.create_table('egress_pace',
    sa.Column('egress', sa.String(length=100), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('next_start', sa.Float(), nullable=False),
    sa.Column('requests', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('egress', 'host', name=op.f('pk_egress_pace'))
    )


def downgrade() -> None:
    # The task queue (procrastinate's tables, types and functions, made by
    # `huisheng db upgrade` under [scale] engine = "procrastinate") belongs to
    # what this revision brought: it goes with it, so that `db downgrade
    # base` leaves an empty schema.  Its objects are found by procrastinate's
    # prefix in the migrated schema, whichever procrastinate version made them.
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        for kind, query in (
                ('TABLE', "SELECT quote_ident(relname) FROM pg_class WHERE relkind IN ('r', 'p') "
                          "AND relnamespace = current_schema()::regnamespace AND relname LIKE 'procrastinate\\_%'"),
                ('FUNCTION', "SELECT oid::regprocedure::text FROM pg_proc WHERE "
                             "pronamespace = current_schema()::regnamespace AND proname LIKE 'procrastinate\\_%'"),
                ('TYPE', "SELECT quote_ident(typname) FROM pg_type WHERE typtype IN ('c', 'e') "
                         "AND typnamespace = current_schema()::regnamespace AND typname LIKE 'procrastinate\\_%' "
                         "AND (typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = typrelid) = 'c')")):
            names = bind.execute(sa.text(query)).scalars().all()
            if names:
                # CASCADE: the queue's triggers, and its functions' use of its types
                bind.execute(sa.text(f"DROP {kind} {', '.join(names)} CASCADE"))
    op.drop_table('egress_pace')
    op.drop_table('scale_workers')
