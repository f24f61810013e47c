"""Initial schema: every table of ``huisheng.storage.models``.

Datetimes are naive UTC (``UTCDateTime`` in the models is a ``DateTime`` underneath).

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 16:01:35.786636
"""

from __future__ import annotations

from typing import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('item_edits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_kind', sa.String(length=10), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('old_text', sa.Text(), nullable=False),
    sa.Column('old_hash', sa.String(length=64), nullable=False),
    sa.Column('new_hash', sa.String(length=64), nullable=False),
    sa.Column('old_raw', sa.JSON(), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_item_edits'))
    )
    op.create_index(op.f('ix_item_edits_item'), 'item_edits', ['item_kind', 'item_id'], unique=False)

    op.create_table('tombstones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_kind', sa.String(length=10), nullable=False),
    sa.Column('item_id', sa.BigInteger(), nullable=False),
    sa.Column('detected_at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('restored_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tombstones'))
    )
    op.create_index(op.f('ix_tombstones_item'), 'tombstones', ['item_kind', 'item_id'], unique=False)

    op.create_table('units',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('aliases', sa.JSON(), nullable=False),
    sa.Column('admins', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['units.id'], name=op.f('fk_units_parent_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_units')),
    sa.UniqueConstraint('code', name=op.f('uq_units_code'))
    )
    op.create_index(op.f('ix_units_parent_id'), 'units', ['parent_id'], unique=False)

    op.create_table('accounts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('uid', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('poll_interval', sa.Integer(), nullable=True),
    sa.Column('admins', sa.JSON(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('disabled_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('next_check_at', sa.DateTime(), nullable=True),
    sa.Column('last_check_at', sa.DateTime(), nullable=True),
    sa.Column('last_success_at', sa.DateTime(), nullable=True),
    sa.Column('consecutive_errors', sa.Integer(), nullable=False),
    sa.Column('last_error_kind', sa.String(length=32), nullable=True),
    sa.Column('last_error_message', sa.Text(), nullable=True),
    sa.Column('last_error_at', sa.DateTime(), nullable=True),
    sa.Column('failing_since', sa.DateTime(), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('adapter_state', sa.JSON(), nullable=False),
    sa.Column('window_checked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_accounts_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('platform', 'uid', name=op.f('uq_accounts_platform'))
    )
    op.create_index(op.f('ix_accounts_next_check_at'), 'accounts', ['next_check_at'], unique=False)
    op.create_index(op.f('ix_accounts_unit_id'), 'accounts', ['unit_id'], unique=False)

    op.create_table('account_owner_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('old_unit_id', sa.Integer(), nullable=True),
    sa.Column('new_unit_id', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_account_owner_changes_account_id_accounts')),
    sa.ForeignKeyConstraint(['new_unit_id'], ['units.id'], name=op.f('fk_account_owner_changes_new_unit_id_units')),
    sa.ForeignKeyConstraint(['old_unit_id'], ['units.id'], name=op.f('fk_account_owner_changes_old_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_owner_changes'))
    )
    op.create_index(op.f('ix_account_owner_changes_account_id'), 'account_owner_changes', ['account_id'], unique=False)

    op.create_table('posts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('short_id', sa.String(length=32), nullable=True),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('author_id', sa.String(length=64), nullable=False),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('created_at_approx', sa.Boolean(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('is_pinned', sa.Boolean(), nullable=False),
    sa.Column('is_truncated', sa.Boolean(), nullable=False),
    sa.Column('preview_hash', sa.String(length=64), nullable=True),
    sa.Column('repost_of', sa.String(length=64), nullable=True),
    sa.Column('comments_count', sa.Integer(), nullable=True),
    sa.Column('reposts_count', sa.Integer(), nullable=True),
    sa.Column('likes_count', sa.Integer(), nullable=True),
    sa.Column('comments_open', sa.Boolean(), nullable=True),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.Column('edit_count', sa.Integer(), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('comments_read_count', sa.Integer(), nullable=True),
    sa.Column('comments_read_at', sa.DateTime(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_posts_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_posts')),
    sa.UniqueConstraint('platform', 'external_id', name=op.f('uq_posts_platform'))
    )
    op.create_index(op.f('ix_posts_account_created'), 'posts', ['account_id', 'created_at'], unique=False)

    op.create_table('comments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('root_external_id', sa.String(length=64), nullable=True),
    sa.Column('parent_external_id', sa.String(length=64), nullable=True),
    sa.Column('author_id', sa.String(length=64), nullable=False),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=True),
    sa.Column('created_at_approx', sa.Boolean(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('reply_to_name', sa.String(length=200), nullable=True),
    sa.Column('is_from_owner', sa.Boolean(), nullable=False),
    sa.Column('like_count', sa.Integer(), nullable=True),
    sa.Column('replies_count', sa.Integer(), nullable=True),
    sa.Column('replies_read_count', sa.Integer(), nullable=True),
    sa.Column('mentions', sa.JSON(), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_comments_post_id_posts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comments')),
    sa.UniqueConstraint('platform', 'external_id', name=op.f('uq_comments_platform'))
    )
    op.create_index(op.f('ix_comments_post_created'), 'comments', ['post_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_comments_root_external_id'), 'comments', ['root_external_id'], unique=False)



def downgrade() -> None:
    op.drop_table('comments')
    op.drop_table('posts')
    op.drop_table('account_owner_changes')
    op.drop_table('accounts')
    op.drop_table('units')
    op.drop_table('tombstones')
    op.drop_table('item_edits')
