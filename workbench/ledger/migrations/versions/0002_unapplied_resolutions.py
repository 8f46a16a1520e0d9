"""How a returned item of the unapplied-cash queue was resolved, by whom and why (``unapplied_resolutions``).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-20 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('unapplied_resolutions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=True),
    sa.Column('reversed_payment_id', sa.Integer(), nullable=True),
    sa.Column('fee_cents', sa.BigInteger(), nullable=False),
    sa.Column('made_by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('resolved_on', sa.Date(), nullable=False),
    sa.Column('made_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], ),
    sa.ForeignKeyConstraint(['reversed_payment_id'], ['payments.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('payment_id'),
    sa.UniqueConstraint('reversed_payment_id')
    )


def downgrade() -> None:
    """Refused: going back would drop who resolved which returned items and why. Restore a backup instead."""
    raise RuntimeError("0002 is not reversible (it would drop the record of resolved returned items)")
