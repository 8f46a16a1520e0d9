"""Collections: past-due notices issued (``collection_notices``) and payment arrangements with their installments.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 15:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('collection_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('charge_entry_id', sa.Integer(), nullable=False),
    sa.Column('notice_date', sa.Date(), nullable=False),
    sa.Column('days_past_due', sa.Integer(), nullable=False),
    sa.Column('past_due_cents', sa.BigInteger(), nullable=False),
    sa.Column('disconnect_on', sa.Date(), nullable=True),
    sa.Column('rules', sa.String(length=400), nullable=False),
    sa.Column('issued_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['charge_entry_id'], ['journal.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('kind', 'charge_entry_id', name='uq_notice_charge')
    )
    op.create_index('ix_collection_notices_account_id', 'collection_notices', ['account_id'], unique=False)
    op.create_table('payment_arrangements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('total_cents', sa.BigInteger(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('installments', sa.Integer(), nullable=False),
    sa.Column('made_by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('made_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_payment_arrangements_account_id', 'payment_arrangements', ['account_id'], unique=False)
    op.create_table('arrangement_installments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('arrangement_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['arrangement_id'], ['payment_arrangements.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('arrangement_id', 'number')
    )


def downgrade() -> None:
    """Refused: going back would drop the record of notices issued and arrangements agreed. Restore a backup."""
    raise RuntimeError("0003 is not reversible (it would drop the notices issued and the payment arrangements)")
