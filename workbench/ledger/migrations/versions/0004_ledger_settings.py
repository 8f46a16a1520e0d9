"""The utility's own ledger settings (``ledger_settings``), first of them the returned-payment (NSF) fee.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 17:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value_cents', sa.BigInteger(), nullable=False),
    sa.Column('set_by', sa.String(length=200), nullable=False),
    sa.Column('set_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_ledger_settings_name', 'ledger_settings', ['name'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_ledger_settings_name', table_name='ledger_settings')
    op.drop_table('ledger_settings')
